"""LeanQueue keeps asyncio.Queue's semantics for what engineio uses of it: each
behaviour test runs against both."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

import pytest

from safechat.adapters.socketio.engineio_guard import GuardedEngineIO
from safechat.adapters.socketio.lean_queue import COMPACT_AFTER, LeanQueue

Make = Callable[[], Any]


@pytest.fixture(params=[LeanQueue, asyncio.Queue], ids=["lean", "asyncio"])
def make(request: pytest.FixtureRequest) -> Make:
    return request.param  # type: ignore[no-any-return]


async def test_fifo_and_nowait(make: Make) -> None:
    q = make()
    assert q.empty()
    with pytest.raises(asyncio.QueueEmpty):
        q.get_nowait()
    for i in range(3):
        await q.put(i)
    q.put_nowait(None)
    assert q.qsize() == 4
    assert [q.get_nowait() for _ in range(4)] == [0, 1, 2, None]
    assert q.empty()


async def test_get_waits_for_a_put(make: Make) -> None:
    q = make()
    getter = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.put_nowait("pkt")
    assert await asyncio.wait_for(getter, 1) == "pkt"


async def test_a_cancelled_getter_passes_its_wakeup_on(make: Make) -> None:
    q = make()
    first = asyncio.ensure_future(q.get())
    second = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    q.put_nowait("only")  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    assert await asyncio.wait_for(second, 1) == "only"
    assert first.cancelled()


async def test_wait_for_timeout_leaves_no_getter_behind(make: Make) -> None:
    q = make()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(q.get(), 0.01)
    q.put_nowait(1)
    assert await asyncio.wait_for(q.get(), 1) == 1


async def test_join_waits_for_task_done(make: Make) -> None:
    q = make()
    await asyncio.wait_for(q.join(), 1)  # nothing unfinished
    q.put_nowait(1)
    q.put_nowait(2)
    joined = asyncio.ensure_future(q.join())
    q.get_nowait()
    q.task_done()
    await asyncio.sleep(0)
    assert not joined.done()
    q.get_nowait()
    q.task_done()
    await asyncio.wait_for(joined, 1)
    with pytest.raises(ValueError, match="too many times"):
        q.task_done()


async def test_a_queue_never_drained_does_not_grow() -> None:
    q = LeanQueue()
    q.put_nowait(0)
    for i in range(1, 10 * COMPACT_AFTER):
        q.put_nowait(i)
        assert q.get_nowait() == i - 1  # always one item behind
    assert q.qsize() == 1
    assert len(q._items) <= 2 * COMPACT_AFTER + 1


def test_idle_queue_is_small_and_engineio_sessions_use_it() -> None:
    idle = LeanQueue()
    lean = sys.getsizeof(idle) + sys.getsizeof(idle._items) + sys.getsizeof(idle._getters)
    standard = asyncio.Queue[None]()
    assert lean * 4 < sys.getsizeof(standard._queue)  # type: ignore[attr-defined]
    assert isinstance(GuardedEngineIO(async_mode="aiohttp").create_queue(), LeanQueue)
