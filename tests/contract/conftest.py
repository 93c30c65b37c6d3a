"""Each port's contract runs against the memory and the Redis implementation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from safechat.adapters.presence.memory import MemoryPresence, MemoryTyping
from safechat.adapters.presence.redis import RedisPresence, RedisTyping
from safechat.adapters.ratelimit.memory import MemoryRateLimiter
from safechat.adapters.ratelimit.redis import RedisRateLimiter
from safechat.adapters.redis_link import RedisLink, redis_client
from safechat.services.ports import PresenceStore, RateLimiter, TypingStore
from tests.redis_server import RedisServer

TTL = 30.0


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


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
        yield Stores("memory", presence, typing, MemoryRateLimiter(clock), clock, presence, typing)
        return
    redis: RedisServer = request.getfixturevalue("redis_server")
    prefix = f"t{uuid.uuid4().hex[:8]}"
    links = [RedisLink(redis_client(redis.url), prefix) for _ in range(2)]
    try:
        yield Stores(
            "redis",
            RedisPresence(links[0], TTL),
            RedisTyping(links[0]),
            RedisRateLimiter(links[0], clock),
            clock,
            RedisPresence(links[1], TTL),
            RedisTyping(links[1]),
        )
    finally:
        for link in links:
            await link.close()
