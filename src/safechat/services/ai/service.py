"""AI requests: smart replies, typing suggestions, summaries, search,
moderation on demand, and feedback on suggestions (docs/ai.md)."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId

from safechat.errors import AccessDenied, ValidationFailed
from safechat.models.ai import RateSuggestion
from safechat.models.common import iso
from safechat.models.group import Group, Role
from safechat.models.message import StoredMessage
from safechat.repositories.ai_feedback import FeedbackRepository
from safechat.repositories.messages import MessageRepository
from safechat.services.ai.content import ContentAI
from safechat.services.ai.graphs import Pipelines
from safechat.services.ai.guard import GuardedAI
from safechat.services.ai.schemas import Turn
from safechat.services.groups.service import GroupService
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.ports import Clock, Limit, RateLimiter
from safechat.services.ratelimit import enforce
from safechat.services.tasks import TaskTracker
from safechat.services.users import UserService

# Requests are remembered this long (and this many) so ratings can be attributed.
REMEMBER_SECONDS = 3600.0
REMEMBER_MAX = 10_000
SUMMARY_DEFAULT = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Issued:
    user_id: str
    group_id: ObjectId
    kind: str
    at: float


class AIService:
    def __init__(
        self,
        groups: GroupService,
        messages: MessageRepository,
        users: UserService,
        renderer: MessageRenderer,
        guard: GuardedAI,
        content: ContentAI,
        feedback: FeedbackRepository,
        limiter: RateLimiter,
        limit: Limit,
        tasks: TaskTracker,
        clock: Clock,
        *,
        context_messages: int = 20,
    ) -> None:
        self._groups = groups
        self._messages = messages
        self._users = users
        self._renderer = renderer
        self.guard = guard
        self.content = content
        self._feedback = feedback
        self._limiter = limiter
        self._limit = limit
        self.tasks = tasks
        self._clock = clock
        self._issued: OrderedDict[str, Issued] = OrderedDict()
        self.pipelines = Pipelines(self, guard, context_messages=context_messages)

    # --- admission: membership, aiEnabled, rate limit ------------------------

    async def admit(self, user_id: str, group_id: str) -> Group:
        """Checks done before any AI work starts (and before a socket ack)."""
        group = await self._groups.require_member(group_id, user_id)
        if not group.ai_enabled:
            raise AccessDenied("AI features are turned off for this group")
        await enforce(self._limiter, user_id, self._limit)
        return group

    def issue(self, user_id: str, group: Group, kind: str) -> str:
        request_id = uuid.uuid4().hex
        now = self._clock.monotonic()
        self._issued[request_id] = Issued(user_id, group.id, kind, now)
        while self._issued:
            oldest = next(iter(self._issued.values()))
            if len(self._issued) <= REMEMBER_MAX and now - oldest.at < REMEMBER_SECONDS:
                break
            self._issued.popitem(last=False)
        return request_id

    # --- ConversationSource for the graphs ------------------------------------

    async def _turns(self, found: list[StoredMessage], viewer: str) -> list[Turn]:
        live = [m for m in found if not m.is_deleted and m.type != "system"]
        names = await self._users.summaries(m.sender_id for m in live)
        turns = []
        for m in live:
            text = self._renderer.plaintext(m.content, str(m.group_id), str(m.id))
            if text.strip():
                who = names.get(m.sender_id, {})
                name = who.get("firstName") or who.get("username") or "someone"
                turns.append(Turn(sender=str(name), text=text, own=m.sender_id == viewer))
        return turns

    async def recent(self, group: Group, viewer: str, limit: int) -> list[Turn]:
        return await self._turns(
            await self._messages.page(group.id, limit, last_seq=group.last_seq), viewer
        )

    async def since(self, group: Group, viewer: str, since: datetime, limit: int) -> list[Turn]:
        return await self._turns(await self._messages.since(group.id, since, limit), viewer)

    async def similar(self, group: Group, text: str, limit: int) -> list[str]:
        hits = await self.content.search(group, text, limit)
        return [h["message"]["content"] for h in hits if h["message"]["content"] != text]

    # --- requests -------------------------------------------------------------

    async def smart_replies(
        self,
        group: Group,
        user_id: str,
        *,
        message_id: str | None = None,
        message_content: str | None = None,
    ) -> dict[str, Any]:
        started = time.perf_counter()  # measurement only (processingTime), not a rule
        if message_id is not None:
            message = await self._messages.get(ObjectId(message_id))
            if message is None or message.group_id != group.id or message.is_deleted:
                raise ValidationFailed("messageId does not name a message of this group")
            message_content = self._renderer.plaintext(message.content, group.gid, message_id)
        state = await self.pipelines.smart_replies.ainvoke(
            {"group": group, "user_id": user_id, "message_content": message_content}
        )
        return {
            "groupId": group.gid,
            "suggestions": state["replies"],
            "confidence": round(float(state["confidence"]), 3),
            "processingTime": round((time.perf_counter() - started) * 1000),
            "provider": state["provider"],
        }

    async def typing_suggestion(
        self, group: Group, user_id: str, partial_text: str
    ) -> dict[str, Any]:
        state = await self.pipelines.typing.ainvoke(
            {"group": group, "user_id": user_id, "partial_text": partial_text}
        )
        completion = state["completion"]
        return {
            "groupId": group.gid,
            "suggestion": completion,
            "text": partial_text + completion if completion else partial_text,
            "confidence": round(float(state["confidence"]), 3),
            "provider": state["provider"],
        }

    async def summarize(
        self, user_id: str, group_id: str, since: datetime | None
    ) -> dict[str, Any]:
        group = await self.admit(user_id, group_id)
        start = since or self._clock.now() - SUMMARY_DEFAULT
        state = await self.pipelines.summarize.ainvoke(
            {"group": group, "user_id": user_id, "since": start}
        )
        return {
            "groupId": group.gid,
            "since": iso(start),
            "messageCount": len(state["context"]),
            "summary": state["summary"],
            "topics": state["topics"],
            "provider": state["provider"],
        }

    async def search(self, user_id: str, group_id: str, query: str, limit: int) -> dict[str, Any]:
        group = await self.admit(user_id, group_id)
        return {
            "groupId": group.gid,
            "query": query,
            "hits": await self.content.search(group, query, limit),
        }

    async def moderate(self, user_id: str, content: str) -> dict[str, Any]:
        await enforce(self._limiter, user_id, self._limit)
        verdict, provider = await self.content.verdict(content, local=False)
        return {**verdict.to_wire(), "provider": provider}

    # --- feedback -------------------------------------------------------------

    async def rate(self, user_id: str, body: RateSuggestion) -> None:
        issued = self._issued.get(body.requestId)
        if issued is None or issued.user_id != user_id:
            raise ValidationFailed("Unknown or expired requestId")
        await self._feedback.insert(
            {
                "requestId": body.requestId,
                "groupId": issued.group_id,
                "userId": user_id,
                "kind": issued.kind,
                "rating": body.rating,
                "suggestion": body.suggestion,
                "feedback": body.feedback,
                "provider": self.guard.primary.name,
                "createdAt": self._clock.now(),
            }
        )

    async def feedback_summary(
        self, user_id: str, group_id: str, since: datetime | None
    ) -> dict[str, Any]:
        """Counts by rating for a group's owner and admins."""
        group = await self._groups.require_role(group_id, user_id, Role.ADMIN)
        counts = await self._feedback.counts(group.id, since)
        totals: dict[str, int] = {"positive": 0, "negative": 0}
        for ratings in counts.values():
            for rating, n in ratings.items():
                totals[rating] = totals.get(rating, 0) + n
        return {"groupId": group.gid, "totals": totals, "byKind": counts}
