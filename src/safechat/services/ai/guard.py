"""Every model call goes through here: a timeout, a circuit breaker, and the
offline provider as fallback where its answer is meaningful."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import structlog
from pydantic import BaseModel

from safechat.errors import AIUnavailable
from safechat.services.ai.schemas import ChatRequest, Verdict
from safechat.services.ports import AIProvider, Clock

log = structlog.get_logger("safechat.ai")

R = TypeVar("R")
V = TypeVar("V")
T = TypeVar("T", bound=BaseModel)


class CircuitBreaker:
    """Closed -> (N consecutive failures) -> open for `open_seconds` -> half-open:
    one trial call; success closes, failure opens again."""

    def __init__(self, clock: Clock, failures: int = 5, open_seconds: float = 300.0) -> None:
        self._threshold = failures
        self._open_seconds = open_seconds
        self._now = clock.monotonic
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._now() - self._opened_at >= self._open_seconds:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """May a call go out now? In half-open, only one trial at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial:
            self._trial = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial = False

    def release(self) -> None:
        self._trial = False

    def failure(self) -> None:
        self._trial = False
        if self._opened_at is not None:  # the half-open trial failed
            self._opened_at = self._now()
            return
        self._failures += 1
        if self._failures >= self._threshold:
            self._opened_at = self._now()
            log.warning("ai_breaker_open", failures=self._failures)


@dataclass(frozen=True, slots=True)
class Answer(Generic[V]):
    value: V
    provider: str


class GuardedAI:
    """The primary provider behind a timeout and a breaker, the offline one behind it.

    `fallback=None` means failures surface as AI_UNAVAILABLE. Embeddings never
    fall back: vectors of different models are not comparable.
    """

    def __init__(
        self,
        primary: AIProvider,
        offline: AIProvider,
        breaker: CircuitBreaker,
        *,
        timeout: float,
        moderation_timeout: float,
        fallback: bool,
    ) -> None:
        self.primary = primary
        self.offline = offline
        self.breaker = breaker
        self._timeout = timeout
        self._moderation_timeout = moderation_timeout
        self._fallback = fallback

    @property
    def remote(self) -> bool:
        return self.primary is not self.offline

    @property
    def embedding_model(self) -> str:
        return self.primary.embedding_model

    async def _call(self, what: str, call: Callable[[], Awaitable[R]], limit: float) -> R:
        if not self.breaker.allow():
            raise AIUnavailable("AI provider is paused after repeated failures")
        started = time.perf_counter()  # measurement only (the debug log), not a rule
        try:
            result = await asyncio.wait_for(call(), limit)
        except asyncio.CancelledError:
            self.breaker.release()  # a cancelled call says nothing about the provider
            raise
        except Exception as exc:
            self.breaker.failure()
            log.warning(
                "ai_call_failed", what=what, error=type(exc).__name__, state=self.breaker.state
            )
            raise AIUnavailable(f"AI provider failed ({type(exc).__name__})") from exc
        self.breaker.success()
        log.debug("ai_call", what=what, ms=round((time.perf_counter() - started) * 1000, 1))
        return result

    async def complete(self, request: ChatRequest, schema: type[T]) -> Answer[T]:
        if not self.remote:
            return Answer(await self.offline.complete(request, schema), self.offline.name)
        try:
            value = await self._call(
                request.task, lambda: self.primary.complete(request, schema), self._timeout
            )
            return Answer(value, self.primary.name)
        except AIUnavailable:
            if not self._fallback:
                raise
            return Answer(await self.offline.complete(request, schema), self.offline.name)

    async def embed(self, texts: list[str], keys: list[bytes]) -> list[list[float]]:
        if not self.remote:
            return await self.offline.embed(texts, keys)
        return await self._call("embed", lambda: self.primary.embed(texts, keys), self._timeout)

    async def moderate(self, texts: list[str], *, local: bool = False) -> Answer[list[Verdict]]:
        """`local=True` keeps the text on this server (the group turned AI off)."""
        if local or not self.remote:
            return Answer(await self.offline.moderate(texts), self.offline.name)
        value = await self._call(
            "moderate", lambda: self.primary.moderate(texts), self._moderation_timeout
        )
        return Answer(value, self.primary.name)
