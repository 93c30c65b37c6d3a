"""Threads, mentions and pins over REST: GET /api/messages/:id/replies,
GET /api/me/mentions, GET /api/groups/:id/pins."""

from __future__ import annotations

from aiohttp import web

from safechat.container import SERVICES
from safechat.models.threads import MentionsQuery, RepliesQuery
from safechat.routes.common import add_api_routes, ok, path_id, read_query, user_id
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
    add_api_routes(
        app,
        [
            web.get("/api/messages/{id}/replies", replies),
            web.get("/api/me/mentions", mentions),
            web.get("/api/groups/{id}/pins", pins),
        ],
    )
