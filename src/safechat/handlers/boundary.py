"""The one place where Socket.IO payloads become service calls and errors become acks."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import socketio
import structlog
from pydantic import BaseModel

from safechat.errors import AuthError, ChatError, ErrorCode, ValidationFailed
from safechat.metrics import Metrics
from safechat.models.common import iso, validate
from safechat.services.connections import ConnectionService, LiveSocket
from safechat.services.ports import Clock, Limit, RateLimiter
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
        *,
        limiter: RateLimiter,
        socket_limiter: RateLimiter,
        limits: Limits,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self.sio = sio
        self.connections = connections
        self.limits = limits
        self.metrics = metrics
        # Per-user buckets are shared by nodes; a socket lives on one node, so its
        # bucket stays in memory and costs no round trip.
        self._limiter = limiter
        self._socket_limiter = socket_limiter
        self._clock = clock

    async def fail(self, sid: str, exc: ChatError, channel: str) -> Result:
        body = exc.to_dict()
        # Only ever to the caller's own live socket: `to` also takes room names and
        # lists of them, and a None broadcasts to everyone.
        if isinstance(sid, str) and self.connections.get(sid) is not None:
            await self.sio.emit(channel, {**body, "timestamp": iso(self._clock.now())}, to=sid)
        return {"ok": False, "error": body}

    def event(
        self,
        name: str,
        channel: str = "error",
        *,
        per_user: Limit | None = None,
        timed: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Decorator: `handler(live_socket, payload) -> ack fields or None`.

        Each event takes a token from the socket's bucket, or from the user's
        `per_user` bucket when given (send_message); `timed` feeds the send histogram.
        """

        def register(handler: Handler) -> Handler:
            async def on_event(sid: str, *args: Any) -> Result:
                return await self.dispatch(
                    sid, name, args, handler, channel, per_user=per_user, timed=timed
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
        channel: str = "error",
        *,
        per_user: Limit | None = None,
        timed: bool = False,
    ) -> Result:
        """Runs one event: auth, rate limit, one payload, handler, ack; `name` is
        ours (a metrics label), never the client's."""
        started = time.perf_counter()
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
            result = await handler(live, args[0] if args else None)
            return {"ok": True, **(result or {})}
        except ChatError as exc:
            outcome = self.refused(exc)
            return await self.fail(sid, exc, channel)
        except Exception:
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
        """Logs and counts a refusal; returns its code as the metrics outcome."""
        log.info("event_refused", code=exc.code.value)
        if exc.code is ErrorCode.RATE_LIMITED:
            self.metrics.rate_limited.labels(str((exc.details or {}).get("limit", "?"))).inc()
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
