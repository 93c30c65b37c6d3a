"""The newest message of each group for the connect's `user_groups`, shared by connects.

In a reconnect storm every member of a group asks for the same group's newest message
within a second or two: one read per (group, lastSeq) serves them all. Connects asking at
the same time share the read in flight; a result is reused for `ttl` seconds. The key
includes the group's `lastSeq` as each connect just read it, so a newer message is never
hidden by an entry; an edit or deletion of the newest message shows in `user_groups`
within `ttl` (every other read, REST's group list included, reads it again).
"""

from __future__ import annotations

import asyncio

from bson import ObjectId

from safechat.models.message import StoredMessage
from safechat.repositories.messages import MessageRepository
from safechat.services.ports import Clock

TTL_SECONDS = 2.0
MAX_ENTRIES = 10_000

Key = tuple[ObjectId, int]


class SharedLatest:
    def __init__(
        self, messages: MessageRepository, clock: Clock, *, ttl: float = TTL_SECONDS
    ) -> None:
        self._messages = messages
        self._clock = clock
        self._ttl = ttl
        self._hits: dict[Key, tuple[float, StoredMessage | None]] = {}
        self._flying: dict[Key, asyncio.Future[StoredMessage | None]] = {}

    async def latest(self, last_seqs: dict[ObjectId, int]) -> dict[str, StoredMessage]:
        now = self._clock.monotonic()
        found: dict[Key, StoredMessage | None] = {}
        waits: dict[Key, asyncio.Future[StoredMessage | None]] = {}
        need: dict[ObjectId, int] = {}
        for gid, seq in last_seqs.items():
            key = (gid, seq)
            hit = self._hits.get(key)
            if hit is not None and now - hit[0] < self._ttl:
                found[key] = hit[1]
            elif (flying := self._flying.get(key)) is not None:
                waits[key] = flying
            else:
                need[gid] = seq
        if need:
            found.update(await self._read(need, now))
        for key, flying in waits.items():
            found[key] = await asyncio.shield(flying)
        return {str(m.group_id): m for m in found.values() if m is not None}

    async def _read(self, need: dict[ObjectId, int], now: float) -> dict[Key, StoredMessage | None]:
        loop = asyncio.get_running_loop()
        mine = {(g, s): loop.create_future() for g, s in need.items()}
        self._flying.update(mine)
        try:
            read = await self._messages.latest(need)
        except BaseException as exc:
            for fut in mine.values():
                fut.set_exception(exc)
                fut.exception()  # retrieved: only the waiters care
            raise
        finally:
            for key in mine:
                self._flying.pop(key, None)
        if len(self._hits) + len(mine) > MAX_ENTRIES:
            self._hits.clear()
        out: dict[Key, StoredMessage | None] = {}
        for key, fut in mine.items():
            message = read.get(str(key[0]))
            out[key] = message
            self._hits[key] = (now, message)
            fut.set_result(message)
        return out
