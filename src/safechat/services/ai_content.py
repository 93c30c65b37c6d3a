"""AI on the message path: moderation before a write, embeddings after it,
and semantic search over those embeddings."""

from __future__ import annotations

import asyncio
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
        embed_concurrency: int = 4,
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
        self._embed_slots = asyncio.Semaphore(embed_concurrency)

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
        if ai_enabled is not False and text.strip():
            job = self._index(message.group_id, message.id, text, ai_enabled)
            self._tasks.spawn(job, droppable=True)

    async def _index(
        self, group_id: ObjectId, message_id: ObjectId, text: str, ai_enabled: bool | None
    ) -> None:
        if ai_enabled is None:  # not read on the send path: ask now, off it
            group = await self._groups.get(group_id)
            if group is None or not group.ai_enabled:
                return
        async with self._embed_slots:
            try:
                vector = (await self._guard.embed([text]))[0]
            except AIUnavailable:
                log.info("embedding_skipped", message_id=str(message_id))
                return
            model = self._guard.embedding_model
            await self._embeddings.upsert(group_id, message_id, model, vector, self._clock.now())

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
