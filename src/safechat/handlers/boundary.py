"""The one place where Socket.IO payloads become service calls and errors become acks."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import socketio
import structlog
from pydantic import BaseModel

from safechat.errors import AuthError, ChatError, ErrorCode, ValidationFailed, unavailable
from safechat.metrics import Metrics
from safechat.models.common import iso, validate
from safechat.services.connections import ConnectionService, LiveSocket
from safechat.services.ports import Clock, RateLimiter
from safechat.services.ratelimit import Limit, Limits, enforce

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

            self.sio.on(name, on_event)
            return handler

        return register

    def refused(self, exc: ChatError) -> str:
        """Logs and counts a refusal; returns its code as the metrics outcome."""
        log.info("event_refused", code=exc.code.value)
        if exc.code is ErrorCode.RATE_LIMITED:
            self.metrics.rate_limited.labels(str((exc.details or {}).get("limit", "?"))).inc()
        return exc.code.value

    def catch_unknown(self) -> None:
        """Unknown event names get `error` with VALIDATION_ERROR (and a failed ack)."""

        async def on_unknown(event: str, sid: str, *_args: Any) -> Result:
            name = event if isinstance(event, str) else "?"
            self.metrics.event("unknown", ErrorCode.VALIDATION_ERROR.value)
            return await self.fail(
                sid,
                ValidationFailed(f"Unknown event: {name[:64]}", details={"event": name[:64]}),
                "error",
            )

        self.sio.on("*", on_unknown)
