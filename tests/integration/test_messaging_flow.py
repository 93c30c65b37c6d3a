"""Two users chatting over Socket.IO against the real database."""

from __future__ import annotations

from bson import ObjectId

from safechat.container import SERVICES
from tests.helpers.support import ChatServer


async def test_send_is_acked_stored_and_broadcast(server: ChatServer) -> None:
    alice = await server.user("user_alice", first_name="Alice")
    await server.user("user_bob")
    gid = await server.group(alice, memberIds=["user_bob"])
    a = await server.client(alice)
    b = await server.client("user_bob")

    ack = await a.call("send_message", {"groupId": gid, "content": "  hi bob  ", "tempId": "t-1"})
    assert ack["ok"] is True
    msg = ack["message"]
    assert msg["content"] == "hi bob"
    assert msg["seq"] == 1
    assert msg["tempId"] == "t-1"
    assert msg["roomId"] == gid

    seen = await b.wait_for("new_message")
    assert seen["message"]["id"] == msg["id"]
    assert seen["sender"]["firstName"] == "Alice"
    assert "tempId" not in seen["message"]
    sent = await a.wait_for("message_sent")
    assert sent["tempId"] == "t-1"
    await a.expect_none("new_message")

    status, body = await server.request("GET", f"/api/messages/group/{gid}", alice)
    assert status == 200
    assert [m["content"] for m in body["messages"]] == ["hi bob"]

    # Content is never plaintext in the database.
    raw = await server.app[SERVICES].database.db.messages.find_one({"_id": ObjectId(msg["id"])})
    assert raw is not None
    assert set(raw["content"]) == {"v", "kid", "iv", "ct"}
    assert b"hi bob" not in bytes(raw["content"]["ct"])
