"""GET/PATCH/DELETE /api/me and GET /api/me/export."""

from __future__ import annotations

import json

from aiohttp import web

from safechat.container import SERVICES
from safechat.errors import ErrorCode
from safechat.models.conversation_responses import AccountErasedResponse, AccountExportResponse
from safechat.models.responses import UserResponse
from safechat.models.user import UpdateMe
from safechat.routes.common import ok, read_body, user_id
from safechat.routes.spec import api, register
from safechat.services.ratelimit import enforce


async def get_me(request: web.Request) -> web.Response:
    user = await request.app[SERVICES].users.me(user_id(request))
    return ok({"user": user.profile()})


async def patch_me(request: web.Request) -> web.Response:
    body = await read_body(request, UpdateMe)
    user = await request.app[SERVICES].users.update_me(user_id(request), body)
    return ok({"user": user.profile()})


async def export_me(request: web.Request) -> web.StreamResponse:
    """One JSON document, streamed a section (and a page of messages) at a time."""
    services = request.app[SERVICES]
    uid = user_id(request)
    await enforce(services.limiter, uid, services.limits.account)
    sections = aiter(services.account.export.sections(uid))
    first = await anext(sections)  # UserNotFound here still answers as an error
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Content-Disposition": 'attachment; filename="safechat-export.json"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    await response.write(b'{"success":true,' + _pair(*first))
    in_messages = False
    async for name, value in sections:
        if name == "messages":
            for message in value:
                sep = b"," if in_messages else b',"messages":['
                await response.write(sep + json.dumps(message).encode())
                in_messages = True
            continue
        await response.write(b"," + _pair(name, value))
    await response.write(b"]}" if in_messages else b',"messages":[]}')
    await response.write_eof()
    return response


def _pair(name: str, value: object) -> bytes:
    return json.dumps(name).encode() + b":" + json.dumps(value).encode()


async def delete_me(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    uid = user_id(request)
    await enforce(services.limiter, uid, services.limits.account)
    return ok({"erased": await services.account.eraser.erase(uid)})


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
            api(
                "DELETE",
                "/api/me",
                delete_me,
                "Erase my account",
                tag="me",
                ok={200: AccountErasedResponse},
                errors=(ErrorCode.USER_NOT_FOUND,),
                description="Erases the caller's account on this deployment (protocol §11). "
                "Rate limited by the `account` bucket.",
            ),
            api(
                "GET",
                "/api/me/export",
                export_me,
                "Export my data",
                tag="me",
                ok={200: AccountExportResponse},
                errors=(ErrorCode.USER_NOT_FOUND,),
                description="One JSON document with everything SafeChat holds about the "
                "caller, streamed. Rate limited by the `account` bucket.",
            ),
        ],
    )
