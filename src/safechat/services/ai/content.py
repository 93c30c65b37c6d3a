"""AI on the message path: moderation before a write, embeddings after it,
and semantic search over those embeddings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from bson import ObjectId

from safechat.errors import AIUnavailable, ContentRejected
from safechat.models.group import Group
from safechat.models.message import StoredMessage
from safechat.repositories.embeddings import EmbeddingRepository, VectorRow
from safechat.repositories.groups import GroupRepository
from safechat.repositories.messages import MessageRepository
from safechat.services.ai.guard import GuardedAI
from safechat.services.ai.schemas import Verdict
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.ports import Clock, EmbeddingKeys
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
    sender_id: str
    text: str
    ai_enabled: bool | None
    replace: bool  # an edit: the old vector goes first


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
        keys: EmbeddingKeys,
        *,
        mode: ModerationMode = "flag",
        fallback: ModerationFallback = "offline",
        indexing: bool = True,
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
        self._keys = keys
        self._indexing = indexing
        self._pending: list[_IndexJob] = []
        self._indexer: asyncio.Task[Any] | None = None
        # The batch being embedded, and deletions that raced it (not written, or
        # removed again after its write).
        self._batch: list[_IndexJob] = []
        self._dropped: set[ObjectId] = set()

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

    @property
    def model(self) -> str:
        """The stored model name. Offline vectors are keyed with a secret derived from
        the primary master key, whose id is part of the name: after a key rotation the
        old vectors are never compared with new ones (they are purged at start)."""
        model = self._guard.embedding_model
        return model if self._guard.remote else f"{model}:{self._keys.primary_kid}"

    def start(self) -> None:
        """At app start, in the background: drop vectors search can no longer use."""
        self._tasks.spawn(self._purge())

    async def _purge(self) -> None:
        if not self._indexing:  # AI_INDEXING=off: no vectors are kept at all
            dropped = await self._embeddings.delete_models(None)
        else:  # unkeyed offline vectors leak their text; vectors of rotated keys
            dropped = await self._embeddings.delete_stale_offline(self.model)
        if dropped:
            log.info("embeddings_purged", vectors=dropped, indexing=self._indexing)

    def on_stored(self, message: StoredMessage, text: str, *, ai_enabled: bool | None) -> None:
        if not self._indexing or ai_enabled is False or not text.strip():
            return
        if len(self._pending) >= MAX_PENDING_EMBEDDINGS:
            log.warning("embedding_dropped", message_id=str(message.id))
            return
        edited = message.edited_at is not None
        self._pending.append(
            _IndexJob(message.group_id, message.id, message.sender_id, text, ai_enabled, edited)
        )
        if self._indexer is None:
            self._indexer = self._tasks.spawn(self._drain())

    async def on_deleted(self, message_id: ObjectId) -> None:
        self._pending = [j for j in self._pending if j.message_id != message_id]
        if self._batch:
            self._dropped.add(message_id)
        await self._embeddings.delete_messages([message_id])

    async def on_group_deleted(self, group_id: ObjectId) -> None:
        self._pending = [j for j in self._pending if j.group_id != group_id]
        self._dropped |= {j.message_id for j in self._batch if j.group_id == group_id}
        await self._embeddings.delete_group(group_id)

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
                self._batch = batch
                try:
                    await self._index(batch)
                finally:
                    self._batch, self._dropped = [], set()
        finally:
            self._indexer = None

    async def _index(self, batch: list[_IndexJob]) -> None:
        unknown = {j.group_id for j in batch if j.ai_enabled is None}
        # Not read on the send path: ask now, off it.
        allowed = await self._groups.ai_enabled_ids(unknown) if unknown else set()
        # The newest text per message (a send and its edit may share a batch).
        newest = {j.message_id: j for j in batch if j.ai_enabled or j.group_id in allowed}
        jobs = list(newest.values())
        if not jobs:
            return
        keys = [self._keys.embedding_key(str(j.group_id)) for j in jobs]
        try:
            vectors = await self._guard.embed([j.text for j in jobs], keys)
        except AIUnavailable:
            log.info("embedding_skipped", messages=len(jobs))
            return
        await self._embeddings.delete_messages([j.message_id for j in jobs if j.replace])
        rows = [
            VectorRow(j.group_id, j.message_id, j.sender_id, v)
            for j, v in zip(jobs, vectors, strict=True)
            if j.message_id not in self._dropped
        ]
        await self._embeddings.insert_many(rows, self.model, self._clock.now())
        if gone := [r.message_id for r in rows if r.message_id in self._dropped]:
            await self._embeddings.delete_messages(gone)  # deleted during the write

    # --- search -------------------------------------------------------------

    async def search(self, group: Group, query: str, limit: int) -> list[dict[str, Any]]:
        """Hits {message, score}, best first; deleted messages never appear."""
        if not self._indexing:
            raise AIUnavailable("Semantic search is turned off on this server (AI_INDEXING)")
        key = self._keys.embedding_key(group.gid)
        vector = (await self._guard.embed([query], [key]))[0]
        found = await self._embeddings.search(group.id, self.model, vector, limit * 2 + 5)
        found = [(mid, score) for mid, score in found if score >= MIN_SCORE]
        live = await self._messages.by_ids(group.id, [mid for mid, _ in found])
        hits = [
            {"message": self._renderer.render(live[mid]), "score": round(score, 4)}
            for mid, score in found
            if mid in live
        ]
        return hits[:limit]
