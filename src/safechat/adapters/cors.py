"""CORS for REST, health/info and local-media URLs (protocol §7), from the socket's allowlist.

No library: aiohttp-cors wants every route registered with it (and its resources
re-wrapped for each method), while the rule here is one allowlist for a few path
prefixes. Bearer tokens only, so no `Access-Control-Allow-Credentials`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

COVERED = ("/api/", "/health", "/info", "/media/local/")
METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
# Every request header a route reads: the bearer token, JSON/upload types, a client's id.
HEADERS = "Authorization, Content-Type, X-Request-Id"
EXPOSED = "Retry-After, X-Request-Id"
MAX_AGE = "600"


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, as a browser writes it in `Origin`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class CorsPolicy:
    """Which `Origin` may read responses: an allowlist, `*` (dev only), and always our own."""

    def __init__(self, origins: list[str] | str, own_origins: list[str]) -> None:
        self.any = origins == "*"
        listed = [] if isinstance(origins, str) else origins
        self.allowed = frozenset(o.rstrip("/").lower() for o in [*listed, *own_origins])

    def allows(self, origin: str | None) -> bool:
        if not origin:
            return False
        return self.any or origin.rstrip("/").lower() in self.allowed

    def socket_origins(self) -> list[str] | str:
        """The same rule for python-engineio (a list always holds our own origin)."""
        return "*" if self.any else sorted(self.allowed)


def own_origins(base_url: str) -> list[str]:
    """The server's public origin; on loopback also its `localhost` spelling (browsers keep
    whichever the user typed)."""
    own = origin_of(base_url)
    parts = urlsplit(own)
    if parts.hostname == "127.0.0.1":
        return [own, own.replace("127.0.0.1", "localhost", 1)]
    return [own]


def covered(path: str) -> bool:
    return path.startswith(COVERED)


def cors_middleware(policy: CorsPolicy) -> Middleware:
    """Answers preflights before auth (they carry no token); other requests pass through
    untouched (a plain function: nothing of it stays on a long-lived socket's stack)."""

    @web.middleware
    def middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        if (
            request.method == "OPTIONS"
            and "Access-Control-Request-Method" in request.headers
            and covered(request.path)
        ):
            return _preflight(policy, request)
        return handler(request)

    return middleware


async def _preflight(policy: CorsPolicy, request: web.Request) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    if not policy.allows(origin):
        # No CORS headers: the browser refuses the real request.
        return web.Response(status=403, text="Origin not allowed")
    assert origin is not None
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": METHODS,
            "Access-Control-Allow-Headers": HEADERS,
            "Access-Control-Max-Age": MAX_AGE,
            "Vary": "Origin",
        },
    )


def cors_headers(
    policy: CorsPolicy,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """on_response_prepare: real answers (errors and prepared file responses included)."""

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        if not covered(request.path) or "Access-Control-Allow-Origin" in response.headers:
            return
        response.headers.add("Vary", "Origin")
        origin = request.headers.get("Origin")
        if policy.allows(origin):
            assert origin is not None
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED

    return add
