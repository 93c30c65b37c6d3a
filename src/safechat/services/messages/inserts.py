"""One `insert_many` for the batches of every group (docs/performance.md).

Each group's writer hands its batch here after its seqs are reserved; while an insert is
in flight, the batches of other groups queue behind it and go together in the next one,
so under load the database sees one insert command per round trip instead of one per
group. A group has at most one batch in flight (group_commit.py), so its seq order is
kept; each batch learns which of its own messages were refused (indexes within it) and
is answered only after the insert containing it returned.

Under sustained heavy load (the previous insert ended moments ago, and the last second
brought at least LINGER_MIN_RATE messages) an insert of only a few messages waits a few
milliseconds for more first: the embedded database pays a fixed ~1 ms per command on top
of its per-message cost, so this turns 1-2-message inserts into larger ones at the price
of those milliseconds. Below that rate the fixed cost is a small share of a core (at most
~10 %) and the wait would only add latency, so a send never waits there; nor does an
isolated one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from safechat.models.message import StoredMessage
from safechat.repositories.messages import MessageRepository
from safechat.services.ports import Clock

# Messages per insert command; more wait for the next one.
MAX_DOCS = 1024
# The wait for more under load: only when fewer than LINGER_DOCS are queued, the
# previous insert ended within LINGER_WINDOW seconds, and the inserts that ended in the
# last RATE_WINDOW seconds held at least LINGER_MIN_RATE messages per second.
LINGER_SECONDS = 0.01
LINGER_DOCS = 16
LINGER_WINDOW = 0.05
LINGER_MIN_RATE = 100.0
RATE_WINDOW = 1.0

_Waiting = tuple[list[StoredMessage], "asyncio.Future[dict[int, bool]]"]


class SharedInserts:
    def __init__(
        self,
        messages: MessageRepository,
        clock: Clock,
        *,
        max_docs: int = MAX_DOCS,
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self._messages = messages
        self._clock = clock
        self._max_docs = max_docs
        self._linger = linger_seconds
        self._last_end = float("-inf")
        # (end, messages) of the inserts of the last RATE_WINDOW, and their sum.
        self._recent: deque[tuple[float, int]] = deque()
        self._recent_docs = 0
        self._queue: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def insert_batch(self, messages: list[StoredMessage]) -> dict[int, bool]:
        """MessageRepository.insert_batch, shared with the other groups' batches."""
        future: asyncio.Future[dict[int, bool]] = asyncio.get_running_loop().create_future()
        self._queue.append((messages, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())
        return await future

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer

    async def _drain(self) -> None:
        try:
            while self._queue:
                if self._linger > 0 and self._busy() and self._queued() < LINGER_DOCS:
                    # A scheduling pause, not a measured interval: the Clock has no sleep.
                    await asyncio.sleep(self._linger)
                take, size = 0, 0
                while take < len(self._queue) and (
                    take == 0 or size + len(self._queue[take][0]) <= self._max_docs
                ):
                    size += len(self._queue[take][0])
                    take += 1
                waiting, self._queue = self._queue[:take], self._queue[take:]
                waiting = [(m, f) for m, f in waiting if not f.done()]  # not given up
                try:
                    await self._insert(waiting)
                except BaseException:  # cancelled mid-insert (shutdown): nobody hangs
                    for _, future in waiting:
                        future.cancel()
                    raise
        finally:
            self._writer = None
            for _, future in self._queue:  # only when cancelled (shutdown)
                future.cancel()
            self._queue = []

    def _busy(self) -> bool:
        now = self._clock.monotonic()
        self._forget(now)
        return (
            now - self._last_end < LINGER_WINDOW
            and self._recent_docs >= LINGER_MIN_RATE * RATE_WINDOW
        )

    def _ended(self, docs: int) -> None:
        self._last_end = now = self._clock.monotonic()
        self._recent.append((now, docs))
        self._recent_docs += docs
        self._forget(now)

    def _forget(self, now: float) -> None:
        while self._recent and self._recent[0][0] <= now - RATE_WINDOW:
            self._recent_docs -= self._recent.popleft()[1]

    def _queued(self) -> int:
        return sum(len(batch) for batch, _ in self._queue)

    async def _insert(self, waiting: list[_Waiting]) -> None:
        docs = [m for batch, _ in waiting for m in batch]
        try:
            failed = await self._messages.insert_batch(docs)
        except Exception as exc:
            self._ended(len(docs))
            for _, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        self._ended(len(docs))
        offset = 0
        for batch, future in waiting:
            end = offset + len(batch)
            mine = {i - offset: dup for i, dup in failed.items() if offset <= i < end}
            if not future.done():
                future.set_result(mine)
            offset = end
