"""The Redis stores keep answering from the node's own state while Redis is away."""

from __future__ import annotations

from pathlib import Path

import pytest

from safechat.adapters.presence.redis import RedisPresence, RedisTyping
from safechat.adapters.ratelimit.redis import RedisRateLimiter
from safechat.adapters.redis_link import RedisLink, redis_client
from safechat.errors import PresenceFull
from safechat.services.ports import Limit
from tests.helpers.fakes import FakeClock
from tests.helpers.redis_server import RedisServer


async def test_outage_falls_back_and_heartbeat_restores(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    link = RedisLink(redis_client(redis.url), "outage")
    presence, typing = RedisPresence(link, 30), RedisTyping(link)
    limiter = RedisRateLimiter(link, FakeClock())
    now = 1000.0
    try:
        assert await presence.add("alice", "s1", {"node": "n"}, now) is True
        redis.stop()  # Redis restarts empty: nothing was persisted
        assert await presence.online(["alice"], now) == {"alice"}
        assert link.available is False
        assert await presence.add("bob", "s2", {"node": "n"}, now, 1) is True
        with pytest.raises(PresenceFull):  # the socket cap still holds, per node
            await presence.add("bob", "s3", {"node": "n"}, now, 1)
        assert await typing.start("g", "bob", now + 5) is True
        one = Limit("x", rate=1 / 60, burst=1)
        assert await limiter.acquire("k", one) == 0.0
        assert await limiter.acquire("k", one) > 0  # still limited, per node
        assert await link.ping() is False

        redis.start()
        assert await link.ping() is True
        assert link.available is True
        assert await presence.online(["alice", "bob"], now) == set()  # Redis lost it
        await presence.heartbeat(
            [("alice", "s1", {"node": "n"}), ("bob", "s2", {"node": "n"})], now
        )
        assert await presence.online(["alice", "bob"], now) == {"alice", "bob"}
        # The start taken during the outage still auto-stops.
        assert await typing.due(now + 6) == [("g", "bob")]
    finally:
        await link.close()
        redis.stop()
