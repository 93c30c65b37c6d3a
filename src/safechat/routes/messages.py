"""/api/messages: history, send, edit, edit history, delete, read."""

from __future__ import annotations

from aiohttp import web

from safechat.container import SERVICES
from safechat.models.message import EditMessageBody, HistoryQuery, MarkMessagesRead, SendMessage
from safechat.routes.common import add_api_routes, ok, path_id, read_body, read_query, user_id
from safechat.services.messages.service import MessageService
from safechat.services.ratelimit import enforce


def _svc(request: web.Request) -> MessageService:
    return request.app[SERVICES].messages


async def history(request: web.Request) -> web.Response:
    gid = path_id(request, "groupId")
    query = read_query(request, HistoryQuery)
    return ok(await _svc(request).history(user_id(request), gid, query))


async def send(request: web.Request) -> web.Response:
    body = await read_body(request, SendMessage)
    services = request.app[SERVICES]
    await enforce(services.limiter, user_id(request), services.limits.send)
    result = await _svc(request).send(user_id(request), body)
    # A repeated tempId created nothing: 200 with the first message, not 201.
    status = 200 if result.duplicate else 201
    return ok({"message": result.message, "duplicate": result.duplicate}, status=status)


async def edit(request: web.Request) -> web.Response:
    mid = path_id(request, "id")
    body = await read_body(request, EditMessageBody)
    return ok({"message": await _svc(request).edit(user_id(request), mid, body.content)})


async def edit_history(request: web.Request) -> web.Response:
    mid = path_id(request, "id")
    return ok({"messageId": mid, "history": await _svc(request).history_of(user_id(request), mid)})


async def delete(request: web.Request) -> web.Response:
    mid = path_id(request, "id")
    return ok(await _svc(request).delete(user_id(request), mid))


async def read(request: web.Request) -> web.Response:
    body = await read_body(request, MarkMessagesRead)
    return ok(await _svc(request).mark_many_read(user_id(request), body))


def setup(app: web.Application) -> None:
    add_api_routes(
        app,
        [
            web.get("/api/messages/group/{groupId}", history),
            web.post("/api/messages", send),
            web.post("/api/messages/read", read),
            web.patch("/api/messages/{id}", edit),
            web.get("/api/messages/{id}/history", edit_history),
            web.delete("/api/messages/{id}", delete),
        ],
    )
