"""The one place where Socket.IO payloads become service calls and errors become acks."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import socketio
import structlog
from pydantic import BaseModel

from safechat.errors import AuthError, ChatError, ErrorCode, ValidationFailed
from safechat.models.common import iso, validate
from safechat.services.connections import ConnectionService, LiveSocket
from safechat.services.ports import SystemClock

log = structlog.get_logger("safechat.socket")

M = TypeVar("M", bound=BaseModel)
Result = dict[str, Any]
Handler = Callable[[LiveSocket, Any], Awaitable[Result | None]]


def parse(model: type[M], data: Any) -> M:
    """A socket payload; a missing one counts as {} (events with no required fields)."""
    return validate(model, {} if data is None else data)


class Boundary:
    """Registers handlers so that every event gets validation, auth and one error path."""

    def __init__(self, sio: socketio.AsyncServer, connections: ConnectionService) -> None:
        self.sio = sio
        self.connections = connections
        self._clock = SystemClock()

    async def fail(self, sid: str, exc: ChatError, channel: str) -> Result:
        body = exc.to_dict()
        await self.sio.emit(channel, {**body, "timestamp": iso(self._clock.now())}, to=sid)
        return {"ok": False, "error": body}

    def event(self, name: str, channel: str = "error") -> Callable[[Handler], Handler]:
        """Decorator: `handler(live_socket, payload) -> ack fields or None`."""

        def register(handler: Handler) -> Handler:
            async def on_event(sid: str, *args: Any) -> Result:
                started = time.perf_counter()
                structlog.contextvars.bind_contextvars(sid=sid, event=name)
                try:
                    live = self.connections.get(sid)
                    if live is None:
                        raise AuthError("Not authenticated")
                    structlog.contextvars.bind_contextvars(user_id=live.user_id)
                    if len(args) > 1:
                        raise ValidationFailed("Send one payload object per event")
                    result = await handler(live, args[0] if args else None)
                    return {"ok": True, **(result or {})}
                except ChatError as exc:
                    log.info("event_refused", code=exc.code.value)
                    return await self.fail(sid, exc, channel)
                except Exception:
                    log.exception("event_failed")
                    return await self.fail(
                        sid, ChatError("Internal error", code=ErrorCode.INTERNAL_ERROR), channel
                    )
                finally:
                    log.debug("event_done", ms=round((time.perf_counter() - started) * 1000, 2))
                    structlog.contextvars.clear_contextvars()

            self.sio.on(name, on_event)
            return handler

        return register

    def catch_unknown(self) -> None:
        """Unknown event names get `error` with VALIDATION_ERROR (and a failed ack)."""

        async def on_unknown(event: str, sid: str, *_args: Any) -> Result:
            name = event if isinstance(event, str) else "?"
            return await self.fail(
                sid,
                ValidationFailed(f"Unknown event: {name[:64]}", details={"event": name[:64]}),
                "error",
            )

        self.sio.on("*", on_unknown)
