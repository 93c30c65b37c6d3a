"""Counts rate-limit refusals once, where they are decided: at the bucket.

Every refusal, by a socket event, a REST request or a service rule (group creation,
AI), takes this path, so `safechat_rate_limited_total{limit}` counts each once and
neither edge counts it again.
"""

from __future__ import annotations

from safechat.metrics import Metrics
from safechat.services.ports import Limit, RateLimiter


class MeteredLimiter:
    def __init__(self, inner: RateLimiter, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def acquire(self, key: str, limit: Limit) -> float:
        wait = await self._inner.acquire(key, limit)
        if wait > 0:
            self._metrics.rate_limited.labels(limit.name).inc()
        return wait
