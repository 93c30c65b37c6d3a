"""Direct conversations (protocol §8): one per pair, type 'direct', peer, refusals."""

from __future__ import annotations

import asyncio
from typing import Any

from bson import ObjectId

from safechat.container import SERVICES
from tests.helpers.support import ChatServer


async def _people(server: ChatServer) -> tuple[str, str]:
    alice = await server.user("user_alice", first_name="Alice", last_name="Liddell")
    bob = await server.user("user_bob", first_name="Bob", username="bobby")
    return alice, bob


async def test_open_creates_once_then_returns_the_same(server: ChatServer) -> None:
    alice, bob = await _people(server)
    b = await server.client(bob)

    status, body = await server.request("POST", "/api/dms", alice, {"userId": "user_bob"})
    assert status == 201, body
    group = body["group"]
    assert group["type"] == "direct"
    assert group["peer"]["userId"] == "user_bob"
    assert group["peer"]["username"] == "bobby"
    assert "email" not in group["peer"]
    assert group["name"] == "Bob"  # no name of its own: the other person's
    assert group["memberCount"] == 2
    assert group["muted"] is False
    added = await b.wait_for("group_added")
    assert added["group"]["id"] == group["id"]
    assert added["group"]["peer"]["userId"] == "user_alice"
    assert added["group"]["name"] == "Alice Liddell"

    status, again = await server.request("POST", "/api/v1/dms", bob, {"userId": "user_alice"})
    assert status == 200, again
    assert again["group"]["id"] == group["id"]
    assert again["group"]["peer"]["userId"] == "user_alice"
    await b.expect_none("group_added", within=0.2)

    status, mine = await server.request("GET", "/api/groups", bob)
    listed = {g["id"]: g for g in mine["groups"]}
    assert listed[group["id"]]["type"] == "direct"
    assert listed[group["id"]]["peer"]["userId"] == "user_alice"
    raw = await server.app[SERVICES].database.db.groups.find_one({"_id": ObjectId(group["id"])})
    assert raw is not None
    assert sorted(m["userId"] for m in raw["members"]) == ["user_alice", "user_bob"]
    assert raw["pairKey"] == "user_alice:user_bob"


async def test_everything_else_works_as_in_groups(server: ChatServer) -> None:
    alice, bob = await _people(server)
    status, body = await server.request("POST", "/api/dms", alice, {"userId": "user_bob"})
    gid = body["group"]["id"]
    a = await server.client(alice)
    b = await server.client(bob)
    ack = await a.call("send_message", {"groupId": gid, "content": "hi bob", "tempId": "t1"})
    assert ack["ok"] is True, ack
    heard = await b.wait_for("new_message")
    assert heard["message"]["content"] == "hi bob"
    assert (await b.call("typing_start", {"groupId": gid}))["ok"] is True
    assert (await a.wait_for("user_typing"))["userId"] == "user_bob"
    read = await b.call("mark_messages_read", {"groupId": gid, "upToSeq": 1})
    assert read["ok"] is True, read
    status, hist = await server.request("GET", f"/api/messages/group/{gid}", bob)
    assert status == 200
    assert [m["content"] for m in hist["messages"]] == ["hi bob"]
    status, sent = await server.request(
        "POST", "/api/messages", bob, {"groupId": gid, "content": "hi alice"}
    )
    assert status == 201, sent
    assert (await a.wait_for("new_message"))["message"]["content"] == "hi alice"


async def test_twenty_concurrent_opens_from_both_sides_make_one(server: ChatServer) -> None:
    alice, bob = await _people(server)
    calls = [
        server.request("POST", "/api/dms", token, {"userId": peer})
        for _ in range(10)
        for token, peer in ((alice, "user_bob"), (bob, "user_alice"))
    ]
    results: list[tuple[int, Any]] = await asyncio.gather(*calls)
    assert all(status in (200, 201) for status, _ in results), results
    assert len({body["group"]["id"] for _, body in results}) == 1
    assert [status for status, _ in results].count(201) == 1
    db = server.app[SERVICES].database.db
    assert await db.groups.count_documents({"type": "direct"}) == 1


async def test_refusals(server: ChatServer) -> None:
    alice, _bob = await _people(server)
    await server.user("user_carol")
    status, body = await server.request("POST", "/api/dms", alice, {"userId": "user_bob"})
    gid = body["group"]["id"]
    db = server.app[SERVICES].database.db
    before = await db.groups.find_one({"_id": ObjectId(gid)})

    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", "/api/dms", {"userId": "user_alice"}, 400, "VALIDATION_ERROR"),
        ("POST", "/api/dms", {"userId": "user_nobody"}, 404, "USER_NOT_FOUND"),
        ("POST", "/api/dms", {}, 400, "VALIDATION_ERROR"),
        ("POST", f"/api/groups/{gid}/members", {"userId": "user_carol"}, 403, "ACCESS_DENIED"),
        ("POST", f"/api/groups/{gid}/leave", None, 403, "ACCESS_DENIED"),
        ("DELETE", f"/api/groups/{gid}/members/user_bob", None, 403, "ACCESS_DENIED"),
        ("DELETE", f"/api/groups/{gid}/members/user_alice", None, 403, "ACCESS_DENIED"),
        ("PATCH", f"/api/groups/{gid}", {"name": "renamed"}, 403, "ACCESS_DENIED"),
        ("DELETE", f"/api/groups/{gid}", None, 403, "ACCESS_DENIED"),
        ("PATCH", f"/api/groups/{gid}/members/user_bob", {"role": "admin"}, 403, "ACCESS_DENIED"),
        (
            "POST",
            f"/api/groups/{gid}/transfer-ownership",
            {"userId": "user_bob"},
            403,
            "ACCESS_DENIED",
        ),
        ("POST", f"/api/groups/{gid}/bans", {"userId": "user_bob"}, 403, "ACCESS_DENIED"),
    ]
    for method, path, payload, want, code in cases:
        status, data = await server.request(method, path, alice, payload)
        assert status == want, (method, path, data)
        assert data["error"]["code"] == code, (method, path, data)
    carol = server.token("user_carol")
    status, data = await server.request("POST", f"/api/groups/{gid}/join", carol)
    assert (status, data["error"]["code"]) == (403, "ACCESS_DENIED")
    status, data = await server.request("GET", f"/api/messages/group/{gid}", carol)
    assert (status, data["error"]["code"]) == (403, "ACCESS_DENIED")
    assert await db.groups.find_one({"_id": ObjectId(gid)}) == before

    # Never in discover, even searched for by its (empty) name.
    status, found = await server.request("GET", "/api/groups/discover?limit=100", carol)
    assert gid not in [g["id"] for g in found["groups"]]


async def test_either_person_may_moderate_in_a_direct_conversation(server: ChatServer) -> None:
    """The query other features (pins) use: both people, and nobody else."""
    alice, _bob = await _people(server)
    await server.user("user_carol")
    _status, body = await server.request("POST", "/api/dms", alice, {"userId": "user_bob"})
    group = await server.app[SERVICES].groups.get_active(body["group"]["id"])
    assert group.is_direct
    assert group.may_moderate("user_alice")
    assert group.may_moderate("user_bob")
    assert not group.may_moderate("user_carol")
    assert group.peer_of("user_alice") == "user_bob"


async def test_erasure_leaves_the_direct_conversation_to_the_other_person(
    server: ChatServer,
) -> None:
    alice, bob = await _people(server)
    status, body = await server.request("POST", "/api/dms", alice, {"userId": "user_bob"})
    gid = body["group"]["id"]
    await server.request("POST", "/api/me/blocks", alice, {"userId": "user_bob"})
    b = await server.client(bob)
    status, erased = await server.request("DELETE", "/api/me", alice)
    assert status == 200, erased
    assert erased["erased"]["groupsLeft"] == 1

    db = server.app[SERVICES].database.db
    raw = await db.groups.find_one({"_id": ObjectId(gid)})
    assert raw is not None
    assert [m["userId"] for m in raw["members"]] == ["user_bob"]
    assert "pairKey" not in raw
    assert await db.blocks.count_documents({"blockerId": "user_alice"}) == 0
    assert (await b.wait_for("group_updated"))["group"]["memberCount"] == 1
    # Bob keeps the (now one-person) conversation; signing in again, Alice starts afresh.
    status, mine = await server.request("GET", "/api/groups", bob)
    assert [g["id"] for g in mine["groups"]] == [gid]
    again = await server.user("user_alice", first_name="Alice")
    status, body = await server.request("POST", "/api/dms", again, {"userId": "user_bob"})
    assert status == 201, body
    assert body["group"]["id"] != gid
