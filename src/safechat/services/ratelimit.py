"""Token-bucket rate limits (docs/protocol.md §6).

The bucket arithmetic is one pure function taking `now`, shared by the memory
limiter and mirrored by the Redis limiter's Lua script, so both answer alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from safechat.errors import RateLimited
from safechat.services.ports import Limit, RateLimiter


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    updated: float


def take(
    bucket: Bucket | None, limit: Limit, now: float, cost: float = 1.0
) -> tuple[Bucket, float]:
    """Takes `cost` tokens; returns the new bucket and 0.0, or the unchanged bucket
    and the seconds until enough tokens are back."""
    if bucket is None:
        bucket = Bucket(float(limit.burst), now)
    elapsed = max(0.0, now - bucket.updated)
    tokens = min(float(limit.burst), bucket.tokens + elapsed * limit.rate)
    if tokens >= cost:
        return Bucket(tokens - cost, now), 0.0
    wait = (cost - tokens) / limit.rate if limit.rate > 0 else float("inf")
    return Bucket(tokens, now), wait


async def enforce(limiter: RateLimiter, key: str, limit: Limit) -> None:
    """Raises RateLimited (with retryAfterMs) when `key` has no token left."""
    wait = await limiter.acquire(f"{limit.name}:{key}", limit)
    if wait > 0:
        raise RateLimited(limit.name, wait)


@dataclass(frozen=True, slots=True)
class Limits:
    """The configured limits, derived once per app from Settings (components.limits_from)."""

    send: Limit
    events: Limit
    ai: Limit
    rest: Limit
    group_create: Limit
    # Export and erasure: whole-account reads and writes, rare by nature.
    account: Limit
