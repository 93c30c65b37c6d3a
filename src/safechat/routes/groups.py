"""/api/groups: groups and membership."""

from __future__ import annotations

from aiohttp import web

from safechat.container import SERVICES
from safechat.models.group import (
    AddMember,
    ChangeRole,
    CreateGroup,
    DiscoverQuery,
    TransferOwnership,
    UpdateGroup,
)
from safechat.routes.common import add_api_routes, ok, path_id, read_body, read_query, user_id
from safechat.services.groups.service import GroupService


def _svc(request: web.Request) -> GroupService:
    return request.app[SERVICES].groups


def _member_path(request: web.Request) -> str:
    value = request.match_info["userId"]
    if not value or len(value) > 200:
        raise web.HTTPNotFound()
    return value


async def create(request: web.Request) -> web.Response:
    body = await read_body(request, CreateGroup)
    return ok({"group": await _svc(request).create(user_id(request), body)}, status=201)


async def mine(request: web.Request) -> web.Response:
    return ok({"groups": await _svc(request).mine(user_id(request))})


async def discover(request: web.Request) -> web.Response:
    return ok(await _svc(request).discover(read_query(request, DiscoverQuery)))


async def get_group(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    return ok({"group": await _svc(request).view(user_id(request), gid)})


async def update(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    body = await read_body(request, UpdateGroup)
    return ok({"group": await _svc(request).update(user_id(request), gid, body)})


async def delete(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    await _svc(request).delete(user_id(request), gid)
    return ok({"groupId": gid})


async def join(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    return ok({"group": await _svc(request).join(user_id(request), gid)})


async def leave(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    await _svc(request).leave(user_id(request), gid)
    return ok({"groupId": gid})


async def members(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    return ok({"members": await _svc(request).members(user_id(request), gid)})


async def add_member(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    body = await read_body(request, AddMember)
    return ok(await _svc(request).add_member(user_id(request), gid, body), status=201)


async def change_role(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    target = _member_path(request)
    body = await read_body(request, ChangeRole)
    result = await _svc(request).change_role(user_id(request), gid, target, body.role)
    return ok({"members": result})


async def remove_member(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    target = _member_path(request)
    await _svc(request).remove_member(user_id(request), gid, target)
    return ok({"groupId": gid, "userId": target})


async def transfer(request: web.Request) -> web.Response:
    gid = path_id(request, "id")
    body = await read_body(request, TransferOwnership)
    return ok({"group": await _svc(request).transfer(user_id(request), gid, body.userId)})


def setup(app: web.Application) -> None:
    add_api_routes(
        app,
        [
            web.post("/api/groups", create),
            web.get("/api/groups", mine),
            web.get("/api/groups/my-groups", mine),
            web.get("/api/groups/discover", discover),
            web.get("/api/groups/{id}", get_group),
            web.patch("/api/groups/{id}", update),
            web.delete("/api/groups/{id}", delete),
            web.post("/api/groups/{id}/join", join),
            web.post("/api/groups/{id}/leave", leave),
            web.get("/api/groups/{id}/members", members),
            web.post("/api/groups/{id}/members", add_member),
            web.patch("/api/groups/{id}/members/{userId}", change_role),
            web.delete("/api/groups/{id}/members/{userId}", remove_member),
            web.post("/api/groups/{id}/transfer-ownership", transfer),
        ],
    )
