"""Single-node token buckets, in memory."""

from __future__ import annotations

from safechat.services.ports import Clock, Limit
from safechat.services.ratelimit import Bucket, take

# Buckets idle this long are full again and can be forgotten.
_PRUNE_EVERY = 1024


class MemoryRateLimiter:
    def __init__(self, clock: Clock) -> None:
        self._now = clock.monotonic  # buckets of this node only: process time will do
        self._buckets: dict[str, tuple[Bucket, Limit]] = {}
        self._ops = 0

    async def acquire(self, key: str, limit: Limit) -> float:
        now = self._now()
        entry = self._buckets.get(key)
        bucket, wait = take(entry[0] if entry else None, limit, now)
        self._buckets[key] = (bucket, limit)
        self._ops += 1
        if self._ops % _PRUNE_EVERY == 0:
            self._prune(now)
        return wait

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, (bucket, limit) in self._buckets.items()
            if limit.rate > 0 and bucket.tokens + (now - bucket.updated) * limit.rate >= limit.burst
        ]
        for key in full:
            del self._buckets[key]
