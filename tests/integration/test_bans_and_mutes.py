"""Group bans and per-user mutes (protocol §8), with expiry on the app's Clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest_asyncio
from bson import ObjectId

from safechat.container import SERVICES
from safechat.models.common import iso
from tests.helpers.fakes.clock import FakeClock
from tests.helpers.support import ChatServer, start_server


@pytest_asyncio.fixture
async def timed(
    mongo_uri: str, db_name: str, tmp_path: Path
) -> AsyncIterator[tuple[ChatServer, FakeClock]]:
    clock = FakeClock(start=datetime.now(UTC))
    srv = await start_server(
        mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path / "data", clock=clock
    )
    try:
        yield srv, clock
    finally:
        await srv.stop()


async def _group(server: ChatServer) -> tuple[str, str, str, str]:
    alice = await server.user("user_alice", first_name="Alice")
    bob = await server.user("user_bob", first_name="Bob")
    carol = await server.user("user_carol", first_name="Carol")
    gid = await server.group(alice, "open", memberIds=["user_bob"], isPrivate=False)
    status, body = await server.request(
        "POST", f"/api/groups/{gid}/members", alice, {"userId": "user_carol", "role": "admin"}
    )
    assert status == 201, body
    return alice, bob, carol, gid


async def test_ban_removes_and_keeps_out_until_lifted(server: ChatServer) -> None:
    alice, bob, carol, gid = await _group(server)
    a = await server.client(alice)
    b = await server.client(bob)

    status, body = await server.request(
        "POST", f"/api/groups/{gid}/bans", carol, {"userId": "user_bob", "reason": "spam"}
    )
    assert status == 201, body
    assert body["ban"]["userId"] == "user_bob"
    assert body["ban"]["reason"] == "spam"
    assert body["ban"]["bannedBy"] == "user_carol"
    assert "until" not in body["ban"] or body["ban"]["until"] is None
    # As removal does: group_removed to Bob, group_updated to the room, out of the room.
    assert (await b.wait_for("group_removed"))["groupId"] == gid
    assert (await a.wait_for("group_updated"))["group"]["memberCount"] == 2
    ack = await b.call("send_message", {"groupId": gid, "content": "back?"})
    assert ack["error"]["code"] == "ACCESS_DENIED"

    status, data = await server.request("POST", f"/api/groups/{gid}/join", bob)
    assert (status, data["error"]["code"]) == (403, "ACCESS_DENIED")
    status, data = await server.request(
        "POST", f"/api/groups/{gid}/members", alice, {"userId": "user_bob"}
    )
    assert (status, data["error"]["code"]) == (403, "ACCESS_DENIED")
    status, listed = await server.request("GET", f"/api/groups/{gid}/bans", alice)
    assert [x["userId"] for x in listed["bans"]] == ["user_bob"]
    audit = server.app[SERVICES].database.db.audit_events
    assert await audit.count_documents({"action": "member.banned", "targetId": "user_bob"}) == 1

    status, _ = await server.request("DELETE", f"/api/groups/{gid}/bans/user_bob", carol)
    assert status == 200
    status, data = await server.request("POST", f"/api/groups/{gid}/join", bob)
    assert status == 200, data
    status, listed = await server.request("GET", f"/api/groups/{gid}/bans", alice)
    assert listed["bans"] == []


async def test_ban_refusals(server: ChatServer) -> None:
    alice, bob, carol, gid = await _group(server)
    past = iso(datetime.now(UTC) - timedelta(hours=1))
    cases = [
        (bob, {"userId": "user_carol"}, 403, "ACCESS_DENIED"),  # members may not ban
        (carol, {"userId": "user_alice"}, 403, "ACCESS_DENIED"),  # not above your role
        (carol, {"userId": "user_carol"}, 400, "VALIDATION_ERROR"),
        (alice, {"userId": "user_nobody"}, 404, "USER_NOT_FOUND"),
        (alice, {"userId": "user_bob", "until": past}, 400, "VALIDATION_ERROR"),
        (alice, {"userId": "user_bob", "until": "tomorrow"}, 400, "VALIDATION_ERROR"),
        (alice, {"userId": "user_bob", "reason": "x" * 501}, 400, "VALIDATION_ERROR"),
    ]
    for token, payload, want, code in cases:
        status, data = await server.request("POST", f"/api/groups/{gid}/bans", token, payload)
        assert (status, data["error"]["code"]) == (want, code), payload
    status, data = await server.request("GET", f"/api/groups/{gid}/bans", bob)
    assert (status, data["error"]["code"]) == (403, "ACCESS_DENIED")
    # A non-member may be banned before they ever join.
    await server.user("user_dave")
    status, body = await server.request(
        "POST", f"/api/groups/{gid}/bans", alice, {"userId": "user_dave"}
    )
    assert status == 201, body
    status, data = await server.request(
        "POST", f"/api/groups/{gid}/join", server.token("user_dave")
    )
    assert (status, data["error"]["code"]) == (403, "ACCESS_DENIED")


async def test_ban_ends_by_itself_on_the_clock(timed: tuple[ChatServer, FakeClock]) -> None:
    server, clock = timed
    alice, bob, _carol, gid = await _group(server)
    until = iso(clock.now() + timedelta(hours=1))
    status, body = await server.request(
        "POST", f"/api/groups/{gid}/bans", alice, {"userId": "user_bob", "until": until}
    )
    assert status == 201, body
    assert body["ban"]["until"] == until
    status, data = await server.request("POST", f"/api/groups/{gid}/join", bob)
    assert (status, data["error"]["code"]) == (403, "ACCESS_DENIED")

    clock.advance(3601)
    status, listed = await server.request("GET", f"/api/groups/{gid}/bans", alice)
    assert listed["bans"] == []
    status, data = await server.request("POST", f"/api/groups/{gid}/join", bob)
    assert status == 200, data
    raw = await server.app[SERVICES].database.db.groups.find_one({"_id": ObjectId(gid)})
    assert raw is not None
    assert "user_bob" not in raw.get("bannedIds", [])


async def test_mute_and_mute_until(timed: tuple[ChatServer, FakeClock]) -> None:
    server, clock = timed
    alice, bob, _carol, gid = await _group(server)
    people = server.app[SERVICES].people

    status, body = await server.request("PUT", f"/api/groups/{gid}/settings", bob, {"muted": True})
    assert status == 200, body
    assert body["group"]["muted"] is True
    assert "mutedUntil" not in body["group"]
    assert await people.muted_user_ids(ObjectId(gid)) == {"user_bob"}
    status, mine = await server.request("GET", "/api/groups", bob)
    assert [g["muted"] for g in mine["groups"]] == [True]
    status, theirs = await server.request("GET", "/api/groups", alice)
    assert [g["muted"] for g in theirs["groups"]] == [False]  # per user

    until = iso(clock.now() + timedelta(minutes=30))
    status, body = await server.request(
        "PUT", f"/api/groups/{gid}/settings", alice, {"muted": True, "mutedUntil": until}
    )
    assert status == 200, body
    assert body["group"]["mutedUntil"] == until
    assert await people.muted_user_ids(ObjectId(gid)) == {"user_bob", "user_alice"}
    clock.advance(1801)
    status, theirs = await server.request("GET", "/api/groups", alice)
    assert theirs["groups"][0]["muted"] is False
    assert await people.muted_user_ids(ObjectId(gid)) == {"user_bob"}

    status, body = await server.request("PUT", f"/api/groups/{gid}/settings", bob, {"muted": False})
    assert body["group"]["muted"] is False
    assert await people.muted_user_ids(ObjectId(gid)) == set()

    past = iso(clock.now() - timedelta(minutes=1))
    for payload in (
        {"muted": True, "mutedUntil": past},
        {"muted": False, "mutedUntil": iso(clock.now() + timedelta(minutes=1))},
        {"muted": "yes"},
        {},
    ):
        status, data = await server.request("PUT", f"/api/groups/{gid}/settings", bob, payload)
        assert (status, data["error"]["code"]) == (400, "VALIDATION_ERROR"), payload
    outsider = await server.user("user_eve")
    status, data = await server.request(
        "PUT", f"/api/groups/{gid}/settings", outsider, {"muted": True}
    )
    assert (status, data["error"]["code"]) == (403, "ACCESS_DENIED")


async def test_a_direct_conversation_can_be_muted(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    await server.user("user_bob")
    status, body = await server.request("POST", "/api/dms", alice, {"userId": "user_bob"})
    dm = body["group"]["id"]
    status, body = await server.request("PUT", f"/api/groups/{dm}/settings", alice, {"muted": True})
    assert status == 200, body
    assert body["group"]["muted"] is True
    assert body["group"]["type"] == "direct"
