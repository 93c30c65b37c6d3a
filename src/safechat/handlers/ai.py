"""Socket events for AI: acked at once, answered later by an event."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import structlog

from safechat.errors import AIUnavailable, ChatError
from safechat.handlers.boundary import Boundary, parse
from safechat.models.ai import RateSuggestion, SmartRepliesRequest, TypingSuggestionsRequest
from safechat.models.common import iso
from safechat.services.ai.service import AIService
from safechat.services.connections import LiveSocket
from safechat.services.ports import SystemClock

log = structlog.get_logger("safechat.ai")
CHANNEL = "ai_error"


class AIHandlers:
    def __init__(self, boundary: Boundary, ai: AIService) -> None:
        self._b = boundary
        self._ai = ai
        self._clock = SystemClock()

    def register(self) -> None:
        on = self._b.event
        on("request_smart_replies", CHANNEL)(self.request_smart_replies)
        on("request_typing_suggestions", CHANNEL)(self.request_typing_suggestions)
        on("rate_ai_suggestion", CHANNEL)(self.rate_ai_suggestion)

    async def _answer(
        self, sid: str, request_id: str, event: str, work: Awaitable[dict[str, Any]]
    ) -> None:
        """Runs in a tracked background task: the result event, or `ai_error`."""
        try:
            result = await work
        except ChatError as exc:
            await self._error(sid, request_id, exc)
            return
        except Exception:
            log.exception("ai_request_failed", event=event)
            await self._error(sid, request_id, AIUnavailable())
            return
        await self._b.sio.emit(event, {"requestId": request_id, **result}, to=sid)

    async def _error(self, sid: str, request_id: str, exc: ChatError) -> None:
        body = {**exc.to_dict(), "requestId": request_id, "timestamp": iso(self._clock.now())}
        await self._b.sio.emit(CHANNEL, body, to=sid)

    async def request_smart_replies(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(SmartRepliesRequest, payload)
        group = await self._ai.admit(live.user_id, body.groupId)
        request_id = self._ai.issue(live.user_id, group, "smart_replies")
        work = self._ai.smart_replies(
            group, live.user_id, message_id=body.messageId, message_content=body.messageContent
        )
        self._ai.tasks.spawn(self._answer(live.sid, request_id, "smart_replies_complete", work))
        return {"requestId": request_id}

    async def request_typing_suggestions(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(TypingSuggestionsRequest, payload)
        group = await self._ai.admit(live.user_id, body.groupId)
        request_id = self._ai.issue(live.user_id, group, "typing")
        work = self._ai.typing_suggestion(group, live.user_id, body.typed())
        # One per socket: a newer request cancels the one still running.
        self._ai.tasks.spawn(
            self._answer(live.sid, request_id, "typing_suggestion", work), key=f"typing:{live.sid}"
        )
        return {"requestId": request_id}

    async def rate_ai_suggestion(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(RateSuggestion, payload)
        await self._ai.rate(live.user_id, body)
        return {}
