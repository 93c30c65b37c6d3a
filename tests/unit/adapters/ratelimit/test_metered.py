"""Rate-limit refusals are counted once, by the limiter every edge and service uses."""

from __future__ import annotations

import pytest

from safechat.adapters.ratelimit.memory import MemoryRateLimiter
from safechat.adapters.ratelimit.metered import MeteredLimiter
from safechat.errors import RateLimited
from safechat.metrics import Metrics
from safechat.services.ports import Limit
from safechat.services.ratelimit import enforce
from tests.helpers.fakes import FakeClock


def refused(metrics: Metrics, limit: str) -> float:
    value = metrics.registry.get_sample_value("safechat_rate_limited_total", {"limit": limit})
    return value or 0.0


async def test_each_refusal_counts_once_by_limit_name() -> None:
    metrics = Metrics()
    limiter = MeteredLimiter(MemoryRateLimiter(FakeClock()), metrics)
    send = Limit("send_message", rate=1.0, burst=2)
    assert await limiter.acquire("send_message:a", send) == 0.0
    assert await limiter.acquire("send_message:a", send) == 0.0
    assert refused(metrics, "send_message") == 0
    for _ in range(3):
        with pytest.raises(RateLimited) as refusal:
            await enforce(limiter, "a", send)
        assert refusal.value.details == {"retryAfterMs": 1000, "limit": "send_message"}
    assert refused(metrics, "send_message") == 3
    assert refused(metrics, "events") == 0
