"""Verification keys from a JWKS URL (Clerk), fetched with aiohttp and cached."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import jwt
import structlog

from safechat.services.ports import Clock

log = structlog.get_logger(__name__)


class HttpJwks:
    """Caches keys by kid; refetches on an unknown kid, at most every `min_refresh` s."""

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        ttl: float = 3600.0,
        min_refresh: float = 30.0,
        timeout: float = 5.0,
    ) -> None:
        self._url = url
        self._clock = clock
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._keys: dict[str, Any] = {}
        # -inf, not 0.0: monotonic time starts near 0 at boot, so 0.0 would look fresh.
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def key_for(self, kid: str | None) -> Any:
        fresh = self._clock.monotonic() - self._fetched_at < self._ttl
        if kid in self._keys and fresh:
            return self._keys[kid]
        if kid is None and len(self._keys) == 1 and fresh:
            return next(iter(self._keys.values()))
        async with self._lock:
            # Decide again under the lock: the caller we waited for may have refreshed.
            now = self._clock.monotonic()
            known = kid in self._keys if kid is not None else len(self._keys) == 1
            if now - self._fetched_at >= self._ttl or (
                not known and now - self._attempted_at >= self._min_refresh
            ):
                await self._refresh()
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        self._attempted_at = self._clock.monotonic()
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.get(self._url) as resp:
                resp.raise_for_status()
                data = await resp.json(content_type=None)
            keyset = jwt.PyJWKSet.from_dict(data)
        except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWTError) as exc:
            # Keep serving with the keys we had; tokens with new kids fail until it recovers.
            log.warning("jwks_fetch_failed", url=self._url, error=type(exc).__name__)
            self._fetched_at = self._clock.monotonic() - self._ttl + self._min_refresh
            return
        self._keys = {k.key_id: k.key for k in keyset.keys if k.key_id}
        if not self._keys and keyset.keys:
            self._keys = {"": keyset.keys[0].key}
        self._fetched_at = self._clock.monotonic()
