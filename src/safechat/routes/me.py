"""GET/PATCH /api/me."""

from __future__ import annotations

from aiohttp import web

from safechat.container import SERVICES
from safechat.models.user import UpdateMe
from safechat.routes.common import add_api_routes, ok, read_body, user_id


async def get_me(request: web.Request) -> web.Response:
    user = await request.app[SERVICES].users.me(user_id(request))
    return ok({"user": user.profile()})


async def patch_me(request: web.Request) -> web.Response:
    body = await read_body(request, UpdateMe)
    user = await request.app[SERVICES].users.update_me(user_id(request), body)
    return ok({"user": user.profile()})


def setup(app: web.Application) -> None:
    add_api_routes(app, [web.get("/api/me", get_me), web.patch("/api/me", patch_me)])
