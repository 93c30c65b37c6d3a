"""One Node message in SafeChat's shape: its seq, content re-encrypted, media, readBy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId

from safechat.errors import DecryptionError
from safechat.models.common import drop_none
from safechat.services.encryption import Encryptor, legacy_envelope
from safechat.services.migration.media import Bucket, described, media_of
from safechat.services.migration.records import Invalid, UserIds, created_of, when

Doc = dict[str, Any]
TYPES = frozenset({"text", "image", "file", "system"})


@dataclass(frozen=True, slots=True)
class Converted:
    doc: Doc
    media_record: Doc | None
    content: str  # "decrypted" | "plain" | "undecryptable" | "deleted" | "empty"
    media: str | None  # "s3" | "external" | "missing" for media messages
    readers: dict[str, datetime]  # who read it (the sender counts as having read it)


@dataclass(frozen=True, slots=True)
class Converter:
    enc: Encryptor
    bucket: Bucket
    ids: UserIds

    def sender(self, src: Doc) -> str:
        """The sender of a message SafeChat can take; raises Invalid otherwise."""
        if not isinstance(src.get("_id"), ObjectId):
            raise Invalid("message without an ObjectId _id")
        sender = self.ids.resolve(src.get("senderId"))
        if sender is None:
            raise Invalid("message without senderId")
        return sender

    def convert(self, src: Doc, group_id: ObjectId, seq: int) -> Converted:
        sender = self.sender(src)
        created = created_of(src)
        # The old service bumped updatedAt on every read receipt; SafeChat's sync reports
        # messages changed since a point, and read receipts are not changes: only a
        # deletion moves it.
        changed = max(when(src.get("updatedAt"), created), created)
        updated = changed if src.get("isDeleted") else created
        kind = src.get("type") if src.get("type") in TYPES else "text"
        readers = self._readers(src, created)
        doc: Doc = {
            "_id": src["_id"],
            "groupId": group_id,
            "seq": seq,
            "senderId": sender,
            "type": kind,
            "content": "",
            "readBy": [{"userId": u, "readAt": at} for u, at in readers.items()],
            "reactions": {},
            "isDeleted": False,
            "createdAt": created,
            "updatedAt": updated,
        }
        readers.setdefault(sender, created)
        if src.get("isDeleted"):
            # Deleted stays deleted, with nothing of its content (the old service did not
            # record who deleted: the sender, as only senders could).
            doc.update(isDeleted=True, deletedAt=updated, deletedBy=sender)
            return Converted(doc, None, "deleted", None, readers)
        gid = str(group_id)
        try:
            plain, outcome = self._plaintext(src.get("content"), gid)
        except DecryptionError:
            # Kept as a deleted placeholder so the seq stays and the loss is visible.
            doc.update(
                isDeleted=True, deletedAt=updated, deletedBy="system", migration="undecryptable"
            )
            return Converted(doc, None, "undecryptable", None, readers)
        record: Doc | None = None
        media_outcome: str | None = None
        if kind in ("image", "file"):
            plain, info = described(plain)
            media_outcome, media, record = media_of(
                src, info, self.bucket, sender, (created, updated)
            )
            if media is not None:
                doc["media"] = media
        doc["content"] = self.enc.encrypt(plain, gid) if plain else ""
        return Converted(drop_none(doc), record, outcome, media_outcome, readers)

    def _plaintext(self, content: object, gid: str) -> tuple[str, str]:
        if not isinstance(content, str) or content == "":
            return "", "empty"
        if legacy_envelope(content) is None:
            return content, "plain"  # the old service stored plain text when encryption failed
        return self.enc.decrypt(content, gid), "decrypted"

    def _readers(self, src: Doc, created: datetime) -> dict[str, datetime]:
        readers: dict[str, datetime] = {}
        for r in src.get("readBy") or []:
            uid = self.ids.resolve(r.get("userId")) if isinstance(r, dict) else None
            if uid is not None and uid not in readers:
                readers[uid] = when(r.get("readAt"), created)
        return readers
