"""Session records (the `sessions` collection) written only when a session starts or ends.

A socket's session record is what the database keeps of a connection: device, address,
when it started and ended. Nothing reads it on the live path (presence, in memory or
Redis, says who is online); it is there for audit and for the startup cleanup of a node
that stopped uncleanly (`end_node`).

A closed socket's record stays open on its node for `resume_seconds`: a connect of the
same user from the same device (token session id, device type, User-Agent, address) on
this node within that time continues it, with the same `sessionId` and no write. So a
reconnect storm (a network blip, a load balancer's idle cut, every client at once) writes
no session at all. Records nobody resumed are ended by `flush` (the sessions loop), with
the time their socket closed; `close` ends every parked one at shutdown, and a node that
crashed ends its own at the next start (`end_node`), as before.
"""

from __future__ import annotations

import itertools
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from safechat.repositories.sessions import SessionRepository
from safechat.services.ports import Clock

# Parked records beyond this are ended at once (oldest first): memory stays bounded.
MAX_PARKED = 50_000

# Writes the users' last sight: (user id, when their last socket closed).
Seen = Callable[[list[tuple[str, datetime]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Device:
    """What a connect says about where it comes from (the resumption key)."""

    user_id: str
    token_session: str | None
    device_type: str
    user_agent: str | None
    ip: str | None

    @property
    def key(self) -> int:
        # A hash, not the tuple: each live socket keeps its key, and this is 32 bytes.
        # Two devices of one user colliding in 64 bits would only swap their records.
        return hash(
            (
                self.user_id,
                self.token_session or "",
                self.device_type,
                (self.user_agent or "")[:512],
                self.ip or "",
            )
        )


@dataclass(frozen=True, slots=True)
class _Parked:
    key: int
    user_id: str
    closed_at: datetime
    closed_mono: float
    last: bool  # the user's last socket: their lastSeen is written with the end


class SessionRecords:
    def __init__(
        self,
        repo: SessionRepository,
        clock: Clock,
        node_id: str,
        *,
        seen: Seen | None = None,
        resume_seconds: float = 60.0,
        max_parked: int = MAX_PARKED,
    ) -> None:
        self._repo = repo
        self._clock = clock
        self._node_id = node_id
        self._seen = seen
        self._resume = resume_seconds
        self._max = max_parked
        # session id -> parked record, oldest first; and key -> its parked session ids.
        self._parked: OrderedDict[str, _Parked] = OrderedDict()
        self._by_key: dict[int, list[str]] = {}

    def __len__(self) -> int:
        return len(self._parked)

    async def open(self, device: Device, now: datetime) -> tuple[str, bool]:
        """The session id for a new socket, and whether a record was written for it."""
        resumed = self._take(device.key)
        if resumed is not None:
            return resumed, False
        session_id = f"ses_{uuid.uuid4().hex}"
        await self._repo.start(
            session_id,
            device.user_id,
            node_id=self._node_id,
            device_type=device.device_type,
            ip=device.ip,
            user_agent=device.user_agent,
            now=now,
        )
        return session_id, True

    async def closed(
        self, session_id: str, key: int, now: datetime, *, user_id: str, last: bool
    ) -> None:
        """The socket of `session_id` is gone: park its record, or end it at once.
        `last`: it was the user's last socket, so their lastSeen is written with the end
        (not at all when the same device resumes the record in time)."""
        if self._resume <= 0:
            await self._repo.end(session_id, now)
            if last and self._seen is not None:
                await self._seen([(user_id, now)])
            return
        parked = _Parked(key, user_id, now, self._clock.monotonic(), last)
        self._parked[session_id] = parked
        self._by_key.setdefault(key, []).append(session_id)
        if len(self._parked) > self._max:
            over = len(self._parked) - self._max
            await self._end(list(itertools.islice(self._parked, over)))

    async def flush(self) -> int:
        """Ends the parked records nobody resumed in time; returns how many."""
        due = self._clock.monotonic() - self._resume
        stale = []
        for sid, parked in self._parked.items():
            if parked.closed_mono > due:
                break  # oldest first: the rest are younger
            stale.append(sid)
        await self._end(stale)
        return len(stale)

    async def close(self) -> None:
        """Shutdown: every parked record ends now (nobody can resume on a stopped node)."""
        await self._end(list(self._parked))

    async def end_node(self) -> int:
        """Ends the records a previous run of this node left open (crash, kill -9)."""
        return await self._repo.end_node(self._node_id, self._clock.now())

    def _take(self, key: int) -> str | None:
        ids = self._by_key.get(key)
        if not ids:
            return None
        session_id = ids.pop()  # the most recently closed one
        if not ids:
            del self._by_key[key]
        del self._parked[session_id]
        return session_id

    async def _end(self, session_ids: list[str]) -> None:
        # Unparked before the write, so a connect cannot resume a record being ended.
        ended: list[tuple[str, _Parked]] = []
        for sid in session_ids:
            parked = self._parked.pop(sid, None)
            if parked is None:
                continue
            ids = self._by_key.get(parked.key)
            if ids is not None:
                ids.remove(sid)
                if not ids:
                    del self._by_key[parked.key]
            ended.append((sid, parked))
        try:
            await self._repo.end_many([(sid, p.closed_at) for sid, p in ended])
            seen = [(p.user_id, p.closed_at) for _, p in ended if p.last]
            if seen and self._seen is not None:
                await self._seen(seen)
        except BaseException:
            # Parked again, as the oldest: the next flush tries once more.
            for sid, parked in reversed(ended):
                self._parked[sid] = parked
                self._parked.move_to_end(sid, last=False)
                self._by_key.setdefault(parked.key, []).insert(0, sid)
            raise
