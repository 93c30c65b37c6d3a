"""Health, info and the dev issuer's JWKS."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from safechat import __version__
from safechat.container import METRICS, SERVICES, SETTINGS, STARTED_AT
from safechat.errors import ErrorCode
from safechat.metrics import CONTENT_TYPE
from safechat.models.health import Health, Info, Jwks, Live, Ready
from safechat.routes.spec import public, register

HEALTH_DB_TIMEOUT = 2.0


async def _database_ok(app: web.Application) -> bool:
    try:
        await asyncio.wait_for(app[SERVICES].database.ping(), HEALTH_DB_TIMEOUT)
    except Exception:
        return False
    return True


async def health(request: web.Request) -> web.Response:
    db_ok = await _database_ok(request.app)
    redis_up = request.app[SERVICES].redis_available
    redis_ok = redis_up is None or redis_up()
    return web.json_response(
        {
            "status": "ok" if db_ok and redis_ok else "degraded",
            "database": "ok" if db_ok else "unreachable",
            "redis": "off" if redis_up is None else ("ok" if redis_ok else "unreachable"),
            # Uptime is reported, never acted on: process time, not the Clock port.
            "uptime": round(time.monotonic() - request.app[STARTED_AT], 3),
            "version": __version__,
        }
    )


async def info(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return web.json_response(
        {
            "name": "SafeChat",
            "version": __version__,
            "env": settings.env,
            "socketPath": "/socket.io/",
            "apiPrefixes": ["/api", "/api/v1"],
            "auth": "dev-issuer" if settings.dev_issuer else "clerk",
            "issuer": settings.issuer,
            "limits": {
                "messageChars": settings.max_message_chars,
                "frameBytes": settings.max_frame_bytes,
                "jsonBodyBytes": settings.max_json_body_bytes,
                "uploadBytes": settings.max_upload_bytes,
            },
        }
    )


async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def live(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    db_ok = await _database_ok(request.app)
    return web.json_response(
        {"status": "ok" if db_ok else "unavailable", "database": db_ok},
        status=200 if db_ok else 503,
    )


async def jwks(request: web.Request) -> web.Response:
    issuer = request.app[SERVICES].dev_issuer
    if issuer is None:
        raise web.HTTPNotFound()
    return web.json_response(issuer.jwks(), headers={"Cache-Control": "public, max-age=300"})


def setup(app: web.Application) -> None:
    register(
        app,
        [
            public(
                "GET",
                "/health",
                health,
                "Health (database ping)",
                ok={200: Health},
                tag="health",
            ),
            public(
                "GET",
                "/info",
                info,
                "Server facts and limits",
                ok={200: Info},
                tag="health",
            ),
            public(
                "GET",
                "/metrics",
                metrics,
                "Prometheus metrics",
                ok={200: "text/plain"},
                tag="health",
            ),
            public(
                "GET",
                "/api/health/live",
                live,
                "Liveness",
                versioned=True,
                ok={200: Live},
                tag="health",
            ),
            public(
                "GET",
                "/api/health/ready",
                ready,
                "Readiness (503: no database)",
                versioned=True,
                ok={200: Ready, 503: Ready},
                tag="health",
            ),
            public(
                "GET",
                "/.well-known/jwks.json",
                jwks,
                "The dev issuer's keys",
                ok={200: Jwks},
                errors=(ErrorCode.NOT_FOUND,),
                tag="health",
            ),
        ],
    )
