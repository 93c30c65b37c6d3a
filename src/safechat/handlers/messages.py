"""Socket events about messages."""

from __future__ import annotations

from typing import Any

from safechat.events import Event
from safechat.handlers.boundary import Boundary, parse
from safechat.models.message import (
    DeleteMessage,
    EditMessage,
    MarkMessageRead,
    MarkMessagesRead,
    ReactMessage,
    SendMessage,
    SyncRequest,
)
from safechat.models.threads import PinMessage
from safechat.services.connections import LiveSocket
from safechat.services.messages.service import MessageService

CHANNEL = Event.MESSAGE_ERROR


class MessageHandlers:
    def __init__(self, boundary: Boundary, messages: MessageService) -> None:
        self._b = boundary
        self._messages = messages

    def register(self) -> None:
        on = self._b.event
        on("send_message", CHANNEL, per_user=self._b.limits.send, timed=True)(self.send_message)
        on("edit_message", CHANNEL)(self.edit_message)
        on("delete_message", CHANNEL)(self.delete_message)
        on("react_message", CHANNEL)(self.react_message)
        on("mark_message_read", CHANNEL)(self.mark_message_read)
        on("mark_messages_read", CHANNEL)(self.mark_messages_read)
        on("sync", CHANNEL)(self.sync)
        on("pin_message", CHANNEL)(self.pin_message)
        on("unpin_message", CHANNEL)(self.unpin_message)

    async def send_message(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(SendMessage, payload)
        # The service sends message_sent to this socket (old clients resolve tempIds with it).
        result = await self._messages.send(live.user_id, body, origin_sid=live.sid)
        return {"message": result.message, "duplicate": result.duplicate}

    async def edit_message(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(EditMessage, payload)
        return {"message": await self._messages.edit(live.user_id, body.messageId, body.content)}

    async def delete_message(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(DeleteMessage, payload)
        return await self._messages.delete(live.user_id, body.messageId, body.groupId)

    async def react_message(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(ReactMessage, payload)
        return await self._messages.react(live.user_id, body.messageId, body.emoji)

    async def mark_message_read(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(MarkMessageRead, payload)
        return await self._messages.mark_read(live.user_id, body.messageId, body.groupId)

    async def mark_messages_read(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(MarkMessagesRead, payload)
        return await self._messages.mark_many_read(live.user_id, body)

    async def pin_message(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(PinMessage, payload)
        return await self._messages.pin(live.user_id, body.messageId)

    async def unpin_message(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(PinMessage, payload)
        return await self._messages.unpin(live.user_id, body.messageId)

    async def sync(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(SyncRequest, payload)
        results = await self._messages.sync(live.user_id, body.targets(), body.limit)
        if body.groupId is not None:
            return dict(results[body.groupId])
        return {"groups": results}
