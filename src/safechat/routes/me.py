"""GET/PATCH /api/me."""

from __future__ import annotations

from aiohttp import web

from safechat.container import SERVICES
from safechat.errors import ErrorCode
from safechat.models.responses import UserResponse
from safechat.models.user import UpdateMe
from safechat.routes.common import ok, read_body, user_id
from safechat.routes.spec import api, register


async def get_me(request: web.Request) -> web.Response:
    user = await request.app[SERVICES].users.me(user_id(request))
    return ok({"user": user.profile()})


async def patch_me(request: web.Request) -> web.Response:
    body = await read_body(request, UpdateMe)
    user = await request.app[SERVICES].users.update_me(user_id(request), body)
    return ok({"user": user.profile()})


def setup(app: web.Application) -> None:
    register(
        app,
        [
            api("GET", "/api/me", get_me, "My profile", tag="me", ok={200: UserResponse}),
            api(
                "PATCH",
                "/api/me",
                patch_me,
                "Update my profile",
                tag="me",
                body=UpdateMe,
                ok={200: UserResponse},
                errors=(ErrorCode.CONFLICT,),
            ),
        ],
    )
