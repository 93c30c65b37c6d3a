"""RateLimiter contract: the same token buckets from memory and from Redis."""

from __future__ import annotations

import pytest

from safechat.services.ports import Limit
from safechat.services.ratelimit import Bucket, take
from tests.contract.conftest import Stores

SEND = Limit("send", rate=10.0, burst=20)


async def test_burst_then_refuse_with_retry_after(stores: Stores) -> None:
    waits = [await stores.limiter.acquire("user:a", SEND) for _ in range(21)]
    assert waits[:20] == [0.0] * 20
    assert waits[20] == pytest.approx(0.1, abs=0.01)


async def test_refill_over_time(stores: Stores) -> None:
    for _ in range(20):
        await stores.limiter.acquire("user:a", SEND)
    stores.clock.now += 0.5  # five tokens back
    waits = [await stores.limiter.acquire("user:a", SEND) for _ in range(6)]
    assert waits[:5] == [0.0] * 5
    assert waits[5] > 0


async def test_keys_are_independent(stores: Stores) -> None:
    tight = Limit("ai", rate=1 / 60, burst=1)
    assert await stores.limiter.acquire("user:a", tight) == 0.0
    assert await stores.limiter.acquire("user:a", tight) == pytest.approx(60.0, abs=0.5)
    assert await stores.limiter.acquire("user:b", tight) == 0.0


def test_take_is_a_pure_token_bucket() -> None:
    limit = Limit("x", rate=2.0, burst=2)
    bucket, wait = take(None, limit, now=100.0)
    assert (bucket, wait) == (Bucket(1.0, 100.0), 0.0)
    bucket, wait = take(bucket, limit, now=100.0)
    assert wait == 0.0
    bucket, wait = take(bucket, limit, now=100.0)
    assert wait == pytest.approx(0.5)
    bucket, wait = take(bucket, limit, now=101.0)
    assert wait == 0.0
    assert bucket.tokens == pytest.approx(1.0)
    assert Limit.per_minute("ai", 20) == Limit("ai", rate=20 / 60, burst=20)
