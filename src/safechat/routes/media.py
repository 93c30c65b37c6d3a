"""/api/media: upload (multipart), upload-and-send, presign/complete, signed reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import Field

from safechat.container import SERVICES
from safechat.errors import ChatError, ErrorCode, PayloadTooLarge, ValidationFailed
from safechat.models.common import Inbound, ObjectIdStr, iso, storable_text, validate
from safechat.models.media import MediaQuery, PresignRequest
from safechat.models.message import ClientId, SendMessage
from safechat.models.responses import (
    MediaResponse,
    PresignResponse,
    SentMessageResponse,
    SignedUrlResponse,
)
from safechat.routes.common import ok, path_id, read_body, read_query, user_id
from safechat.routes.spec import api, register
from safechat.services.media.service import MediaService
from safechat.services.ratelimit import enforce

CHUNK = 64 * 1024
FIELD_LIMIT = 64 * 1024  # a caption of 4000 characters is at most 16 KB of UTF-8
FORM_OVERHEAD = 256 * 1024  # boundaries, part headers and the text fields
MAX_PARTS = 8
FILE_FIELDS = ("file", "image")
IN_GROUP = (ErrorCode.GROUP_NOT_FOUND, ErrorCode.ACCESS_DENIED)


class UploadFields(Inbound):
    groupId: ObjectIdStr


class SendFields(Inbound):
    groupId: ObjectIdStr
    caption: Annotated[str, Field(max_length=FIELD_LIMIT)] = ""
    tempId: ClientId | None = None
    replyTo: ObjectIdStr | None = None


@dataclass(frozen=True, slots=True)
class UploadForm:
    fields: dict[str, str]
    data: bytes
    filename: str | None


def _svc(request: web.Request) -> MediaService:
    return request.app[SERVICES].media


async def _read_part(part: BodyPartReader, limit: int, too_big: ChatError) -> bytes:
    """A part's bytes, refusing as soon as more than `limit` have arrived."""
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        data += chunk
        if len(data) > limit:
            raise too_big
    return bytes(data)


async def read_upload(request: web.Request, names: tuple[str, ...]) -> UploadForm:
    """Streams a multipart form: one file (`file` or `image`) and the named text
    fields. The file is held in memory only up to the upload limit (+1 byte)."""
    limit = _svc(request).limits.max_bytes
    too_big = PayloadTooLarge(f"Uploads are limited to {limit} bytes", details={"maxBytes": limit})
    if not request.content_type.startswith("multipart/form-data"):
        raise ValidationFailed("Send the file as multipart/form-data")
    if request.content_length is not None and request.content_length > limit + FORM_OVERHEAD:
        raise too_big
    fields: dict[str, str] = {}
    data: bytes | None = None
    filename: str | None = None
    try:
        reader = await request.multipart()
        for _ in range(MAX_PARTS + 1):
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ValidationFailed("Nested multipart bodies are not supported")
            name = part.name or ""
            if name in FILE_FIELDS and data is None:
                data = await _read_part(part, limit, too_big)
                # Part headers are decoded with surrogateescape: bad UTF-8 becomes surrogates.
                filename = storable_text(part.filename, "filename") if part.filename else None
            elif name in names and name not in fields:
                raw = await _read_part(part, FIELD_LIMIT, ValidationFailed(f"{name} is too long"))
                fields[name] = raw.decode("utf-8")
            else:
                raise ValidationFailed(
                    "Unexpected form field (or one given twice)", details={"field": name[:64]}
                )
        else:
            raise ValidationFailed("Too many form fields")
    # HttpProcessingError: a part's headers that do not parse (a control character in a
    # field name), found by the contract fuzzing; a 400 like any other malformed form.
    except (ValueError, AssertionError, UnicodeDecodeError, HttpProcessingError) as exc:
        raise ValidationFailed("Malformed multipart body") from exc
    if data is None:
        raise ValidationFailed("A file field named 'file' or 'image' is required")
    return UploadForm(fields, data, filename)


async def upload(request: web.Request) -> web.Response:
    form = await read_upload(request, ("groupId",))
    fields = validate(UploadFields, form.fields, "form")
    media = await _svc(request).upload(user_id(request), fields.groupId, form.data, form.filename)
    return ok({"media": media}, status=201)


async def upload_and_send(request: web.Request) -> web.Response:
    """Upload + send_message in one request; broadcast like any other send."""
    services, uid = request.app[SERVICES], user_id(request)
    await enforce(services.limiter, uid, services.limits.send)  # before reading the upload
    form = await read_upload(request, ("groupId", "caption", "tempId", "replyTo"))
    fields = validate(SendFields, form.fields, "form")
    svc = _svc(request)
    media = await svc.upload(uid, fields.groupId, form.data, form.filename)
    body = SendMessage(
        groupId=fields.groupId,
        content=fields.caption,
        type="image" if media["kind"] == "image" else "file",
        tempId=fields.tempId,
        replyTo=fields.replyTo,
        mediaId=media["id"],
    )
    try:
        result = await request.app[SERVICES].messages.send(uid, body)
    except Exception:
        await svc.discard(media["id"])
        raise
    if result.duplicate:  # a retry: the first request's upload is the one in the message
        await svc.discard(media["id"])
    status = 200 if result.duplicate else 201
    return ok({"message": result.message, "duplicate": result.duplicate}, status=status)


async def presign(request: web.Request) -> web.Response:
    body = await read_body(request, PresignRequest)
    return ok(await _svc(request).presign(user_id(request), body), status=201)


async def complete(request: web.Request) -> web.Response:
    mid = path_id(request, "mediaId")
    return ok({"media": await _svc(request).complete(user_id(request), mid)})


async def fetch(request: web.Request) -> web.Response:
    """302 to a freshly signed URL; `?redirect=false` answers it as JSON instead
    (for clients that put the URL into an <img> themselves)."""
    mid = path_id(request, "mediaId")
    query = read_query(request, MediaQuery)
    signed = await _svc(request).signed_url(user_id(request), mid, query.variant)
    if not query.redirect:
        return ok({"url": signed.url, "expiresAt": iso(signed.expires_at)})
    return web.Response(status=302, headers={"Location": signed.url, "Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    register(
        app,
        [
            api(
                "POST",
                "/api/media/chat/upload",
                upload,
                "Upload a file",
                tag="media",
                form=UploadFields,
                ok={201: MediaResponse},
                errors=IN_GROUP,
            ),
            api(
                "POST",
                "/api/media/chat/send",
                upload_and_send,
                "Upload a file and send it",
                tag="media",
                form=SendFields,
                ok={201: SentMessageResponse, 200: SentMessageResponse},
                errors=(
                    *IN_GROUP,
                    ErrorCode.MESSAGE_NOT_FOUND,
                    ErrorCode.MESSAGE_TOO_LONG,
                    ErrorCode.CONTENT_REJECTED,
                    ErrorCode.CONFLICT,
                ),
            ),
            api(
                "POST",
                "/api/media/presign",
                presign,
                "A direct-upload URL",
                tag="media",
                body=PresignRequest,
                ok={201: PresignResponse},
                errors=IN_GROUP,
            ),
            api(
                "POST",
                "/api/media/{mediaId}/complete",
                complete,
                "Finish a direct upload",
                tag="media",
                ok={200: MediaResponse},
                errors=(*IN_GROUP, ErrorCode.NOT_FOUND, ErrorCode.CONFLICT),
            ),
            api(
                "GET",
                "/api/media/{mediaId}",
                fetch,
                "Read a file (signed URL)",
                tag="media",
                query=MediaQuery,
                ok={200: SignedUrlResponse, 302: None},
                errors=(*IN_GROUP, ErrorCode.NOT_FOUND),
                headers={302: {"Location": "The signed URL, valid for 10 minutes"}},
                description="302 to a signed URL; with `redirect=false`, the URL as JSON.",
            ),
        ],
    )
