"""The authorization table of test_authorization.py, extended to §8's routes.

Every new route by {non-member, member, admin, owner, banned, blocked}: refusals carry the
protocol code and change nothing stored; what is allowed answers with its success status.
World (make_world): Alice owns a private group with Bob (member) and Carol (admin); Eve
is outside it. Mallory was a member and is banned from it; Frank has a direct
conversation with Alice, who blocked him.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from safechat.container import SERVICES
from tests.helpers.support import ChatServer, fill_template, module_server
from tests.integration.test_authorization import (
    World,
    assert_quiet,
    assert_rest_error,
    make_world,
    snapshot,
)

ACTORS = ("non-member", "member", "admin", "owner", "banned", "blocked")


@dataclass
class PeopleWorld:
    w: World
    tokens: dict[str, str]
    dm: str

    def fill(self, template: Any) -> Any:
        return fill_template(template, {"gid": self.w.gid, "dm": self.dm})


async def make_people_world(server: ChatServer) -> PeopleWorld:
    w = await make_world(server)
    mallory = await server.user("user_mallory", first_name="Mallory")
    frank = await server.user("user_frank", first_name="Frank")
    status, body = await server.request(
        "POST", f"/api/groups/{w.gid}/members", w.alice, {"userId": "user_mallory"}
    )
    assert status == 201, body
    status, body = await server.request(
        "POST", f"/api/groups/{w.gid}/bans", w.alice, {"userId": "user_mallory"}
    )
    assert status == 201, body
    status, body = await server.request("POST", "/api/dms", w.alice, {"userId": "user_frank"})
    assert status == 201, body
    dm = body["group"]["id"]
    status, body = await server.request("POST", "/api/me/blocks", w.alice, {"userId": "user_frank"})
    assert status == 201, body
    tokens = {
        "non-member": w.eve,
        "member": w.bob,
        "admin": w.carol,
        "owner": w.alice,
        "banned": mallory,
        "blocked": frank,
    }
    w.drain()
    return PeopleWorld(w, tokens, dm)


@pytest_asyncio.fixture(scope="module")
async def shared(
    mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PeopleWorld]:
    async with module_server(mongo_uri, tmp_path_factory.mktemp("authz-people") / "d") as srv:
        yield await make_people_world(srv)


@pytest.fixture
def pw(shared: PeopleWorld) -> PeopleWorld:
    shared.w.drain()
    return shared


DENIED = (403, "ACCESS_DENIED")

# (method, path, body) -> expected per actor: an int is a success status, a tuple a refusal.
TABLE: list[tuple[str, str, Any, dict[str, int | tuple[int, str]]]] = [
    (
        "PUT",
        "/api/groups/{gid}/settings",
        {"muted": True},
        {"non-member": DENIED, "member": 200, "admin": 200, "owner": 200,
         "banned": DENIED, "blocked": DENIED},
    ),
    (
        "POST",
        "/api/groups/{gid}/bans",
        {"userId": "user_dave"},
        {"non-member": DENIED, "member": DENIED, "admin": 201, "owner": 201,
         "banned": DENIED, "blocked": DENIED},
    ),
    (
        "GET",
        "/api/groups/{gid}/bans",
        None,
        {"non-member": DENIED, "member": DENIED, "admin": 200, "owner": 200,
         "banned": DENIED, "blocked": DENIED},
    ),
    (
        "DELETE",
        "/api/groups/{gid}/bans/user_mallory",
        None,
        {"non-member": DENIED, "member": DENIED, "admin": 200, "owner": 200,
         "banned": DENIED, "blocked": DENIED},
    ),
    (
        "POST",
        "/api/groups/{gid}/join",
        None,
        {"non-member": DENIED, "member": 200, "admin": 200, "owner": 200,
         "banned": DENIED, "blocked": DENIED},
    ),
    (
        "POST",
        "/api/dms",
        {"userId": "user_alice"},
        {"non-member": 201, "member": 201, "admin": 201, "owner": (400, "VALIDATION_ERROR"),
         "banned": 201, "blocked": DENIED},
    ),
    (
        "POST",
        "/api/messages",
        {"groupId": "{dm}", "content": "hello"},
        {"non-member": DENIED, "member": DENIED, "admin": DENIED, "owner": 201,
         "banned": DENIED, "blocked": DENIED},
    ),
    (
        "PUT",
        "/api/groups/{dm}/settings",
        {"muted": True},
        {"non-member": DENIED, "member": DENIED, "admin": DENIED, "owner": 200,
         "banned": DENIED, "blocked": 200},
    ),
    (
        "POST",
        "/api/groups/{dm}/leave",
        None,
        dict.fromkeys(ACTORS, DENIED),
    ),
    (
        "GET",
        "/api/users/search?q=al",
        None,
        {"non-member": 200, "member": 200, "admin": 200, "owner": 200, "banned": 200,
         "blocked": 200},
    ),
    ("GET", "/api/users/user_alice", None, dict.fromkeys(ACTORS, 200)),
    ("GET", "/api/me/blocks", None, dict.fromkeys(ACTORS, 200)),
    ("POST", "/api/me/blocks", {"userId": "user_dave"}, dict.fromkeys(ACTORS, 201)),
    ("DELETE", "/api/me/blocks/user_dave", None, dict.fromkeys(ACTORS, 200)),
]  # fmt: skip

CASES = [
    (method, path, body, actor, expected[actor])
    for method, path, body, expected in TABLE
    for actor in ACTORS
]
REFUSALS = [c for c in CASES if isinstance(c[4], tuple)]
ALLOWED = [c for c in CASES if isinstance(c[4], int)]


@pytest.mark.parametrize(
    ("method", "path", "body", "actor", "want"),
    REFUSALS,
    ids=[f"{m} {p} as {a}" for m, p, _b, a, _w in REFUSALS],
)
async def test_refused(
    pw: PeopleWorld, method: str, path: str, body: Any, actor: str, want: tuple[int, str]
) -> None:
    server = pw.w.server
    before = await snapshot(server, pw.w.gid, pw.dm)
    bans_before = await server.app[SERVICES].database.db.group_bans.count_documents({})

    status, data = await server.request(method, pw.fill(path), pw.tokens[actor], pw.fill(body))

    assert_rest_error(status, data, *want)
    assert await snapshot(server, pw.w.gid, pw.dm) == before
    assert await server.app[SERVICES].database.db.group_bans.count_documents({}) == bans_before
    await assert_quiet([pw.w.a, pw.w.b])


@pytest.mark.parametrize(
    ("method", "path", "body", "actor", "want"),
    ALLOWED,
    ids=[f"{m} {p} as {a}" for m, p, _b, a, _w in ALLOWED],
)
async def test_allowed(
    server: ChatServer, method: str, path: str, body: Any, actor: str, want: int
) -> None:
    pw = await make_people_world(server)  # a fresh world: allowed calls change things
    status, data = await server.request(method, pw.fill(path), pw.tokens[actor], pw.fill(body))
    assert status == want, data
    assert data["success"] is True


async def test_blocked_user_does_not_find_the_blocker(pw: PeopleWorld) -> None:
    server = pw.w.server
    status, data = await server.request("GET", "/api/users/search?q=al", pw.tokens["blocked"])
    assert status == 200
    assert [u["userId"] for u in data["users"]] == []
    status, data = await server.request("GET", "/api/users/search?q=al", pw.tokens["member"])
    assert status == 200
    assert [u["userId"] for u in data["users"]] == ["user_alice"]


async def test_blocked_user_cannot_send_over_the_socket(pw: PeopleWorld) -> None:
    server = pw.w.server
    frank = await server.client(pw.tokens["blocked"])
    before = await snapshot(server, pw.dm)
    ack = await frank.call("send_message", {"groupId": pw.dm, "content": "let me"})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "ACCESS_DENIED"
    assert (await frank.wait_for("message_error"))["code"] == "ACCESS_DENIED"
    assert await snapshot(server, pw.dm) == before
    await pw.w.a.expect_none("new_message", within=0.2)
    await frank.close()
