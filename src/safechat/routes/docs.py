"""The contract documents and their human reference (docs/protocol.md §7), all public.

`GET /api/asyncapi.json` is generated from the event models (contract/asyncapi.py);
`GET /docs` renders it, and `/api/openapi.json` when the server has one, with browser
bundles that `make install` copies from npm into apidocs/vendor (scripts/docs-vendor.sh).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from aiohttp import web
from yarl import URL

from safechat.container import SETTINGS
from safechat.contract.asyncapi import asyncapi_document

DOCS_DIR = Path(__file__).resolve().parent.parent / "apidocs"
ASSETS = {
    "docs.js": "text/javascript; charset=utf-8",
    "docs.css": "text/css; charset=utf-8",
    "vendor/asyncapi-standalone.js": "text/javascript; charset=utf-8",
    "vendor/asyncapi.css": "text/css; charset=utf-8",
    "vendor/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "vendor/swagger-ui.css": "text/css; charset=utf-8",
}
# The renderers set inline styles and draw data: images; everything else is same-origin
# (Swagger UI's "try it out" calls this server's own routes). 'unsafe-eval': the AsyncAPI
# component validates the document with ajv, which compiles its checks with `new
# Function`; this page shows only the server's own documents, never user content.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# The documents change only with the server's code: let clients cache them briefly.
CACHE = "public, max-age=300"


async def asyncapi_json(request: web.Request) -> web.Response:
    # The server entry names this server: its public URL when configured (behind a
    # proxy), else the host this was fetched from, so tools connect back here.
    public = request.app[SETTINGS].public_url
    url = URL(public) if public else request.url
    protocol: Literal["ws", "wss"] = "wss" if url.scheme == "https" else "ws"
    host = url.raw_authority if public else request.host
    doc = asyncapi_document(host=host, protocol=protocol)
    return web.json_response(doc, headers={"Cache-Control": CACHE})


async def docs_page(_request: web.Request) -> web.StreamResponse:
    return web.FileResponse(
        DOCS_DIR / "index.html",
        headers={"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": CSP},
    )


async def docs_asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    content_type = ASSETS.get(name)  # a fixed list: no path from the client reaches the disk
    path = DOCS_DIR / name
    if content_type is None or not path.is_file():
        hint = " (run `make install`)" if name.startswith("vendor/") else ""
        raise web.HTTPNotFound(text=f"{name} is not installed{hint}")
    return web.FileResponse(path, headers={"Content-Type": content_type, "Cache-Control": CACHE})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/asyncapi.json", asyncapi_json)
    app.router.add_get("/docs", docs_page)
    app.router.add_get("/docs/assets/{name:.+}", docs_asset)
