"""Presence and typing shared by every node through Redis.

Keys (prefix `<channel>:`): `presence:socks:<user>` sorted set sid -> expiry,
`presence:info:<user>` hash sid -> JSON, `presence:status:<user>`,
`presence:users` sorted set user -> latest expiry (to find users whose node
died), `presence:node:<node>` set of `<user> <sid>` (to purge a restarted node's
leftovers), `typing:<group>` sorted set user -> deadline and `typing:due` sorted set
`<group> <user>` -> deadline. Multi-key updates run as Lua scripts, so two nodes
never both announce the same change. Standalone Redis or Sentinel (the scripts
touch keys they compute, which Redis Cluster does not allow); they live in redis_scripts.py.
When Redis is away, each call answers from the node's local state instead.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from safechat.adapters.presence import redis_scripts as scripts
from safechat.adapters.presence.memory import MemoryPresence, MemoryTyping
from safechat.adapters.redis_link import RedisLink, script
from safechat.errors import PresenceFull

T = TypeVar("T")


class RedisPresence:
    def __init__(self, link: RedisLink, ttl: float) -> None:
        self._link = link
        self._ttl = ttl
        self._key_ttl = str(math.ceil(ttl * 2))
        # This node's own sockets: answers while Redis is away, re-sent by heartbeat.
        self._local = MemoryPresence(ttl)
        self._add = script(link, scripts.PRESENCE_ADD)
        self._remove = script(link, scripts.PRESENCE_REMOVE)
        self._expired = script(link, scripts.PRESENCE_EXPIRED)

    def _node_key(self, info: dict[str, Any]) -> str:
        return self._link.key("presence", "node", str(info.get("node", "")))

    def _keys(self, user_id: str) -> tuple[str, str]:
        return self._link.key("presence", "socks", user_id), self._link.key(
            "presence", "info", user_id
        )

    async def add(
        self, user_id: str, sid: str, info: dict[str, Any], now: float, limit: int | None = None
    ) -> bool:
        # This node's sockets are a subset of the shared ones, so a full local view
        # refuses at once; the script then counts and inserts atomically for all nodes.
        local_first = await self._local.add(user_id, sid, info, now, limit)
        socks, infos = self._keys(user_id)

        async def op() -> int:
            args = [
                sid,
                json.dumps(info),
                repr(now),
                repr(now + self._ttl),
                user_id,
                self._key_ttl,
                str(limit or 0),
            ]
            keys = [socks, infos, self._link.key("presence", "users"), self._node_key(info)]
            return int(await self._add(keys=keys, args=args))

        result = await self._link.run(op, lambda: _value(int(local_first)))
        if result < 0:
            await self._local.remove(user_id, sid, now)
            raise PresenceFull(limit or 0)
        return result == 1

    async def remove(self, user_id: str, sid: str, now: float) -> bool:
        local_last = await self._local.remove(user_id, sid, now)
        socks, infos = self._keys(user_id)

        async def op() -> bool:
            keys = [
                socks,
                infos,
                self._link.key("presence", "users"),
                self._link.key("presence", "status", user_id),
            ]
            args = [sid, repr(now), user_id, self._link.key("")]
            return bool(await self._remove(keys=keys, args=args))

        return await self._link.run(op, lambda: _value(local_last))

    async def heartbeat(self, entries: list[tuple[str, str, dict[str, Any]]], now: float) -> None:
        await self._local.heartbeat(entries, now)
        if not entries:
            return
        expires = now + self._ttl

        async def op() -> None:
            pipe = self._link.client.pipeline(transaction=False)
            users = self._link.key("presence", "users")
            for user_id, sid, info in entries:
                socks, infos = self._keys(user_id)
                pipe.zadd(socks, {sid: expires})
                pipe.hset(infos, sid, json.dumps(info))
                pipe.expire(socks, int(self._key_ttl))
                pipe.expire(infos, int(self._key_ttl))
                pipe.zadd(users, {user_id: expires}, gt=True)
                pipe.sadd(self._node_key(info), f"{user_id} {sid}")
                pipe.expire(self._node_key(info), int(self._key_ttl))
            await pipe.execute()

        await self._link.run(op, _none)

    async def online(self, user_ids: list[str], now: float) -> set[str]:
        if not user_ids:
            return set()

        async def op() -> set[str]:
            pipe = self._link.client.pipeline(transaction=False)
            for user_id in user_ids:
                pipe.zcount(self._keys(user_id)[0], f"({now!r}", "+inf")
            counts = await pipe.execute()
            return {u for u, n in zip(user_ids, counts, strict=True) if n}

        return await self._link.run(op, lambda: self._local.online(user_ids, now))

    async def sessions(self, user_id: str, now: float) -> dict[str, dict[str, Any]]:
        socks, infos = self._keys(user_id)

        async def op() -> dict[str, dict[str, Any]]:
            sids = [
                str(s) for s in await self._link.client.zrangebyscore(socks, f"({now!r}", "+inf")
            ]
            if not sids:
                return {}
            raw = await self._link.client.hmget(infos, sids)
            return {sid: json.loads(r) if r else {} for sid, r in zip(sids, raw, strict=True)}

        return await self._link.run(op, lambda: self._local.sessions(user_id, now))

    async def set_status(self, user_id: str, status: str) -> None:
        await self._local.set_status(user_id, status)
        key = self._link.key("presence", "status", user_id)

        async def op() -> None:
            await self._link.client.set(key, status, ex=86400)

        await self._link.run(op, _none)

    async def statuses(self, user_ids: list[str]) -> dict[str, str]:
        if not user_ids:
            return {}

        async def op() -> dict[str, str]:
            keys = [self._link.key("presence", "status", u) for u in user_ids]
            values = await self._link.client.mget(keys)
            return {u: str(v) for u, v in zip(user_ids, values, strict=True) if v}

        return await self._link.run(op, lambda: self._local.statuses(user_ids))

    async def purge_node(self, node_id: str, now: float) -> list[str]:
        node_key = self._link.key("presence", "node", node_id)

        async def op() -> list[str]:
            gone: list[str] = []
            for member in await self._link.client.smembers(node_key):
                user_id, _, sid = str(member).partition(" ")
                if await self.remove(user_id, sid, now):
                    gone.append(user_id)
            await self._link.client.delete(node_key)
            return gone

        return await self._link.run(op, lambda: self._local.purge_node(node_id, now))

    async def expired_users(self, now: float) -> list[str]:
        async def op() -> list[str]:
            users = self._link.key("presence", "users")
            gone = await self._expired(keys=[users], args=[repr(now), self._link.key("")])
            return [str(u) for u in gone]

        return await self._link.run(op, lambda: self._local.expired_users(now))


class RedisTyping:
    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self._local = MemoryTyping()
        self._start = script(link, scripts.TYPING_START)
        self._stop = script(link, scripts.TYPING_STOP)
        self._due = script(link, scripts.TYPING_DUE)

    def _keys(self, group_id: str) -> list[str]:
        return [self._link.key("typing", group_id), self._link.key("typing", "due")]

    async def start(self, group_id: str, user_id: str, deadline: float) -> bool:
        async def op() -> bool:
            args = [user_id, repr(deadline), f"{group_id} {user_id}", "60"]
            return bool(await self._start(keys=self._keys(group_id), args=args))

        return await self._link.run(op, lambda: self._local.start(group_id, user_id, deadline))

    async def stop(self, group_id: str, user_id: str) -> bool:
        async def op() -> bool:
            args = [user_id, f"{group_id} {user_id}"]
            return bool(await self._stop(keys=self._keys(group_id), args=args))

        return await self._link.run(op, lambda: self._local.stop(group_id, user_id))

    async def due(self, now: float) -> list[tuple[str, str]]:
        async def op() -> list[tuple[str, str]]:
            due_key = self._link.key("typing", "due")
            members = await self._due(keys=[due_key], args=[repr(now), self._link.key("")])
            pairs = (str(m).split(" ", 1) for m in members)
            # The local fallback may hold starts taken while Redis was away.
            return [(g, u) for g, u in pairs] + await self._local.due(now)

        return await self._link.run(op, lambda: self._local.due(now))

    async def typing(self, group_id: str, now: float) -> list[str]:
        async def op() -> list[str]:
            key = self._link.key("typing", group_id)
            return sorted(
                str(u) for u in await self._link.client.zrangebyscore(key, f"({now!r}", "+inf")
            )

        return await self._link.run(op, lambda: self._local.typing(group_id, now))


async def _value(value: T) -> T:
    return value


async def _none() -> None:
    return None
