"""Engine.IO hardening that python-engineio (4.15.1) does not offer.

1. Never wait on a session's packet queue when ending it. Upstream `disconnect(sid)`
   calls `socket.close(wait=True)`, which awaits `queue.join()`: only a long-poll GET
   drains that queue, so a POST that fails (oversize body, unknown packet) hangs
   forever when no GET follows, holding the request and its body (memory that never
   came back, and a 60 s wait at shutdown). Here a session ends by queueing CLOSE plus the
   writer's stop marker and forgetting it; a pending GET or WebSocket writer still
   delivers what was queued.
2. POST bodies are read here, bounded by `max_http_buffer_size` (413 and the session
   ends, as upstream intends), and handed to engineio from memory.
3. A request for a closed session answers 400 "Invalid session" (upstream's
   `_get_socket` raises KeyError for it on POST: a 500).
4. Sessions that have not completed a Socket.IO CONNECT (a valid token) are capped per
   node (503 + Retry-After beyond it) and closed after a handshake deadline.
5. (origins.py) "no browser origin allowed": upstream reads `[]` as "no check".
6. (Socket.IO) Binary packets are refused and the session ended: SafeChat's events are
   JSON, and python-socketio keeps a binary packet's attachments in memory until as many
   as its header announced have arrived, however many that is. A packet that does not
   parse is dropped with one log line (upstream logs a traceback per packet), and an
   EVENT whose name is not a string becomes the unknown event "?", answered and rate
   limited like any other.
7. Each session's packet queue is a LeanQueue (adapters/socketio/lean_queue.py), not an
   asyncio.Queue: ~3 KiB less per idle connection.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import engineio
import socketio
import structlog
from aiohttp import web

from safechat.adapters.socketio.lean_queue import LeanQueue

_BODY = web.RequestKey("engineio_body", bytes)
_BINARY_TYPES = ("5", "6")  # Socket.IO BINARY_EVENT, BINARY_ACK
log = structlog.get_logger("safechat.socket")
RETRY_AFTER_SECONDS = 2


class _Body:
    """`wsgi.input` for engineio over a body this module has already read."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self, length: int = -1) -> bytes:
        data, self._data = self._data, b""
        return data


def _answer(
    status: str, message: str, headers: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    return {
        "status": status,
        "headers": [("Content-Type", "text/plain"), *(headers or [])],
        "response": json.dumps(message).encode(),
    }


class GuardedEngineIO(engineio.AsyncServer):  # type: ignore[misc]
    _async: dict[str, Any]  # the async driver's functions, set by engineio

    def __init__(
        self,
        *args: Any,
        max_pending_sessions: int = 1000,
        handshake_timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_pending_sessions = max_pending_sessions
        self.handshake_timeout = handshake_timeout
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        drivers = self._async
        upstream = drivers["translate_request"]

        def translate(request: web.Request) -> dict[str, Any]:
            environ: dict[str, Any] = upstream(request)
            body = request.get(_BODY)
            if body is not None:
                environ["wsgi.input"] = _Body(body)
                environ["CONTENT_LENGTH"] = str(len(body))
            return environ

        # Copy: the driver table is module-level and shared by every server in the process.
        self._async = {**drivers, "translate_request": translate}

    def create_queue(self, *args: Any, **kwargs: Any) -> LeanQueue:
        return LeanQueue()

    @property
    def pending_sessions(self) -> int:
        return len(self._pending)

    async def handle_request(self, request: web.Request) -> web.StreamResponse:
        sid = request.query.get("sid")
        if sid is None:
            if request.method == "GET" and len(self._pending) >= self.max_pending_sessions:
                headers = [("Retry-After", str(RETRY_AFTER_SECONDS))]
                busy = "Too many connections are being set up; retry shortly"
                return await self._reply(request, _answer("503 SERVICE UNAVAILABLE", busy, headers))
        else:
            socket = self.sockets.get(sid)
            if socket is not None and (socket.closed or socket.closing):
                if socket.closed:
                    self.sockets.pop(sid, None)
                return await self._reply(request, self._bad_request(f"Invalid session {sid}"))
            if socket is not None and request.method == "POST":
                body = await self._read_body(request)
                if body is None:
                    await self._end(socket, self.reason.TRANSPORT_ERROR)
                    too_big = f"Payload larger than {self.max_http_buffer_size} bytes"
                    return await self._reply(request, _answer("413 PAYLOAD TOO LARGE", too_big))
                request[_BODY] = body
        response: web.StreamResponse = await super().handle_request(request)
        if sid is not None and (socket := self.sockets.get(sid)) is not None and socket.closed:
            # E.g. the client POSTed CLOSE: upstream closes without waking its pending
            # long-poll, which then waits out ping interval + timeout (45 s).
            self._release(socket)
        return response

    async def _read_body(self, request: web.Request) -> bytes | None:
        """The whole body, or None when it is over the limit (the rest stays unread)."""
        limit = self.max_http_buffer_size
        if request.content_length is not None and request.content_length > limit:
            return None
        body = bytearray()
        while len(body) <= limit:  # read() returns what has arrived, not n bytes
            chunk = await request.content.read(limit + 1 - len(body))
            if not chunk:
                return bytes(body)
            body += chunk
        return None

    async def _reply(self, request: web.Request, answer: dict[str, Any]) -> web.StreamResponse:
        environ = self._async["translate_request"](request)
        response: web.StreamResponse = await self._make_response(answer, environ)
        return response

    async def disconnect(self, sid: str | None = None) -> None:
        if sid is None:
            await asyncio.gather(
                *(self._end(s, self.reason.SERVER_DISCONNECT) for s in list(self.sockets.values()))
            )
            return
        socket = self.sockets.get(sid)
        if socket is not None:
            await self._end(socket, self.reason.SERVER_DISCONNECT)

    async def _end(self, socket: Any, reason: str) -> None:
        """Close without waiting for a poll; CLOSE then the writer's stop marker (None)."""
        await socket.close(wait=False, abort=False, reason=reason)
        self._release(socket)

    def _release(self, socket: Any) -> None:
        socket.queue.put_nowait(None)  # a waiting poll or WebSocket writer returns
        self.sockets.pop(socket.sid, None)
        self._forget(socket.sid)

    # --- sessions that have not authenticated yet -----------------------------------

    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "connect":
            self._watch(args[0])
        elif event == "disconnect":
            self._forget(args[0])
        ret = await super()._trigger_event(event, *args, **kwargs)
        if event == "connect" and ret is not None and ret is not True:
            self._forget(args[0])  # refused: engineio drops the session without a disconnect
        return ret

    def _watch(self, sid: str) -> None:
        loop = asyncio.get_running_loop()
        self._pending[sid] = loop.call_later(self.handshake_timeout, self._expire, sid)

    def _forget(self, sid: str) -> None:
        timer = self._pending.pop(sid, None)
        if timer is not None:
            timer.cancel()

    def authenticated(self, sid: str) -> None:
        self._forget(sid)

    def hold(self, sid: str) -> None:
        """A CONNECT is being handled (it may wait its turn for admission under a
        reconnect storm): no deadline meanwhile; the session still counts as pending."""
        timer = self._pending.get(sid)
        if timer is not None:
            timer.cancel()

    def rearm(self, sid: str) -> None:
        """The CONNECT was refused: the session's original deadline runs again (a refused
        CONNECT never buys a session more time)."""
        timer = self._pending.get(sid)
        if timer is not None and timer.cancelled():
            loop = asyncio.get_running_loop()
            self._pending[sid] = loop.call_at(timer.when(), self._expire, sid)

    def _expire(self, sid: str) -> None:
        self._pending.pop(sid, None)
        socket = self.sockets.get(sid)
        if socket is None or socket.closing or socket.closed:
            return
        task = asyncio.get_running_loop().create_task(
            self._end(socket, self.reason.SERVER_DISCONNECT)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class SafeChatSocketServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio on GuardedEngineIO; a namespace CONNECT that succeeds
    authenticates, and `established` tells work a connect handler started when the
    client has been told it is connected."""

    eio: GuardedEngineIO

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Handshakes in progress: (eio_sid, namespace) -> accepted or not.
        self._connecting: dict[tuple[str, str], asyncio.Future[bool]] = {}

    def _engineio_server_class(self) -> type[GuardedEngineIO]:
        return GuardedEngineIO

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        # python-socketio sends the CONNECT packet (and marks the socket connected) only
        # after the connect handler returned, in this call, with no hook of its own for
        # that moment. (always_connect=True would send it first, but turns a refusal into
        # CONNECT + DISCONNECT: the client's connect_error and its data would be lost.)
        namespace = namespace or "/"
        key = (eio_sid, namespace)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._connecting[key] = future
        connected = False
        self.eio.hold(eio_sid)
        try:
            await super()._handle_connect(eio_sid, namespace, data)
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
            connected = sid is not None and bool(self.manager.is_connected(sid, namespace))
        finally:
            if self._connecting.get(key) is future:
                del self._connecting[key]
            if not future.done():
                future.set_result(connected)
        if connected:
            self.eio.authenticated(eio_sid)
        else:
            self.eio.rearm(eio_sid)

    async def _handle_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        if isinstance(data, bytes) or data[:1] in _BINARY_TYPES:
            await self._refuse_packet(eio_sid, "binary packets are not accepted")
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, RecursionError):  # bad JSON, unknown packet types
            log.info("socket_packet_dropped", reason="malformed packet")

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
        if not (isinstance(data, list) and data and isinstance(data[0], str)):
            data = ["?"]  # upstream would index or hash it and fail without an answer
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _refuse_packet(self, eio_sid: str, why: str) -> None:
        log.info("socket_packet_refused", reason=why)
        await self.eio.disconnect(eio_sid)

    async def established(self, sid: str, namespace: str = "/") -> bool:
        """True once the CONNECT packet for `sid` is queued, so whatever is emitted from
        now on reaches the client after it; False when the handshake was refused or
        the socket is gone. For work started by the connect handler (which runs before
        the CONNECT is sent): waits for the handshake to end, never polls."""
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        future = self._connecting.get((eio_sid, namespace)) if eio_sid is not None else None
        if future is not None:
            return await asyncio.shield(future)
        return bool(self.manager.is_connected(sid, namespace))


async def close_sessions(sio: socketio.AsyncServer) -> None:
    """on_shutdown: end every session so long-polls and WebSockets return at once.

    Otherwise aiohttp waits for each open handler (up to ping interval + timeout, 45 s).
    """
    await sio.eio.disconnect()
