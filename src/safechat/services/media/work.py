"""Image processing off the event loop, on a thread pool of its own, shared fairly.

Decoding is CPU-heavy and hostile bytes can make it slow, so it never runs on the
default executor (file reads, downloads and S3 calls use that one), and no user holds
more than `per_user` of the pool's threads at once. A user's further images wait their
turn, at most `queue` of them; beyond that the upload is refused with RATE_LIMITED.
Each user's jobs enter the pool's FIFO queue only as their own earlier ones finish, so
one user's burst never sits in front of another user's upload.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import TypeVar

from safechat.errors import ProcessingBusy

T = TypeVar("T")

USER_QUEUE = 4
RETRY_AFTER_MS = 1000


@dataclass
class _User:
    slots: asyncio.Semaphore
    jobs: int = 0  # running or waiting


class ImageWorkers:
    def __init__(self, executor: Executor, *, per_user: int, queue: int = USER_QUEUE) -> None:
        self._executor = executor
        self._per_user = per_user
        self._queue = queue
        self._users: dict[str, _User] = {}

    def jobs(self, user_id: str) -> int:
        user = self._users.get(user_id)
        return user.jobs if user else 0

    async def run(self, user_id: str, fn: Callable[[], T]) -> T:
        """`fn()` on the pool. The user's slot is held until the thread is done with it,
        even if the caller gives up (a running thread cannot be stopped)."""
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User(asyncio.Semaphore(self._per_user))
        if user.jobs >= self._per_user + self._queue:
            raise ProcessingBusy(details={"retryAfterMs": RETRY_AFTER_MS})
        user.jobs += 1
        submitted = False
        try:
            await user.slots.acquire()
            try:
                job = self._executor.submit(fn)
            except BaseException:
                user.slots.release()
                raise
            submitted = True
            loop = asyncio.get_running_loop()

            def finished(_: Future[T]) -> None:
                with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to free
                    loop.call_soon_threadsafe(self._finished, user_id, user)

            job.add_done_callback(finished)
            return await asyncio.wrap_future(job)
        finally:
            if not submitted:
                self._forget(user_id, user)

    def _finished(self, user_id: str, user: _User) -> None:
        user.slots.release()
        self._forget(user_id, user)

    def _forget(self, user_id: str, user: _User) -> None:
        user.jobs -= 1
        if user.jobs == 0 and self._users.get(user_id) is user:
            del self._users[user_id]
