"""Read marks written behind the send (docs/performance.md).

Sending implies having read up to there, but that mark need not be durable before the
send is answered: the group commit hands the senders' marks here and goes on. One writer
task takes everything queued (per (group, user) the highest seq, from every group) in
one unordered bulk write, and while it is in flight new marks queue behind it, so under
load marks coalesce by themselves and nothing waits for a timer. Until a mark is written,
reads of this repository on this node see it (`mark`), so the sender's own messages never
count as unread for them here; another node sees it once written (a few ms).

Bounded: with `max_pending` marks not yet written, the next `add` waits for the writer.
`close()` (at shutdown, after the group commit's) writes what is left. A failed write is
logged and its marks dropped, as a failed read-mark update was before (a sender's own
messages then count as unread for them until they read).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog
from bson import ObjectId

log = structlog.get_logger(__name__)

Key = tuple[ObjectId, str]
Write = Callable[[dict[Key, tuple[int, datetime]]], Awaitable[None]]

MAX_PENDING = 20_000
# Marks per bulk write; more stay queued for the next one.
WRITE_BATCH = 2_000


class MarksBehind:
    def __init__(
        self, write: Write, *, max_pending: int = MAX_PENDING, batch: int = WRITE_BATCH
    ) -> None:
        self._write = write
        self._max_pending = max_pending
        self._batch = batch
        self._queued: dict[Key, tuple[int, datetime]] = {}
        # Everything accepted and not yet written (queued or in flight), for reads:
        # user -> group -> seq.
        self._unwritten: dict[str, dict[ObjectId, int]] = {}
        self._count = 0
        self._writer: asyncio.Task[None] | None = None

    def mark(self, group_id: ObjectId, user_id: str) -> int:
        """The user's unwritten mark in the group (0: none)."""
        return self._unwritten.get(user_id, {}).get(group_id, 0)

    def marks_of(self, user_id: str) -> dict[ObjectId, int]:
        return dict(self._unwritten.get(user_id, {}))

    async def add(self, group_id: ObjectId, marks: dict[str, int], now: datetime) -> None:
        while self._count >= self._max_pending and self._writer is not None:
            await asyncio.shield(self._writer)
        for user_id, seq in marks.items():
            if seq <= self.mark(group_id, user_id):
                continue
            mine = self._unwritten.setdefault(user_id, {})
            self._queued[(group_id, user_id)] = (seq, now)
            self._count += group_id not in mine
            mine[group_id] = seq
        if self._queued and self._writer is None:
            self._writer = asyncio.create_task(self._drain())

    async def close(self) -> None:
        """Writes what is queued and waits for it."""
        while self._writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._writer)

    async def _drain(self) -> None:
        try:
            while self._queued:
                keys = list(self._queued)[: self._batch]
                items = {k: self._queued.pop(k) for k in keys}
                try:
                    await self._write(items)
                except Exception:
                    log.warning("read_marks_write_failed", marks=len(items), exc_info=True)
                for (group_id, user_id), (seq, _) in items.items():
                    # A higher mark queued meanwhile stays until its own write.
                    mine = self._unwritten.get(user_id, {})
                    if (group_id, user_id) not in self._queued and mine.get(group_id) == seq:
                        del mine[group_id]
                        self._count -= 1
                        if not mine:
                            del self._unwritten[user_id]
        finally:
            self._writer = None
