"""Threads, mentions and pins over REST: GET /api/messages/:id/replies,
GET /api/me/mentions, GET /api/groups/:id/pins."""

from __future__ import annotations

from aiohttp import web

from safechat.container import SERVICES
from safechat.errors import ErrorCode
from safechat.models.conversation_responses import MentionsResponse, PinsResponse, RepliesResponse
from safechat.models.threads import MentionsQuery, RepliesQuery
from safechat.routes.common import ok, path_id, read_query, user_id
from safechat.routes.spec import api, register
from safechat.services.messages.service import MessageService


def _svc(request: web.Request) -> MessageService:
    return request.app[SERVICES].messages


async def replies(request: web.Request) -> web.Response:
    mid = path_id(request, "id")
    query = read_query(request, RepliesQuery)
    return ok(await _svc(request).replies(user_id(request), mid, query))


async def mentions(request: web.Request) -> web.Response:
    query = read_query(request, MentionsQuery)
    return ok(await _svc(request).mentions(user_id(request), query))


async def pins(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    return ok(await _svc(request).pins(user_id(request), gid))


def setup(app: web.Application) -> None:
    register(
        app,
        [
            api(
                "GET",
                "/api/messages/{id}/replies",
                replies,
                "A message's thread, oldest first",
                tag="messages",
                query=RepliesQuery,
                ok={200: RepliesResponse},
                errors=(ErrorCode.MESSAGE_NOT_FOUND,),
            ),
            api(
                "GET",
                "/api/me/mentions",
                mentions,
                "Messages that mention me, newest first",
                tag="me",
                query=MentionsQuery,
                ok={200: MentionsResponse},
            ),
            api(
                "GET",
                "/api/groups/{id}/pins",
                pins,
                "A conversation's pinned messages, newest pin first",
                tag="groups",
                ok={200: PinsResponse},
                errors=(ErrorCode.GROUP_NOT_FOUND, ErrorCode.ACCESS_DENIED),
            ),
        ],
    )
