"""The connects' shared newest-message reads (services/groups/latest.py)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from bson import ObjectId

from safechat.services.groups.latest import TTL_SECONDS, SharedLatest
from tests.helpers.fakes.clock import FakeClock


class _Messages:
    def __init__(self) -> None:
        self.reads: list[dict[ObjectId, int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False

    async def latest(self, last_seqs: dict[ObjectId, int]) -> dict[str, Any]:
        self.reads.append(dict(last_seqs))
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("database away")
        return {str(g): _Msg(g, s) for g, s in last_seqs.items() if s > 0}


class _Msg:
    def __init__(self, group_id: ObjectId, seq: int) -> None:
        self.group_id, self.seq = group_id, seq


async def test_concurrent_and_recent_asks_share_one_read_per_group_and_seq() -> None:
    messages, clock = _Messages(), FakeClock()
    shared = SharedLatest(cast(Any, messages), clock)
    g1, g2 = ObjectId(), ObjectId()
    messages.gate.clear()
    first = asyncio.create_task(shared.latest({g1: 3}))
    await asyncio.sleep(0)
    second = asyncio.create_task(shared.latest({g1: 3, g2: 0}))
    await asyncio.sleep(0)
    messages.gate.set()
    a, b = await first, await second
    assert a[str(g1)].seq == b[str(g1)].seq == 3
    assert str(g2) not in b  # no message: nothing, as the repository says
    assert messages.reads == [{g1: 3}, {g2: 0}]
    # Within the TTL: from memory; a newer lastSeq is never served from an older entry.
    assert (await shared.latest({g1: 3}))[str(g1)].seq == 3
    assert (await shared.latest({g1: 4}))[str(g1)].seq == 4
    assert len(messages.reads) == 3
    clock.advance(TTL_SECONDS)
    await shared.latest({g1: 3})
    assert len(messages.reads) == 4


async def test_a_failed_read_fails_its_waiters_and_is_not_kept() -> None:
    messages, clock = _Messages(), FakeClock()
    shared = SharedLatest(cast(Any, messages), clock)
    g1 = ObjectId()
    messages.gate.clear()
    messages.fail = True
    first = asyncio.create_task(shared.latest({g1: 1}))
    await asyncio.sleep(0)
    second = asyncio.create_task(shared.latest({g1: 1}))
    await asyncio.sleep(0)
    messages.gate.set()
    for task in (first, second):
        with pytest.raises(RuntimeError):
            await task
    messages.fail = False
    assert (await shared.latest({g1: 1}))[str(g1)].seq == 1
