"""Single-node presence: live sockets per user, in memory."""

from __future__ import annotations

from typing import Any


class MemoryPresence:
    def __init__(self) -> None:
        self._by_user: dict[str, dict[str, dict[str, Any]]] = {}

    async def add(self, user_id: str, sid: str, info: dict[str, Any]) -> bool:
        socks = self._by_user.setdefault(user_id, {})
        first = not socks
        socks[sid] = dict(info)
        return first

    async def remove(self, user_id: str, sid: str) -> bool:
        socks = self._by_user.get(user_id)
        if not socks or sid not in socks:
            return False
        del socks[sid]
        if socks:
            return False
        del self._by_user[user_id]
        return True

    async def online(self, user_ids: list[str]) -> set[str]:
        return {u for u in user_ids if self._by_user.get(u)}

    async def sessions(self, user_id: str) -> dict[str, dict[str, Any]]:
        return {sid: dict(info) for sid, info in self._by_user.get(user_id, {}).items()}
