"""The web client (docs/web-client.md): `/` and its static files under `/app/`.

The files ship inside the package (safechat/web); socket.io-client's browser build is
copied there by `make install` (scripts/web-vendor.sh) or found in SAFECHAT_WEB_VENDOR_DIR.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from safechat.container import SETTINGS
from safechat.models.health import WebClientConfig
from safechat.routes.spec import Operation, register

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
VENDOR_FILE = "socket.io.esm.min.js"
# Same-origin only; images may come from the media store's signed URLs (S3: elsewhere).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data: https:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def _page(path: Path, content_type: str) -> web.FileResponse:
    return web.FileResponse(
        path, headers={"Content-Type": content_type, "Content-Security-Policy": CSP}
    )


async def index(_request: web.Request) -> web.StreamResponse:
    return _page(WEB_DIR / "index.html", "text/html; charset=utf-8")


async def vendor(request: web.Request) -> web.StreamResponse:
    configured = request.app[SETTINGS].web_vendor_dir
    path = (configured or WEB_DIR / "vendor") / VENDOR_FILE
    if not path.is_file():
        raise web.HTTPNotFound(text=f"{VENDOR_FILE} is not installed: run `make install`")
    return _page(path, "text/javascript; charset=utf-8")


async def client_config(request: web.Request) -> web.Response:
    """What the sign-in screen offers; the client reads it before anything else."""
    settings = request.app[SETTINGS]
    return web.json_response(
        {
            "devSignIn": settings.dev_sign_in,
            "auth": "dev-issuer" if settings.dev_issuer else "clerk",
        },
        headers={"Cache-Control": "no-store"},
    )


def setup(app: web.Application) -> None:
    if not app[SETTINGS].web_client:
        return
    app.router.add_get("/", index)
    register(
        app,
        [
            Operation(
                "GET",
                "/app/config.json",
                client_config,
                "The web client's settings",
                tag="web",
                ok={200: WebClientConfig},
                public=True,
                versioned=False,
            ),
        ],
    )
    app.router.add_get(f"/app/vendor/{VENDOR_FILE}", vendor)
    app.router.add_static("/app/", WEB_DIR, append_version=False)
