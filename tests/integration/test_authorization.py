"""Authorization on every event and endpoint (protocol sections 2 and 5).

Membership and roles come from the server's data, never from the client's word:
outsiders, removed members and plain members are refused with the protocol code,
the database is left exactly as it was, and nobody in the group hears a thing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import pytest_asyncio
from bson import ObjectId
from cryptography.hazmat.primitives.asymmetric import rsa

from safechat.container import SERVICES
from tests.helpers.support import ChatServer, EventClient, fill_template, module_server

# Everything a member could hear about a change to a group or its messages.
BROADCASTS = (
    "new_message",
    "message_sent",
    "message_edited",
    "message_deleted",
    "message_reaction",
    "message_read",
    "messages_read",
    "group_updated",
    "group_added",
    "group_removed",
    "group_joined",
    "group_members",
    "mention",
    "thread_updated",
    "message_pinned",
    "message_unpinned",
)


@dataclass
class World:
    """Alice owns a private group with Bob (member) and Carol (admin); Eve is an
    outsider with her own group; Dave has signed in but belongs nowhere."""

    server: ChatServer
    alice: str
    bob: str
    carol: str
    eve: str
    gid: str
    eve_gid: str
    mid: str
    a: EventClient
    b: EventClient
    e: EventClient

    def fill(self, template: Any) -> Any:
        """Substitutes {gid}, {mid}, {eve_gid} in a payload or path template."""
        return fill_template(template, {"gid": self.gid, "mid": self.mid, "eve_gid": self.eve_gid})

    def drain(self) -> None:
        for c in (self.a, self.b, self.e):
            for name in list(c.events):
                c.drain(name)


async def make_world(server: ChatServer) -> World:
    alice = await server.user("user_alice", first_name="Alice")
    bob = await server.user("user_bob", first_name="Bob")
    carol = await server.user("user_carol", first_name="Carol")
    eve = await server.user("user_eve", first_name="Eve")
    await server.user("user_dave")
    gid = await server.group(alice, "secret", memberIds=["user_bob"], isPrivate=True)
    status, body = await server.request(
        "POST", f"/api/groups/{gid}/members", alice, {"userId": "user_carol", "role": "admin"}
    )
    assert status == 201, body
    eve_gid = await server.group(eve, "eve's own")
    a = await server.client(alice)
    b = await server.client(bob)
    e = await server.client(eve)
    ack = await a.call("send_message", {"groupId": gid, "content": "the plan"})
    assert ack["ok"] is True, ack
    mid = ack["message"]["id"]
    # Give the message some state that a refused action must not touch.
    assert (await b.call("react_message", {"messageId": mid, "emoji": "👍"}))["ok"] is True
    assert (await b.call("mark_message_read", {"messageId": mid, "groupId": gid}))["ok"] is True
    assert (await a.call("edit_message", {"messageId": mid, "content": "the new plan"}))["ok"]
    raw = await server.app[SERVICES].database.db.messages.find_one({"_id": ObjectId(mid)})
    assert raw is not None
    assert raw["reactions"] == {"👍": ["user_bob"]}
    assert [r["userId"] for r in raw["readBy"]] == ["user_bob"]
    assert len(raw["editHistory"]) == 1
    await asyncio.sleep(0.05)
    world = World(server, alice, bob, carol, eve, gid, eve_gid, mid, a, b, e)
    world.drain()
    return world


@pytest_asyncio.fixture(scope="module")
async def shared(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """One world for the refusal tables: each case proves it changed nothing."""
    async with module_server(mongo_uri, tmp_path_factory.mktemp("authz") / "data") as srv:
        yield await make_world(srv)


@pytest.fixture
def w(shared: World) -> World:
    shared.drain()
    return shared


async def snapshot(server: ChatServer, *group_ids: str) -> dict[str, Any]:
    """Everything stored about the groups: group docs, messages, read marks, audit trail."""
    db = server.app[SERVICES].database.db
    oids = [ObjectId(g) for g in group_ids]
    return {
        "groups": await db.groups.find({"_id": {"$in": oids}}).sort("_id").to_list(),
        "messages": await db.messages.find({"groupId": {"$in": oids}}).sort("_id").to_list(),
        "read_state": await db.read_state.find({"groupId": {"$in": oids}})
        .sort([("groupId", 1), ("userId", 1)])
        .to_list(),
        "audit": await db.audit_events.count_documents({}),
        "pins": await db.pins.find({"_id": {"$in": oids}}).sort("_id").to_list(),
        "mentions": await db.mentions.find({"groupId": {"$in": oids}}).sort("_id").to_list(),
    }


async def assert_quiet(clients: list[EventClient], within: float = 0.15) -> None:
    """No group or message broadcast reached any of these clients."""
    await asyncio.sleep(within)
    for c in clients:
        for name in BROADCASTS:
            heard = c.drain(name)
            assert not heard, f"{name} leaked: {heard}"


def assert_error_event(payload: dict[str, Any], code: str) -> None:
    assert payload["code"] == code
    assert isinstance(payload["message"], str)
    assert payload["message"]
    assert payload["timestamp"].endswith("Z")


def assert_rest_error(status: int, body: Any, want_status: int, code: str) -> None:
    assert status == want_status, body
    assert body["success"] is False
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)
    assert "Traceback" not in json.dumps(body)


# --- an outsider over Socket.IO ---------------------------------------------

OUTSIDER_EVENTS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "send_message",
        {"groupId": "{gid}", "content": "let me in"},
        "ACCESS_DENIED",
        "message_error",
    ),
    (
        "send_message",
        {"groupId": "{eve_gid}", "content": "quoting", "replyTo": "{mid}"},
        "MESSAGE_NOT_FOUND",
        "message_error",
    ),
    (
        "edit_message",
        {"messageId": "{mid}", "content": "pwned"},
        "MESSAGE_NOT_FOUND",
        "message_error",
    ),
    (
        "delete_message",
        {"messageId": "{mid}", "groupId": "{gid}"},
        "ACCESS_DENIED",
        "message_error",
    ),
    ("delete_message", {"messageId": "{mid}"}, "MESSAGE_NOT_FOUND", "message_error"),
    (
        "delete_message",
        {"messageId": "{mid}", "groupId": "{eve_gid}"},
        "MESSAGE_NOT_FOUND",
        "message_error",
    ),
    ("react_message", {"messageId": "{mid}", "emoji": "👍"}, "MESSAGE_NOT_FOUND", "message_error"),
    ("react_message", {"messageId": "{mid}", "emoji": "🔥"}, "MESSAGE_NOT_FOUND", "message_error"),
    (
        "mark_message_read",
        {"messageId": "{mid}", "groupId": "{gid}"},
        "ACCESS_DENIED",
        "message_error",
    ),
    (
        "mark_message_read",
        {"messageId": "{mid}", "groupId": "{eve_gid}"},
        "MESSAGE_NOT_FOUND",
        "message_error",
    ),
    (
        "mark_messages_read",
        {"groupId": "{gid}", "messageIds": ["{mid}"]},
        "ACCESS_DENIED",
        "message_error",
    ),
    ("mark_messages_read", {"groupId": "{gid}", "upToSeq": 99}, "ACCESS_DENIED", "message_error"),
    ("sync", {"groupId": "{gid}", "afterSeq": 0}, "ACCESS_DENIED", "message_error"),
    # One foreign group in a multi-group sync refuses the whole request (no partial leak).
    ("sync", {"groups": {"{eve_gid}": 0, "{gid}": 0}}, "ACCESS_DENIED", "message_error"),
    ("get_group_members", {"groupId": "{gid}"}, "ACCESS_DENIED", "group_error"),
    ("join_group", {"groupId": "{gid}"}, "ACCESS_DENIED", "group_error"),
    (
        "send_message",
        {"groupId": "{gid}", "content": "@bob", "mentions": ["user_bob"]},
        "ACCESS_DENIED",
        "message_error",
    ),
    # Mentioning someone outside your own group does not reach them.
    (
        "send_message",
        {"groupId": "{eve_gid}", "content": "@bob", "mentions": ["user_bob"]},
        "VALIDATION_ERROR",
        "message_error",
    ),
    ("pin_message", {"messageId": "{mid}"}, "MESSAGE_NOT_FOUND", "message_error"),
    ("unpin_message", {"messageId": "{mid}"}, "MESSAGE_NOT_FOUND", "message_error"),
]


@pytest.mark.parametrize(
    ("event", "payload", "code", "channel"),
    OUTSIDER_EVENTS,
    ids=[f"{e}-{i}" for i, (e, *_rest) in enumerate(OUTSIDER_EVENTS)],
)
async def test_outsider_socket_events_are_refused(
    w: World, event: str, payload: dict[str, Any], code: str, channel: str
) -> None:
    before = await snapshot(w.server, w.gid, w.eve_gid)

    ack = await w.e.call(event, w.fill(payload))

    assert ack == {"ok": False, "error": ack["error"]}
    assert ack["error"]["code"] == code
    assert_error_event(await w.e.wait_for(channel), code)
    assert await snapshot(w.server, w.gid, w.eve_gid) == before
    await assert_quiet([w.a, w.b, w.e])


async def test_refused_join_group_keeps_the_outsider_out_of_the_room(server: ChatServer) -> None:
    w = await make_world(server)
    ack = await w.e.call("join_group", {"groupId": w.gid})
    assert ack["error"]["code"] == "ACCESS_DENIED"
    assert (await w.a.call("send_message", {"groupId": w.gid, "content": "still private"}))["ok"]
    assert (await w.b.wait_for("new_message"))["message"]["content"] == "still private"
    await w.e.expect_none("new_message", within=0.2)
    await w.e.expect_none("group_joined", within=0.0)


async def test_outsider_reading_own_group_by_foreign_ids_changes_nothing(w: World) -> None:
    """Naming another group's message from inside your own group is a no-op, not a read."""
    before = await snapshot(w.server, w.gid)

    ack = await w.e.call("mark_messages_read", {"groupId": w.eve_gid, "messageIds": [w.mid]})

    assert ack["ok"] is True
    assert ack["messageIds"] == []
    assert await snapshot(w.server, w.gid) == before
    await assert_quiet([w.a, w.b])


async def test_outsider_never_sees_a_private_group(w: World) -> None:
    server = w.server
    # Not in the connect-time list, not in GET /api/groups, not in discover.
    e2 = EventClient(server.url, w.eve)
    server.clients.append(e2)
    await e2.connect()
    listed = await e2.wait_for("user_groups")
    assert [g["id"] for g in listed] == [w.eve_gid]
    await e2.close()
    status, body = await server.request("GET", "/api/groups", w.eve)
    assert status == 200
    assert [g["id"] for g in body["groups"]] == [w.eve_gid]
    status, body = await server.request("GET", "/api/groups/discover", w.eve)
    assert status == 200
    assert w.gid not in [g["id"] for g in body["groups"]]
    status, body = await server.request("GET", f"/api/groups/{w.gid}", w.eve)
    assert_rest_error(status, body, 403, "ACCESS_DENIED")
    assert "secret" not in json.dumps(body)


async def test_public_group_shows_only_its_public_view_to_outsiders(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    await server.user("user_bob")
    eve = await server.user("user_eve")
    gid = await server.group(alice, "open", memberIds=["user_bob"], isPrivate=False)
    a = await server.client(alice)
    assert (await a.call("send_message", {"groupId": gid, "content": "members only"}))["ok"]

    status, body = await server.request("GET", f"/api/groups/{gid}", eve)
    assert status == 200
    group = body["group"]
    assert group["name"] == "open"
    assert group["memberCount"] == 2
    for private in ("members", "lastMessage", "role", "unreadCount", "ownerId"):
        assert private not in group
    assert "members only" not in json.dumps(body)
    # Public is not the same as member: history and sending still need a join.
    status, body = await server.request("GET", f"/api/messages/group/{gid}", eve)
    assert_rest_error(status, body, 403, "ACCESS_DENIED")
    status, body = await server.request(
        "POST", "/api/messages", eve, {"groupId": gid, "content": "hi"}
    )
    assert_rest_error(status, body, 403, "ACCESS_DENIED")
    status, body = await server.request("GET", f"/api/groups/{gid}/members", eve)
    assert_rest_error(status, body, 403, "ACCESS_DENIED")


# --- an outsider over REST ---------------------------------------------------

OUTSIDER_REST: list[tuple[str, str, Any, int, str]] = [
    ("GET", "/api/messages/group/{gid}", None, 403, "ACCESS_DENIED"),
    ("GET", "/api/v1/messages/group/{gid}?afterSeq=0", None, 403, "ACCESS_DENIED"),
    ("GET", "/api/messages/group/{eve_gid}?before={mid}", None, 404, "MESSAGE_NOT_FOUND"),
    ("POST", "/api/messages", {"groupId": "{gid}", "content": "x"}, 403, "ACCESS_DENIED"),
    ("POST", "/api/v1/messages", {"groupId": "{gid}", "content": "x"}, 403, "ACCESS_DENIED"),
    (
        "POST",
        "/api/messages",
        {"groupId": "{eve_gid}", "content": "x", "replyTo": "{mid}"},
        404,
        "MESSAGE_NOT_FOUND",
    ),
    ("PATCH", "/api/messages/{mid}", {"content": "pwned"}, 404, "MESSAGE_NOT_FOUND"),
    ("GET", "/api/messages/{mid}/history", None, 404, "MESSAGE_NOT_FOUND"),
    ("DELETE", "/api/messages/{mid}", None, 404, "MESSAGE_NOT_FOUND"),
    (
        "POST",
        "/api/messages/read",
        {"groupId": "{gid}", "messageIds": ["{mid}"]},
        403,
        "ACCESS_DENIED",
    ),
    ("POST", "/api/messages/read", {"groupId": "{gid}", "upToSeq": 5}, 403, "ACCESS_DENIED"),
    ("GET", "/api/groups/{gid}", None, 403, "ACCESS_DENIED"),
    ("GET", "/api/groups/{gid}/members", None, 403, "ACCESS_DENIED"),
    ("PATCH", "/api/groups/{gid}", {"name": "eve's now"}, 403, "ACCESS_DENIED"),
    ("DELETE", "/api/groups/{gid}", None, 403, "ACCESS_DENIED"),
    ("POST", "/api/groups/{gid}/join", None, 403, "ACCESS_DENIED"),
    ("POST", "/api/groups/{gid}/leave", None, 403, "ACCESS_DENIED"),
    ("POST", "/api/groups/{gid}/members", {"userId": "user_eve"}, 403, "ACCESS_DENIED"),
    ("PATCH", "/api/groups/{gid}/members/user_bob", {"role": "admin"}, 403, "ACCESS_DENIED"),
    ("DELETE", "/api/groups/{gid}/members/user_bob", None, 403, "ACCESS_DENIED"),
    ("POST", "/api/groups/{gid}/transfer-ownership", {"userId": "user_eve"}, 403, "ACCESS_DENIED"),
    ("GET", "/api/messages/{mid}/replies", None, 404, "MESSAGE_NOT_FOUND"),
    ("GET", "/api/v1/messages/{mid}/replies?limit=5", None, 404, "MESSAGE_NOT_FOUND"),
    ("GET", "/api/groups/{gid}/pins", None, 403, "ACCESS_DENIED"),
    (
        "POST",
        "/api/messages",
        {"groupId": "{gid}", "content": "x", "mentions": ["user_bob"]},
        403,
        "ACCESS_DENIED",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    OUTSIDER_REST,
    ids=[f"{m} {p}" for m, p, *_rest in OUTSIDER_REST],
)
async def test_outsider_rest_calls_are_refused(
    w: World, method: str, path: str, body: Any, status: int, code: str
) -> None:
    before = await snapshot(w.server, w.gid, w.eve_gid)

    got, data = await w.server.request(method, w.fill(path), w.eve, w.fill(body))

    assert_rest_error(got, data, status, code)
    for secret in ("the plan", "the new plan", "user_bob"):
        assert secret not in json.dumps(data)
    assert await snapshot(w.server, w.gid, w.eve_gid) == before
    await assert_quiet([w.a, w.b, w.e])


# --- roles ------------------------------------------------------------------

MEMBER_REST: list[tuple[str, str, Any]] = [
    ("PATCH", "/api/groups/{gid}", {"name": "bob's now"}),
    ("PATCH", "/api/groups/{gid}", {"isPrivate": False}),
    ("DELETE", "/api/groups/{gid}", None),
    ("POST", "/api/groups/{gid}/members", {"userId": "user_dave"}),
    ("POST", "/api/groups/{gid}/members", {"userId": "user_dave", "role": "admin"}),
    ("PATCH", "/api/groups/{gid}/members/user_alice", {"role": "member"}),
    ("PATCH", "/api/groups/{gid}/members/user_bob", {"role": "admin"}),
    ("DELETE", "/api/groups/{gid}/members/user_alice", None),
    ("DELETE", "/api/groups/{gid}/members/user_carol", None),
    ("POST", "/api/groups/{gid}/transfer-ownership", {"userId": "user_bob"}),
    ("PATCH", "/api/messages/{mid}", {"content": "bob rewrote it"}),
    ("DELETE", "/api/messages/{mid}", None),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), MEMBER_REST, ids=[f"{m} {p} {b}" for m, p, b in MEMBER_REST]
)
async def test_plain_member_cannot_manage_the_group(
    w: World, method: str, path: str, body: Any
) -> None:
    before = await snapshot(w.server, w.gid)

    status, data = await w.server.request(method, w.fill(path), w.bob, w.fill(body))

    assert_rest_error(status, data, 403, "ACCESS_DENIED")
    assert await snapshot(w.server, w.gid) == before
    await assert_quiet([w.a, w.b])


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("edit_message", {"messageId": "{mid}", "content": "bob rewrote it"}),
        ("delete_message", {"messageId": "{mid}", "groupId": "{gid}"}),
        ("delete_message", {"messageId": "{mid}"}),
        ("pin_message", {"messageId": "{mid}"}),
        ("unpin_message", {"messageId": "{mid}"}),
    ],
)
async def test_plain_member_cannot_touch_others_messages_over_socket(
    w: World, event: str, payload: dict[str, Any]
) -> None:
    before = await snapshot(w.server, w.gid)

    ack = await w.b.call(event, w.fill(payload))

    assert ack == {"ok": False, "error": ack["error"]}
    assert ack["error"]["code"] == "ACCESS_DENIED"
    assert_error_event(await w.b.wait_for("message_error"), "ACCESS_DENIED")
    assert await snapshot(w.server, w.gid) == before
    await assert_quiet([w.a, w.b])


ADMIN_REST: list[tuple[str, str, Any]] = [
    ("DELETE", "/api/groups/{gid}", None),
    ("POST", "/api/groups/{gid}/members", {"userId": "user_dave", "role": "admin"}),
    ("PATCH", "/api/groups/{gid}/members/user_bob", {"role": "admin"}),
    ("DELETE", "/api/groups/{gid}/members/user_alice", None),
    ("PATCH", "/api/groups/{gid}/members/user_alice", {"role": "member"}),
    ("POST", "/api/groups/{gid}/transfer-ownership", {"userId": "user_carol"}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), ADMIN_REST, ids=[f"{m} {p} {b}" for m, p, b in ADMIN_REST]
)
async def test_admin_cannot_do_what_only_the_owner_may(
    w: World, method: str, path: str, body: Any
) -> None:
    before = await snapshot(w.server, w.gid)

    status, data = await w.server.request(method, w.fill(path), w.carol, w.fill(body))

    assert_rest_error(status, data, 403, "ACCESS_DENIED")
    assert await snapshot(w.server, w.gid) == before
    await assert_quiet([w.a, w.b])


async def test_admin_may_do_what_admins_may(server: ChatServer) -> None:
    """The refusals above are about roles, not a blanket 403: an admin can moderate."""
    w = await make_world(server)
    status, data = await server.request(
        "POST", f"/api/groups/{w.gid}/members", w.carol, {"userId": "user_dave"}
    )
    assert status == 201, data
    status, data = await server.request("DELETE", f"/api/messages/{w.mid}", w.carol)
    assert status == 200, data
    assert data["deletedBy"] == "user_carol"


async def test_threads_mentions_and_pins_by_role(server: ChatServer) -> None:
    """Owner and admin pin and unpin; a plain member reads pins and threads and
    mentions others; an outsider sees none of it (the refusal tables above)."""
    w = await make_world(server)
    c = await server.client(w.carol)
    ack = await w.b.call(
        "send_message",
        {"groupId": w.gid, "content": "re: plan", "replyTo": w.mid, "mentions": ["user_alice"]},
    )
    assert ack["ok"], ack
    assert (await w.a.wait_for("mention"))["message"]["id"] == ack["message"]["id"]
    assert (await w.a.wait_for("thread_updated"))["replyCount"] == 1
    await w.e.expect_none("mention", within=0.1)
    await w.e.expect_none("thread_updated", within=0.0)
    for who, client in (("user_alice", w.a), ("user_carol", c)):
        pinned = await client.call("pin_message", {"messageId": w.mid})
        assert pinned["ok"], (who, pinned)
        assert pinned["pinnedBy"] == who
        assert (await w.b.wait_for("message_pinned"))["pinnedBy"] == who
        await w.e.expect_none("message_pinned", within=0.1)
        for reader in (w.alice, w.bob, w.carol):
            status, body = await server.request("GET", f"/api/groups/{w.gid}/pins", reader)
            assert status == 200, body
            assert [p["message"]["id"] for p in body["pins"]] == [w.mid]
            status, body = await server.request("GET", f"/api/messages/{w.mid}/replies", reader)
            assert status == 200, body
            assert [m["id"] for m in body["messages"]] == [ack["message"]["id"]]
        unpinned = await client.call("unpin_message", {"messageId": w.mid})
        assert unpinned["wasPinned"] is True
        assert (await w.b.wait_for("message_unpinned"))["messageId"] == w.mid
    status, body = await server.request("GET", "/api/me/mentions", w.alice)
    assert [m["message"]["id"] for m in body["mentions"]] == [ack["message"]["id"]]
    status, body = await server.request("GET", "/api/me/mentions", w.eve)
    assert status == 200
    assert body["mentions"] == []
    assert "re: plan" not in json.dumps(body)


# --- removed members ----------------------------------------------------------


async def test_removed_member_loses_access_immediately(server: ChatServer) -> None:
    w = await make_world(server)
    b_phone = await server.client(w.bob)  # a second device of Bob's
    ack = await w.b.call("send_message", {"groupId": w.gid, "content": "my own words"})
    bob_mid = ack["message"]["id"]
    await asyncio.sleep(0.05)
    for c in (w.a, w.b, b_phone):
        c.drain("new_message")

    status, body = await server.request("DELETE", f"/api/groups/{w.gid}/members/user_bob", w.alice)
    assert status == 200, body
    assert (await w.b.wait_for("group_removed"))["groupId"] == w.gid
    assert (await b_phone.wait_for("group_removed"))["groupId"] == w.gid

    # Nothing more reaches either of Bob's sockets.
    assert (await w.a.call("send_message", {"groupId": w.gid, "content": "after bob"}))["ok"]
    await w.b.expect_none("new_message", within=0.2)
    await b_phone.expect_none("new_message", within=0.0)
    before = await snapshot(server, w.gid)

    refused: list[tuple[str, dict[str, Any], str]] = [
        ("send_message", {"groupId": w.gid, "content": "still here?"}, "ACCESS_DENIED"),
        ("sync", {"groupId": w.gid, "afterSeq": 0}, "ACCESS_DENIED"),
        ("get_group_members", {"groupId": w.gid}, "ACCESS_DENIED"),
        ("mark_message_read", {"messageId": w.mid, "groupId": w.gid}, "ACCESS_DENIED"),
        ("mark_messages_read", {"groupId": w.gid, "upToSeq": 50}, "ACCESS_DENIED"),
        ("react_message", {"messageId": w.mid, "emoji": "👍"}, "MESSAGE_NOT_FOUND"),
        ("edit_message", {"messageId": bob_mid, "content": "rewrite"}, "MESSAGE_NOT_FOUND"),
        ("delete_message", {"messageId": bob_mid}, "MESSAGE_NOT_FOUND"),
        ("join_group", {"groupId": w.gid}, "ACCESS_DENIED"),
        ("pin_message", {"messageId": w.mid}, "MESSAGE_NOT_FOUND"),
    ]
    for event, payload, code in refused:
        ack = await w.b.call(event, payload)
        assert ack["ok"] is False, (event, ack)
        assert ack["error"]["code"] == code, (event, ack)

    for method, path, body, want in [
        ("GET", f"/api/messages/group/{w.gid}", None, 403),
        ("POST", "/api/messages", {"groupId": w.gid, "content": "x"}, 403),
        ("GET", f"/api/groups/{w.gid}", None, 403),
        ("GET", f"/api/messages/{bob_mid}/history", None, 404),
        ("GET", f"/api/messages/{w.mid}/replies", None, 404),
        ("GET", f"/api/groups/{w.gid}/pins", None, 403),
    ]:
        status, data = await server.request(method, path, w.bob, body)
        assert status == want, (method, path, data)
        assert data["success"] is False

    assert await snapshot(server, w.gid) == before
    # join_group was refused, so Bob is still not in the live room.
    assert (await w.a.call("send_message", {"groupId": w.gid, "content": "second"}))["ok"]
    await w.b.expect_none("new_message", within=0.2)
    await b_phone.expect_none("new_message", within=0.0)
    status, body = await server.request("GET", "/api/groups", w.bob)
    assert w.gid not in [g["id"] for g in body["groups"]]


async def test_member_who_leaves_loses_access(server: ChatServer) -> None:
    w = await make_world(server)
    status, body = await server.request("POST", f"/api/groups/{w.gid}/leave", w.bob)
    assert status == 200, body
    await w.b.wait_for("group_removed")
    ack = await w.b.call("send_message", {"groupId": w.gid, "content": "one more"})
    assert ack["error"]["code"] == "ACCESS_DENIED"
    assert (await w.a.call("send_message", {"groupId": w.gid, "content": "bye bob"}))["ok"]
    await w.b.expect_none("new_message", within=0.2)


async def test_deleted_group_is_gone_for_its_members(server: ChatServer) -> None:
    w = await make_world(server)
    status, body = await server.request("DELETE", f"/api/groups/{w.gid}", w.alice)
    assert status == 200, body
    await w.b.wait_for("group_removed")
    for event, payload in [
        ("send_message", {"groupId": w.gid, "content": "hello?"}),
        ("sync", {"groupId": w.gid, "afterSeq": 0}),
        ("join_group", {"groupId": w.gid}),
    ]:
        ack = await w.b.call(event, payload)
        assert ack["error"]["code"] == "GROUP_NOT_FOUND", (event, ack)
    status, body = await server.request("GET", f"/api/messages/group/{w.gid}", w.bob)
    assert_rest_error(status, body, 404, "GROUP_NOT_FOUND")


# --- the client's word about who it is ---------------------------------------

IMPERSONATION_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("send_message", {"groupId": "{gid}", "content": "from alice?", "senderId": "user_alice"}),
    ("send_message", {"groupId": "{gid}", "content": "from alice?", "userId": "user_alice"}),
    ("edit_message", {"messageId": "{mid}", "content": "alice said", "userId": "user_alice"}),
    ("delete_message", {"messageId": "{mid}", "groupId": "{gid}", "deletedBy": "user_alice"}),
    ("delete_message", {"messageId": "{mid}", "userId": "user_alice"}),
    ("react_message", {"messageId": "{mid}", "emoji": "🔥", "userId": "user_alice"}),
    ("mark_message_read", {"messageId": "{mid}", "groupId": "{gid}", "readBy": "user_eve"}),
    ("mark_messages_read", {"groupId": "{gid}", "upToSeq": 9, "userId": "user_eve"}),
    ("sync", {"groupId": "{gid}", "afterSeq": 0, "userId": "user_alice"}),
    ("join_group", {"groupId": "{gid}", "userId": "user_alice"}),
    ("get_group_members", {"groupId": "{gid}", "userId": "user_alice"}),
    ("leave_group", {"groupId": "{gid}", "userId": "user_alice"}),
    ("pin_message", {"messageId": "{mid}", "pinnedBy": "user_alice"}),
    ("pin_message", {"messageId": "{mid}", "userId": "user_alice"}),
    ("unpin_message", {"messageId": "{mid}", "userId": "user_alice"}),
]


@pytest.mark.parametrize(
    ("event", "payload"),
    IMPERSONATION_EVENTS,
    ids=[f"{e}-{i}" for i, (e, _p) in enumerate(IMPERSONATION_EVENTS)],
)
async def test_identity_fields_in_socket_payloads_are_rejected(
    w: World, event: str, payload: dict[str, Any]
) -> None:
    """Bob (a member) names Alice (the owner) as the actor: refused, never obeyed."""
    before = await snapshot(w.server, w.gid)
    ack = await w.b.call(event, w.fill(payload))
    assert ack["ok"] is False
    assert ack["error"]["code"] == "VALIDATION_ERROR"
    locs = [e["loc"] for e in ack["error"]["details"]["errors"]]
    assert set(locs) & {"senderId", "userId", "deletedBy", "readBy", "pinnedBy"}, locs
    assert "user_alice" not in json.dumps(ack)
    assert await snapshot(w.server, w.gid) == before
    await assert_quiet([w.a, w.b])


IMPERSONATION_REST: list[tuple[str, str, Any]] = [
    ("POST", "/api/messages", {"groupId": "{gid}", "content": "x", "senderId": "user_alice"}),
    ("PATCH", "/api/messages/{mid}", {"content": "x", "userId": "user_alice"}),
    ("POST", "/api/messages/read", {"groupId": "{gid}", "upToSeq": 1, "userId": "user_eve"}),
    ("POST", "/api/groups", {"name": "alice's?", "ownerId": "user_alice"}),
    ("PATCH", "/api/groups/{gid}", {"name": "x", "userId": "user_alice"}),
    ("POST", "/api/groups/{gid}/members", {"userId": "user_eve", "addedBy": "user_alice"}),
    ("PATCH", "/api/me", {"firstName": "Al", "userId": "user_alice"}),
    ("PATCH", "/api/me", {"email": "alice@example.com"}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    IMPERSONATION_REST,
    ids=[f"{m} {p} {i}" for i, (m, p, _b) in enumerate(IMPERSONATION_REST)],
)
async def test_identity_fields_in_rest_bodies_are_rejected(
    w: World, method: str, path: str, body: Any
) -> None:
    db = w.server.app[SERVICES].database.db
    before = await snapshot(w.server, w.gid)
    groups_before = await db.groups.count_documents({})
    users_before = await db.users.find({}, {"lastSeen": 0, "updatedAt": 0}).sort("_id").to_list()

    status, data = await w.server.request(method, w.fill(path), w.bob, w.fill(body))

    assert_rest_error(status, data, 400, "VALIDATION_ERROR")
    assert await snapshot(w.server, w.gid) == before
    assert await db.groups.count_documents({}) == groups_before
    users_after = await db.users.find({}, {"lastSeen": 0, "updatedAt": 0}).sort("_id").to_list()
    assert users_after == users_before
    await assert_quiet([w.a, w.b])


async def test_authenticate_payload_cannot_change_who_you_are(w: World) -> None:
    ack = await w.e.call(
        "authenticate", {"userId": "user_alice", "token": w.alice, "email": "alice@example.com"}
    )
    assert ack["ok"] is True
    assert ack["user"]["userId"] == "user_eve"
    groups = await w.e.wait_for("user_groups")
    assert [g["id"] for g in groups] == [w.eve_gid]
    ack = await w.e.call("send_message", {"groupId": w.gid, "content": "as alice?"})
    assert ack["error"]["code"] == "ACCESS_DENIED"


async def test_handshake_extras_cannot_change_who_you_are(w: World) -> None:
    c = EventClient(w.server.url, w.eve)
    w.server.clients.append(c)
    await c.connect(auth={"token": w.eve, "userId": "user_alice", "sub": "user_alice"})
    hello = await c.wait_for("authentication_success")
    assert hello["user"]["userId"] == "user_eve"
    assert [g["id"] for g in await c.wait_for("user_groups")] == [w.eve_gid]
    ack = await c.call("send_message", {"groupId": w.gid, "content": "as alice?"})
    assert ack["error"]["code"] == "ACCESS_DENIED"
    await c.close()


async def test_reauth_with_someone_elses_token_is_refused(server: ChatServer) -> None:
    w = await make_world(server)
    ack = await w.e.call("reauth", {"token": w.alice})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "ACCESS_DENIED"
    assert_error_event(await w.e.wait_for("error"), "ACCESS_DENIED")
    # Still Eve, still outside Alice's group.
    ack = await w.e.call("send_message", {"groupId": w.gid, "content": "as alice?"})
    assert ack["error"]["code"] == "ACCESS_DENIED"
    ack = await w.e.call("send_message", {"groupId": w.eve_gid, "content": "as me"})
    assert ack["message"]["senderId"] == "user_eve"


async def test_forged_connect_event_cannot_switch_identity(server: ChatServer) -> None:
    """A client event named `connect` must not re-run the handshake with client data."""
    w = await make_world(server)
    environ = {"HTTP_AUTHORIZATION": f"Bearer {w.alice}", "QUERY_STRING": f"token={w.alice}"}
    ack = await w.e.call("connect", environ)
    assert ack["ok"] is False
    assert ack["error"]["code"] == "VALIDATION_ERROR"
    assert_error_event(await w.e.wait_for("error"), "VALIDATION_ERROR")
    ack = await w.e.call("send_message", {"groupId": w.gid, "content": "as alice?"})
    assert ack["error"]["code"] == "ACCESS_DENIED"
    ack = await w.e.call("send_message", {"groupId": w.eve_gid, "content": "as me"})
    assert ack["message"]["senderId"] == "user_eve"
    await assert_quiet([w.a, w.b])


async def test_forged_disconnect_event_does_not_end_the_session(server: ChatServer) -> None:
    """A client event named `disconnect` must not log the user out or announce them offline."""
    w = await make_world(server)
    ack = await w.b.call("disconnect", "io client disconnect")
    assert ack["ok"] is False
    assert ack["error"]["code"] == "VALIDATION_ERROR"
    await w.a.expect_none("user_offline", within=0.2)
    ack = await w.b.call("send_message", {"groupId": w.gid, "content": "still here"})
    assert ack["ok"] is True
    assert (await w.a.wait_for("new_message"))["message"]["senderId"] == "user_bob"


# --- REST without a valid token -------------------------------------------------


def _foreign_key_token(server: ChatServer) -> str:
    """Right claims and kid, signed by a key the server never issued."""
    issuer = server.app[SERVICES].dev_issuer
    assert issuer is not None
    now = int(time.time())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"sub": "user_alice", "iss": issuer.issuer, "iat": now, "nbf": now, "exp": now + 600}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": issuer.kid})


def _compact(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """header.payload of a JWT, built by hand (PyJWT rightly refuses to forge these)."""
    return ".".join(
        jwt.utils.base64url_encode(json.dumps(part).encode()).decode() for part in (header, claims)
    )


def _unsigned_token(server: ChatServer) -> str:
    issuer = server.app[SERVICES].dev_issuer
    assert issuer is not None
    now = int(time.time())
    claims = {"sub": "user_alice", "iss": issuer.issuer, "iat": now, "exp": now + 600}
    return _compact({"alg": "none", "typ": "JWT"}, claims) + "."


def _hs256_with_public_jwk(server: ChatServer) -> str:
    """Algorithm confusion: HS256 keyed with the published public key."""
    issuer = server.app[SERVICES].dev_issuer
    assert issuer is not None
    now = int(time.time())
    claims = {"sub": "user_alice", "iss": issuer.issuer, "iat": now, "exp": now + 600}
    secret = json.dumps(issuer.jwks()["keys"][0]).encode()
    signing_input = _compact({"alg": "HS256", "typ": "JWT", "kid": issuer.kid}, claims)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{jwt.utils.base64url_encode(mac).decode()}"


TokenMaker = Callable[[ChatServer], str | None]

BAD_TOKENS: list[tuple[str, TokenMaker, str | None, str]] = [
    ("no header", lambda s: None, None, "AUTHENTICATION_FAILED"),
    ("basic auth", lambda s: None, "Basic dXNlcjpwYXNz", "AUTHENTICATION_FAILED"),
    ("bearer nothing", lambda s: None, "Bearer", "AUTHENTICATION_FAILED"),
    ("garbage", lambda s: "not-a-jwt", None, "INVALID_TOKEN"),
    ("three dots of junk", lambda s: "aaa.bbb.ccc", None, "INVALID_TOKEN"),
    (
        "expired",
        lambda s: s.token("user_alice", now=time.time() - 7200, ttl_seconds=3600),
        None,
        "TOKEN_EXPIRED",
    ),
    (
        "not yet valid",
        lambda s: s.token("user_alice", now=time.time() + 3600),
        None,
        "INVALID_TOKEN",
    ),
    (
        "wrong issuer",
        lambda s: s.token("user_alice", extra={"iss": "https://evil.example"}),
        None,
        "INVALID_TOKEN",
    ),
    (
        "foreign origin (azp)",
        lambda s: s.token("user_alice", extra={"azp": "https://evil.example"}),
        None,
        "INVALID_TOKEN",
    ),
    ("foreign signing key", _foreign_key_token, None, "INVALID_TOKEN"),
    ("alg none", _unsigned_token, None, "INVALID_TOKEN"),
    ("alg confusion", _hs256_with_public_jwk, None, "INVALID_TOKEN"),
    (
        "tampered payload",
        lambda s: _tamper(s.token("user_eve")),
        None,
        "INVALID_TOKEN",
    ),
]


def _tamper(token: str) -> str:
    """Swap the payload for one naming another user, keeping Eve's signature."""
    header, _payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["sub"] = "user_alice"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    ("label", "make", "raw_header", "code"), BAD_TOKENS, ids=[b[0] for b in BAD_TOKENS]
)
async def test_rest_without_a_valid_token_is_401(
    server: ChatServer, label: str, make: TokenMaker, raw_header: str | None, code: str
) -> None:
    alice = await server.user("user_alice")
    gid = await server.group(alice, "mine")
    db = server.app[SERVICES].database.db
    token = make(server)
    headers = {"Authorization": raw_header} if raw_header else {}
    calls: list[tuple[str, str, Any]] = [
        ("GET", "/api/me", None),
        ("GET", "/api/v1/groups", None),
        ("GET", f"/api/messages/group/{gid}", None),
        ("POST", "/api/messages", {"groupId": gid, "content": "sneaky"}),
        ("POST", "/api/groups", {"name": "sneaky"}),
        ("DELETE", f"/api/groups/{gid}", None),
        ("GET", "/api/nowhere", None),
    ]
    for method, path, body in calls:
        status, data = await server.request(method, path, token, body, headers=headers)
        assert_rest_error(status, data, 401, code)
    assert await db.messages.count_documents({}) == 0
    assert await db.groups.count_documents({"isActive": {"$ne": False}}) == 1
    # Public endpoints need no token.
    for path in ("/health", "/api/health/live", "/api/v1/health/live"):
        status, _ = await server.request("GET", path, token, headers=headers)
        assert status == 200, path
