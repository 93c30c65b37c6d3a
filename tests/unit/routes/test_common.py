"""The REST middlewares hand on what they have nothing to do for without a frame of
their own: a WebSocket's handler runs inside them for the connection's life."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from safechat.routes.common import auth_middleware, error_middleware, is_socket_upgrade

UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade"}


def _handler() -> tuple[list[Awaitable[web.StreamResponse]], object]:
    made: list[Awaitable[web.StreamResponse]] = []

    def handler(request: web.Request) -> Awaitable[web.StreamResponse]:
        async def respond() -> web.StreamResponse:
            return web.Response(text="ok")

        made.append(respond())
        return made[-1]

    return made, handler


async def test_a_socket_upgrade_gets_the_handlers_own_awaitable() -> None:
    request = make_mocked_request("GET", "/socket.io/?EIO=4&transport=websocket", UPGRADE)
    assert is_socket_upgrade(request)
    for middleware in (error_middleware, auth_middleware):
        made, handler = _handler()
        result = middleware(request, handler)  # type: ignore[arg-type]
        assert result is made[0]  # not wrapped: no middleware frame per open socket
        await result


async def test_other_requests_are_still_wrapped() -> None:
    polling = make_mocked_request("GET", "/socket.io/?EIO=4&transport=polling")
    api = make_mocked_request("GET", "/api/me")
    assert not is_socket_upgrade(polling)
    made, handler = _handler()
    wrapped = [
        error_middleware(polling, handler),  # type: ignore[arg-type]
        auth_middleware(api, handler),  # type: ignore[arg-type]
    ]
    # Coroutines of the middleware's own: the handler runs inside them, once awaited.
    assert all(asyncio.iscoroutine(w) for w in wrapped)
    assert made == []
    for w in wrapped:
        w.close()  # type: ignore[attr-defined]
