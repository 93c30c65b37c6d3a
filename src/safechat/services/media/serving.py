"""Media and messages: signed read URLs for members, and the attaching of a ready
upload to exactly one message (or its discarding when it will not be sent)."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from safechat.errors import AccessDenied, Conflict, MediaNotFound, ValidationFailed
from safechat.models.media import Variant
from safechat.repositories.media import MediaRepository
from safechat.repositories.messages import MessageRepository
from safechat.services.groups.service import GroupService
from safechat.services.media.cleanup import MediaCleanup
from safechat.services.media.files import IMAGE_TYPES, sanitize_filename
from safechat.services.media.limits import MediaLimits
from safechat.services.ports import Clock, MediaStore, SignedUrl


class MediaServing:
    def __init__(
        self,
        repo: MediaRepository,
        messages: MessageRepository,
        groups: GroupService,
        store: MediaStore,
        clock: Clock,
        cleanup: MediaCleanup,
        limits: MediaLimits,
    ) -> None:
        self._repo = repo
        self._messages = messages
        self._groups = groups
        self._store = store
        self._clock = clock
        self._cleanup = cleanup
        self._limits = limits

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
            expires_in=self._limits.url_ttl,
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
        if media.created_at <= self._clock.now() - self._limits.orphan_ttl:
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
            await self._cleanup.discard(media)
