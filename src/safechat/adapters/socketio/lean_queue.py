"""A small packet queue for each Engine.IO session.

engineio gives every session an `asyncio.Queue` for its outgoing packets. An idle
asyncio.Queue holds four empty deques (items, getters, putters, and the waiters of its
`join` event), about 3.3 KiB, which was a tenth of SafeChat's memory per idle
connection. This queue keeps what engineio uses of asyncio.Queue's unbounded form
(put, put_nowait, get, get_nowait, task_done, join, qsize, empty), with the same
semantics, in two lists that hold nothing while the session is idle; `join`'s event is
made only when something joins.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

COMPACT_AFTER = 64


class LeanQueue:
    __slots__ = ("_finished", "_getters", "_head", "_items", "_unfinished")

    def __init__(self) -> None:
        # Items are read from _head on; the list is emptied (its storage freed) as soon
        # as the last one is read, so popping from the front never moves the others.
        self._items: list[Any] = []
        self._head = 0
        self._getters: list[asyncio.Future[None]] = []
        self._unfinished = 0
        self._finished: asyncio.Event | None = None

    def qsize(self) -> int:
        return len(self._items) - self._head

    def empty(self) -> bool:
        return self._head >= len(self._items)

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._unfinished += 1
        if self._finished is not None:
            self._finished.clear()
        self._wake_one()

    async def put(self, item: Any) -> None:
        self.put_nowait(item)  # unbounded: never waits

    def get_nowait(self) -> Any:
        if self.empty():
            raise asyncio.QueueEmpty
        items = self._items
        item = items[self._head]
        self._head += 1
        if self._head == len(items):
            items.clear()
            self._head = 0
        elif self._head >= COMPACT_AFTER and self._head * 2 >= len(items):
            # Never drained (a writer always behind): drop what was read, amortized O(1).
            del items[: self._head]
            self._head = 0
        else:
            items[self._head - 1] = None  # read: the queue no longer holds it
        return item

    async def get(self) -> Any:
        while self.empty():
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                # As asyncio.Queue: a getter woken and then cancelled passes the wakeup on.
                getter.cancel()
                with contextlib.suppress(ValueError):
                    self._getters.remove(getter)
                if not self.empty() and not getter.cancelled():
                    self._wake_one()
                raise
        return self.get_nowait()

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0 and self._finished is not None:
            self._finished.set()

    async def join(self) -> None:
        if self._unfinished > 0:
            if self._finished is None:
                self._finished = asyncio.Event()
            await self._finished.wait()

    def _wake_one(self) -> None:
        getters = self._getters
        while getters:
            getter = getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return
