"""POST /api/dev/token: the web client's "sign in as" (docs/web-client.md).

Only in dev mode with the dev issuer, while the server listens on loopback and the
caller is on loopback too; anywhere else the route answers 404 as if it did not exist.
Rate limited per client address. Outside /api/v1: a development aid, not part of the API.
"""

from __future__ import annotations

from aiohttp import web

from safechat.config import is_loopback_host
from safechat.container import SERVICES, SETTINGS
from safechat.errors import ErrorCode
from safechat.models.dev import DevTokenRequest
from safechat.models.responses import DevTokenResponse
from safechat.routes.common import ok, read_body
from safechat.routes.spec import Operation, register
from safechat.services.ports import Limit
from safechat.services.ratelimit import enforce

PATH = "/api/dev/token"
# Tokens for a browser tab: long enough for a session, never past the verifier's maximum.
TTL_SECONDS = 8 * 3600


async def dev_token(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    services = request.app[SERVICES]
    issuer = services.dev_issuer
    if not settings.dev_sign_in or issuer is None or not is_loopback_host(request.remote or ""):
        raise web.HTTPNotFound()
    limit = Limit.per_minute("dev_token", settings.rate_dev_token_per_minute)
    await enforce(services.limiter, request.remote or "?", limit)
    body = await read_body(request, DevTokenRequest)
    first, _, last = (body.name or "").strip().partition(" ")
    ttl = min(TTL_SECONDS, settings.auth_max_token_lifetime_seconds)
    token = issuer.mint(
        body.userId, ttl_seconds=ttl, first_name=first or None, last_name=last.strip() or None
    )
    return ok({"token": token, "userId": body.userId, "expiresIn": ttl})


def setup(app: web.Application) -> None:
    register(
        app,
        [
            Operation(
                "POST",
                PATH,
                dev_token,
                "Sign in as (dev only)",
                tag="dev",
                body=DevTokenRequest,
                ok={200: DevTokenResponse},
                public=True,
                versioned=False,
                errors=(ErrorCode.NOT_FOUND, ErrorCode.RATE_LIMITED),
                description="Only with SAFECHAT_ENV=dev, the dev issuer, a loopback "
                "listen address and a loopback caller; 404 otherwise.",
            ),
        ],
    )
