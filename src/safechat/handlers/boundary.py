"""The one place where Socket.IO payloads become service calls and errors become acks.

Also the socket's one error path out: error channels, connect refusals and the
late answers of AI requests all leave from here, through the Notifier.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import socketio
import structlog
from pydantic import BaseModel

from safechat.errors import (
    AIUnavailable,
    AuthError,
    ChatError,
    ErrorCode,
    ValidationFailed,
    unavailable,
)
from safechat.events import Event, error_payload
from safechat.metrics import Metrics
from safechat.models.common import validate
from safechat.services.connections import ConnectionService, LiveSocket
from safechat.services.ports import Clock, Limit, Notifier, RateLimiter
from safechat.services.ratelimit import Limits, enforce

log = structlog.get_logger("safechat.socket")

M = TypeVar("M", bound=BaseModel)
Result = dict[str, Any]
Handler = Callable[[LiveSocket, Any], Awaitable[Result | None]]


def parse(model: type[M], data: Any) -> M:
    """A socket payload; a missing one counts as {} (events with no required fields)."""
    return validate(model, {} if data is None else data)


class Boundary:
    """Registers handlers so that every event gets validation, auth and one error path."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        connections: ConnectionService,
        notifier: Notifier,
        *,
        limiter: RateLimiter,
        socket_limiter: RateLimiter,
        limits: Limits,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self.sio = sio
        self.connections = connections
        self._notify = notifier
        self.limits = limits
        self.metrics = metrics
        # Per-user buckets are shared by nodes; a socket lives on one node, so its
        # bucket stays in memory and costs no round trip.
        self._limiter = limiter
        self._socket_limiter = socket_limiter
        self._clock = clock

    async def fail(self, sid: str, exc: ChatError, channel: Event) -> Result:
        # Only ever to the caller's own live socket.
        if isinstance(sid, str) and self.connections.get(sid) is not None:
            await self._notify.to_socket(sid, channel, error_payload(exc, self._clock.now()))
        return {"ok": False, "error": exc.to_dict()}

    def connect_refused(self, exc: ChatError) -> socketio.exceptions.ConnectionRefusedError:
        """A refused handshake: `connect_error` with `err.data` = the error payload."""
        data = error_payload(exc, self._clock.now())
        return socketio.exceptions.ConnectionRefusedError(exc.message, data)

    async def answer_later(
        self,
        sid: str,
        request_id: str,
        event: Event,
        work: Awaitable[Mapping[str, Any]],
        channel: Event,
    ) -> None:
        """For a request acked at once (AI): runs in a background task and sends the
        result `event` with the request's id, or the error on `channel`."""
        try:
            result = await work
        except ChatError as exc:
            error = exc
        except Exception:
            log.exception("ai_request_failed", answer=event.value)
            error = AIUnavailable()
        else:
            await self._notify.to_socket(sid, event, {"requestId": request_id, **result})
            return
        payload = error_payload(error, self._clock.now(), request_id=request_id)
        await self._notify.to_socket(sid, channel, payload)

    def event(
        self,
        name: str,
        channel: Event = Event.ERROR,
        *,
        per_user: Limit | None = None,
        timed: bool = False,
        echo: Event | None = None,
    ) -> Callable[[Handler], Handler]:
        """Decorator: `handler(live_socket, payload) -> ack fields or None`.

        Each event takes a token from the socket's bucket, or from the user's
        `per_user` bucket when given (send_message); `timed` feeds the send histogram;
        `echo` also sends the ack's fields to the socket as that event (join_group).
        """

        def register(handler: Handler) -> Handler:
            async def on_event(sid: str, *args: Any) -> Result:
                return await self.dispatch(
                    sid, name, args, handler, channel, per_user=per_user, timed=timed, echo=echo
                )

            self.sio.on(name, on_event)
            return handler

        return register

    async def dispatch(
        self,
        sid: str,
        name: str,
        args: tuple[Any, ...],
        handler: Handler,
        channel: Event = Event.ERROR,
        *,
        per_user: Limit | None = None,
        timed: bool = False,
        echo: Event | None = None,
    ) -> Result:
        """Runs one event: auth, rate limit, one payload, handler, ack; `name` is
        ours (a metrics label), never the client's."""
        started = time.perf_counter()  # measurement only (histogram, log), not a rule
        structlog.contextvars.bind_contextvars(sid=sid, event=name)
        outcome = "ok"
        try:
            live = self.connections.get(sid)
            if live is None:
                raise AuthError("Not authenticated")
            structlog.contextvars.bind_contextvars(user_id=live.user_id)
            live.touch(self._clock.now())
            if per_user is not None:
                await enforce(self._limiter, live.user_id, per_user)
            else:
                await enforce(self._socket_limiter, sid, self.limits.events)
            if len(args) > 1:
                raise ValidationFailed("Send one payload object per event")
            result = await handler(live, args[0] if args else None) or {}
            if echo is not None:
                await self._notify.to_socket(sid, echo, result)
            return {"ok": True, **result}
        except ChatError as exc:
            outcome = self.refused(exc)
            return await self.fail(sid, exc, channel)
        except Exception as exc:
            if (down := unavailable(exc)) is not None:
                log.warning("event_failed_database_unavailable", error=repr(exc))
                outcome = self.refused(down)
                return await self.fail(sid, down, channel)
            outcome = ErrorCode.INTERNAL_ERROR.value
            log.exception("event_failed")
            return await self.fail(
                sid, ChatError("Internal error", code=ErrorCode.INTERNAL_ERROR), channel
            )
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.event(name, outcome)
            if timed and outcome == "ok":
                self.metrics.send_latency.observe(elapsed)
            log.debug("event_done", ms=round(elapsed * 1000, 2))
            structlog.contextvars.clear_contextvars()

    async def refuse_unknown(self, sid: str, event: object) -> Result:
        """An event name we do not serve (or a client-sent connect/disconnect): an
        ordinary event that fails validation, so it costs a token like any other."""
        name = event[:64] if isinstance(event, str) else "?"

        async def unknown(_live: LiveSocket, _payload: Any) -> Result:
            raise ValidationFailed(f"Unknown event: {name}", details={"event": name})

        # Extra payloads are irrelevant here; `()` keeps them from changing the error.
        return await self.dispatch(sid, "unknown", (), unknown)

    def refused(self, exc: ChatError) -> str:
        """Logs a refusal; returns its code as the metrics outcome (rate-limit
        refusals are counted by the limiter, adapters/ratelimit/metered.py)."""
        log.info("event_refused", code=exc.code.value)
        return exc.code.value

    def catch_unknown(self) -> None:
        """Unknown event names get `error` with VALIDATION_ERROR (and a failed ack).

        Not `sio.on("*")`: python-socketio calls that handler as (event, sid, *data),
        except for an event the client names "*", which arrives as (sid, *data), so
        the client's payload took the place of the sid. A namespace handler's
        `trigger_event(event, sid, *data)` is the documented catch-all and always
        gets the real sid.
        """
        self.sio.register_namespace(_UnknownEvents(self))


class _UnknownEvents(socketio.AsyncNamespace):  # type: ignore[misc]
    """Receives only events with no `sio.on` handler of their own."""

    def __init__(self, boundary: Boundary) -> None:
        super().__init__("/")
        self._boundary = boundary

    async def trigger_event(self, event: object, sid: str, *_data: Any) -> Result:
        return await self._boundary.refuse_unknown(sid, event)
