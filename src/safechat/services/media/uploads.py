"""Uploads: through SafeChat (one request), or direct to the store (presign, the
client's PUT, complete); bytes are verified (type sniffed, images re-encoded off the
loop, thumbnail made) before a record becomes ready.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bson import ObjectId

from safechat.errors import (
    ChatError,
    Conflict,
    MediaNotFound,
    PayloadTooLarge,
    ProcessingBusy,
    ValidationFailed,
)
from safechat.models.common import iso
from safechat.models.media import PresignRequest, StoredMedia, upload_view
from safechat.repositories.media import MediaRepository
from safechat.services.groups.service import GroupService
from safechat.services.media.cleanup import MediaCleanup
from safechat.services.media.files import (
    ALLOWED_TYPES,
    IMAGE_TYPES,
    kind_of,
    process_image,
    sanitize_filename,
    sniff,
)
from safechat.services.media.limits import MediaLimits
from safechat.services.media.sweep import SWEEP_GRACE, upload_id
from safechat.services.media.work import ImageWorkers
from safechat.services.ports import Clock, MediaStore

# `complete` must come within upload_ttl plus this of the presign; the file sweep deletes
# upload objects older than upload_ttl plus SWEEP_GRACE, so the two never race.
COMPLETE_GRACE = SWEEP_GRACE / 2


@dataclass(frozen=True, slots=True)
class Prepared:
    """Verified bytes, ready to store."""

    mime: str
    data: bytes
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None
    thumbnail_mime: str | None = None


def original_key(media_id: ObjectId) -> str:
    return f"media/{media_id}/original"


def thumbnail_key(media_id: ObjectId) -> str:
    return f"media/{media_id}/thumbnail"


def upload_key(media_id: ObjectId) -> str:
    # Direct uploads land apart from what is served: re-using a presigned PUT URL
    # after `complete` can never replace verified bytes.
    return f"uploads/{media_id}"


class MediaUploads:
    def __init__(
        self,
        repo: MediaRepository,
        groups: GroupService,
        store: MediaStore,
        clock: Clock,
        cleanup: MediaCleanup,
        *,
        base_url: str,
        limits: MediaLimits,
        workers: ImageWorkers,
    ) -> None:
        self._repo = repo
        self._groups = groups
        self._store = store
        self._clock = clock
        self._cleanup = cleanup
        self._base_url = base_url
        self._limits = limits
        self._workers = workers

    def _too_large(self) -> PayloadTooLarge:
        limit = self._limits.max_bytes
        return PayloadTooLarge(f"Uploads are limited to {limit} bytes", details={"maxBytes": limit})

    async def _prepare(self, user_id: str, data: bytes) -> Prepared:
        if len(data) > self._limits.max_bytes:
            raise self._too_large()
        mime = sniff(data)
        if mime is None:
            raise ValidationFailed(
                "Unsupported file type (checked by content, not by name)",
                details={"allowed": list(ALLOWED_TYPES)},
            )
        if mime not in IMAGE_TYPES:
            return Prepared(mime, data)
        decode = functools.partial(
            process_image,
            data,
            mime,
            max_pixels=self._limits.max_pixels,
            max_frames=self._limits.max_frames,
        )
        image = await self._workers.run(user_id, decode)
        return Prepared(
            mime, image.data, image.width, image.height, image.thumbnail, image.thumbnail_mime
        )

    async def _store_prepared(self, media: StoredMedia, ready: Prepared) -> StoredMedia:
        await self._store.put(media.original_key, ready.data, ready.mime)
        fields: dict[str, Any] = {
            "kind": kind_of(ready.mime),
            "mimeType": ready.mime,
            "size": len(ready.data),
            "filename": sanitize_filename(media.filename, ready.mime),
        }
        if ready.thumbnail is not None and ready.thumbnail_mime is not None:
            key = thumbnail_key(media.id)
            await self._store.put(key, ready.thumbnail, ready.thumbnail_mime)
            fields.update(
                thumbnailKey=key,
                thumbnailMime=ready.thumbnail_mime,
                width=ready.width,
                height=ready.height,
            )
        done = await self._repo.mark_ready(media.id, fields, self._clock.now())
        if done is None:  # completed concurrently; that one's record stands
            found = await self._repo.get(media.id)
            if found is None:  # refused or swept meanwhile: what we just stored is no one's
                await self._store.delete([media.original_key, thumbnail_key(media.id)])
                raise MediaNotFound()
            return found
        return done

    def _new(self, user_id: str, group_id: ObjectId, filename: str, **extra: Any) -> StoredMedia:
        now = self._clock.now()
        media_id = ObjectId()
        return StoredMedia(
            id=media_id,
            owner_id=user_id,
            group_id=group_id,
            status="pending",
            filename=filename,
            original_key=original_key(media_id),
            created_at=now,
            updated_at=now,
            **extra,
        )

    # --- upload through SafeChat ------------------------------------------------

    async def upload(
        self, user_id: str, group_id: str, data: bytes, filename: str | None
    ) -> dict[str, Any]:
        group = await self._groups.require_member(group_id, user_id)
        ready = await self._prepare(user_id, data)
        # Recorded first, so bytes stored by a request that then fails are swept.
        media = self._new(user_id, group.id, sanitize_filename(filename, ready.mime))
        await self._repo.insert(media)
        return upload_view(await self._store_prepared(media, ready), self._base_url)

    # --- direct upload: presign, client PUT, complete ---------------------------

    async def presign(self, user_id: str, body: PresignRequest) -> dict[str, Any]:
        group = await self._groups.require_member(body.groupId, user_id)
        declared = body.mimeType.strip().lower()
        if declared not in ALLOWED_TYPES:
            raise ValidationFailed(
                "Unsupported file type", details={"allowed": list(ALLOWED_TYPES)}
            )
        if body.size > self._limits.max_bytes:
            raise self._too_large()
        media = self._new(
            user_id,
            group.id,
            sanitize_filename(body.filename, declared),
            declared_size=body.size,
        )
        media.upload_key = upload_key(media.id)
        await self._repo.insert(media)
        signed = await self._store.upload_url(
            media.upload_key,
            content_type=declared,
            max_bytes=self._limits.max_bytes,
            expires_in=self._limits.upload_ttl,
        )
        return {
            "mediaId": media.mid,
            "uploadUrl": signed.url,
            "method": signed.method,
            "headers": signed.headers,
            "expiresAt": iso(signed.expires_at),
        }

    async def complete(self, user_id: str, media_id: str) -> dict[str, Any]:
        media = await self._repo.get(ObjectId(media_id))
        if media is None or media.owner_id != user_id:
            raise MediaNotFound()
        if media.status != "pending":
            return upload_view(media, self._base_url)  # completing twice is harmless
        if media.upload_key is None:
            raise Conflict("This upload is still being processed")
        await self._groups.require_member(str(media.group_id), user_id)
        window = timedelta(seconds=self._limits.upload_ttl) + COMPLETE_GRACE
        if media.created_at < self._clock.now() - window:
            await self._cleanup.discard(media)  # the sweep may be deleting its bytes already
            raise ValidationFailed("This upload URL has expired; presign again")
        size = await self._store.size(media.upload_key)
        if size is None:
            raise Conflict("Nothing was uploaded to the upload URL yet")
        try:
            if size > self._limits.max_bytes:
                raise self._too_large()
            if size != media.declared_size:
                raise ValidationFailed(
                    "The uploaded size differs from the size given to presign",
                    details={"declared": media.declared_size, "actual": size},
                )
            data = await self._store.get(media.upload_key, self._limits.max_bytes)
            if data is None:
                raise Conflict("Nothing was uploaded to the upload URL yet")
            ready = await self._prepare(user_id, data)
        except ProcessingBusy:
            raise  # nothing wrong with the bytes: they stay for a retry
        except ChatError:
            # Refused bytes are not kept; the client may presign again.
            await self._cleanup.discard(media)
            raise
        done = await self._store_prepared(media, ready)
        # The verified copy now lives under media/<id>/; a presigned S3 PUT URL cannot be
        # revoked, so bytes PUT again later land here with no record: the file sweep
        # removes them.
        await self._store.delete([media.upload_key])
        return upload_view(done, self._base_url)

    async def upload_open(self, key: str) -> bool:
        """Whether a direct upload to `key` may (still) be written: its record is pending
        and waits on that key. A completed or refused upload is closed for good."""
        media_id = upload_id(key)
        if media_id is None:
            return False
        media = await self._repo.get(media_id)
        return media is not None and media.status == "pending" and media.upload_key == key
