"""Request plumbing shared by every REST route: auth, bodies, ids, errors."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel

from safechat.container import METRICS, SERVICES, SETTINGS
from safechat.errors import (
    AuthError,
    ChatError,
    ErrorCode,
    PayloadTooLarge,
    RateLimited,
    ValidationFailed,
    unavailable,
)
from safechat.models.common import OBJECT_ID_PATTERN, validate
from safechat.services.auth import Claims
from safechat.services.ratelimit import enforce

log = structlog.get_logger("safechat.http")

M = TypeVar("M", bound=BaseModel)
CLAIMS = web.RequestKey("claims", Claims)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def ok(body: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    return web.json_response({"success": True, **(body or {})}, status=status)


def error_response(exc: ChatError, status: int | None = None) -> web.Response:
    """The one REST error body: `{success: false, error: {code, message, details?}}`."""
    body = {"success": False, "error": exc.to_dict()}
    return web.json_response(body, status=status or exc.http_status)


# A WebSocket's handler runs for the connection's whole life, inside every middleware's
# frame. The middlewares below hand a request they have nothing to do for straight on:
# they are plain functions returning the handler's awaitable, so no frame of theirs
# (nor what it holds: ids, log context) stays on each open socket (~1 KiB each).


def is_socket_upgrade(request: web.Request) -> bool:
    """A WebSocket upgrade of the Socket.IO endpoint: engineio answers it, and nothing
    goes back over HTTP once it is accepted (no X-Request-Id, no request log line)."""
    return request.path.startswith("/socket.io") and (
        request.headers.get("Upgrade", "").lower() == "websocket"
    )


@web.middleware
def error_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    if is_socket_upgrade(request):
        return handler(request)
    return _answer_errors(request, handler)


async def _answer_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:16]
    structlog.contextvars.bind_contextvars(request_id=request_id, path=request.path)
    started = time.perf_counter()  # measurement only (the request log), not a rule
    status = 500
    try:
        response = await handler(request)
        status = response.status
    except ChatError as exc:
        status = exc.http_status
        response = error_response(exc)
        if isinstance(exc, RateLimited):  # counted by the limiter (adapters/ratelimit/metered.py)
            response.headers["Retry-After"] = str(max(1, -(-exc.retry_after_ms // 1000)))
    except web.HTTPException as exc:
        if exc.status == 413:
            response = error_response(PayloadTooLarge("Request body too large"))
        elif exc.status < 400:
            raise
        else:
            code = ErrorCode.NOT_FOUND if exc.status in (404, 405) else ErrorCode.VALIDATION_ERROR
            response = error_response(ChatError(exc.reason, code=code), status=exc.status)
        status = response.status
    except Exception as exc:
        if (down := unavailable(exc)) is not None:
            log.warning("request_failed_database_unavailable", error=repr(exc))
            response = error_response(down)
        else:
            log.exception("request_failed", method=request.method)
            response = error_response(ChatError("Internal error"))
        status = response.status
    finally:
        if not request.path.startswith("/socket.io"):
            request.app[METRICS].http_requests.labels(str(status)).inc()
            log.info(
                "request",
                method=request.method,
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
        structlog.contextvars.clear_contextvars()
    response.headers["X-Request-Id"] = request_id
    return response


# Public paths under /api besides health: sign-in (routes/dev.py), the contract.
PUBLIC_API = frozenset({"/api/dev/token", "/api/openapi.json", "/api/asyncapi.json"})


@web.middleware
def auth_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Every /api route but health needs a bearer token; the user comes from it alone."""
    path = request.path
    if path.startswith("/api/v1/"):
        path = "/api/" + path[len("/api/v1/") :]
    # /api/dev/token signs people in, so it cannot ask for a token (routes/dev.py).
    if not path.startswith("/api/") or path.startswith("/api/health/") or path in PUBLIC_API:
        return handler(request)
    return _authenticated(request, handler)


async def _authenticated(request: web.Request, handler: Handler) -> web.StreamResponse:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        raise AuthError("Authorization: Bearer <token> required")
    services = request.app[SERVICES]
    claims = await services.verifier.verify(header[7:].strip())
    request[CLAIMS] = claims
    structlog.contextvars.bind_contextvars(user_id=claims.sub)
    await enforce(services.limiter, claims.sub, services.limits.rest)
    await services.users.ensure(claims)
    return await handler(request)


def user_id(request: web.Request) -> str:
    return request[CLAIMS].sub


def path_id(request: web.Request, name: str) -> str:
    value = request.match_info[name]
    if not OBJECT_ID_PATTERN.match(value):
        raise ValidationFailed(f"{name} must be a 24-character hex ObjectId")
    return value.lower()


async def read_body(request: web.Request, model: type[M]) -> M:
    limit = request.app[SETTINGS].max_json_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"JSON bodies are limited to {limit} bytes")
    raw = bytearray()
    while len(raw) <= limit:  # read() returns what has arrived, not n bytes
        chunk = await request.content.read(limit + 1 - len(raw))
        if not chunk:
            break
        raw += chunk
    if len(raw) > limit:
        raise PayloadTooLarge(f"JSON bodies are limited to {limit} bytes")
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("Body is not valid JSON") from exc
    except RecursionError as exc:
        raise ValidationFailed("Body is nested too deeply") from exc
    return validate(model, data, "body")


def read_query(request: web.Request, model: type[M]) -> M:
    return validate(model, dict(request.query), "query")


def add_api_routes(app: web.Application, routes: list[web.RouteDef]) -> None:
    """Serve the same routes under /api and /api/v1, with no record for the OpenAPI
    document: tests/contract/test_openapi_document.py fails for such a route. Declare
    routes with `routes.spec.register` and an `Operation` instead."""
    for route in routes:
        assert isinstance(route.path, str)
        assert route.path.startswith("/api/")
        app.router.add_route(route.method, route.path, route.handler)
        versioned = "/api/v1/" + route.path[len("/api/") :]
        app.router.add_route(route.method, versioned, route.handler)
