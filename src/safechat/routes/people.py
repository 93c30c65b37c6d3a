"""§8 people routes: direct conversations, the user directory, blocks, bans, settings."""

from __future__ import annotations

from aiohttp import web

from safechat.container import SERVICES
from safechat.models.people import BanUser, BlockUser, GroupSettings, OpenDirect, UserSearchQuery
from safechat.routes.common import add_api_routes, ok, path_id, read_body, read_query, user_id
from safechat.services.people.service import PeopleService


def _svc(request: web.Request) -> PeopleService:
    return request.app[SERVICES].people


def _user_path(request: web.Request) -> str:
    value = request.match_info["userId"]
    if not value or len(value) > 200:
        raise web.HTTPNotFound()
    return value


async def open_direct(request: web.Request) -> web.Response:
    body = await read_body(request, OpenDirect)
    opened = await _svc(request).open_direct(user_id(request), body.userId)
    return ok({"group": opened.group}, status=201 if opened.created else 200)


async def search_users(request: web.Request) -> web.Response:
    query = read_query(request, UserSearchQuery)
    return ok({"users": await _svc(request).search_users(user_id(request), query)})


async def get_user(request: web.Request) -> web.Response:
    return ok({"user": await _svc(request).user(_user_path(request))})


async def block(request: web.Request) -> web.Response:
    body = await read_body(request, BlockUser)
    return ok({"block": await _svc(request).block(user_id(request), body.userId)}, status=201)


async def unblock(request: web.Request) -> web.Response:
    target = _user_path(request)
    await _svc(request).unblock(user_id(request), target)
    return ok({"userId": target})


async def blocks(request: web.Request) -> web.Response:
    return ok({"blocks": await _svc(request).blocks(user_id(request))})


async def update_settings(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    body = await read_body(request, GroupSettings)
    return ok({"group": await _svc(request).update_settings(user_id(request), gid, body)})


async def ban(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    body = await read_body(request, BanUser)
    return ok({"ban": await _svc(request).ban(user_id(request), gid, body)}, status=201)


async def unban(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    target = _user_path(request)
    await _svc(request).unban(user_id(request), gid, target)
    return ok({"groupId": gid, "userId": target})


async def bans(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    return ok({"bans": await _svc(request).bans(user_id(request), gid)})


def setup(app: web.Application) -> None:
    add_api_routes(
        app,
        [
            web.post("/api/dms", open_direct),
            web.get("/api/users/search", search_users),
            web.get("/api/users/{userId}", get_user),
            web.post("/api/me/blocks", block),
            web.get("/api/me/blocks", blocks),
            web.delete("/api/me/blocks/{userId}", unblock),
            web.put("/api/groups/{id}/settings", update_settings),
            web.post("/api/groups/{id}/bans", ban),
            web.get("/api/groups/{id}/bans", bans),
            web.delete("/api/groups/{id}/bans/{userId}", unban),
        ],
    )
