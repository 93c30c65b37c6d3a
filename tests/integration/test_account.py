"""Your data (protocol §8): GET /api/me/export holds exactly the caller's data, and
DELETE /api/me leaves none of their content readable anywhere, through the real server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bson import ObjectId

from safechat.container import SERVICES
from tests.helpers.media import png_bytes, upload
from tests.helpers.support import ChatServer, EventClient
from tests.integration.test_messages_rest import history, post, seed


async def raw_export(server: ChatServer, token: str) -> tuple[int, str, dict[str, str]]:
    async with server.http.get(
        server.url + "/api/me/export", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        return resp.status, await resp.text(), dict(resp.headers)


async def settle(server: ChatServer) -> None:
    await server.app[SERVICES].ai.tasks.idle()


async def image_message(server: ChatServer, client: EventClient, token: str, gid: str) -> str:
    status, body = await upload(server, token, gid, png_bytes(), filename="me.png")
    assert status == 201, body
    ack = await client.call(
        "send_message", {"groupId": gid, "type": "image", "mediaId": body["media"]["id"]}
    )
    assert ack["ok"], ack
    return str(body["media"]["id"])


async def test_export_holds_exactly_the_callers_data(server: ChatServer) -> None:
    alice = await server.user("user_alice", first_name="Alice", email="alice@example.com")
    bob = await server.user("user_bob", first_name="Bob", email="bob@example.com")
    gid = await server.group(alice, "family", memberIds=["user_bob"])
    a = await server.client(alice)
    mine = [await post(server, alice, gid, f"alice secret {i}") for i in range(3)]
    theirs = await post(server, bob, gid, "bob's own words")
    ack = await a.call("react_message", {"messageId": theirs["id"], "emoji": "👍"})
    assert ack["ok"], ack
    media_id = await image_message(server, a, alice, gid)
    await upload(server, bob, gid, png_bytes(), filename="bob.png")
    await server.user("user_erin")
    status, _ = await server.request("POST", "/api/me/blocks", alice, {"userId": "user_erin"})
    assert status == 201
    status, _ = await server.request("PUT", f"/api/groups/{gid}/settings", alice, {"muted": True})
    assert status == 200
    # Many messages elsewhere: the export pages through them.
    other = await server.group(alice, "notes")
    await seed(server, other, "user_alice", 450)

    status, text, headers = await raw_export(server, alice)
    assert status == 200, text
    assert headers["Content-Type"].startswith("application/json")
    assert "attachment" in headers["Content-Disposition"]
    assert "bob's own words" not in text
    assert "bob@example.com" not in text
    doc = json.loads(text)
    assert doc["success"] is True
    assert doc["profile"]["id"] == "user_alice"
    assert doc["profile"]["email"] == "alice@example.com"
    roles = {m["groupId"]: m["role"] for m in doc["memberships"]}
    assert roles == {gid: "owner", other: "owner"}
    contents = [m["content"] for m in doc["messages"]]
    assert len(contents) == 3 + 1 + 450
    assert {m["senderId"] for m in doc["messages"]} == {"user_alice"}
    assert [m["content"] for m in mine] == [c for c in contents if c.startswith("alice")]
    assert {f"n{i}" for i in range(1, 451)} <= set(contents)
    assert doc["reactions"] == [{"messageId": theirs["id"], "groupId": gid, "emoji": "👍"}]
    assert [u["id"] for u in doc["uploads"]] == [media_id]
    # Her own sends marked the first group read (the seeded history set no mark).
    assert [m["groupId"] for m in doc["readMarks"]] == [gid]
    assert doc["readMarks"][0]["lastReadSeq"] >= 4
    assert doc["readMarks"][0]["muted"] is True
    assert [b["userId"] for b in doc["blocks"]] == ["user_erin"]


async def test_erasure_leaves_nothing_of_the_user_and_hands_groups_on(
    server: ChatServer,
) -> None:
    alice = await server.user("user_alice", first_name="Alice")
    bob = await server.user("user_bob", first_name="Bob")
    await server.user("user_carol", first_name="Carol")
    # Carol joined first, but Bob is an admin: the oldest admin inherits.
    shared = await server.group(alice, "shared", memberIds=["user_carol", "user_bob"])
    status, body = await server.request(
        "PATCH", f"/api/groups/{shared}/members/user_bob", alice, {"role": "admin"}
    )
    assert status == 200, body
    alone = await server.group(alice, "alone")
    bobs = await server.group(bob, "bob's", memberIds=["user_alice"])
    a = await server.client(alice)
    b = await server.client(bob)
    said = [await post(server, alice, g, f"alice private {g}") for g in (shared, bobs)]
    theirs = await post(server, bob, bobs, "bob here")
    assert (await a.call("react_message", {"messageId": theirs["id"], "emoji": "🎉"}))["ok"]
    media_id = await image_message(server, a, alice, shared)
    await settle(server)
    db = server.app[SERVICES].database.db
    assert await db.message_embeddings.count_documents({"senderId": "user_alice"}) > 0
    b.drain("message_deleted")

    status, body = await server.request("DELETE", "/api/me", alice)
    assert status == 200, body
    assert body["erased"] == {
        "messagesDeleted": 3,
        "reactionsRemoved": 1,
        "groupsLeft": 2,
        "groupsHandedOver": 1,
        "groupsDeleted": 1,
        "uploadsRemoved": 1,
    }

    # Sessions closed: the socket is gone.
    async with asyncio.timeout(5):
        while a.sio.connected:
            await asyncio.sleep(0.02)
    # The room saw each message go, as delete_message announces it.
    deleted = {(await b.wait_for("message_deleted"))["messageId"] for _ in range(2)}
    assert {m["id"] for m in said} <= deleted
    # Ownership passed to the oldest admin; the group only she was in is gone.
    _, view = await server.request("GET", f"/api/groups/{shared}", bob)
    assert view["group"]["ownerId"] == "user_bob"
    assert "user_alice" not in {m["userId"] for m in view["group"]["members"]}
    assert (await db.groups.find_one({"_id": ObjectId(alone)}))["isActive"] is False
    # Nothing of hers is readable: history, reactions, media, search index, database.
    for g in (shared, bobs):
        for message in (await history(server, bob, g))["messages"]:
            if message["senderId"] == "user_alice":
                assert message["isDeleted"] is True
                assert message["content"] == ""
            assert all("user_alice" not in users for users in message["reactions"].values())
    status, _ = await server.request("GET", f"/api/media/{media_id}", bob)
    assert status == 404
    stored: list[dict[str, Any]] = [
        d async for d in db.messages.find({"senderId": "user_alice", "isDeleted": False})
    ]
    assert stored == []
    assert await db.message_embeddings.count_documents({"senderId": "user_alice"}) == 0
    for name in ("users", "read_state", "sessions", "media"):
        key = "clerkId" if name == "users" else ("ownerId" if name == "media" else "userId")
        assert await db[name].count_documents({key: "user_alice"}) == 0, name
    audit = await db.audit_events.find_one({"action": "account.erased"})
    assert audit is not None
    assert audit["actorId"] == "user_alice"
    assert audit["details"]["messagesDeleted"] == 3
    assert "alice private" not in json.dumps(audit, default=str)

    # Signing in again: a new, empty user; erasing that works too.
    status, me = await server.request("GET", "/api/me", alice)
    assert status == 200
    assert me["user"]["id"] == "user_alice"
    _, groups = await server.request("GET", "/api/groups", alice)
    assert groups["groups"] == []
    status, body = await server.request("DELETE", "/api/me", alice)
    assert status == 200
    assert body["erased"]["messagesDeleted"] == 0


async def test_export_and_erasure_are_rate_limited_and_need_a_token(server: ChatServer) -> None:
    status, body = await server.request("GET", "/api/me/export")
    assert status == 401
    assert body["error"]["code"] == "AUTHENTICATION_FAILED"
    token = await server.user("user_dave")
    limit = server.settings.rate_account_per_hour
    for _ in range(limit):
        status, _, _ = await raw_export(server, token)
        assert status == 200
    status, body = await server.request("DELETE", "/api/me", token)
    assert status == 429
    assert body["error"]["code"] == "RATE_LIMITED"
    assert await server.app[SERVICES].database.db.users.count_documents({"clerkId": "user_dave"})
