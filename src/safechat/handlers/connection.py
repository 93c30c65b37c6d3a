"""Connect, disconnect, authenticate, reauth, and token-expiry enforcement."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import socketio
import structlog

from safechat.errors import ChatError, ValidationFailed, unavailable
from safechat.handlers.boundary import Boundary, parse
from safechat.models.common import iso
from safechat.models.user import Reauth
from safechat.services.connections import ConnectionService, LiveSocket, Opened, expired
from safechat.services.groups import GroupService
from safechat.services.ports import Clock
from safechat.services.presence import PresenceService

log = structlog.get_logger("safechat.socket")

# Handshakes whose database work (sign-in, session, groups, presence) runs at once; the
# rest wait their turn. A reconnect storm (every client of a restarted node at once)
# would otherwise flood the database and time out everyone else's requests.
CONNECT_CONCURRENCY = 16


def token_from(environ: dict[str, Any], auth: Any) -> str | None:
    """auth.token > query.token > Authorization: Bearer (protocol section 1)."""
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"]:
        return str(auth["token"])
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if query.get("token"):
        return str(query["token"][0])
    header = environ.get("HTTP_AUTHORIZATION", "")
    if isinstance(header, str) and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def client_ip(environ: dict[str, Any]) -> str | None:
    request = environ.get("aiohttp.request")
    remote = getattr(request, "remote", None)
    return remote if isinstance(remote, str) else environ.get("REMOTE_ADDR")


class ConnectionHandlers:
    def __init__(
        self,
        boundary: Boundary,
        connections: ConnectionService,
        groups: GroupService,
        presence: PresenceService,
        clock: Clock,
        *,
        reauth_grace_seconds: float,
        heartbeat_seconds: float,
        expiry_check_seconds: float = 15.0,
        typing_check_seconds: float = 0.5,
        connect_concurrency: int = CONNECT_CONCURRENCY,
    ) -> None:
        self._b = boundary
        self._sio: socketio.AsyncServer = boundary.sio
        self._connections = connections
        self._groups = groups
        self._presence = presence
        self._grace = reauth_grace_seconds
        self._check_every = expiry_check_seconds
        self._heartbeat_every = heartbeat_seconds
        self._typing_every = typing_check_seconds
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._admission = asyncio.Semaphore(connect_concurrency)

    def register(self) -> None:
        self._sio.on("connect", self.on_connect)
        self._sio.on("disconnect", self.on_disconnect_event)
        self._b.event("authenticate")(self.authenticate)
        self._b.event("reauth")(self.reauth)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _forged(self, sid: str) -> bool:
        """True when a connected client emitted an event named connect/disconnect.

        python-socketio routes such client events to these handlers too; during a
        real handshake or disconnect the sid is pending, so not "connected".
        """
        return bool(self._sio.manager.is_connected(sid, "/"))

    async def _refuse_forged(self, sid: str, name: str) -> dict[str, Any]:
        exc = ValidationFailed(f"Unknown event: {name}", details={"event": name})
        return await self._b.fail(sid, exc, "error")

    async def on_connect(
        self, sid: str, environ: dict[str, Any], auth: Any = None
    ) -> bool | dict[str, Any]:
        if self._forged(sid):
            return await self._refuse_forged(sid, "connect")
        structlog.contextvars.bind_contextvars(sid=sid, event="connect")
        try:
            claims = await self._connections.verify(token_from(environ, auth))
            ua = environ.get("HTTP_USER_AGENT")
            async with self._admission:
                opened = await self._connections.open(
                    sid, claims, user_agent=ua, ip=client_ip(environ)
                )
        except Exception as exc:
            refusal = exc if isinstance(exc, ChatError) else unavailable(exc)
            if refusal is not None:
                log.info("connect_refused", code=refusal.code.value)
                data = {**refusal.to_dict(), "timestamp": iso(self._clock.now())}
                raise socketio.exceptions.ConnectionRefusedError(refusal.message, data) from None
            log.exception("connect_failed")
            data = {
                "code": "INTERNAL_ERROR",
                "message": "Server error",
                "timestamp": iso(self._clock.now()),
            }
            raise socketio.exceptions.ConnectionRefusedError("Server error", data) from None
        finally:
            structlog.contextvars.clear_contextvars()
        await self._sio.enter_room(sid, f"user:{claims.sub}")
        for gid in opened.group_ids:
            await self._sio.enter_room(sid, f"group:{gid}")
        self._spawn(self._welcome(sid, opened))
        return True

    async def _welcome(self, sid: str, opened: Opened) -> None:
        # Emit only once the CONNECT packet is out, so clients see events after connect.
        for _ in range(500):
            if self._sio.manager.is_connected(sid, "/"):
                break
            await asyncio.sleep(0.01)
        else:
            return
        try:
            async with self._admission:
                await self._send_identity(sid, opened.socket)
                if opened.first_session:
                    await self._presence.announce_online(opened.socket, opened.group_ids)
        except Exception:
            log.exception("welcome_failed", sid=sid)

    async def _send_identity(self, sid: str, live: LiveSocket) -> dict[str, Any]:
        user = await self._connections.user_profile(live.user_id)
        body = {"user": user, "sessionId": live.session_id}
        await self._sio.emit("authentication_success", body, to=sid)
        await self._sio.emit("user_groups", await self._groups.mine(live.user_id), to=sid)
        return body

    async def on_disconnect_event(self, sid: str, reason: Any = None) -> dict[str, Any] | None:
        if self._forged(sid):
            return await self._refuse_forged(sid, "disconnect")
        await self.on_disconnect(sid, reason)
        return None

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        # Not sio.rooms(sid): it scans every room of the node, per disconnect.
        try:
            closed = await self._connections.close(sid)
        except Exception:
            log.exception("disconnect_cleanup_failed", sid=sid)
            return
        if closed is None:
            return
        live, last = closed
        try:
            await self._presence.socket_closed(live)
            if last:
                group_ids = await self._groups.room_ids_for(live.user_id)
                await self._presence.announce_offline(live.user_id, group_ids)
        except Exception:
            log.exception("disconnect_announce_failed", sid=sid)

    async def authenticate(self, live: LiveSocket, _payload: Any) -> dict[str, Any]:
        # Payload ignored on purpose: identity only ever comes from the handshake token.
        return await self._send_identity(live.sid, live)

    async def reauth(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(Reauth, payload)
        updated = await self._connections.reauth(live.sid, body.token)
        return {"expiresAt": iso_ts(updated.expires_at)}

    async def expiry_loop(self) -> None:
        """Disconnects sockets whose token expired past the grace period."""
        while True:
            await asyncio.sleep(self._check_every)
            try:
                await self.enforce_expiry(time.time())
            except Exception:
                log.exception("expiry_check_failed")

    async def presence_loop(self) -> None:
        """Auto-stops typing, renews this node's presence and expires dead nodes' sockets."""
        next_beat = 0.0
        while True:
            await asyncio.sleep(self._typing_every)
            try:
                now = self._clock.now().timestamp()
                local = self._connections.live()
                await self._presence.typing_due(now, local)
                if now >= next_beat:
                    next_beat = now + self._heartbeat_every
                    await self._presence.heartbeat(local, now)
            except Exception:
                log.exception("presence_tick_failed")

    async def enforce_expiry(self, now: float) -> int:
        stale = expired(self._connections.live(), now, self._grace)
        for live in stale:
            log.info("token_expired_disconnect", sid=live.sid, user_id=live.user_id)
            await self._sio.emit(
                "auth_expired",
                {
                    "code": "TOKEN_EXPIRED",
                    "message": "Session token expired; reconnect with a fresh token",
                },
                to=live.sid,
            )
            await self._sio.disconnect(live.sid)
        return len(stale)


def iso_ts(value: float | None) -> str | None:
    return None if value is None else iso(datetime.fromtimestamp(value, UTC))
