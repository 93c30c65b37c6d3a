"""The image pool: its own threads, a per-user share, fair turns, bounded waiting."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from safechat.errors import ErrorCode, ProcessingBusy
from safechat.services.media.work import ImageWorkers


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="test-media")
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


class Gate:
    """A job that blocks its thread until released, and says when it has started."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> str:
        self.started.set()
        assert self.release.wait(10)
        return "done"


async def started(gate: Gate) -> None:
    assert await asyncio.to_thread(gate.started.wait, 10)


async def test_image_jobs_never_occupy_the_default_executor(pool: ThreadPoolExecutor) -> None:
    workers = ImageWorkers(pool, per_user=2)
    gates = [Gate(), Gate()]
    jobs = [asyncio.create_task(workers.run("user_a", g)) for g in gates]
    for gate in gates:
        await started(gate)
    # Both image threads are blocked; the default executor (downloads, S3) still answers.
    assert await asyncio.wait_for(asyncio.to_thread(lambda: "free"), 5) == "free"
    for gate in gates:
        gate.release.set()
    assert await asyncio.gather(*jobs) == ["done", "done"]


async def test_one_user_cannot_take_every_thread(pool: ThreadPoolExecutor) -> None:
    workers = ImageWorkers(pool, per_user=1)
    first, second = Gate(), Gate()
    running = asyncio.create_task(workers.run("user_a", first))
    await started(first)
    waiting = asyncio.create_task(workers.run("user_a", second))
    # Bob's image runs on the thread Alice's second one may not take.
    assert await asyncio.wait_for(workers.run("user_b", lambda: "bob"), 5) == "bob"
    assert not second.started.is_set()
    assert workers.jobs("user_a") == 2
    first.release.set()
    await started(second)
    second.release.set()
    assert await asyncio.gather(running, waiting) == ["done", "done"]
    assert workers.jobs("user_a") == 0


async def test_too_many_waiting_images_are_rate_limited(pool: ThreadPoolExecutor) -> None:
    workers = ImageWorkers(pool, per_user=1, queue=2)
    gates = [Gate() for _ in range(3)]
    jobs = [asyncio.create_task(workers.run("user_a", g)) for g in gates]
    await started(gates[0])
    with pytest.raises(ProcessingBusy) as refused:
        await workers.run("user_a", lambda: "refused")
    assert refused.value.code == ErrorCode.RATE_LIMITED
    assert refused.value.details == {"retryAfterMs": 1000}
    for gate in gates:
        gate.release.set()
    assert await asyncio.gather(*jobs) == ["done"] * 3


async def test_a_cancelled_caller_keeps_its_slot_until_the_thread_is_done(
    pool: ThreadPoolExecutor,
) -> None:
    workers = ImageWorkers(pool, per_user=1, queue=0)
    gate = Gate()
    job = asyncio.create_task(workers.run("user_a", gate))
    await started(gate)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    # The thread is still decoding: the user's share is still taken.
    with pytest.raises(ProcessingBusy):
        await workers.run("user_a", lambda: "refused")
    gate.release.set()
    for _ in range(100):  # bounded: the release arrives through call_soon_threadsafe
        if workers.jobs("user_a") == 0:
            break
        await asyncio.sleep(0.01)
    assert await workers.run("user_a", lambda: "again") == "again"


async def test_errors_reach_the_caller_and_free_the_slot(pool: ThreadPoolExecutor) -> None:
    workers = ImageWorkers(pool, per_user=1, queue=0)

    def fail() -> None:
        raise ValueError("bad image")

    with pytest.raises(ValueError, match="bad image"):
        await workers.run("user_a", fail)
    # The slot is freed before the caller resumes (both go through call_soon_threadsafe).
    assert workers.jobs("user_a") == 0
    assert await workers.run("user_a", lambda: "next") == "next"
