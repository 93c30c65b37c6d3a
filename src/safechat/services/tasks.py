"""Tracked background tasks: kept referenced, errors logged, cancelled on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

import structlog

log = structlog.get_logger("safechat.tasks")


class TaskTracker:
    def __init__(self, *, max_tasks: int = 1000) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._keyed: dict[str, asyncio.Task[Any]] = {}
        self._max = max_tasks
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(
        self, coro: Coroutine[Any, Any, Any], *, key: str | None = None, droppable: bool = False
    ) -> asyncio.Task[Any] | None:
        """Runs `coro` in the background. A task with the same `key` is cancelled
        first (a newer request replaces an older one). `droppable` work is skipped
        (None) when too much is already running, so a backlog cannot grow unbounded."""
        if self._closed or (droppable and len(self._tasks) >= self._max):
            coro.close()
            if not self._closed:
                log.warning("background_task_dropped", running=len(self._tasks))
            return None
        if key is not None and (older := self._keyed.pop(key, None)) is not None:
            older.cancel()
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        if key is not None:
            self._keyed[key] = task
        task.add_done_callback(lambda t: self._done(t, key))
        return task

    def _done(self, task: asyncio.Task[Any], key: str | None) -> None:
        self._tasks.discard(task)
        if key is not None and self._keyed.get(key) is task:
            del self._keyed[key]
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background_task_failed", error=type(exc).__name__, exc_info=exc)

    def cancel(self, key: str) -> None:
        task = self._keyed.pop(key, None)
        if task is not None:
            task.cancel()

    async def idle(self) -> None:
        """Waits until nothing is running (tests, and draining)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
