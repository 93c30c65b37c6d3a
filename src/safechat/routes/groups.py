"""/api/groups: groups and membership."""

from __future__ import annotations

from aiohttp import web

from safechat.container import SERVICES
from safechat.errors import ErrorCode
from safechat.models.group import (
    AddMember,
    ChangeRole,
    CreateGroup,
    DiscoverQuery,
    TransferOwnership,
    UpdateGroup,
)
from safechat.models.responses import (
    DiscoverResponse,
    GroupIdResponse,
    GroupListResponse,
    GroupResponse,
    GroupViewResponse,
    MemberRemovedResponse,
    MembersResponse,
)
from safechat.routes.common import ok, path_id, read_body, read_query, user_id
from safechat.routes.spec import api, register
from safechat.services.groups.service import GroupService

ACCESS_DENIED, CONFLICT = ErrorCode.ACCESS_DENIED, ErrorCode.CONFLICT
GROUP_NOT_FOUND, USER_NOT_FOUND = ErrorCode.GROUP_NOT_FOUND, ErrorCode.USER_NOT_FOUND
NOT_FOUND = ErrorCode.NOT_FOUND
MANAGE = (GROUP_NOT_FOUND, ACCESS_DENIED, CONFLICT)


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
    register(
        app,
        [
            api(
                "POST",
                "/api/groups",
                create,
                "Create a group",
                tag="groups",
                body=CreateGroup,
                ok={201: GroupResponse},
                errors=(USER_NOT_FOUND, CONFLICT),
            ),
            api("GET", "/api/groups", mine, "My groups", tag="groups", ok={200: GroupListResponse}),
            api(
                "GET",
                "/api/groups/my-groups",
                mine,
                "My groups (alias)",
                tag="groups",
                name="my_groups",
                ok={200: GroupListResponse},
            ),
            api(
                "GET",
                "/api/groups/discover",
                discover,
                "Public groups, newest first",
                tag="groups",
                query=DiscoverQuery,
                ok={200: DiscoverResponse},
            ),
            api(
                "GET",
                "/api/groups/{id}",
                get_group,
                "One group",
                tag="groups",
                ok={200: GroupViewResponse},
                errors=(GROUP_NOT_FOUND, ACCESS_DENIED),
                description="Members get the summary with `members`; anyone else, for a "
                "public group, the public view.",
            ),
            api(
                "PATCH",
                "/api/groups/{id}",
                update,
                "Update a group (owner, admin)",
                tag="groups",
                body=UpdateGroup,
                ok={200: GroupResponse},
                errors=MANAGE,
            ),
            api(
                "DELETE",
                "/api/groups/{id}",
                delete,
                "Delete a group (owner)",
                tag="groups",
                ok={200: GroupIdResponse},
                errors=MANAGE,
            ),
            api(
                "POST",
                "/api/groups/{id}/join",
                join,
                "Join a public group",
                tag="groups",
                ok={200: GroupResponse},
                errors=MANAGE,
            ),
            api(
                "POST",
                "/api/groups/{id}/leave",
                leave,
                "Leave a group",
                tag="groups",
                ok={200: GroupIdResponse},
                errors=MANAGE,
            ),
            api(
                "GET",
                "/api/groups/{id}/members",
                members,
                "Members",
                tag="groups",
                ok={200: MembersResponse},
                errors=(GROUP_NOT_FOUND, ACCESS_DENIED),
            ),
            api(
                "POST",
                "/api/groups/{id}/members",
                add_member,
                "Add a member",
                tag="groups",
                body=AddMember,
                ok={201: MembersResponse},
                errors=(*MANAGE, USER_NOT_FOUND),
            ),
            api(
                "PATCH",
                "/api/groups/{id}/members/{userId}",
                change_role,
                "Change a member's role (owner)",
                tag="groups",
                body=ChangeRole,
                ok={200: MembersResponse},
                errors=(*MANAGE, NOT_FOUND),
            ),
            api(
                "DELETE",
                "/api/groups/{id}/members/{userId}",
                remove_member,
                "Remove a member (or yourself)",
                tag="groups",
                ok={200: MemberRemovedResponse},
                errors=(*MANAGE, NOT_FOUND),
            ),
            api(
                "POST",
                "/api/groups/{id}/transfer-ownership",
                transfer,
                "Transfer ownership (owner)",
                tag="groups",
                body=TransferOwnership,
                ok={200: GroupResponse},
                errors=MANAGE,
            ),
        ],
    )
