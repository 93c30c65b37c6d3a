"""/api/messages: history, send, edit, edit history, delete, read."""

from __future__ import annotations

from aiohttp import web

from safechat.container import SERVICES
from safechat.errors import ErrorCode
from safechat.models.message import EditMessageBody, HistoryQuery, MarkMessagesRead, SendMessage
from safechat.models.responses import (
    EditHistoryResponse,
    HistoryResponse,
    MessageDeletedResponse,
    MessageResponse,
    MessagesReadResponse,
    SentMessageResponse,
)
from safechat.routes.common import ok, path_id, read_body, read_query, user_id
from safechat.routes.spec import api, register
from safechat.services.messages.service import MessageService
from safechat.services.ratelimit import enforce

IN_GROUP = (ErrorCode.GROUP_NOT_FOUND, ErrorCode.ACCESS_DENIED)
MESSAGE_NOT_FOUND, NOT_FOUND = ErrorCode.MESSAGE_NOT_FOUND, ErrorCode.NOT_FOUND
CONFLICT, MESSAGE_TOO_LONG = ErrorCode.CONFLICT, ErrorCode.MESSAGE_TOO_LONG
CONTENT_REJECTED = ErrorCode.CONTENT_REJECTED


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
    register(
        app,
        [
            api(
                "GET",
                "/api/messages/group/{groupId}",
                history,
                "History, oldest first",
                tag="messages",
                query=HistoryQuery,
                ok={200: HistoryResponse},
                errors=(*IN_GROUP, MESSAGE_NOT_FOUND),
            ),
            api(
                "POST",
                "/api/messages",
                send,
                "Send a message",
                tag="messages",
                body=SendMessage,
                ok={201: SentMessageResponse, 200: SentMessageResponse},
                errors=(
                    *IN_GROUP,
                    MESSAGE_NOT_FOUND,
                    NOT_FOUND,
                    CONFLICT,
                    MESSAGE_TOO_LONG,
                    CONTENT_REJECTED,
                ),
                description="201 with the new message; a repeated `tempId` answers 200 "
                "with the first one (`duplicate: true`).",
            ),
            api(
                "POST",
                "/api/messages/read",
                read,
                "Mark messages read",
                tag="messages",
                body=MarkMessagesRead,
                ok={200: MessagesReadResponse},
                errors=IN_GROUP,
            ),
            api(
                "PATCH",
                "/api/messages/{id}",
                edit,
                "Edit a message (sender)",
                tag="messages",
                body=EditMessageBody,
                ok={200: MessageResponse},
                errors=(*IN_GROUP, MESSAGE_NOT_FOUND, MESSAGE_TOO_LONG, CONTENT_REJECTED),
            ),
            api(
                "GET",
                "/api/messages/{id}/history",
                edit_history,
                "A message's edit history",
                tag="messages",
                ok={200: EditHistoryResponse},
                errors=(*IN_GROUP, MESSAGE_NOT_FOUND),
            ),
            api(
                "DELETE",
                "/api/messages/{id}",
                delete,
                "Delete a message",
                tag="messages",
                ok={200: MessageDeletedResponse},
                errors=(*IN_GROUP, MESSAGE_NOT_FOUND),
            ),
        ],
    )
