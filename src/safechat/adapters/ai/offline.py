"""The offline AI provider: the embedded default. No network, deterministic.

Smart replies, typing completions and summaries come from adapters/ai/offline_chat.py;
moderation and embeddings from adapters/ai/offline_text.py. English only (docs/ai.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from safechat.adapters.ai import offline_text as text
from safechat.adapters.ai.offline_chat import answer, request_size
from safechat.services.ai.schemas import ChatRequest, Verdict
from safechat.services.ports import CpuPool

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")

# The size (characters read) above which work leaves the loop: about a millisecond of
# inline work at most.
INLINE_CHARS = 2000
EMBED_CHUNK_CHARS = 20_000  # about 10 ms of hashing per pool job


def moderate_many(texts: list[str]) -> list[Verdict]:
    return [moderate_one(t) for t in texts]


class OfflineProvider:
    """Pure-Python heuristics. Work over more than INLINE_CHARS characters runs in
    `pool` (a worker process), so the event loop never waits for it; small inputs (a
    normal message's moderation) stay inline, where a pool hop would cost more."""

    name = "offline"
    embedding_model = text.MODEL_NAME

    def __init__(self, pool: CpuPool | None = None) -> None:
        self._pool = pool

    async def _run(self, size: int, fn: Callable[..., R], *args: Any) -> R:
        if self._pool is None or size <= INLINE_CHARS:
            return fn(*args)
        return await self._pool.run(fn, *args)

    async def complete(self, request: ChatRequest, schema: type[T]) -> T:
        result = await self._run(request_size(request), answer, request)
        if not isinstance(result, schema):
            raise TypeError(f"offline provider cannot answer {schema.__name__} for {request.task}")
        return result

    async def embed(self, texts: list[str], keys: list[bytes]) -> list[list[float]]:
        if len(keys) != len(texts) or not all(keys):
            raise ValueError("offline embeddings need one group key per text")
        # In chunks, so a typing suggestion or a send's moderation waits for one chunk
        # in the pool, not for a whole batch of long messages.
        vectors: list[list[float]] = []
        start = 0
        while start < len(texts):
            end, size = start, 0
            while end < len(texts) and (end == start or size < EMBED_CHUNK_CHARS):
                size += min(len(texts[end]), text.EMBED_MAX_CHARS)
                end += 1
            vectors += await self._run(size, text.embed_many, texts[start:end], keys[start:end])
            start = end
        return vectors

    async def moderate(self, texts: list[str]) -> list[Verdict]:
        return await self._run(sum(map(len, texts)), moderate_many, texts)


def moderate_one(value: str) -> Verdict:
    flagged, categories, scores = text.moderate(value)
    return Verdict(flagged, categories, scores)
