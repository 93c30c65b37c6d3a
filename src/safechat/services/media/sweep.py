"""The file sweep: deletes stored objects that no `media` record accounts for.

The record sweep (MediaCleanup.cleanup_orphans, cleanup.py) removes unsent uploads
with their objects. This one walks the store itself, so bytes that have no record find
their end too: a presigned S3 PUT repeated after `complete` (a presigned URL cannot be
revoked), an upload object whose delete failed, objects written by a request that lost
a race with a refusal or the record sweep.

- `uploads/<id>`: kept only while its record is pending and waits on that key, and
  for at most the upload TTL plus SWEEP_GRACE (`complete` refuses before that).
- `media/<id>/...`: kept while a record `<id>` exists (records are written before
  their objects; SWEEP_GRACE covers a write in flight).
- Any other key is not ours to judge and is left alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bson import ObjectId

from safechat.models.media import StoredMedia
from safechat.repositories.media import MediaRepository
from safechat.services.ports import MediaStore, StoredObject

# A send checks the upload's age against orphan_ttl, the sweep against orphan_ttl
# plus this grace, so a send that passed its check never races the sweep.
SWEEP_GRACE = timedelta(minutes=10)
UPLOADS = "uploads/"
MEDIA = "media/"


def _object_id(text: str) -> ObjectId | None:
    return ObjectId(text) if ObjectId.is_valid(text) and len(text) == 24 else None


def upload_id(key: str) -> ObjectId | None:
    """The media id of an `uploads/<id>` key, None for any other key."""
    return _object_id(key.removeprefix(UPLOADS)) if key.startswith(UPLOADS) else None


def media_id(key: str) -> ObjectId | None:
    """The media id of a `media/<id>/<variant>` key, None for any other key."""
    parts = key.split("/")
    return _object_id(parts[1]) if len(parts) == 3 and key.startswith(MEDIA) else None


def owner(key: str) -> ObjectId | None:
    return upload_id(key) or media_id(key)


def unreferenced(
    found: StoredObject,
    records: dict[ObjectId, StoredMedia],
    *,
    uploads_before: datetime,
    media_before: datetime,
) -> bool:
    if (uid := upload_id(found.key)) is not None:
        media = records.get(uid)
        waiting = media is not None and media.status == "pending" and media.upload_key == found.key
        return not waiting or found.modified < uploads_before
    if (mid := media_id(found.key)) is not None:
        return mid not in records and found.modified < media_before
    return False


async def sweep_files(
    store: MediaStore, repo: MediaRepository, now: datetime, upload_ttl: timedelta
) -> int:
    """Deletes every unreferenced object; returns how many."""
    uploads_before = now - upload_ttl - SWEEP_GRACE
    media_before = now - SWEEP_GRACE
    removed = 0
    for prefix in (UPLOADS, MEDIA):
        async for page in store.scan(prefix):
            ids = {oid for found in page if (oid := owner(found.key)) is not None}
            records = await repo.find_many(list(ids))
            dead = [
                found.key
                for found in page
                if unreferenced(
                    found, records, uploads_before=uploads_before, media_before=media_before
                )
            ]
            if dead:
                await store.delete(dead)
                removed += len(dead)
    return removed
