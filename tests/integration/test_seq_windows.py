"""Group reads in bounded seq windows (repositories/seq_windows.py).

Each read must return what the open-ended query returns, with gaps in the seqs (a
message still being written, a seq a crash left empty) and without; and, on a group
without gaps, ask the database only for a window of about `limit` seqs: the embedded
database reads every document an open-ended range covers, so a query that widens
again would make every read cost the group's whole history (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient, monitoring

from safechat.models.message import StoredMessage
from safechat.repositories.db import Database
from safechat.repositories.messages import MessageRepository
from tests.helpers.commands import CommandStarts

T0 = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class Finds(CommandStarts):
    """The filters of the `find` commands sent to `messages`."""

    filters: list[dict[str, Any]] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == "messages":
            self.filters.append(dict(event.command.get("filter", {})))


@dataclass
class Env:
    repo: MessageRepository
    raw: Any
    finds: Finds


@pytest.fixture
async def env(mongo_uri: str, db_name: str) -> AsyncIterator[Env]:
    finds = Finds()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_uri, event_listeners=[finds], retryWrites=False
    )
    db = Database(client, db_name)
    await db.ensure_indexes()
    try:
        yield Env(MessageRepository(db), db.db.messages, finds)
    finally:
        await client.drop_database(db_name)
        await db.close()


def doc(gid: ObjectId, seq: int, sender: str = "a", **extra: Any) -> dict[str, Any]:
    at = T0 + timedelta(seconds=seq)
    message = StoredMessage(ObjectId(), gid, seq, sender, "text", f"m{seq}", at, at)
    return {**message.to_doc(), **extra}


async def fill(env: Env, gid: ObjectId, seqs: list[int], **extra: Any) -> None:
    await env.raw.insert_many([doc(gid, s, **extra) for s in seqs])


async def reference_newest(env: Env, gid: ObjectId, limit: int, before: int | None) -> list[int]:
    query: dict[str, Any] = {"groupId": gid}
    if before is not None:
        query["seq"] = {"$lt": before}
    cursor = env.raw.find(query, {"seq": 1}).sort("seq", -1).limit(limit)
    return sorted([d["seq"] async for d in cursor])


async def reference_oldest(env: Env, gid: ObjectId, limit: int, after: int) -> list[int]:
    cursor = env.raw.find({"groupId": gid, "seq": {"$gt": after}}, {"seq": 1})
    return [d["seq"] async for d in cursor.sort("seq", 1).limit(limit)]


def seqs(found: list[StoredMessage]) -> list[int]:
    return [m.seq for m in found]


# Gaps at the top (still being written), in the middle (a crash), and a long run of them.
GAPPY = [s for s in range(1, 400) if s not in {399, 398, 250, 100, *range(150, 230)}]


@pytest.mark.parametrize("stored", [list(range(1, 400)), GAPPY], ids=["contiguous", "gaps"])
async def test_pages_match_the_open_ended_query(env: Env, stored: list[int]) -> None:
    gid, other = ObjectId(), ObjectId()
    await fill(env, gid, stored)
    await fill(env, other, list(range(1, 50)))
    last_seq = 399
    for limit in (1, 5, 51):
        for before in (None, 2, 30, 151, 231, 260, 399, 400):
            found = await env.repo.page(gid, limit, last_seq=last_seq, before_seq=before)
            assert seqs(found) == await reference_newest(env, gid, limit, before), (limit, before)
        for after in (0, 1, 99, 149, 200, 300, 397, 399, 500):
            found = await env.repo.page(gid, limit, last_seq=last_seq, after_seq=after)
            assert seqs(found) == await reference_oldest(env, gid, limit, after), (limit, after)
    # A stale (low) lastSeq changes the cost, never the result.
    found = await env.repo.page(gid, 5, last_seq=10)
    assert seqs(found) == await reference_newest(env, gid, 5, None)
    found = await env.repo.page(gid, 5, last_seq=10, after_seq=380)
    assert seqs(found) == await reference_oldest(env, gid, 5, 380)


async def test_latest_is_the_highest_seq_of_each_group(env: Env) -> None:
    a, b, empty = ObjectId(), ObjectId(), ObjectId()
    await fill(env, a, list(range(1, 300)))
    await fill(env, b, [1, 2, 3])  # 4..9 reserved, not stored
    latest = await env.repo.latest({a: 299, b: 9, empty: 0})
    assert {g: m.seq for g, m in latest.items()} == {str(a): 299, str(b): 3}


async def test_unread_between_skips_read_and_own_and_reports_the_contiguous_end(
    env: Env,
) -> None:
    gid = ObjectId()
    await fill(env, gid, [1, 2, 3, 5, 6])
    await env.raw.update_one({"groupId": gid, "seq": 2}, {"$set": {"senderId": "me"}})
    await env.raw.update_one(
        {"groupId": gid, "seq": 3}, {"$push": {"readBy": {"userId": "me", "readAt": T0}}}
    )
    await env.raw.update_one(
        {"groupId": gid, "seq": 5}, {"$push": {"readBy": {"userId": "you", "readAt": T0}}}
    )
    unread, through = await env.repo.unread_between(gid, "me", 0, 6)
    assert sorted(s for _, s in unread) == [1, 5, 6]
    assert through == 3  # seq 4 is missing: a later pass must look at it again
    assert await env.repo.unread_between(gid, "me", 6, 6) == ([], 6)


async def test_updated_since_keeps_the_seq_bound_and_the_limit(env: Env) -> None:
    gid = ObjectId()
    await fill(env, gid, list(range(1, 21)))
    later = T0 + timedelta(hours=1)
    for s in (3, 8, 12, 18):  # changed after creation
        await env.raw.update_one({"groupId": gid, "seq": s}, {"$set": {"updatedAt": later}})
    since = T0 + timedelta(seconds=10)  # messages 10.. were created since: not "changed"
    found = await env.repo.updated_since(gid, 15, since, 50)
    assert seqs(found) == [3, 8, 12]
    # The limit applies, in seq order, before the never-changed ones are left out.
    assert seqs(await env.repo.updated_since(gid, 15, since, 4)) == [3, 8]  # of 3, 8, 10, 11


def seq_span(query: dict[str, Any]) -> tuple[int | None, int | None]:
    clause = query.get("seq", {})
    low = clause.get("$gte", clause["$gt"] + 1 if "$gt" in clause else None)
    high = clause.get("$lte", clause["$lt"] - 1 if "$lt" in clause else None)
    return low, high


async def test_reads_of_a_long_history_ask_for_a_window_only(env: Env) -> None:
    gid = ObjectId()
    await fill(env, gid, list(range(1, 2001)))
    env.finds.filters.clear()
    await env.repo.page(gid, 51, last_seq=2000)
    await env.repo.page(gid, 51, last_seq=2000, before_seq=1000)
    await env.repo.page(gid, 51, last_seq=2000, after_seq=1000)
    await env.repo.latest({gid: 2000})
    await env.repo.unread_between(gid, "me", 1900, 2000)
    assert len(env.finds.filters) == 5  # one window each: none came up short
    for query in env.finds.filters:
        assert set(query) == {"groupId", "seq"}, query  # the index's exact shape
        low, high = seq_span(query)
        assert low is not None, query
        assert (high if high is not None else 2000) - low < 101, query
