"""Socket events for AI: acked at once, answered later by an event (the boundary's)."""

from __future__ import annotations

from typing import Any

from safechat.events import Event
from safechat.handlers.boundary import Boundary, parse
from safechat.models.ai import RateSuggestion, SmartRepliesRequest, TypingSuggestionsRequest
from safechat.services.ai.service import AIService
from safechat.services.connections import LiveSocket

CHANNEL = Event.AI_ERROR


class AIHandlers:
    def __init__(self, boundary: Boundary, ai: AIService) -> None:
        self._b = boundary
        self._ai = ai

    def register(self) -> None:
        on = self._b.event
        on("request_smart_replies", CHANNEL)(self.request_smart_replies)
        on("request_typing_suggestions", CHANNEL)(self.request_typing_suggestions)
        on("rate_ai_suggestion", CHANNEL)(self.rate_ai_suggestion)

    async def request_smart_replies(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(SmartRepliesRequest, payload)
        group = await self._ai.admit(live.user_id, body.groupId)
        request_id = self._ai.issue(live.user_id, group, "smart_replies")
        work = self._ai.smart_replies(
            group, live.user_id, message_id=body.messageId, message_content=body.messageContent
        )
        answer = self._b.answer_later(
            live.sid, request_id, Event.SMART_REPLIES_COMPLETE, work, CHANNEL
        )
        self._ai.tasks.spawn(answer)
        return {"requestId": request_id}

    async def request_typing_suggestions(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(TypingSuggestionsRequest, payload)
        group = await self._ai.admit(live.user_id, body.groupId)
        request_id = self._ai.issue(live.user_id, group, "typing")
        work = self._ai.typing_suggestion(group, live.user_id, body.typed())
        answer = self._b.answer_later(live.sid, request_id, Event.TYPING_SUGGESTION, work, CHANNEL)
        # One per socket: a newer request cancels the one still running.
        self._ai.tasks.spawn(answer, key=f"typing:{live.sid}")
        return {"requestId": request_id}

    async def rate_ai_suggestion(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(RateSuggestion, payload)
        await self._ai.rate(live.user_id, body)
        return {}
