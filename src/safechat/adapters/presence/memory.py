"""Single-node presence and typing state, in memory (the embedded default)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safechat.errors import PresenceFull


@dataclass(slots=True)
class _Socket:
    """One socket, compactly: every idle connection holds one (docs/performance.md)."""

    sid: str
    keys: tuple[str, ...]  # shared by all sockets whose info has the same keys
    values: tuple[Any, ...]
    expires: float

    def info(self) -> dict[str, Any]:
        return dict(zip(self.keys, self.values, strict=True))

    def get(self, key: str) -> Any:
        return self.values[self.keys.index(key)] if key in self.keys else None


# Distinct info shapes kept for sharing (our callers use one or two).
MAX_SHAPES = 64


class MemoryPresence:
    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        # A list, not a dict by sid: most users have one socket, a user at most the
        # per-user cap; a one-entry dict costs every connection ~170 bytes more.
        self._by_user: dict[str, list[_Socket]] = {}
        self._status: dict[str, str] = {}
        self._shapes: dict[tuple[str, ...], tuple[str, ...]] = {}

    def _alive(self, user_id: str, now: float) -> list[_Socket]:
        return [s for s in self._by_user.get(user_id, ()) if s.expires > now]

    def _put(self, user_id: str, sid: str, info: dict[str, Any], expires: float) -> None:
        keys = tuple(info)
        shared = self._shapes.get(keys)
        if shared is None and len(self._shapes) < MAX_SHAPES:
            shared = self._shapes[keys] = keys
        entry = _Socket(sid, shared or keys, tuple(info.values()), expires)
        socks = self._by_user.setdefault(user_id, [])
        for i, existing in enumerate(socks):
            if existing.sid == sid:
                socks[i] = entry
                return
        socks.append(entry)

    async def add(
        self, user_id: str, sid: str, info: dict[str, Any], now: float, limit: int | None = None
    ) -> bool:
        # No await between the count and the insert: atomic on the event loop.
        alive = self._alive(user_id, now)
        known = any(s.sid == sid for s in alive)
        if limit is not None and not known and len(alive) >= limit:
            raise PresenceFull(limit)
        self._put(user_id, sid, info, now + self._ttl)
        return not alive

    async def remove(self, user_id: str, sid: str, now: float) -> bool:
        socks = self._by_user.get(user_id)
        at = next((i for i, s in enumerate(socks or ()) if s.sid == sid), None)
        if socks is None or at is None:
            return False
        del socks[at]
        if self._alive(user_id, now):
            return False
        self._forget(user_id)
        return True

    def _forget(self, user_id: str) -> None:
        self._by_user.pop(user_id, None)
        self._status.pop(user_id, None)

    async def heartbeat(self, entries: list[tuple[str, str, dict[str, Any]]], now: float) -> None:
        for user_id, sid, info in entries:
            self._put(user_id, sid, info, now + self._ttl)

    async def online(self, user_ids: list[str], now: float) -> set[str]:
        return {u for u in user_ids if self._alive(u, now)}

    async def sessions(self, user_id: str, now: float) -> dict[str, dict[str, Any]]:
        return {s.sid: s.info() for s in self._alive(user_id, now)}

    async def set_status(self, user_id: str, status: str) -> None:
        self._status[user_id] = status

    async def statuses(self, user_ids: list[str]) -> dict[str, str]:
        return {u: self._status[u] for u in user_ids if u in self._status}

    async def purge_node(self, node_id: str, now: float) -> list[str]:
        gone: list[str] = []
        for user_id, socks in list(self._by_user.items()):
            kept = [s for s in socks if s.get("node") != node_id]
            if len(kept) == len(socks):
                continue
            socks[:] = kept
            if not kept:
                self._forget(user_id)
                gone.append(user_id)
        return gone

    async def expired_users(self, now: float) -> list[str]:
        gone = [u for u in self._by_user if not self._alive(u, now)]
        for user_id in gone:
            self._forget(user_id)
        return gone


class MemoryTyping:
    def __init__(self) -> None:
        self._deadlines: dict[tuple[str, str], float] = {}

    async def start(self, group_id: str, user_id: str, deadline: float) -> bool:
        key = (group_id, user_id)
        new = key not in self._deadlines
        self._deadlines[key] = deadline
        return new

    async def stop(self, group_id: str, user_id: str) -> bool:
        return self._deadlines.pop((group_id, user_id), None) is not None

    async def due(self, now: float) -> list[tuple[str, str]]:
        done = [key for key, deadline in self._deadlines.items() if deadline <= now]
        for key in done:
            del self._deadlines[key]
        return done

    async def typing(self, group_id: str, now: float) -> list[str]:
        return sorted(u for (g, u), d in self._deadlines.items() if g == group_id and d > now)
