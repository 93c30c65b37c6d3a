"""GET /api/openapi.json: the OpenAPI 3.1 document of every REST route (public)."""

from __future__ import annotations

import json

from aiohttp import web

from safechat.container import OPENAPI_JSON
from safechat.contract.openapi import openapi_document
from safechat.routes.spec import Operation, register

PATH = "/api/openapi.json"


async def openapi_json(request: web.Request) -> web.Response:
    # Built on first use, once: the routes cannot change after the app froze.
    cache = request.app[OPENAPI_JSON]
    if "body" not in cache:
        cache["body"] = json.dumps(openapi_document(request.app)).encode()
    return web.Response(
        body=cache["body"],
        content_type="application/json",
        headers={"Cache-Control": "public, max-age=300"},
    )


def setup(app: web.Application) -> None:
    app[OPENAPI_JSON] = {}
    register(
        app,
        [
            Operation(
                "GET",
                PATH,
                openapi_json,
                "This document",
                tag="contract",
                ok={200: "application/json"},
                public=True,
                versioned=False,
            ),
        ],
    )
