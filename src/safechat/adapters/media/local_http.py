"""The HTTP side of the local media store: GET serves a signed URL, PUT receives a
direct upload. Registered by create_app only when the local store is in use."""

from __future__ import annotations

import asyncio

from aiohttp import web

from safechat.adapters.media.local import CHUNK, PREFIX, LocalMediaStore
from safechat.container import LOCAL_MEDIA, UPLOAD_GATE
from safechat.errors import (
    BadSignature,
    ChatError,
    ErrorCode,
    MediaNotFound,
    PayloadTooLarge,
    UploadClosed,
)
from safechat.routes.spec import public, register
from safechat.services.media.files import content_disposition


def _store(request: web.Request) -> tuple[LocalMediaStore, str, dict[str, str]]:
    store = request.app.get(LOCAL_MEDIA)
    if store is None:
        raise ChatError("Not found", code=ErrorCode.NOT_FOUND)
    # One value per name: a repeated parameter is not something we signed.
    query: dict[str, str] = {}
    for name, value in request.query.items():
        if name in query:
            raise BadSignature()
        query[name] = value
    return store, request.match_info["key"], query


async def serve(request: web.Request) -> web.StreamResponse:
    store, key, query = _store(request)
    store.verify("GET", key, query, ("ct", "fn", "d"))
    path = store.path(key)
    if not await asyncio.to_thread(path.is_file):
        raise MediaNotFound()
    response = web.FileResponse(path)
    response.content_type = query["ct"]
    response.headers["Content-Disposition"] = content_disposition(
        query["fn"], inline=query["d"] == "inline"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


async def receive(request: web.Request) -> web.Response:
    store, key, query = _store(request)
    store.verify("PUT", key, query, ("ct", "max"))
    if request.headers.get("Content-Type", "") != query["ct"]:
        raise BadSignature("Content-Type must be the one the upload URL was made for")
    gate = request.app.get(UPLOAD_GATE)
    if gate is None or not await gate(key):
        raise UploadClosed()
    limit = int(query["max"])
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"Uploads are limited to {limit} bytes", details={"maxBytes": limit})
    data = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK):
        data += chunk
        if len(data) > limit:
            raise PayloadTooLarge(
                f"Uploads are limited to {limit} bytes", details={"maxBytes": limit}
            )
    await store.put(key, bytes(data), query["ct"])
    # `complete` (or a refusal) may have run while the body arrived; it closes the upload
    # before deleting its key, so checking again after the write leaves no stray file.
    if not await gate(key):
        await store.delete([key])
        raise UploadClosed()
    return web.Response(status=200)


def setup_routes(app: web.Application) -> None:
    # Reached only through signed URLs (presign, GET /api/media/{id}): the signature is in
    # the query string the server made, so the document describes no parameters of it.
    register(
        app,
        [
            public(
                "GET",
                PREFIX + "{key:.+}",
                serve,
                "A signed media URL",
                ok={200: "application/octet-stream"},
                errors=(ErrorCode.ACCESS_DENIED, ErrorCode.NOT_FOUND),
                tag="media",
            ),
            public(
                "PUT",
                PREFIX + "{key:.+}",
                receive,
                "A signed direct-upload URL",
                ok={200: None},
                errors=(ErrorCode.ACCESS_DENIED, ErrorCode.NOT_FOUND, ErrorCode.PAYLOAD_TOO_LARGE),
                tag="media",
            ),
        ],
    )
