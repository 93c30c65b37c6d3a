"""Background work of the app, in one place: named periodic loops and tracked one-off
tasks, kept referenced, errors logged, cancelled and awaited at shutdown.

The loop bodies are service methods that take `now` (tests call them directly); only
their scheduling lives here. One `Background` per app is built by the wiring
(safechat/wiring.py), started once the services are up, and closed in `cleanup_ctx`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger("safechat.tasks")

Tick = Callable[[], Awaitable[object]]

# How long a stop waits for background work that ignores its cancellation.
STOP_DEADLINE_SECONDS = 10.0


class TaskTracker:
    """One-off background tasks (AI answers, welcome events, group-commit writers)."""

    def __init__(self, *, max_tasks: int = 1000) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._keyed: dict[str, asyncio.Task[Any]] = {}
        self._max = max_tasks
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def closed(self) -> bool:
        return self._closed

    def spawn(
        self, coro: Coroutine[Any, Any, Any], *, key: str | None = None, droppable: bool = False
    ) -> asyncio.Task[Any] | None:
        """Runs `coro` in the background. A task with the same `key` is cancelled
        first (a newer request replaces an older one). `droppable` work is skipped
        (None) when too much is already running, so a backlog cannot grow unbounded.
        After `close` nothing starts (None)."""
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
        """Waits until no one-off task is running (tests, and draining)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        self._closed = True
        await _cancel_all(list(self._tasks))


@dataclass(frozen=True, slots=True)
class _Loop:
    name: str
    interval: float
    tick: Tick
    # True: run at once, then every interval; False: wait an interval first.
    immediately: bool


class Background(TaskTracker):
    """The app's background runner: the one-off tasks of TaskTracker plus named loops,
    and the shutdown of components that run tasks of their own (`on_close`)."""

    def __init__(self, *, max_tasks: int = 1000) -> None:
        super().__init__(max_tasks=max_tasks)
        self._loops: list[_Loop] = []
        self._running: dict[str, asyncio.Task[None]] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def every(self, name: str, interval: float, tick: Tick, *, immediately: bool = False) -> None:
        """Runs `tick()` every `interval` seconds once started; a failing tick is
        logged as `<name>_failed` and the loop goes on."""
        if any(loop.name == name for loop in self._loops):
            raise ValueError(f"background loop {name!r} registered twice")
        self._loops.append(_Loop(name, interval, tick, immediately))
        if self._running and not self.closed:  # already started: this one starts now
            self._start(self._loops[-1])

    def on_close(self, close: Callable[[], Awaitable[None]]) -> None:
        """`close()` runs at shutdown, after the loops and tasks are cancelled."""
        self._closers.append(close)

    @property
    def loops(self) -> list[str]:
        return [loop.name for loop in self._loops]

    def start(self) -> None:
        """Starts every registered loop (once)."""
        for loop in self._loops:
            if loop.name not in self._running and not self.closed:
                self._start(loop)

    def _start(self, loop: _Loop) -> None:
        self._running[loop.name] = asyncio.get_running_loop().create_task(
            _run(loop), name=f"safechat-{loop.name}"
        )

    async def close(self) -> None:
        """Cancels the loops and every tracked task and waits for them to end."""
        loops = list(self._running.values())
        for task in loops:
            task.cancel()
        await super().close()
        await _cancel_all(loops)
        closers, self._closers = self._closers, []
        for close in closers:
            try:
                await close()
            except Exception:
                log.exception("background_close_failed")


async def _run(loop: _Loop) -> None:
    if not loop.immediately:
        await asyncio.sleep(loop.interval)
    while True:
        try:
            await loop.tick()
        except Exception:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # A library turned our cancellation into its own error (a driver's
                # timeout, say): stop as asked instead of ticking on forever.
                raise asyncio.CancelledError from None
            log.exception(f"{loop.name}_failed")
        await asyncio.sleep(loop.interval)


async def _cancel_all(
    tasks: list[asyncio.Task[Any]], *, deadline: float = STOP_DEADLINE_SECONDS
) -> None:
    """Cancels and awaits `tasks`; one that swallows its cancellation is cancelled
    again, and after `deadline` seconds left behind (logged), so a stop always ends."""
    pending = {task for task in tasks if not task.done()}
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while pending:
        for task in pending:
            task.cancel()
        left = end - loop.time()
        if left <= 0:
            log.error("background_task_stuck", tasks=sorted(t.get_name() for t in pending))
            return
        _, pending = await asyncio.wait(pending, timeout=min(left, 1.0))
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: failures were logged where they happened
