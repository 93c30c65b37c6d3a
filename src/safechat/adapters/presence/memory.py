"""Single-node presence and typing state, in memory (the embedded default)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safechat.errors import PresenceFull


@dataclass(slots=True)
class _Socket:
    info: dict[str, Any]
    expires: float


class MemoryPresence:
    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._by_user: dict[str, dict[str, _Socket]] = {}
        self._status: dict[str, str] = {}

    def _alive(self, user_id: str, now: float) -> dict[str, _Socket]:
        socks = self._by_user.get(user_id, {})
        return {sid: s for sid, s in socks.items() if s.expires > now}

    async def add(
        self, user_id: str, sid: str, info: dict[str, Any], now: float, limit: int | None = None
    ) -> bool:
        # No await between the count and the insert: atomic on the event loop.
        alive = self._alive(user_id, now)
        if limit is not None and sid not in alive and len(alive) >= limit:
            raise PresenceFull(limit)
        first = not alive
        self._by_user.setdefault(user_id, {})[sid] = _Socket(dict(info), now + self._ttl)
        return first

    async def remove(self, user_id: str, sid: str, now: float) -> bool:
        socks = self._by_user.get(user_id)
        if not socks or socks.pop(sid, None) is None:
            return False
        if self._alive(user_id, now):
            return False
        self._forget(user_id)
        return True

    def _forget(self, user_id: str) -> None:
        self._by_user.pop(user_id, None)
        self._status.pop(user_id, None)

    async def heartbeat(self, entries: list[tuple[str, str, dict[str, Any]]], now: float) -> None:
        for user_id, sid, info in entries:
            self._by_user.setdefault(user_id, {})[sid] = _Socket(dict(info), now + self._ttl)

    async def online(self, user_ids: list[str], now: float) -> set[str]:
        return {u for u in user_ids if self._alive(u, now)}

    async def sessions(self, user_id: str, now: float) -> dict[str, dict[str, Any]]:
        return {sid: dict(s.info) for sid, s in self._alive(user_id, now).items()}

    async def set_status(self, user_id: str, status: str) -> None:
        self._status[user_id] = status

    async def statuses(self, user_ids: list[str]) -> dict[str, str]:
        return {u: self._status[u] for u in user_ids if u in self._status}

    async def purge_node(self, node_id: str, now: float) -> list[str]:
        gone: list[str] = []
        for user_id, socks in list(self._by_user.items()):
            stale = [sid for sid, s in socks.items() if s.info.get("node") == node_id]
            for sid in stale:
                del socks[sid]
            if stale and not socks:
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
