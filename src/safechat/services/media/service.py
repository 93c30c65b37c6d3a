"""MediaService: uploads (through SafeChat or direct to the store), signed reads,
attaching uploads to messages, and sweeping uploads that were never attached. The one
entry to media for the edges and the message service.

Lifecycle of a `media` record: pending (bytes not verified yet) -> ready (type
sniffed, image re-encoded, thumbnail made) -> attached (to exactly one message).
Records still pending or ready after `orphan_ttl` are deleted with their objects.

It builds the focused parts and hands each call to its home: uploads (uploads.py),
signed URLs and attaching to messages (serving.py), removal and sweeps (cleanup.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId

from safechat.models.media import PresignRequest, Variant
from safechat.repositories.media import MediaRepository
from safechat.repositories.messages import MessageRepository
from safechat.services.groups.service import GroupService
from safechat.services.media.cleanup import MediaCleanup
from safechat.services.media.limits import MediaLimits
from safechat.services.media.serving import MediaServing
from safechat.services.media.uploads import MediaUploads
from safechat.services.media.work import ImageWorkers
from safechat.services.ports import Clock, MediaStore, SignedUrl


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
        self.limits = limits or MediaLimits()
        self._cleanup = MediaCleanup(repo, store, self.limits)
        self._uploads = MediaUploads(
            repo,
            groups,
            store,
            clock,
            self._cleanup,
            base_url=base_url,
            limits=self.limits,
            workers=workers,
        )
        self._serving = MediaServing(
            repo, messages, groups, store, clock, self._cleanup, self.limits
        )

    # --- uploads (uploads.py) -------------------------------------------------

    async def upload(
        self, user_id: str, group_id: str, data: bytes, filename: str | None
    ) -> dict[str, Any]:
        return await self._uploads.upload(user_id, group_id, data, filename)

    async def presign(self, user_id: str, body: PresignRequest) -> dict[str, Any]:
        return await self._uploads.presign(user_id, body)

    async def complete(self, user_id: str, media_id: str) -> dict[str, Any]:
        return await self._uploads.complete(user_id, media_id)

    async def upload_open(self, key: str) -> bool:
        return await self._uploads.upload_open(key)

    # --- reading and messages (serving.py) ------------------------------------

    async def signed_url(self, user_id: str, media_id: str, variant: Variant) -> SignedUrl:
        return await self._serving.signed_url(user_id, media_id, variant)

    async def for_message(
        self, user_id: str, group_id: str, message_type: str, media_id: str
    ) -> dict[str, Any]:
        return await self._serving.for_message(user_id, group_id, message_type, media_id)

    async def attached(self, media_id: str, message_id: ObjectId) -> None:
        await self._serving.attached(media_id, message_id)

    async def discard(self, media_id: str) -> None:
        await self._serving.discard(media_id)

    # --- orphans (cleanup.py) -------------------------------------------------

    async def cleanup_orphans(self, now: datetime) -> int:
        return await self._cleanup.cleanup_orphans(now)

    async def cleanup_files(self, now: datetime) -> int:
        return await self._cleanup.cleanup_files(now)

    async def cleanup(self, now: datetime) -> None:
        await self._cleanup.cleanup(now)
