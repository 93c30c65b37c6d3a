"""Read marks written behind the send (docs/performance.md).

Sending implies having read up to there, but that mark need not be durable before the
send is answered: the group commit hands the senders' marks here and goes on. `flush`
(a background tick every few ms, see wiring.py) writes everything queued (per (group,
user) the highest seq, from every group) in one unordered bulk write, so the database
sees one command per tick instead of one per batch. Until a mark is written, reads of
this repository on this node see it (`mark`), so the sender's own messages never count
as unread for them here; another node sees it once written (one tick).

Bounded: with `max_pending` marks not yet written, `add` flushes first. At shutdown
(after the group commit's close) `flush(until_empty=True)` writes what is left. A failed
write is logged and its marks dropped, as a failed read-mark update was before (a sender's own
messages then count as unread for them until they read).
"""

from __future__ import annotations

import asyncio
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
        self._lock = asyncio.Lock()

    def mark(self, group_id: ObjectId, user_id: str) -> int:
        """The user's unwritten mark in the group (0: none)."""
        return self._unwritten.get(user_id, {}).get(group_id, 0)

    def marks_of(self, user_id: str) -> dict[ObjectId, int]:
        return dict(self._unwritten.get(user_id, {}))

    async def add(self, group_id: ObjectId, marks: dict[str, int], now: datetime) -> None:
        if self._count >= self._max_pending:
            await self.flush()
        for user_id, seq in marks.items():
            if seq <= self.mark(group_id, user_id):
                continue
            mine = self._unwritten.setdefault(user_id, {})
            self._queued[(group_id, user_id)] = (seq, now)
            self._count += group_id not in mine
            mine[group_id] = seq

    def forget(self, user_id: str) -> None:
        """Drops the user's marks not yet written (their read state is being deleted)."""
        self._count -= len(self._unwritten.pop(user_id, {}))
        for key in [k for k in self._queued if k[1] == user_id]:
            del self._queued[key]

    async def flush(self, *, until_empty: bool = False) -> None:
        """Writes what was queued when it began; one flush at a time (a later one waits
        for it). Marks queued meanwhile wait for the next tick, coalesced with what comes
        until then: a flush slowed by sends' inserts going first (write_turns.py) would
        otherwise go on writing each new mark at once. `until_empty` (shutdown): those
        too."""
        async with self._lock:
            taken = list(self._queued)
            while taken or (until_empty and self._queued):
                keys = (taken or list(self._queued))[: self._batch]
                taken = taken[len(keys) :]
                items = {k: self._queued.pop(k) for k in keys if k in self._queued}
                if not items:
                    continue
                try:
                    await self._write(items)
                except asyncio.CancelledError:
                    for key, value in items.items():  # written at shutdown instead
                        self._queued.setdefault(key, value)
                    raise
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
