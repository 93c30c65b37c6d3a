"""Connect, disconnect, authenticate, reauth, and ending sockets whose token expired.

The expiry and presence loops are scheduled by services/tasks.py Background; their
bodies are ConnectionService.enforce_expiry and PresenceService.tick.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import socketio
import structlog

from safechat.errors import ChatError, ErrorCode, unavailable
from safechat.handlers.boundary import Boundary, parse
from safechat.models.common import iso
from safechat.models.user import Reauth
from safechat.services.connections import ConnectionService, LiveSocket, Opened
from safechat.services.groups.service import GroupService
from safechat.services.ports import Clock
from safechat.services.presence import PresenceService
from safechat.services.tasks import TaskTracker

log = structlog.get_logger("safechat.socket")

# Handshakes whose database work (sign-in, session, groups, presence) runs at once; the
# rest wait their turn. A reconnect storm (every client of a restarted node at once)
# would otherwise flood the database and time out everyone else's requests.
CONNECT_CONCURRENCY = 16


def token_from(environ: dict[str, Any], auth: Any) -> str | None:
    """auth.token > query.token > Authorization: Bearer (docs/protocol.md §1)."""
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
        tasks: TaskTracker,
        *,
        connect_concurrency: int = CONNECT_CONCURRENCY,
    ) -> None:
        self._b = boundary
        self._sio: socketio.AsyncServer = boundary.sio
        self._connections = connections
        self._groups = groups
        self._presence = presence
        self._clock = clock
        self._tasks = tasks  # the app's Background: welcomes end with the app
        self._admission = asyncio.Semaphore(connect_concurrency)

    def register(self) -> None:
        self._sio.on("connect", self.on_connect)
        self._sio.on("disconnect", self.on_disconnect_event)
        self._b.event("authenticate")(self.authenticate)
        self._b.event("reauth")(self.reauth)

    def _spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)

    def _forged(self, sid: str) -> bool:
        """True when a connected client emitted an event named connect/disconnect.

        python-socketio routes such client events to these handlers too; during a
        real handshake or disconnect the sid is pending, so not "connected".
        """
        return bool(self._sio.manager.is_connected(sid, "/"))

    async def on_connect(self, sid: str, *args: Any) -> bool | dict[str, Any]:
        # *args: a forged client `connect` event may carry any number of arguments.
        if self._forged(sid):
            return await self._b.refuse_unknown(sid, "connect")
        environ: dict[str, Any] = args[0] if args and isinstance(args[0], dict) else {}
        auth = args[1] if len(args) > 1 else None
        # Reset, not cleared, afterwards: this runs in the socket's own task, and cleared
        # keys would stay in its context for the connection's life.
        bound = structlog.contextvars.bind_contextvars(sid=sid, event="connect")
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
                raise self._b.connect_refused(refusal) from None
            log.exception("connect_failed")
            error = ChatError("Server error", code=ErrorCode.INTERNAL_ERROR)
            raise self._b.connect_refused(error) from None
        finally:
            structlog.contextvars.reset_contextvars(**bound)
        self._spawn(self._welcome(sid, opened))
        return True

    async def _welcome(self, sid: str, opened: Opened) -> None:
        # Emit only once the CONNECT packet is out, so clients see events after connect:
        # python-socketio sends it after this handler returns (SafeChatSocketServer).
        if not await self._sio.established(sid):
            return
        try:
            async with self._admission:
                await self._connections.send_identity(opened.socket, opened)
                if opened.first_session:
                    await self._presence.announce_online(
                        opened.socket, opened.user.summary(), opened.group_ids
                    )
        except Exception:
            log.exception("welcome_failed", sid=sid)

    async def on_disconnect_event(self, sid: str, *args: Any) -> dict[str, Any] | None:
        if self._forged(sid):
            return await self._b.refuse_unknown(sid, "disconnect")
        await self.on_disconnect(sid, args[0] if args else None)
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
        return dict(await self._connections.send_identity(live))

    async def reauth(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(Reauth, payload)
        updated = await self._connections.reauth(live.sid, body.token)
        return {"expiresAt": iso_ts(updated.expires_at)}

    async def disconnect_expired(self, live: LiveSocket) -> None:
        """Tells the socket its token expired, then ends it (ConnectionService.enforce_expiry)."""
        await self._connections.announce_expired(live)
        await self._sio.disconnect(live.sid)


def iso_ts(value: float | None) -> str | None:
    return None if value is None else iso(datetime.fromtimestamp(value, UTC))
