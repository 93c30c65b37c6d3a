"""SeqAllocator contract: the atomic `$inc` and the local (in-memory) allocator give the
same answers over a real database: gap-free seqs that survive a restart (also one
between a batch's insert and its `lastSeq` write), and who may send exactly as the
group's membership says the moment a membership write has returned."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from safechat.models.group import Role
from safechat.repositories.db import Database
from safechat.repositories.directs import DirectRepository
from safechat.repositories.groups import GroupRepository, new_group_doc
from safechat.repositories.messages import MessageRepository
from safechat.services.messages.drafts import Draft, new_message
from safechat.services.messages.seqs import AtomicSeqs, LocalSeqs
from safechat.services.ports import SeqAllocator


@dataclass
class Env:
    kind: str
    client: AsyncMongoClient[dict[str, Any]]
    name: str
    db: Database = field(init=False)
    groups: GroupRepository = field(init=False)
    messages: MessageRepository = field(init=False)
    seqs: SeqAllocator = field(init=False)

    def __post_init__(self) -> None:
        self.start()

    def start(self) -> None:
        """This node's process: its repositories and allocator, nothing in memory yet."""
        self.db = Database(self.client, self.name)
        self.groups, self.messages = GroupRepository(self.db), MessageRepository(self.db)
        if self.kind == "atomic":
            self.seqs = AtomicSeqs(self.groups)
        else:
            self.seqs = LocalSeqs(self.groups, self.messages, self.db.group_writes)

    async def restart(self, *, crash: bool = False) -> None:
        if not crash and isinstance(self.seqs, LocalSeqs):
            await self.seqs.flush()  # what the shutdown does
        self.start()


@pytest.fixture(params=["atomic", "local"])
async def env(request: pytest.FixtureRequest, mongo_uri: str, db_name: str) -> AsyncIterator[Env]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_uri, retryWrites=False, tz_aware=True
    )
    e = Env(request.param, client, db_name)
    await e.db.ensure_indexes()
    try:
        yield e
    finally:
        await client.drop_database(db_name)
        await client.close()


NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


async def group(env: Env, *members: str) -> ObjectId:
    g = await env.groups.insert(new_group_doc("g", None, False, members[0], list(members), NOW))
    return g.id


async def take(env: Env, gid: ObjectId, count: int, *senders: str) -> int | None:
    """A batch: reserve, then its insert and the allocator's own write."""
    last = await env.seqs.reserve(gid, count, NOW, senders)
    if last is not None:
        await store(env, gid, senders[0], range(last - count + 1, last + 1))
        await env.seqs.stored(gid, last, NOW)
    return last


async def store(env: Env, gid: ObjectId, sender: str, seqs: range) -> None:
    draft = Draft(sender_id=sender, group_id=gid, content={"v": 0, "t": "x"}, text="x")
    assert not await env.messages.insert_batch([new_message(draft, s, NOW) for s in seqs])


async def last_seq(env: Env, gid: ObjectId) -> int:
    g = await env.groups.get(gid)
    assert g is not None
    return g.last_seq


async def test_seqs_are_gap_free_and_durable_across_a_restart(env: Env) -> None:
    gid = await group(env, "alice", "bob")
    assert await take(env, gid, 1, "alice") == 1
    assert await take(env, gid, 3, "alice", "bob") == 4
    assert await last_seq(env, gid) == 4  # as this node reads it
    await env.restart()
    assert await last_seq(env, gid) == 4  # as stored
    assert await take(env, gid, 2, "bob") == 6
    assert await last_seq(env, gid) == 6


async def test_a_restart_between_insert_and_last_seq_write_reuses_no_seq(env: Env) -> None:
    gid = await group(env, "alice")
    assert await take(env, gid, 2, "alice") == 2
    last = await env.seqs.reserve(gid, 3, NOW, ["alice"])
    assert last == 5
    await store(env, gid, "alice", range(3, 6))
    await env.restart(crash=True)  # before any lastSeq write of the local allocator
    assert await take(env, gid, 1, "alice") == 6


async def test_only_members_may_send_and_a_refusal_reserves_nothing(env: Env) -> None:
    gid = await group(env, "alice", "bob")
    assert await env.seqs.may_send(gid, ["alice", "bob"]) is True
    assert await env.seqs.may_send(gid, ["alice", "mallory"]) is False
    assert await env.seqs.reserve(gid, 2, NOW, ["alice", "mallory"]) is None
    assert await take(env, gid, 1, "alice") == 1
    assert await env.seqs.reserve(ObjectId(), 1, NOW, ["alice"]) is None


async def test_membership_writes_count_as_soon_as_they_returned(env: Env) -> None:
    gid = await group(env, "alice", "bob")
    assert await take(env, gid, 1, "bob") == 1  # the local allocator now knows the group
    assert await env.groups.remove_member(gid, "bob", NOW) is not None
    assert await env.seqs.reserve(gid, 1, NOW, ["bob"]) is None
    assert await env.seqs.may_send(gid, ["bob"]) is False
    assert await env.groups.add_member(gid, "carol", Role.MEMBER, NOW) is not None
    assert await take(env, gid, 1, "carol") == 2
    assert await env.groups.soft_delete(gid, NOW) is not None
    assert await env.seqs.reserve(gid, 1, NOW, ["alice"]) is None


async def test_a_removed_member_cannot_race_a_send(env: Env) -> None:
    """Sends racing a removal: once the removal has returned, every later one is refused
    (those concurrent with it may land on either side, as with the atomic write)."""
    gid = await group(env, "alice", "bob")
    assert await take(env, gid, 1, "bob") == 1
    removed = asyncio.Event()

    async def remove() -> None:
        await env.groups.remove_member(gid, "bob", NOW)
        removed.set()

    async def keep_sending() -> list[tuple[bool, int | None]]:
        results = []
        while True:
            started_after = removed.is_set()
            results.append((started_after, await env.seqs.reserve(gid, 1, NOW, ["bob"])))
            await asyncio.sleep(0)  # a cached answer does not yield by itself
            if started_after:
                return results

    _, results = await asyncio.gather(remove(), keep_sending())
    assert [r for after, r in results if after] == [None]
    # Seqs stayed gap-free among those that were admitted.
    admitted = [r for _, r in results if r is not None]
    assert admitted == list(range(2, 2 + len(admitted)))


async def test_a_block_in_a_direct_conversation_refuses_the_blocked_person(env: Env) -> None:
    directs = DirectRepository(env.db)
    dm = await directs.insert("alice", "bob", [], NOW)
    assert await take(env, dm.id, 1, "bob") == 1
    key = dm_key(await env.db.collection("groups").find_one({"_id": dm.id}))
    await directs.set_send_blocked(key, "bob", True)
    assert await env.seqs.reserve(dm.id, 1, NOW, ["bob"]) is None
    assert await take(env, dm.id, 1, "alice") == 2
    await directs.set_send_blocked(key, "bob", False)
    assert await take(env, dm.id, 1, "bob") == 3


def dm_key(doc: dict[str, Any] | None) -> str:
    assert doc is not None
    return str(doc["pairKey"])
