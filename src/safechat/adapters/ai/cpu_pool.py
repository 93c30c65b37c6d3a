"""A bounded pool of worker processes for CPU-heavy pure functions (the offline AI).

Threads would not help: the offline heuristics are pure Python and hold the GIL, so a
thread doing them still stalls the event loop every switch interval. Worker processes
come from a `forkserver` (forking the running server, with its threads and sockets,
is unsafe) and start on first use, so an app that never needs one pays nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import structlog

from safechat.errors import AIUnavailable

log = structlog.get_logger("safechat.cpu")

R = TypeVar("R")


class ProcessPool:
    """Implements the CpuPool port. At most `workers * queue_per_worker` jobs are
    submitted at once; further callers wait (back-pressure, not unbounded memory)."""

    def __init__(self, workers: int, *, queue_per_worker: int = 4) -> None:
        self._workers = workers
        self._slots = asyncio.Semaphore(workers * queue_per_worker)
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self._workers, mp_context=multiprocessing.get_context("forkserver")
            )
        return self._executor

    async def run(self, fn: Callable[..., R], *args: Any) -> R:
        if self._closed:
            raise AIUnavailable("The server is shutting down")
        loop = asyncio.get_running_loop()
        await self._slots.acquire()
        try:
            # From a thread: a submit may start a worker process (and, the first time,
            # the forkserver), which waits on the new process.
            future: Future[R] = await asyncio.to_thread(self._pool().submit, fn, *args)
        except BrokenProcessPool:
            self._slots.release()
            self._restart()
            raise AIUnavailable("AI worker process failed; try again") from None
        except BaseException:
            self._slots.release()
            raise

        def release(_: object) -> None:
            # Runs on the executor's thread; the semaphore belongs to the loop. The slot
            # is held until the job ends, even if the caller stopped waiting.
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(self._slots.release)

        future.add_done_callback(release)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._restart()
            raise AIUnavailable("AI worker process failed; try again") from None

    def _restart(self) -> None:
        """A worker died (killed, out of memory): later calls get a fresh pool."""
        broken, self._executor = self._executor, None
        if broken is not None:
            log.error("cpu_pool_broken", effect="restarting worker processes")
            broken.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        """Stops the workers; a running job is short (inputs are capped) and waited for."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
