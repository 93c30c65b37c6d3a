"""/api/ai and message search: the REST side of the AI features (synchronous)."""

from __future__ import annotations

from aiohttp import web

from safechat.container import SERVICES
from safechat.errors import ErrorCode
from safechat.models.ai import (
    FeedbackSummaryQuery,
    ModerateBody,
    RateSuggestion,
    SearchBody,
    SearchQuery,
    SmartRepliesRequest,
    SummarizeBody,
    TypingSuggestionsRequest,
)
from safechat.models.common import parse_iso
from safechat.models.responses import (
    FeedbackSummaryResponse,
    ModerationResponse,
    Ok,
    SearchResponse,
    SmartRepliesResponse,
    SummaryResponse,
    TypingSuggestionResponse,
)
from safechat.routes.common import ok, path_id, read_body, read_query, user_id
from safechat.routes.spec import api, register
from safechat.services.ai.service import AIService

IN_GROUP = (ErrorCode.GROUP_NOT_FOUND, ErrorCode.ACCESS_DENIED)
AI_UNAVAILABLE = ErrorCode.AI_UNAVAILABLE
AI = (*IN_GROUP, AI_UNAVAILABLE)


def _svc(request: web.Request) -> AIService:
    return request.app[SERVICES].ai


async def smart_replies(request: web.Request) -> web.Response:
    body = await read_body(request, SmartRepliesRequest)
    ai, uid = _svc(request), user_id(request)
    group = await ai.admit(uid, body.groupId)
    request_id = ai.issue(uid, group, "smart_replies")
    result = await ai.smart_replies(
        group, uid, message_id=body.messageId, message_content=body.messageContent
    )
    return ok({"requestId": request_id, **result})


async def typing_suggestions(request: web.Request) -> web.Response:
    body = await read_body(request, TypingSuggestionsRequest)
    ai, uid = _svc(request), user_id(request)
    group = await ai.admit(uid, body.groupId)
    request_id = ai.issue(uid, group, "typing")
    return ok({"requestId": request_id, **await ai.typing_suggestion(group, uid, body.typed())})


async def moderate_content(request: web.Request) -> web.Response:
    body = await read_body(request, ModerateBody)
    return ok(await _svc(request).moderate(user_id(request), body.content))


async def summarize(request: web.Request) -> web.Response:
    body = await read_body(request, SummarizeBody)
    return ok(await _svc(request).summarize(user_id(request), body.groupId, body.since_time()))


async def search(request: web.Request) -> web.Response:
    body = await read_body(request, SearchBody)
    return ok(await _svc(request).search(user_id(request), body.groupId, body.query, body.limit))


async def search_group(request: web.Request) -> web.Response:
    gid = path_id(request, "groupId")
    query = read_query(request, SearchQuery)
    return ok(await _svc(request).search(user_id(request), gid, query.q, query.limit))


async def feedback(request: web.Request) -> web.Response:
    body = await read_body(request, RateSuggestion)
    await _svc(request).rate(user_id(request), body)
    return ok(status=201)


async def feedback_summary(request: web.Request) -> web.Response:
    query = read_query(request, FeedbackSummaryQuery)
    since = parse_iso(query.since) if query.since else None
    return ok(await _svc(request).feedback_summary(user_id(request), query.groupId, since))


def setup(app: web.Application) -> None:
    register(
        app,
        [
            api(
                "POST",
                "/api/ai/smart-replies",
                smart_replies,
                "Smart replies",
                tag="ai",
                body=SmartRepliesRequest,
                ok={200: SmartRepliesResponse},
                errors=AI,
            ),
            api(
                "POST",
                "/api/ai/typing-suggestions",
                typing_suggestions,
                "Complete a draft",
                tag="ai",
                body=TypingSuggestionsRequest,
                ok={200: TypingSuggestionResponse},
                errors=AI,
            ),
            api(
                "POST",
                "/api/ai/moderate-content",
                moderate_content,
                "Moderate a text",
                tag="ai",
                body=ModerateBody,
                ok={200: ModerationResponse},
                errors=(AI_UNAVAILABLE,),
            ),
            api(
                "POST",
                "/api/ai/summarize",
                summarize,
                "Summarize a group's recent messages",
                tag="ai",
                body=SummarizeBody,
                ok={200: SummaryResponse},
                errors=AI,
            ),
            api(
                "POST",
                "/api/ai/search",
                search,
                "Search a group's messages",
                tag="ai",
                body=SearchBody,
                ok={200: SearchResponse},
                errors=AI,
            ),
            api(
                "POST",
                "/api/ai/feedback",
                feedback,
                "Rate a suggestion",
                tag="ai",
                body=RateSuggestion,
                ok={201: Ok},
            ),
            api(
                "GET",
                "/api/ai/feedback/summary",
                feedback_summary,
                "Suggestion ratings (owner, admin)",
                tag="ai",
                query=FeedbackSummaryQuery,
                ok={200: FeedbackSummaryResponse},
                errors=IN_GROUP,
            ),
            api(
                "GET",
                "/api/messages/group/{groupId}/search",
                search_group,
                "Search a group's messages",
                tag="ai",
                query=SearchQuery,
                ok={200: SearchResponse},
                errors=AI,
            ),
        ],
    )
