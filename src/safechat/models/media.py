"""Media: the stored upload record, REST bodies, and the wire view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from bson import ObjectId
from pydantic import Field

from safechat.models.common import Inbound, ObjectIdStr, Query, drop_none, iso

MediaStatus = Literal["pending", "ready", "attached"]
Variant = Literal["original", "thumbnail"]


@dataclass(slots=True)
class StoredMedia:
    """One upload. `upload_key` is where a direct (presigned) upload lands before it is
    verified; `original_key`/`thumbnail_key` are what SafeChat serves."""

    id: ObjectId
    owner_id: str
    group_id: ObjectId
    status: MediaStatus
    filename: str
    original_key: str
    created_at: datetime
    updated_at: datetime
    kind: str | None = None
    mime_type: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    thumbnail_key: str | None = None
    thumbnail_mime: str | None = None
    upload_key: str | None = None
    declared_size: int | None = None
    message_id: ObjectId | None = None

    @property
    def mid(self) -> str:
        return str(self.id)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> StoredMedia:
        return cls(
            id=doc["_id"],
            owner_id=doc["ownerId"],
            group_id=doc["groupId"],
            status=doc["status"],
            filename=doc.get("filename", "file"),
            original_key=doc["originalKey"],
            created_at=doc["createdAt"],
            updated_at=doc.get("updatedAt", doc["createdAt"]),
            kind=doc.get("kind"),
            mime_type=doc.get("mimeType"),
            size=doc.get("size"),
            width=doc.get("width"),
            height=doc.get("height"),
            thumbnail_key=doc.get("thumbnailKey"),
            thumbnail_mime=doc.get("thumbnailMime"),
            upload_key=doc.get("uploadKey"),
            declared_size=doc.get("declaredSize"),
            message_id=doc.get("messageId"),
        )

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "_id": self.id,
            "ownerId": self.owner_id,
            "groupId": self.group_id,
            "status": self.status,
            "filename": self.filename,
            "originalKey": self.original_key,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }
        optional = {
            "kind": self.kind,
            "mimeType": self.mime_type,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "thumbnailKey": self.thumbnail_key,
            "thumbnailMime": self.thumbnail_mime,
            "uploadKey": self.upload_key,
            "declaredSize": self.declared_size,
            "messageId": self.message_id,
        }
        doc.update(drop_none(optional))
        return doc

    def keys(self) -> list[str]:
        return [k for k in (self.original_key, self.thumbnail_key, self.upload_key) if k]

    def summary(self) -> dict[str, Any]:
        """What a message stores about its media: no URLs, nothing that expires."""
        return drop_none(
            {
                "mediaId": self.mid,
                "kind": self.kind,
                "mimeType": self.mime_type,
                "size": self.size,
                "width": self.width,
                "height": self.height,
                "filename": self.filename,
                "hasThumbnail": self.thumbnail_key is not None or None,
            }
        )


def media_wire(summary: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The protocol's `media` object: stable SafeChat URLs that sign on every read."""
    if "externalUrl" in summary:
        # Migrated from the Node service, pointing outside SafeChat's store
        # (docs/migration.md): no SafeChat id, the old URL as it was.
        wire = {k: v for k, v in summary.items() if not k.startswith("external")}
        wire.update(url=summary["externalUrl"], external=True)
        if summary.get("externalThumbnailUrl"):
            wire["thumbnailUrl"] = summary["externalThumbnailUrl"]
        return wire
    mid = str(summary["mediaId"])
    url = f"{base_url}/api/media/{mid}"
    wire = {k: v for k, v in summary.items() if k != "hasThumbnail"}
    wire["id"] = mid
    wire["url"] = url
    if summary.get("hasThumbnail"):
        wire["thumbnailUrl"] = f"{url}?variant=thumbnail"
    return wire


def upload_view(media: StoredMedia, base_url: str) -> dict[str, Any]:
    """The `media` of upload/complete answers: the wire view plus its state."""
    view = media_wire(media.summary(), base_url)
    view.update(
        {"status": media.status, "groupId": str(media.group_id), "createdAt": iso(media.created_at)}
    )
    return view


MimeType = Annotated[str, Field(min_length=1, max_length=100)]
FileName = Annotated[str, Field(min_length=1, max_length=1000)]


class PresignRequest(Inbound):
    groupId: ObjectIdStr
    filename: FileName
    mimeType: MimeType
    size: Annotated[int, Field(ge=1)]


class MediaQuery(Query):
    variant: Variant = "original"
    redirect: bool = True
