"""One Redis connection pool for the stores, and what happens when Redis goes away.

Stores call `link.run(operation, fallback)`: on a Redis error the node answers
from its local fallback and keeps serving its own clients. The first failure
logs `redis_unavailable` and the first success after it `redis_recovered`, so
an outage is two clear log lines, not one per event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

log = structlog.get_logger("safechat.redis")

T = TypeVar("T")


def redis_client(url: str) -> aioredis.Redis:
    # Short timeouts: a node must fall back quickly instead of hanging on a dead Redis.
    return aioredis.Redis.from_url(
        url,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        health_check_interval=15,
        decode_responses=True,
    )


class RedisLink:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.available = True
        self._watch: asyncio.Task[None] | None = None

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def run(
        self,
        operation: Callable[[], Awaitable[T]],
        fallback: Callable[[], Awaitable[T]],
    ) -> T:
        try:
            result = await operation()
        except (RedisError, OSError) as exc:
            self._down(exc)
            return await fallback()
        self._up()
        return result

    def _down(self, exc: BaseException) -> None:
        if self.available:
            self.available = False
            log.error(
                "redis_unavailable",
                error=type(exc).__name__,
                detail=str(exc)[:200],
                effect="serving local clients only; limits, presence and typing are node-local",
            )

    def _up(self) -> None:
        if not self.available:
            self.available = True
            log.warning("redis_recovered", effect="cross-node state and delivery resume")

    async def ping(self) -> bool:
        async def op() -> bool:
            return bool(await self.client.ping())

        async def failed() -> bool:
            return False

        return await self.run(op, failed)

    def start_watch(self, every: float = 2.0) -> None:
        """Pings Redis so recovery is noticed (and logged) even when idle."""

        async def watch() -> None:
            while True:
                await self.ping()
                await asyncio.sleep(every)

        self._watch = asyncio.get_running_loop().create_task(watch())

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self.client.aclose()


def script(link: RedisLink, source: str) -> Any:
    return link.client.register_script(source)
