"""Media of Node messages: an object in SafeChat's bucket, or an external URL.

The Node service stored a URL (`mediaUrl`, `mediaMetadata.thumbnailUrl`). When it points
into the bucket SafeChat is configured with (S3_BUCKET, under S3_PREFIX), the message
gets a `media` record for that key and is served like any upload (signed, members only).
Any other URL (another bucket, a CDN, the local disk of the old server) is kept as it is:
`media.externalUrl`, which clients fetch directly (docs/migration.md)."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from bson import ObjectId

from safechat.models.common import drop_none
from safechat.models.media import StoredMedia
from safechat.services.media.files import sanitize_filename
from safechat.services.migration.records import text

Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Bucket:
    """Where SafeChat's media live; name None: the local store, so every URL is external."""

    name: str | None = None
    endpoint_url: str | None = None
    prefix: str = ""

    def key_of(self, url: str) -> str | None:
        """The store key (below the prefix) a URL names in this bucket, or None."""
        if not self.name:
            return None
        parts = urlsplit(url)
        host, path = (parts.hostname or "").lower(), unquote(parts.path)
        bucket = self.name.lower()
        key: str | None = None
        if parts.scheme == "s3":
            key = path.lstrip("/") if host == bucket else None
        elif host.startswith(f"{bucket}.") and self._is_s3(host[len(bucket) + 1 :]):
            key = path.lstrip("/")  # virtual-hosted style
        elif self._is_s3(host) and path.startswith(f"/{self.name}/"):
            key = path[len(self.name) + 2 :]  # path style
        if not key:
            return None
        prefix = self.prefix.strip("/")
        if prefix:
            if not key.startswith(prefix + "/"):
                return None
            key = key[len(prefix) + 1 :]
        return key or None

    def _is_s3(self, host: str) -> bool:
        if self.endpoint_url:
            endpoint = (urlsplit(self.endpoint_url).hostname or "").lower()
            if host == endpoint:
                return True
        return host.endswith(".amazonaws.com") and (
            host.startswith("s3.") or host.startswith("s3-") or host == "s3.amazonaws.com"
        )


def described(content: str) -> tuple[str, Doc]:
    """A media message's content: its caption and what the JSON says about the file."""
    import json

    try:
        info = json.loads(content)
    except ValueError:
        return content, {}
    if not isinstance(info, dict):
        return content, {}
    caption = text(info.get("caption")) or text(info.get("text")) or ""
    return caption, info


def media_of(
    src: Doc, info: Doc, bucket: Bucket, sender: str, times: tuple[datetime, datetime]
) -> tuple[str, Doc | None, Doc | None]:
    """(outcome, the message's `media`, a `media` record to store or None)."""
    meta = src.get("mediaMetadata") if isinstance(src.get("mediaMetadata"), dict) else {}
    assert isinstance(meta, dict)
    url = text(src.get("mediaUrl")) or text(info.get("url")) or text(info.get("mediaUrl"))
    if url is None:
        return "missing", None, None
    kind = "image" if src.get("type") == "image" else "file"
    raw_name = (
        text(meta.get("originalFilename"))
        or text(info.get("originalFilename"))
        or text(meta.get("filename"))
        or text(info.get("filename"))
        or urlsplit(url).path.rsplit("/", 1)[-1]
    )
    mime = (
        text(meta.get("mimeType"))
        or text(meta.get("mimetype"))
        or text(info.get("mimeType"))
        or text(info.get("mimetype"))
        or mimetypes.guess_type(raw_name or "")[0]
        or ("image/jpeg" if kind == "image" else "application/octet-stream")
    )
    facts = drop_none(
        {
            "kind": kind,
            "mimeType": mime,
            "size": _int(meta.get("size", info.get("size"))),
            "width": _int(meta.get("width")),
            "height": _int(meta.get("height")),
            "filename": sanitize_filename(raw_name, mime),
        }
    )
    thumb = text(meta.get("thumbnailUrl"))
    key = bucket.key_of(url)
    if key is None:
        external = {"externalUrl": url, **facts}
        if thumb is not None:
            external["externalThumbnailUrl"] = thumb
        return "external", external, None
    thumb_key = bucket.key_of(thumb) if thumb else None
    message_id = src["_id"]
    assert isinstance(message_id, ObjectId)
    record = StoredMedia(
        id=message_id,  # one media per message: its id, so a re-run writes the same record
        owner_id=sender,
        group_id=src["groupId"],
        status="attached",
        filename=facts["filename"],
        original_key=key,
        created_at=times[0],
        updated_at=times[1],
        kind=kind,
        mime_type=mime,
        size=facts.get("size"),
        width=facts.get("width"),
        height=facts.get("height"),
        thumbnail_key=thumb_key,
        thumbnail_mime=(mimetypes.guess_type(thumb_key)[0] or "image/jpeg") if thumb_key else None,
        message_id=message_id,
    )
    return "s3", record.summary(), record.to_doc()


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
