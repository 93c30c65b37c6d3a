"""What keeps the embedded database's cost per message down (docs/performance.md,
"The embedded database serves one write at a time"), against the real database:
background writes go in short commands, through the writer client when there is one;
no index is kept that no query needs; the AI summary's "since" walks the seq index.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from pymongo import ASCENDING, AsyncMongoClient, IndexModel, monitoring

from safechat.models.message import StoredMessage
from safechat.repositories.db import Database
from safechat.repositories.embeddings import INSERT_CHUNK, EmbeddingRepository, VectorRow
from safechat.repositories.messages import MessageRepository
from safechat.repositories.read_state import BACKGROUND_CHUNK, ReadStateRepository
from tests.helpers.commands import CommandStarts

T0 = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class Commands(CommandStarts):
    """(command name, collection, number of documents or operations) as they start."""

    seen: list[tuple[str, str, int]] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name in ("insert", "update", "find"):
            body = event.command.get("documents") or event.command.get("updates") or []
            self.seen.append((name, str(event.command.get(name)), len(body)))

    def of(self, name: str, collection: str) -> list[int]:
        return [n for c, coll, n in self.seen if c == name and coll == collection]


@dataclass
class Env:
    db: Database
    reads: Commands
    writes: Commands


@pytest.fixture
async def env(mongo_uri: str, db_name: str) -> AsyncIterator[Env]:
    reads, writes = Commands(), Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_uri, event_listeners=[reads], retryWrites=False, tz_aware=True
    )
    writer: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_uri, event_listeners=[writes], retryWrites=False, tz_aware=True, maxPoolSize=1
    )
    db = Database(client, db_name, writer=writer)
    await db.ensure_indexes()
    try:
        yield Env(db, reads, writes)
    finally:
        await client.drop_database(db_name)
        await db.close()


def message(gid: ObjectId, seq: int, at: datetime) -> StoredMessage:
    return StoredMessage(ObjectId(), gid, seq, "alice", "text", f"m{seq}", at, at)


async def test_send_path_inserts_go_through_the_writer_client(env: Env) -> None:
    repo = MessageRepository(env.db)
    gid = ObjectId()
    assert await repo.insert_batch([message(gid, s, T0) for s in (1, 2, 3)]) == {}
    assert env.writes.of("insert", "messages") == [3]
    assert env.reads.of("insert", "messages") == []
    assert [m.seq for m in await repo.since(gid, T0, 10)] == [1, 2, 3]  # readable at once


async def test_vectors_are_inserted_in_short_commands(env: Env) -> None:
    repo = EmbeddingRepository(env.db)
    gid = ObjectId()
    rows = [VectorRow(gid, ObjectId(), "alice", [1.0, 0.0]) for _ in range(2 * INSERT_CHUNK + 5)]
    await repo.insert_many(rows, "model-a", T0)
    assert env.writes.of("insert", "message_embeddings") == [INSERT_CHUNK, INSERT_CHUNK, 5]
    assert await repo.count(gid) == len(rows)
    # A repeat is refused by the unique (messageId, model) index, in every chunk alike.
    await repo.insert_many(rows[-3:], "model-a", T0)
    assert await repo.count(gid) == len(rows)


async def test_read_marks_behind_are_written_in_short_commands(env: Env) -> None:
    repo = ReadStateRepository(env.db)
    gid = ObjectId()
    users = [f"user_{i}" for i in range(BACKGROUND_CHUNK * 2 + 3)]
    await repo.advance_behind(gid, dict.fromkeys(users, 7), T0)
    await repo.flush_behind()
    assert env.writes.of("update", "read_state") == [BACKGROUND_CHUNK, BACKGROUND_CHUNK, 3]
    stored = env.db.db.read_state.find({"groupId": gid})
    assert {d["userId"]: d["lastReadSeq"] async for d in stored} == dict.fromkeys(users, 7)


async def test_an_index_no_query_needs_is_dropped_at_startup(env: Env) -> None:
    messages = env.db.db.messages
    await messages.create_indexes(
        [IndexModel([("groupId", ASCENDING), ("createdAt", ASCENDING)], name="group_created")]
    )
    await env.db.ensure_indexes()
    names = {i["name"] async for i in await messages.list_indexes()}
    assert "group_created" not in names
    assert {"group_seq", "group_updated", "sender_client_id"} <= names
    await env.db.ensure_indexes()  # and again: nothing left to drop, no error


async def test_since_is_the_newest_messages_from_that_time_oldest_first(env: Env) -> None:
    repo = MessageRepository(env.db)
    gid, other = ObjectId(), ObjectId()
    await repo.insert_batch([message(gid, s, T0 + timedelta(minutes=s)) for s in range(1, 21)])
    await repo.insert_batch([message(other, 1, T0 + timedelta(minutes=30))])
    since = T0 + timedelta(minutes=15)
    env.reads.seen.clear()
    assert [m.seq for m in await repo.since(gid, since, 50)] == [15, 16, 17, 18, 19, 20]
    assert [m.seq for m in await repo.since(gid, since, 2)] == [19, 20]
    assert await repo.since(gid, T0 + timedelta(hours=1), 5) == []
    assert [m.seq for m in await repo.since(gid, T0, 100)] == list(range(1, 21))
    assert env.reads.of("find", "messages")  # a read, on the shared pool
