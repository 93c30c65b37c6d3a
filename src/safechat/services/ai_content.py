"""AI on the message path: moderation before a write, embeddings after it,
and semantic search over those embeddings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from bson import ObjectId

from safechat.ai.guard import GuardedAI
from safechat.ai.schemas import Verdict
from safechat.errors import AIUnavailable, ContentRejected
from safechat.models.group import Group
from safechat.models.message import StoredMessage
from safechat.repositories.embeddings import EmbeddingRepository
from safechat.repositories.groups import GroupRepository
from safechat.repositories.messages import MessageRepository
from safechat.services.ports import Clock
from safechat.services.rendering import MessageRenderer
from safechat.services.tasks import TaskTracker

log = structlog.get_logger("safechat.ai")

ModerationMode = Literal["off", "flag", "block"]
ModerationFallback = Literal["offline", "allow", "reject"]
# Hits below this cosine similarity are noise, not matches.
MIN_SCORE = 0.05
EMBED_BATCH = 128
EMBED_LINGER_SECONDS = 0.5
# Beyond this backlog new messages go unindexed (logged) rather than grow memory.
MAX_PENDING_EMBEDDINGS = 10_000


@dataclass(frozen=True, slots=True)
class _IndexJob:
    group_id: ObjectId
    message_id: ObjectId
    text: str
    ai_enabled: bool | None


class ContentAI:
    """Implements the MessageHooks port (services/ports.py) and message search."""

    def __init__(
        self,
        guard: GuardedAI,
        embeddings: EmbeddingRepository,
        messages: MessageRepository,
        groups: GroupRepository,
        renderer: MessageRenderer,
        tasks: TaskTracker,
        clock: Clock,
        *,
        mode: ModerationMode = "flag",
        fallback: ModerationFallback = "offline",
    ) -> None:
        self._guard = guard
        self._embeddings = embeddings
        self._messages = messages
        self._groups = groups
        self._renderer = renderer
        self._tasks = tasks
        self._clock = clock
        self._mode = mode
        self._fallback = fallback
        self._pending: list[_IndexJob] = []
        self._indexer: asyncio.Task[Any] | None = None

    # --- moderation (before the write) --------------------------------------

    async def verdict(self, text: str, *, local: bool) -> tuple[Verdict, str]:
        """The moderation verdict and who gave it; a failing remote provider is
        replaced as MODERATION_FALLBACK says."""
        try:
            answer = await self._guard.moderate([text], local=local)
            return answer.value[0], answer.provider
        except AIUnavailable:
            if self._fallback == "allow":
                return Verdict.clean(), "fallback-allow"
            if self._fallback == "reject":
                raise ContentRejected(
                    "Moderation is unavailable; try again later",
                    details={"reason": "moderation_unavailable"},
                ) from None
            answer = await self._guard.moderate([text], local=True)
            return answer.value[0], answer.provider

    @property
    def needs_group(self) -> bool:
        # Local moderation answers the same whatever the group says; only a remote
        # provider must know whether the group lets its text leave the server.
        return self._mode != "off" and self._guard.remote

    async def screen(self, text: str, *, ai_enabled: bool) -> dict[str, Any] | None:
        if self._mode == "off":
            return None
        # A group with AI off keeps its text on this server: local word lists only.
        verdict, provider = await self.verdict(text, local=not ai_enabled)
        if not verdict.flagged:
            return None
        if self._mode == "block":
            raise ContentRejected(details={"categories": verdict.categories})
        return {
            "flagged": True,
            "categories": verdict.categories,
            "scores": verdict.scores,
            "provider": provider,
        }

    # --- embeddings (after the write) ---------------------------------------

    def on_stored(self, message: StoredMessage, text: str, *, ai_enabled: bool | None) -> None:
        if ai_enabled is False or not text.strip():
            return
        if len(self._pending) >= MAX_PENDING_EMBEDDINGS:
            log.warning("embedding_dropped", message_id=str(message.id))
            return
        self._pending.append(_IndexJob(message.group_id, message.id, text, ai_enabled))
        if self._indexer is None:
            self._indexer = self._tasks.spawn(self._drain())

    async def _drain(self) -> None:
        """Embeds what is queued in batches: per batch one group lookup, one provider
        call and one bulk write, instead of a round trip each per message."""
        try:
            while self._pending:
                if len(self._pending) < EMBED_BATCH:
                    # Let a batch gather: at a steady trickle, one write per message
                    # would cost the database more than the messages themselves.
                    await asyncio.sleep(EMBED_LINGER_SECONDS)
                batch = self._pending[:EMBED_BATCH]
                del self._pending[:EMBED_BATCH]
                await self._index(batch)
        finally:
            self._indexer = None

    async def _index(self, batch: list[_IndexJob]) -> None:
        unknown = {j.group_id for j in batch if j.ai_enabled is None}
        # Not read on the send path: ask now, off it.
        allowed = await self._groups.ai_enabled_ids(unknown) if unknown else set()
        jobs = [j for j in batch if j.ai_enabled or j.group_id in allowed]
        if not jobs:
            return
        try:
            vectors = await self._guard.embed([j.text for j in jobs])
        except AIUnavailable:
            log.info("embedding_skipped", messages=len(jobs))
            return
        rows = [(j.group_id, j.message_id, v) for j, v in zip(jobs, vectors, strict=True)]
        await self._embeddings.insert_many(rows, self._guard.embedding_model, self._clock.now())

    # --- search -------------------------------------------------------------

    async def search(self, group: Group, query: str, limit: int) -> list[dict[str, Any]]:
        """Hits {message, score}, best first; deleted messages never appear."""
        vector = (await self._guard.embed([query]))[0]
        found = await self._embeddings.search(
            group.id, self._guard.embedding_model, vector, limit * 2 + 5
        )
        found = [(mid, score) for mid, score in found if score >= MIN_SCORE]
        live = await self._messages.by_ids(group.id, [mid for mid, _ in found])
        hits = [
            {"message": self._renderer.render(live[mid]), "score": round(score, 4)}
            for mid, score in found
            if mid in live
        ]
        return hits[:limit]
