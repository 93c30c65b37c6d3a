"""HTTP transport limits and response headers aiohttp leaves to the application.

- Header read time: aiohttp (3.14) arms its keep-alive timer when a connection opens
  and again after each response, and does not extend it while bytes trickle in, so
  `keepalive_timeout` is a hard deadline for a request line and headers (and the idle
  time of a kept-alive connection). aiohttp has no separate header timeout; its
  default via run_app is 75 s.
- Body read time: aiohttp has none. `body_deadline` sets an error on the request's
  stream when the body has not fully arrived within the deadline; the handler's read
  raises it and the client gets 408. The error is also a TimeoutError so aiohttp's
  lingering read after the response stops at once and the connection is closed.
- Headers: `nosniff` everywhere, `no-store` on the API (every /api answer but health
  is per-user), and a `Server` header that does not name the stack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from safechat.config import Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SERVER_NAME = "SafeChat"


def runner_options(settings: Settings) -> dict[str, Any]:
    """Options for web.run_app / web.AppRunner (same ones in `serve` and in tests)."""
    return {"keepalive_timeout": settings.http_header_timeout_seconds}


class BodyTimeout(web.HTTPRequestTimeout, asyncio.TimeoutError):
    pass


def body_deadline(timeout: float) -> Middleware:
    @web.middleware
    def middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        # No body (every WebSocket upgrade): handed on without a frame of this middleware
        # for the request's life (routes/common.py says why).
        if not request.body_exists or request.content.is_eof():
            return handler(request)
        return deadline(request, handler)

    async def deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
        content = request.content

        def expire() -> None:
            if not content.is_eof():
                content.set_exception(
                    BodyTimeout(text=f"The request body did not arrive within {timeout:g} s")
                )

        timer = asyncio.get_running_loop().call_later(timeout, expire)
        try:
            return await handler(request)
        finally:
            timer.cancel()

    return middleware


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: runs for every response, errors and WebSockets included."""
    headers = response.headers
    headers["Server"] = SERVER_NAME
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
