"""§8 people routes: direct conversations, the user directory, blocks, bans, settings."""

from __future__ import annotations

from aiohttp import web

from safechat.container import SERVICES
from safechat.errors import ErrorCode, UserNotFound
from safechat.models.conversation_responses import (
    BanLiftedResponse,
    BanResponse,
    BansResponse,
    BlockResponse,
    BlocksResponse,
    UserIdResponse,
    UsersResponse,
    UserSummaryResponse,
)
from safechat.models.people import BanUser, BlockUser, GroupSettings, OpenDirect, UserSearchQuery
from safechat.models.responses import GroupResponse
from safechat.routes.common import ok, path_id, read_body, read_query, user_id
from safechat.routes.spec import api, register
from safechat.services.people.service import PeopleService


def _svc(request: web.Request) -> PeopleService:
    return request.app[SERVICES].people


def _user_path(request: web.Request) -> str:
    value = request.match_info["userId"]
    if not value or len(value) > 200:
        raise UserNotFound()  # no user has such an id
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


ACCESS_DENIED, USER_NOT_FOUND = ErrorCode.ACCESS_DENIED, ErrorCode.USER_NOT_FOUND
GROUP_NOT_FOUND, CONFLICT = ErrorCode.GROUP_NOT_FOUND, ErrorCode.CONFLICT


def setup(app: web.Application) -> None:
    register(
        app,
        [
            api(
                "POST",
                "/api/dms",
                open_direct,
                "Open the direct conversation with a user",
                tag="people",
                body=OpenDirect,
                ok={201: GroupResponse, 200: GroupResponse},
                errors=(USER_NOT_FOUND, ACCESS_DENIED),
                description="201 when it was created, 200 when it existed: one per pair.",
            ),
            api(
                "GET",
                "/api/users/search",
                search_users,
                "Find users by name prefix",
                tag="people",
                query=UserSearchQuery,
                ok={200: UsersResponse},
            ),
            api(
                "GET",
                "/api/users/{userId}",
                get_user,
                "One user's summary",
                tag="people",
                ok={200: UserSummaryResponse},
                errors=(USER_NOT_FOUND,),
            ),
            api(
                "POST",
                "/api/me/blocks",
                block,
                "Block a user",
                tag="people",
                body=BlockUser,
                ok={201: BlockResponse},
                errors=(USER_NOT_FOUND,),
            ),
            api(
                "GET",
                "/api/me/blocks",
                blocks,
                "Users I block",
                tag="people",
                ok={200: BlocksResponse},
            ),
            api(
                "DELETE",
                "/api/me/blocks/{userId}",
                unblock,
                "Unblock a user",
                tag="people",
                ok={200: UserIdResponse},
                errors=(USER_NOT_FOUND,),
            ),
            api(
                "PUT",
                "/api/groups/{id}/settings",
                update_settings,
                "My settings of a conversation (mute)",
                tag="groups",
                body=GroupSettings,
                ok={200: GroupResponse},
                errors=(GROUP_NOT_FOUND, ACCESS_DENIED),
            ),
            api(
                "POST",
                "/api/groups/{id}/bans",
                ban,
                "Ban a user from a group",
                tag="groups",
                body=BanUser,
                ok={201: BanResponse},
                errors=(GROUP_NOT_FOUND, ACCESS_DENIED, USER_NOT_FOUND, CONFLICT),
            ),
            api(
                "GET",
                "/api/groups/{id}/bans",
                bans,
                "A group's bans",
                tag="groups",
                ok={200: BansResponse},
                errors=(GROUP_NOT_FOUND, ACCESS_DENIED),
            ),
            api(
                "DELETE",
                "/api/groups/{id}/bans/{userId}",
                unban,
                "Lift a ban",
                tag="groups",
                ok={200: BanLiftedResponse},
                errors=(GROUP_NOT_FOUND, ACCESS_DENIED, USER_NOT_FOUND),
            ),
        ],
    )
