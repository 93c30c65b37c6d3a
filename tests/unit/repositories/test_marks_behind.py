"""MarksBehind: senders' read marks queued, coalesced per (group, user), visible before
they are written, bounded, and written once per flush."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bson import ObjectId

from safechat.repositories.marks_behind import Key, MarksBehind

NOW = datetime(2026, 12, 3, tzinfo=UTC)


class Writes:
    def __init__(self) -> None:
        self.calls: list[dict[Key, int]] = []
        self.fail = False
        self.gate: asyncio.Event | None = None

    async def __call__(self, items: dict[Key, tuple[int, datetime]]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("database down")
        self.calls.append({k: seq for k, (seq, _) in items.items()})


async def test_marks_coalesce_per_group_and_user_into_one_write_per_flush() -> None:
    writes = Writes()
    behind = MarksBehind(writes)
    g1, g2 = ObjectId(), ObjectId()
    await behind.add(g1, {"alice": 3, "bob": 2}, NOW)
    await behind.add(g1, {"alice": 5}, NOW)
    await behind.add(g1, {"alice": 4}, NOW)  # late and lower: ignored
    await behind.add(g2, {"alice": 1}, NOW)
    assert writes.calls == []
    assert behind.mark(g1, "alice") == 5
    assert behind.marks_of("alice") == {g1: 5, g2: 1}
    await behind.flush()
    assert writes.calls == [{(g1, "alice"): 5, (g1, "bob"): 2, (g2, "alice"): 1}]
    assert behind.mark(g1, "alice") == 0  # written: the database answers now
    await behind.flush()
    assert len(writes.calls) == 1


async def test_a_mark_stays_visible_until_its_write_returned() -> None:
    writes = Writes()
    writes.gate = asyncio.Event()
    behind = MarksBehind(writes)
    g = ObjectId()
    await behind.add(g, {"alice": 3}, NOW)
    flushing = asyncio.create_task(behind.flush())
    await asyncio.sleep(0)
    await behind.add(g, {"alice": 7}, NOW)  # while 3 is in flight
    assert behind.mark(g, "alice") == 7
    writes.gate.set()
    await flushing  # what was queued meanwhile waits for the next flush, coalesced
    assert writes.calls == [{(g, "alice"): 3}]
    assert behind.mark(g, "alice") == 7
    await behind.add(g, {"alice": 9}, NOW)
    await behind.flush()
    assert writes.calls == [{(g, "alice"): 3}, {(g, "alice"): 9}]
    assert behind.mark(g, "alice") == 0


async def test_the_shutdown_flush_writes_what_came_meanwhile_too() -> None:
    writes = Writes()
    writes.gate = asyncio.Event()
    behind = MarksBehind(writes)
    g = ObjectId()
    await behind.add(g, {"alice": 3}, NOW)
    flushing = asyncio.create_task(behind.flush(until_empty=True))
    await asyncio.sleep(0)
    await behind.add(g, {"bob": 4}, NOW)
    writes.gate.set()
    await flushing
    assert writes.calls == [{(g, "alice"): 3}, {(g, "bob"): 4}]
    assert behind.marks_of("bob") == {}


async def test_bounded_a_full_buffer_is_written_before_more_is_taken() -> None:
    writes = Writes()
    behind = MarksBehind(writes, max_pending=2)
    g = ObjectId()
    await behind.add(g, {"a": 1, "b": 1}, NOW)
    await behind.add(g, {"c": 1}, NOW)
    assert writes.calls == [{(g, "a"): 1, (g, "b"): 1}]
    assert behind.marks_of("c") == {g: 1}


async def test_a_failed_write_drops_its_marks_and_forget_drops_a_users() -> None:
    writes = Writes()
    writes.fail = True
    behind = MarksBehind(writes)
    g = ObjectId()
    await behind.add(g, {"alice": 2, "bob": 2}, NOW)
    await behind.flush()  # logged, not raised: a send never fails on its read mark
    assert behind.mark(g, "alice") == 0
    writes.fail = False
    await behind.add(g, {"alice": 3, "bob": 3}, NOW)
    behind.forget("bob")
    await behind.flush()
    assert writes.calls == [{(g, "alice"): 3}]
