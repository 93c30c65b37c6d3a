"""WebSocket transport options that python-engineio does not expose.

engineio's aiohttp driver builds the `WebSocketResponse` itself with aiohttp's
default of accepting permessage-deflate. Measured on 2-core machines, deflate
doubles CPU per delivery and quadruples memory per socket, and browsers always
offer it, so SafeChat turns it off unless SAFECHAT_WEBSOCKET_COMPRESSION=true.
The hook swaps the driver's WebSocket class for this server instance only.
"""

from __future__ import annotations

from typing import Any

import socketio
from aiohttp.web import WebSocketResponse
from engineio.async_drivers.aiohttp import WebSocket


class _ConfigurableWebSocket(WebSocket):  # type: ignore[misc]
    compress = False

    async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
        # Same steps as the upstream driver, plus `compress`.
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=self.compress
        )
        await self._sock.prepare(request)
        # The 101 answer is sent: its headers are never read again, and would otherwise
        # stay allocated for the connection's life (~0.3 KiB on every idle socket).
        self._sock.headers.clear()
        self.environ = environ
        await self.handler(self)
        return self._sock


def configure_websocket(sio: socketio.AsyncServer, *, compress: bool) -> None:
    ws_class = type("SafeChatWebSocket", (_ConfigurableWebSocket,), {"compress": compress})
    eio = sio.eio
    # Copy: the driver table is module-level and shared by every server in the process.
    eio._async = {**eio._async, "websocket": ws_class}
