"""Removing uploads: one that will not be sent (with its objects), the sweep of
uploads never attached within `orphan_ttl`, and the sweep of stray stored files."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from safechat.models.media import StoredMedia
from safechat.repositories.media import MediaRepository
from safechat.services.media.limits import MediaLimits
from safechat.services.media.sweep import SWEEP_GRACE, sweep_files
from safechat.services.ports import MediaStore

log = structlog.get_logger(__name__)

SWEEP_BATCH = 200


def orphan_cutoff(now: datetime, ttl: timedelta) -> datetime:
    """Uploads created before this are orphans if still unattached."""
    return now - ttl - SWEEP_GRACE


class MediaCleanup:
    def __init__(self, repo: MediaRepository, store: MediaStore, limits: MediaLimits) -> None:
        self._repo = repo
        self._store = store
        self._limits = limits

    async def discard(self, media: StoredMedia) -> bool:
        """Deletes an unattached upload and its objects; False if it was attached."""
        if not await self._repo.remove_unattached(media.id):
            return False
        await self._store.delete(media.keys())
        return True

    async def cleanup_orphans(self, now: datetime) -> int:
        """Deletes uploads still unattached `orphan_ttl` (+ grace) after they began."""
        cutoff = orphan_cutoff(now, self._limits.orphan_ttl)
        removed = 0
        while True:
            batch = await self._repo.unattached_before(cutoff, SWEEP_BATCH)
            for media in batch:
                removed += await self.discard(media)
            if len(batch) < SWEEP_BATCH:
                break
        if removed:
            log.info("media_orphans_removed", count=removed)
        return removed

    async def cleanup_files(self, now: datetime) -> int:
        """Deletes stored objects no record accounts for (see media_sweep)."""
        removed = await sweep_files(
            self._store, self._repo, now, timedelta(seconds=self._limits.upload_ttl)
        )
        if removed:
            log.info("media_stray_files_removed", count=removed)
        return removed

    async def cleanup(self, now: datetime) -> None:
        """Both sweeps: the body of the media cleanup loop (services/tasks.py)."""
        await self.cleanup_orphans(now)
        await self.cleanup_files(now)
