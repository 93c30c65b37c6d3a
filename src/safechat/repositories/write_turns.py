"""Whose turn it is on the embedded database's write connection: a send's insert goes
before the background writes (read marks, vectors and `lastSeq` written behind).

The writer client has one connection (Database.writer, docs/performance.md), and
pymongo's pool is not fair: a task that returns the connection and asks again at once
gets it back before a waiter wakes, so a background flush of N short commands held it
for all N (an insert waited up to ~200 ms behind the read marks' upserts). Now each
background command first waits for the insert in flight, if any, to end: an insert waits
behind at most one background command, and the background gets a turn after every
insert, so neither starves the other.

Without a writer client (an external MongoDB, a pool per node) this is a no-op.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class WriteTurns:
    def __init__(self, *, enabled: bool) -> None:
        self._enabled = enabled
        self._active = 0
        self._ended: asyncio.Event | None = None

    @asynccontextmanager
    async def foreground(self) -> AsyncIterator[None]:
        """Around an insert a send waits for."""
        self._active += 1
        try:
            yield
        finally:
            self._active -= 1
            if self._ended is not None:
                self._ended.set()
                self._ended = None

    async def background(self) -> None:
        """Before each background command: the foreground write in flight ends first."""
        if not self._enabled or self._active == 0:
            return
        if self._ended is None:
            self._ended = asyncio.Event()
        await self._ended.wait()
