"""The contract documents and their human reference (docs/protocol.md §7), all public.

`GET /api/asyncapi.json` is generated from the event models (contract/asyncapi.py);
`GET /docs` renders it and `/api/openapi.json` (routes/openapi.py) with browser bundles
that `make install` copies from npm into apidocs/vendor (scripts/docs-vendor.sh).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from aiohttp import web
from yarl import URL

from safechat.container import ASYNCAPI_BASE, SETTINGS
from safechat.contract.asyncapi import asyncapi_document, base_document
from safechat.routes.spec import JSON, public, register

DOCS_DIR = Path(__file__).resolve().parent.parent / "apidocs"
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
    public_url = request.app[SETTINGS].public_url
    url = URL(public_url) if public_url else request.url
    protocol: Literal["ws", "wss"] = "wss" if url.scheme == "https" else "ws"
    host = url.raw_authority if public_url else request.host
    built = request.app[ASYNCAPI_BASE]
    if "doc" not in built:
        built["doc"] = base_document()
    doc = asyncapi_document(host=host, protocol=protocol, base=built["doc"])
    return web.json_response(doc, headers={"Cache-Control": CACHE})


async def docs_page(_request: web.Request) -> web.StreamResponse:
    return web.FileResponse(
        DOCS_DIR / "index.html",
        headers={"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": CSP},
    )


def setup(app: web.Application) -> None:
    app[ASYNCAPI_BASE] = {}
    register(
        app,
        [
            public(
                "GET",
                "/api/asyncapi.json",
                asyncapi_json,
                "The AsyncAPI 3.0 document of the Socket.IO events",
                tag="contract",
                ok={200: JSON},
                versioned=True,  # also /api/v1/asyncapi.json, as every /api document
            ),
            public(
                "GET",
                "/docs",
                docs_page,
                "The API reference: this document and the AsyncAPI one, rendered",
                tag="contract",
                ok={200: "text/html"},
            ),
        ],
    )
    # The page's script and style, and the vendored bundles (absent before `make install`).
    app.router.add_static("/docs/assets/", DOCS_DIR, append_version=False)
