"""Threads (docs/protocol.md, "Mentions, threads and pins"): a reply counts on its parent
(`replyCount`, `lastReplyAt`), kept by the group commit in one update per parent per
batch; the room hears `thread_updated`; `GET /api/messages/:id/replies` lists a thread."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import monitoring

from safechat.container import SERVICES
from tests.helpers.commands import CommandStarts
from tests.helpers.support import ChatServer, EventClient, pair, start_server


class _ParentUpdates(CommandStarts):
    """Counts findAndModify commands on `messages` (the per-parent reply counts)."""

    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "findAndModify" and event.command.get("findAndModify") == (
            "messages"
        ):
            self.count += 1


UPDATES = _ParentUpdates()
monitoring.register(UPDATES)


async def parent_doc(server: ChatServer, mid: str) -> dict[str, Any]:
    doc = await server.app[SERVICES].database.db.messages.find_one({"_id": ObjectId(mid)})
    assert doc is not None
    return doc


async def test_a_reply_counts_on_its_parent_and_the_room_hears_it(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    parent = (await a.call("send_message", {"groupId": gid, "content": "topic"}))["message"]
    assert parent["replyCount"] == 0
    assert "lastReplyAt" not in parent
    reply = await b.call("send_message", {"groupId": gid, "content": "re", "replyTo": parent["id"]})
    assert reply["ok"], reply
    assert reply["message"]["replyTo"] == parent["id"]

    for client in (a, b):
        update = await client.wait_for("thread_updated")
        assert update == {
            "messageId": parent["id"],
            "groupId": gid,
            "replyCount": 1,
            "lastReplyAt": reply["message"]["createdAt"],
        }
    doc = await parent_doc(server, parent["id"])
    assert doc["replyCount"] == 1

    # History, sync and the thread listing show the counters.
    status, body = await server.request("GET", f"/api/messages/group/{gid}", a.token)
    first = body["messages"][0]
    assert first["replyCount"] == 1
    assert first["lastReplyAt"] == reply["message"]["createdAt"]
    synced = await a.call("sync", {"groupId": gid, "afterSeq": reply["message"]["seq"]})
    assert [m["id"] for m in synced["updated"]] == [parent["id"]]
    assert synced["updated"][0]["replyCount"] == 1
    status, body = await server.request("GET", f"/api/messages/{parent['id']}/replies", b.token)
    assert status == 200, body
    assert [m["id"] for m in body["messages"]] == [reply["message"]["id"]]
    assert body["hasMore"] is False


async def test_thread_listing_pages_forward(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    parent = (await a.call("send_message", {"groupId": gid, "content": "topic"}))["message"]
    other = (await a.call("send_message", {"groupId": gid, "content": "elsewhere"}))["message"]
    replies = []
    for i in range(5):
        ack = await b.call(
            "send_message", {"groupId": gid, "content": f"r{i}", "replyTo": parent["id"]}
        )
        replies.append(ack["message"]["id"])
        await a.call("send_message", {"groupId": gid, "content": "x", "replyTo": other["id"]})
    path = f"/api/messages/{parent['id']}/replies"
    status, body = await server.request("GET", f"{path}?limit=2", a.token)
    assert [m["content"] for m in body["messages"]] == ["r0", "r1"]
    assert body["hasMore"] is True
    status, body = await server.request(
        "GET", f"/api/v1{path[4:]}?limit=2&after={body['nextCursor']}", a.token
    )
    assert [m["content"] for m in body["messages"]] == ["r2", "r3"]
    status, body = await server.request("GET", f"{path}?after={body['nextCursor']}", a.token)
    assert [m["content"] for m in body["messages"]] == ["r4"]
    assert body["hasMore"] is False
    assert body["nextCursor"] is None
    # A cursor from another thread is refused.
    status, body = await server.request("GET", f"{path}?after={other['id']}", a.token)
    assert status == 404
    assert body["error"]["code"] == "MESSAGE_NOT_FOUND"
    for query in ("limit=0", "limit=101", "after=zz"):
        status, body = await server.request("GET", f"{path}?{query}", a.token)
        assert status == 400, (query, body)
    status, body = await server.request("GET", f"/api/messages/{ObjectId()}/replies", a.token)
    assert status == 404
    assert body["error"]["code"] == "MESSAGE_NOT_FOUND"


async def _concurrent_replies(
    clients: list[EventClient], gid: str, parent: str, per_client: int
) -> list[dict[str, Any]]:
    async def burst(client: EventClient, who: int) -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(
                *(
                    client.call(
                        "send_message",
                        {
                            "groupId": gid,
                            "content": f"{who}-{i}",
                            "replyTo": parent,
                            "mentions": ["user_alice"],
                            "tempId": f"{who}-{i}",
                        },
                    )
                    for i in range(per_client)
                )
            )
        )

    results = await asyncio.gather(*(burst(c, i) for i, c in enumerate(clients)))
    return [a for r in results for a in r]


async def test_concurrent_replies_and_mentions_add_up_exactly(server: ChatServer) -> None:
    """Batched: fewer parent updates than replies, and the counts are exact."""
    alice = await server.user("user_alice", first_name="Alice")
    names = [f"user_{n}" for n in ("b", "c", "d", "e")]
    for n in names:
        await server.user(n)
    gid = await server.group(alice, memberIds=names)
    a = await server.client(alice)
    clients = [await server.client(n) for n in names]
    parent = (await a.call("send_message", {"groupId": gid, "content": "topic"}))["message"]
    per_client = 15
    UPDATES.count = 0

    acks = await _concurrent_replies(clients, gid, parent["id"], per_client)

    total = per_client * len(clients)
    assert all(ack["ok"] for ack in acks), acks
    assert 0 < UPDATES.count < total, UPDATES.count
    doc = await parent_doc(server, parent["id"])
    assert doc["replyCount"] == total
    last = max(ack["message"]["createdAt"] for ack in acks)
    updates = [await a.wait_for("thread_updated") for _ in range(UPDATES.count)]
    assert max(u["replyCount"] for u in updates) == total
    assert max(u["lastReplyAt"] for u in updates) == last
    await a.expect_none("thread_updated", within=0.1)
    # Every mention of Alice counted, none lost.
    _status, body = await server.request("GET", "/api/groups", alice)
    assert body["groups"][0]["unreadMentions"] == total
    assert await server.app[SERVICES].database.db.mentions.count_documents({}) == total
    _status, body = await server.request(
        "GET", f"/api/messages/{parent['id']}/replies?limit=100", alice
    )
    assert len(body["messages"]) == total
    seqs = [m["seq"] for m in body["messages"]]
    assert seqs == sorted(seqs)


async def test_replies_from_two_nodes_sharing_a_database_add_up(
    mongo_uri: str, tmp_path: Path
) -> None:
    """Each node batches its own sends; the per-parent `$inc` keeps the sum exact."""
    db_name = f"t_{uuid.uuid4().hex[:12]}"
    one = await start_server(mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path / "one")
    two = await start_server(mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path / "two")
    try:
        alice = await one.user("user_alice")
        await one.user("user_bob")
        gid = await one.group(alice, memberIds=["user_bob"])
        a = await one.client(alice)
        b = await two.client("user_bob")
        parent = (await a.call("send_message", {"groupId": gid, "content": "topic"}))["message"]
        acks = await asyncio.gather(
            _concurrent_replies([a], gid, parent["id"], 20),
            _concurrent_replies([b], gid, parent["id"], 20),
        )
        assert all(ack["ok"] for part in acks for ack in part)
        doc = await parent_doc(one, parent["id"])
        assert doc["replyCount"] == 40
        # Bob's 20 replies mention Alice (her own mentions of herself are not recorded).
        db = one.app[SERVICES].database.db
        assert await db.mentions.count_documents({"userId": "user_alice"}) == 20
        mark = await db.read_state.find_one({"groupId": ObjectId(gid), "userId": "user_alice"})
        assert mark is not None
        bob_seqs = sorted(ack["message"]["seq"] for ack in acks[1])
        assert sorted(mark["mentionSeqs"]) == bob_seqs
    finally:
        await two.stop()
        await one.stop()


async def test_a_repeated_temp_id_counts_and_announces_once(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    parent = (await a.call("send_message", {"groupId": gid, "content": "topic"}))["message"]
    payload = {
        "groupId": gid,
        "content": "re",
        "replyTo": parent["id"],
        "mentions": ["user_alice"],
        "tempId": "once",
    }
    acks = await asyncio.gather(*(b.call("send_message", payload) for _ in range(3)))
    acks.append(await b.call("send_message", payload))
    assert all(r["ok"] for r in acks), acks
    # A reply looks its parent up first, so which of the concurrent ones is stored varies.
    assert sorted(r["duplicate"] for r in acks) == [False, True, True, True]
    first = next(r for r in acks if not r["duplicate"])
    assert {r["message"]["id"] for r in acks} == {first["message"]["id"]}
    assert (await parent_doc(server, parent["id"]))["replyCount"] == 1
    assert (await a.wait_for("thread_updated"))["replyCount"] == 1
    assert (await a.wait_for("mention"))["message"]["id"] == first["message"]["id"]
    await a.expect_none("thread_updated", within=0.2)
    await a.expect_none("mention", within=0.0)
    _status, body = await server.request("GET", "/api/groups", a.token)
    assert body["groups"][0]["unreadMentions"] == 1
