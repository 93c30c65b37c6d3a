"""Token-bucket rate limits (protocol.md section 6).

The bucket arithmetic is one pure function taking `now`, shared by the memory
limiter and mirrored by the Redis limiter's Lua script, so both answer alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from safechat.errors import ChatError, ErrorCode
from safechat.services.ports import RateLimiter


@dataclass(frozen=True, slots=True)
class Limit:
    """`rate` tokens per second refill a bucket holding at most `burst` tokens."""

    name: str
    rate: float
    burst: int

    @classmethod
    def per_minute(cls, name: str, count: int, burst: int | None = None) -> Limit:
        return cls(name, count / 60.0, burst if burst is not None else count)


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


class RateLimited(ChatError):
    code = ErrorCode.RATE_LIMITED
    default_message = "Too many requests"

    def __init__(self, limit: Limit, retry_after: float, message: str | None = None) -> None:
        retry_ms = max(1, int(retry_after * 1000 + 0.999))
        super().__init__(
            message or f"Rate limit '{limit.name}' exceeded; retry in {retry_ms} ms",
            details={"retryAfterMs": retry_ms, "limit": limit.name},
        )
        self.retry_after_ms = retry_ms


async def enforce(limiter: RateLimiter, key: str, limit: Limit) -> None:
    """Raises RateLimited (with retryAfterMs) when `key` has no token left."""
    wait = await limiter.acquire(f"{limit.name}:{key}", limit)
    if wait > 0:
        raise RateLimited(limit, wait)


@dataclass(frozen=True, slots=True)
class Limits:
    """The configured limits, derived once per app from Settings (components.limits_from)."""

    send: Limit
    events: Limit
    ai: Limit
    rest: Limit
    group_create: Limit
