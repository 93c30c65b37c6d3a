"""Each port's contract runs against the memory and the Redis implementation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from safechat.adapters.presence.memory import MemoryPresence, MemoryTyping
from safechat.adapters.presence.redis import RedisPresence, RedisTyping
from safechat.adapters.ratelimit.memory import MemoryRateLimiter
from safechat.adapters.ratelimit.redis import RedisRateLimiter
from safechat.adapters.redis_link import RedisLink, redis_client
from safechat.services.ports import PresenceStore, RateLimiter, TypingStore
from tests.helpers.redis_server import RedisServer

TTL = 30.0


@dataclass
class Clock:
    """Epoch seconds the tests set; the stores take them as arguments."""

    now: float = 1_800_000_000.0


class ClockPort:
    """The same time as the Clock port, for the rate limiters (which take a Clock)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now, UTC)

    def monotonic(self) -> float:
        return self._clock.now


@dataclass
class Stores:
    kind: str
    presence: PresenceStore
    typing: TypingStore
    limiter: RateLimiter
    clock: Clock
    # A second node's view of the same shared state (the same object in memory).
    other_presence: PresenceStore
    other_typing: TypingStore


@pytest.fixture(params=["memory", "redis"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    clock = Clock()
    if request.param == "memory":
        presence, typing = MemoryPresence(TTL), MemoryTyping()
        limiter = MemoryRateLimiter(ClockPort(clock))
        yield Stores("memory", presence, typing, limiter, clock, presence, typing)
        return
    redis: RedisServer = request.getfixturevalue("redis_server")
    prefix = f"t{uuid.uuid4().hex[:8]}"
    links = [RedisLink(redis_client(redis.url), prefix) for _ in range(2)]
    try:
        yield Stores(
            "redis",
            RedisPresence(links[0], TTL),
            RedisTyping(links[0]),
            RedisRateLimiter(links[0], ClockPort(clock)),
            clock,
            RedisPresence(links[1], TTL),
            RedisTyping(links[1]),
        )
    finally:
        for link in links:
            await link.close()
