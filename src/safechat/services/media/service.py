"""Media: uploads (through SafeChat or direct to the store), signed reads, attaching
uploads to messages, and sweeping uploads that were never attached.

Lifecycle of a `media` record: pending (bytes not verified yet) -> ready (type
sniffed, image re-encoded, thumbnail made) -> attached (to exactly one message).
Records still pending or ready after `orphan_ttl` are deleted with their objects.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from bson import ObjectId

from safechat.errors import (
    AccessDenied,
    ChatError,
    Conflict,
    MediaNotFound,
    PayloadTooLarge,
    ProcessingBusy,
    ValidationFailed,
)
from safechat.models.common import iso
from safechat.models.media import PresignRequest, StoredMedia, Variant, upload_view
from safechat.repositories.media import MediaRepository
from safechat.repositories.messages import MessageRepository
from safechat.services.groups.service import GroupService
from safechat.services.media.files import (
    ALLOWED_TYPES,
    IMAGE_TYPES,
    MAX_FRAMES,
    kind_of,
    process_image,
    sanitize_filename,
    sniff,
)
from safechat.services.media.sweep import SWEEP_GRACE, sweep_files, upload_id
from safechat.services.media.work import ImageWorkers
from safechat.services.ports import Clock, MediaStore, SignedUrl

log = structlog.get_logger(__name__)

SWEEP_BATCH = 200
# `complete` must come within upload_ttl plus this of the presign; the file sweep deletes
# upload objects older than upload_ttl plus SWEEP_GRACE, so the two never race.
COMPLETE_GRACE = SWEEP_GRACE / 2


@dataclass(frozen=True, slots=True)
class MediaLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_frames: int = MAX_FRAMES
    url_ttl: int = 600
    upload_ttl: int = 900
    orphan_ttl: timedelta = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Prepared:
    """Verified bytes, ready to store."""

    mime: str
    data: bytes
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None
    thumbnail_mime: str | None = None


def orphan_cutoff(now: datetime, ttl: timedelta) -> datetime:
    """Uploads created before this are orphans if still unattached."""
    return now - ttl - SWEEP_GRACE


def original_key(media_id: ObjectId) -> str:
    return f"media/{media_id}/original"


def thumbnail_key(media_id: ObjectId) -> str:
    return f"media/{media_id}/thumbnail"


def upload_key(media_id: ObjectId) -> str:
    # Direct uploads land apart from what is served: re-using a presigned PUT URL
    # after `complete` can never replace verified bytes.
    return f"uploads/{media_id}"


class MediaService:
    def __init__(
        self,
        repo: MediaRepository,
        messages: MessageRepository,
        groups: GroupService,
        store: MediaStore,
        clock: Clock,
        *,
        base_url: str,
        limits: MediaLimits | None = None,
        workers: ImageWorkers,
    ) -> None:
        self._repo = repo
        self._messages = messages
        self._groups = groups
        self._store = store
        self._clock = clock
        self._base_url = base_url
        self.limits = limits or MediaLimits()
        self._workers = workers

    def _too_large(self) -> PayloadTooLarge:
        limit = self.limits.max_bytes
        return PayloadTooLarge(f"Uploads are limited to {limit} bytes", details={"maxBytes": limit})

    async def _prepare(self, user_id: str, data: bytes) -> Prepared:
        if len(data) > self.limits.max_bytes:
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
            max_pixels=self.limits.max_pixels,
            max_frames=self.limits.max_frames,
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
        if body.size > self.limits.max_bytes:
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
            max_bytes=self.limits.max_bytes,
            expires_in=self.limits.upload_ttl,
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
        window = timedelta(seconds=self.limits.upload_ttl) + COMPLETE_GRACE
        if media.created_at < self._clock.now() - window:
            await self._discard(media)  # the sweep may be deleting its bytes already
            raise ValidationFailed("This upload URL has expired; presign again")
        size = await self._store.size(media.upload_key)
        if size is None:
            raise Conflict("Nothing was uploaded to the upload URL yet")
        try:
            if size > self.limits.max_bytes:
                raise self._too_large()
            if size != media.declared_size:
                raise ValidationFailed(
                    "The uploaded size differs from the size given to presign",
                    details={"declared": media.declared_size, "actual": size},
                )
            data = await self._store.get(media.upload_key, self.limits.max_bytes)
            if data is None:
                raise Conflict("Nothing was uploaded to the upload URL yet")
            ready = await self._prepare(user_id, data)
        except ProcessingBusy:
            raise  # nothing wrong with the bytes: they stay for a retry
        except ChatError:
            # Refused bytes are not kept; the client may presign again.
            await self._discard(media)
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

    # --- reading ------------------------------------------------------------------

    async def signed_url(self, user_id: str, media_id: str, variant: Variant) -> SignedUrl:
        """A fresh, short-lived URL for members; uploads not yet sent: the uploader only."""
        media = await self._repo.get(ObjectId(media_id))
        if media is None or media.status == "pending" or media.mime_type is None:
            raise MediaNotFound()
        await self._groups.require_member(str(media.group_id), user_id)
        if media.status != "attached":
            if media.owner_id != user_id:
                raise AccessDenied("This upload has not been sent to the group")
        elif media.message_id is not None:
            message = await self._messages.get(media.message_id)
            if message is None or message.is_deleted:
                raise MediaNotFound("The message with this media was deleted")
        if variant == "thumbnail":
            if media.thumbnail_key is None or media.thumbnail_mime is None:
                raise MediaNotFound("This media has no thumbnail")
            key, mime = media.thumbnail_key, media.thumbnail_mime
            filename = sanitize_filename("thumbnail", mime)
        else:
            key, mime, filename = media.original_key, media.mime_type, media.filename
        return await self._store.download_url(
            key,
            content_type=mime,
            filename=filename,
            inline=mime in IMAGE_TYPES,
            expires_in=self.limits.url_ttl,
        )

    # --- messages -----------------------------------------------------------------

    async def for_message(
        self, user_id: str, group_id: str, message_type: str, media_id: str
    ) -> dict[str, Any]:
        """What a new message stores about its media, after checking the sender
        may attach it: their own, ready upload to this same group, not yet sent."""
        media = await self._repo.get(ObjectId(media_id))
        if media is None or media.owner_id != user_id or str(media.group_id) != group_id:
            raise ValidationFailed("mediaId is not an upload of yours to this group")
        if media.status == "attached":
            raise Conflict("This upload was already sent in a message")
        if media.status != "ready":
            raise ValidationFailed("This upload is not complete yet")
        if media.created_at <= self._clock.now() - self.limits.orphan_ttl:
            raise ValidationFailed("This upload has expired; upload the file again")
        if message_type == "image" and media.kind != "image":
            raise ValidationFailed("type 'image' needs an image; send this as type 'file'")
        return media.summary()

    async def attached(self, media_id: str, message_id: ObjectId) -> None:
        await self._repo.attach(ObjectId(media_id), message_id, self._clock.now())

    async def discard(self, media_id: str) -> None:
        """Drops an upload that will not be sent (a repeated tempId, say)."""
        media = await self._repo.get(ObjectId(media_id))
        if media is not None:
            await self._discard(media)

    async def _discard(self, media: StoredMedia) -> bool:
        if not await self._repo.remove_unattached(media.id):
            return False
        await self._store.delete(media.keys())
        return True

    # --- orphans ------------------------------------------------------------------

    async def cleanup_orphans(self, now: datetime) -> int:
        """Deletes uploads still unattached `orphan_ttl` (+ grace) after they began."""
        cutoff = orphan_cutoff(now, self.limits.orphan_ttl)
        removed = 0
        while True:
            batch = await self._repo.unattached_before(cutoff, SWEEP_BATCH)
            for media in batch:
                removed += await self._discard(media)
            if len(batch) < SWEEP_BATCH:
                break
        if removed:
            log.info("media_orphans_removed", count=removed)
        return removed

    async def cleanup_files(self, now: datetime) -> int:
        """Deletes stored objects no record accounts for (see media_sweep)."""
        removed = await sweep_files(
            self._store, self._repo, now, timedelta(seconds=self.limits.upload_ttl)
        )
        if removed:
            log.info("media_stray_files_removed", count=removed)
        return removed

    async def cleanup(self, now: datetime) -> None:
        """Both sweeps: the body of the media cleanup loop (services/tasks.py)."""
        await self.cleanup_orphans(now)
        await self.cleanup_files(now)
