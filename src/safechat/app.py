"""create_app(settings) -> web.Application: the HTTP app, its Socket.IO server and routes.

Everything else happens in the app's cleanup context, safechat/lifetime.py: components
chosen and opened (safechat/components.py), wired into services, handlers and background
loops (safechat/wiring.py). The app's typed keys live in safechat/container.py.
"""

from __future__ import annotations

import time

from aiohttp import web

from safechat.adapters.cors import CorsPolicy, cors_headers, cors_middleware, own_origins
from safechat.adapters.http_guard import body_deadline, security_headers
from safechat.adapters.media import local_http
from safechat.adapters.socketio.engineio_guard import SafeChatSocketServer, close_sessions
from safechat.adapters.socketio.fast_json import socketio_json
from safechat.adapters.socketio.manager import client_manager
from safechat.adapters.socketio.origins import engineio_origins
from safechat.adapters.socketio.websocket import configure_websocket
from safechat.config import Settings
from safechat.container import METRICS, SETTINGS, SIO, STARTED_AT
from safechat.lifetime import lifetime
from safechat.metrics import Metrics
from safechat.routes import ai as ai_routes
from safechat.routes import dev as dev_routes
from safechat.routes import docs as docs_routes
from safechat.routes import groups as group_routes
from safechat.routes import health as health_routes
from safechat.routes import me as me_routes
from safechat.routes import media as media_routes
from safechat.routes import messages as message_routes
from safechat.routes import openapi as openapi_routes
from safechat.routes import people as people_routes
from safechat.routes import threads as thread_routes
from safechat.routes import web as web_routes
from safechat.routes.common import auth_middleware, error_middleware
from safechat.services.ports import Clock, SystemClock


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    clock = clock or SystemClock()
    # One origin rule for REST and the socket; the server's own origin always passes (§7).
    cors = CorsPolicy(settings.cors_origins, own_origins(settings.base_url))
    app = web.Application(
        middlewares=[
            cors_middleware(cors),
            error_middleware,
            body_deadline(settings.http_body_timeout_seconds),
            auth_middleware,
        ],
        client_max_size=settings.max_json_body_bytes,
    )
    app.on_response_prepare.append(security_headers)
    app.on_response_prepare.append(cors_headers(cors))
    app[SETTINGS] = settings
    app[STARTED_AT] = time.monotonic()
    metrics = app[METRICS] = Metrics()
    sio = SafeChatSocketServer(
        async_mode="aiohttp",
        client_manager=client_manager(settings.redis_url, settings.redis_channel, metrics),
        cors_allowed_origins=engineio_origins(cors.socket_origins()),
        max_http_buffer_size=settings.max_frame_bytes,
        logger=False,
        engineio_logger=False,
        json=socketio_json(settings.socketio_json),
        max_pending_sessions=settings.max_pending_sockets,
        handshake_timeout=settings.socket_handshake_timeout_seconds,
    )
    configure_websocket(sio, compress=settings.websocket_compression)
    sio.attach(app)
    app[SIO] = sio

    async def end_sessions(app: web.Application) -> None:
        await close_sessions(sio)

    app.on_shutdown.append(end_sessions)
    health_routes.setup(app)
    me_routes.setup(app)
    group_routes.setup(app)
    message_routes.setup(app)
    thread_routes.setup(app)
    ai_routes.setup(app)
    media_routes.setup(app)
    people_routes.setup(app)
    # The web client at / (docs/web-client.md) and its dev-only sign-in.
    dev_routes.setup(app)
    web_routes.setup(app)
    # The contract documents and their reference at /docs (protocol §7).
    docs_routes.setup(app)
    # Routes must exist before the app freezes, the store opens later: decide from the
    # same setting open_media_store chooses by.
    if not settings.s3_bucket:
        local_http.setup_routes(app)
    openapi_routes.setup(app)
    app.cleanup_ctx.append(lifetime(settings, clock))
    return app
