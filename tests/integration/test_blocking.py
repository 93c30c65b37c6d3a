"""Blocking (protocol §8): direct conversations and the directory; groups unaffected."""

from __future__ import annotations

from bson import ObjectId

from safechat.container import SERVICES
from tests.helpers.support import ChatServer


async def _setup(server: ChatServer) -> tuple[str, str, str]:
    alice = await server.user("user_alice", first_name="Alice")
    bob = await server.user("user_bob", first_name="Bob")
    status, body = await server.request("POST", "/api/dms", alice, {"userId": "user_bob"})
    assert status == 201, body
    return alice, bob, body["group"]["id"]


async def test_a_blocked_user_cannot_send_open_or_find(server: ChatServer) -> None:
    alice, bob, dm = await _setup(server)
    shared = await server.group(alice, "shared", memberIds=["user_bob"])
    a = await server.client(alice)
    b = await server.client(bob)

    status, body = await server.request("POST", "/api/me/blocks", alice, {"userId": "user_bob"})
    assert status == 201, body
    assert body["block"]["userId"] == "user_bob"
    assert body["block"]["user"]["firstName"] == "Bob"

    # The very next send is refused: the block is in the send's own atomic check.
    ack = await b.call("send_message", {"groupId": dm, "content": "hey"})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "ACCESS_DENIED"
    status, data = await server.request(
        "POST", "/api/messages", bob, {"groupId": dm, "content": "hey"}
    )
    assert (status, data["error"]["code"]) == (403, "ACCESS_DENIED")
    await a.expect_none("new_message", within=0.2)
    # Neither can Bob reopen it, nor find Alice.
    status, data = await server.request("POST", "/api/dms", bob, {"userId": "user_alice"})
    assert (status, data["error"]["code"]) == (403, "ACCESS_DENIED")
    status, found = await server.request("GET", "/api/users/search?q=ali", bob)
    assert found["users"] == []
    # Alice still finds Bob, still writes to him, and the shared group is unaffected.
    status, found = await server.request("GET", "/api/users/search?q=bo", alice)
    assert [u["userId"] for u in found["users"]] == ["user_bob"]
    assert (await a.call("send_message", {"groupId": dm, "content": "I can"}))["ok"] is True
    ack = await b.call("send_message", {"groupId": shared, "content": "in the group"})
    assert ack["ok"] is True, ack
    # History stays readable for Bob.
    status, _hist = await server.request("GET", f"/api/messages/group/{dm}", bob)
    assert status == 200

    status, listed = await server.request("GET", "/api/me/blocks", alice)
    assert [x["userId"] for x in listed["blocks"]] == ["user_bob"]
    assert listed["blocks"][0]["blockedAt"].endswith("Z")

    status, _ = await server.request("DELETE", "/api/me/blocks/user_bob", alice)
    assert status == 200
    ack = await b.call("send_message", {"groupId": dm, "content": "thanks"})
    assert ack["ok"] is True, ack
    status, listed = await server.request("GET", "/api/me/blocks", alice)
    assert listed["blocks"] == []
    status, found = await server.request("GET", "/api/users/search?q=ali", bob)
    assert [u["userId"] for u in found["users"]] == ["user_alice"]


async def test_block_before_the_conversation_exists(server: ChatServer) -> None:
    alice = await server.user("user_alice", first_name="Alice")
    bob = await server.user("user_bob", first_name="Bob")
    status, _ = await server.request("POST", "/api/me/blocks", alice, {"userId": "user_bob"})
    assert status == 201
    status, data = await server.request("POST", "/api/dms", bob, {"userId": "user_alice"})
    assert (status, data["error"]["code"]) == (403, "ACCESS_DENIED")
    # The blocker may open it; the blocked one still cannot write in it.
    status, body = await server.request("POST", "/api/dms", alice, {"userId": "user_bob"})
    assert status == 201, body
    dm = body["group"]["id"]
    raw = await server.app[SERVICES].database.db.groups.find_one({"_id": ObjectId(dm)})
    assert raw is not None
    assert raw["sendBlocked"] == ["user_bob"]
    status, data = await server.request(
        "POST", "/api/messages", bob, {"groupId": dm, "content": "hi"}
    )
    assert (status, data["error"]["code"]) == (403, "ACCESS_DENIED")


async def test_block_is_idempotent_and_validated(server: ChatServer) -> None:
    alice, _bob, _dm = await _setup(server)
    for _ in range(2):
        status, _ = await server.request("POST", "/api/me/blocks", alice, {"userId": "user_bob"})
        assert status == 201
    status, listed = await server.request("GET", "/api/me/blocks", alice)
    assert len(listed["blocks"]) == 1
    for payload, want, code in [
        ({"userId": "user_alice"}, 400, "VALIDATION_ERROR"),
        ({"userId": "user_nobody"}, 404, "USER_NOT_FOUND"),
        ({"userId": 5}, 400, "VALIDATION_ERROR"),
        ({"userId": "user_bob", "by": "x"}, 400, "VALIDATION_ERROR"),
    ]:
        status, data = await server.request("POST", "/api/me/blocks", alice, payload)
        assert (status, data["error"]["code"]) == (want, code), payload
    # Unblocking someone not blocked is fine.
    status, _ = await server.request("DELETE", "/api/me/blocks/user_nobody", alice)
    assert status == 200


async def test_mutual_blocks_unblock_one_side(server: ChatServer) -> None:
    alice, bob, dm = await _setup(server)
    await server.request("POST", "/api/me/blocks", alice, {"userId": "user_bob"})
    await server.request("POST", "/api/me/blocks", bob, {"userId": "user_alice"})
    await server.request("DELETE", "/api/me/blocks/user_bob", alice)
    b = await server.client(bob)
    a = await server.client(alice)
    assert (await b.call("send_message", {"groupId": dm, "content": "free"}))["ok"] is True
    ack = await a.call("send_message", {"groupId": dm, "content": "still blocked"})
    assert ack["error"]["code"] == "ACCESS_DENIED"
