"""Pure parts of delivery: the signature a receiver checks, and when to retry."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over "<timestamp>.<body>" (X-SafeChat-Signature)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does (docs/webhooks.md), in constant time."""
    try:
        expected = signature(secret, int(timestamp), body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, header)


def backoff(attempt: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Seconds before the next try after `attempt` failed tries: "full jitter", a random
    point in [0, min(cap, base * 2^(attempt-1))], so many failing deliveries (a receiver
    that was down) do not come back in one wave."""
    ceiling = min(cap, base * (1 << min(max(0, attempt - 1), 62)))
    return rand() * ceiling


def should_retry(status: int | None) -> bool:
    """Timeouts and connection errors (None), 408, 429 and 5xx are retried; any other
    non-2xx answer is too (the receiver may be mid-deploy), but counted the same way."""
    return status is None or not 200 <= status < 300
