"""What the send path writes behind the ack (docs/performance.md): the sender's read mark
and, with the local seq allocator, the group's `lastSeq`. Before they are written, the
node that took the sends answers as if they were (the sender's own messages are never
unread for them, `lastSeq` is the last stored message); the shutdown writes them; a
restart after a crash continues the seqs after what was stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from safechat import wiring
from tests.helpers.support import ChatServer, start_server


async def sends(server: ChatServer, token: str, gid: str, *texts: str) -> list[int]:
    seqs = []
    for text in texts:
        status, body = await server.request(
            "POST", "/api/messages", token, {"groupId": gid, "content": text}
        )
        assert status == 201, body
        seqs.append(int(body["message"]["seq"]))
    return seqs


async def summary(server: ChatServer, token: str, gid: str) -> dict[str, Any]:
    status, body = await server.request("GET", "/api/groups", token)
    assert status == 200, body
    return next(g for g in body["groups"] if g["id"] == gid)


@pytest.mark.parametrize("allocator", ["atomic", "local"])
async def test_marks_and_seqs_behind_the_ack(
    allocator: str, mongo_uri: str, db_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wiring, "LAST_SEQ_FLUSH_SECONDS", 3600.0)  # only the shutdown writes
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    db = client[db_name]

    def start() -> Any:
        return start_server(
            mongo_uri=mongo_uri,
            db_name=db_name,
            data_dir=tmp_path,
            seq_allocator=allocator,
            write_behind_seconds=60.0,  # the marks too: only the shutdown writes
        )

    try:
        server = await start()
        alice = await server.user("user_alice")
        bob = await server.user("user_bob")
        gid = await server.group(alice, memberIds=["user_bob"])
        assert await sends(server, bob, gid, "b1") == [1]
        assert await sends(server, alice, gid, "a1", "a2") == [2, 3]

        mine, his = await summary(server, alice, gid), await summary(server, bob, gid)
        assert (mine["lastSeq"], mine["unreadCount"]) == (3, 0)
        assert (his["lastSeq"], his["unreadCount"]) == (3, 2)
        # Not written yet: what answered was this node's own view.
        assert await db.read_state.find_one({"userId": "user_alice"}) is None
        stored = await db.groups.find_one({})
        assert stored is not None
        assert stored["lastSeq"] == (3 if allocator == "atomic" else 0)

        await server.stop()  # writes what is behind
        mark = await db.read_state.find_one({"userId": "user_alice"})
        assert mark is not None
        assert mark["lastReadSeq"] == 3
        stored = await db.groups.find_one({})
        assert stored is not None
        assert stored["lastSeq"] == 3

        if allocator == "local":
            # A crash before a lastSeq write (the atomic one writes it with each batch):
            # the restart continues after what is stored.
            await db.groups.update_one({}, {"$set": {"lastSeq": 1}})
        server = await start()
        alice, bob = await server.user("user_alice"), await server.user("user_bob")
        assert await sends(server, alice, gid, "a3") == [4]
        assert (await summary(server, bob, gid))["unreadCount"] == 3
        await server.stop()
    finally:
        await client.drop_database(db_name)
        await client.close()
