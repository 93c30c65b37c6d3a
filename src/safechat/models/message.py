"""Messages: the stored document, inbound events and REST bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from bson import ObjectId
from pydantic import AfterValidator, Field, model_validator

from safechat.models.common import (
    MAX_SAFE_INT,
    Inbound,
    ObjectIdStr,
    Query,
    UserId,
    drop_none,
    iso,
)

ClientId = Annotated[str, Field(min_length=1, max_length=128)]
Seq = Annotated[int, Field(ge=0, le=MAX_SAFE_INT)]


def _check_emoji(value: str) -> str:
    # A reaction is stored as a document key and read by clients as an object key: exactly
    # one emoji (Unicode's emoji data: ZWJ sequences, skin tones, flags, keycaps), so no
    # '.', '$', NUL, control character or word such as __proto__ can ever become a key.
    # Imported on the first reaction: the emoji package's tables are ~10 MiB of RSS.
    import emoji

    if not emoji.is_emoji(value):
        raise ValueError("must be exactly one emoji")
    return value


Emoji = Annotated[str, Field(min_length=1, max_length=32), AfterValidator(_check_emoji)]

MAX_MENTIONS = 50


def _unique(value: list[str]) -> list[str]:
    if len(set(value)) != len(value):
        raise ValueError("mentions must be unique")
    return value


Mentions = Annotated[list[UserId], Field(max_length=MAX_MENTIONS), AfterValidator(_unique)]


@dataclass(slots=True)
class StoredMessage:
    """A message as stored; `content` is the encrypted envelope."""

    id: ObjectId
    group_id: ObjectId
    seq: int
    sender_id: str
    type: str
    content: Any
    created_at: datetime
    updated_at: datetime
    client_message_id: str | None = None
    reply_to: ObjectId | None = None
    media: dict[str, Any] | None = None
    read_by: list[dict[str, Any]] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    is_deleted: bool = False
    deleted_by: str | None = None
    deleted_at: datetime | None = None
    edited_at: datetime | None = None
    edit_history: list[dict[str, Any]] = field(default_factory=list)
    moderation: dict[str, Any] | None = None  # verdict kept in MODERATION_MODE=flag
    # Its notification webhooks are still to be queued (docs/webhooks.md): written in
    # the same document as the message, so an acknowledged message is never unnotified.
    hook_pending: bool = False
    mentions: list[str] = field(default_factory=list)
    # A thread's parent: kept by the group commit (services/messages/batch_extras.py).
    reply_count: int = 0
    last_reply_at: datetime | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> StoredMessage:
        return cls(
            id=doc["_id"],
            group_id=doc["groupId"],
            seq=int(doc["seq"]),
            sender_id=doc["senderId"],
            type=doc.get("type", "text"),
            content=doc.get("content"),
            created_at=doc["createdAt"],
            updated_at=doc.get("updatedAt", doc["createdAt"]),
            client_message_id=doc.get("clientMessageId"),
            reply_to=doc.get("replyTo"),
            media=doc.get("media"),
            read_by=list(doc.get("readBy", [])),
            reactions={k: list(v) for k, v in (doc.get("reactions") or {}).items() if v},
            is_deleted=bool(doc.get("isDeleted", False)),
            deleted_by=doc.get("deletedBy"),
            deleted_at=doc.get("deletedAt"),
            edited_at=doc.get("editedAt"),
            edit_history=list(doc.get("editHistory", [])),
            moderation=doc.get("moderation"),
            mentions=list(doc.get("mentions") or []),
            reply_count=int(doc.get("replyCount", 0)),
            last_reply_at=doc.get("lastReplyAt"),
        )

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "_id": self.id,
            "groupId": self.group_id,
            "seq": self.seq,
            "senderId": self.sender_id,
            "type": self.type,
            "content": self.content,
            "readBy": self.read_by,
            "reactions": self.reactions,
            "isDeleted": self.is_deleted,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }
        optional = {
            "clientMessageId": self.client_message_id,
            "replyTo": self.reply_to,
            "media": self.media,
            "deletedBy": self.deleted_by,
            "deletedAt": self.deleted_at,
            "editedAt": self.edited_at,
            "moderation": self.moderation,
            "mentions": self.mentions or None,
        }
        doc.update(drop_none(optional))
        if self.hook_pending:
            doc["hook"] = 1
        return doc

    def to_wire(self, plaintext: str, *, temp_id: str | None = None) -> dict[str, Any]:
        """The protocol's Message; deleted messages keep id/seq, content ''."""
        gid = str(self.group_id)
        created = iso(self.created_at)
        wire: dict[str, Any] = {
            "id": str(self.id),
            "groupId": gid,
            "roomId": gid,
            "seq": self.seq,
            "senderId": self.sender_id,
            "type": self.type,
            "content": "" if self.is_deleted else plaintext,
            "readBy": [{"userId": r["userId"], "readAt": iso(r["readAt"])} for r in self.read_by],
            "reactions": {} if self.is_deleted else self.reactions,
            "isDeleted": self.is_deleted,
            "mentions": list(self.mentions),
            "replyCount": self.reply_count,
            "timestamp": created,
            "createdAt": created,
            "updatedAt": iso(self.updated_at),
        }
        if self.reply_to is not None:
            wire["replyTo"] = str(self.reply_to)
        if self.edited_at is not None:
            wire["editedAt"] = iso(self.edited_at)
        if self.last_reply_at is not None:
            wire["lastReplyAt"] = iso(self.last_reply_at)
        if self.is_deleted:
            wire["deletedAt"] = iso(self.deleted_at)
            wire["deletedBy"] = self.deleted_by
        elif self.media is not None:
            wire["media"] = self.media
        if self.moderation and not self.is_deleted:
            wire["moderation"] = {
                "flagged": True,
                "categories": list(self.moderation.get("categories", [])),
            }
        if temp_id is not None:
            wire["tempId"] = temp_id
        return wire


class SendMessage(Inbound):
    groupId: ObjectIdStr
    content: str = ""
    type: Literal["text", "image", "file"] = "text"
    tempId: ClientId | None = None
    replyTo: ObjectIdStr | None = None
    mediaId: ObjectIdStr | None = None
    mentions: Mentions | None = None


class EditMessage(Inbound):
    messageId: ObjectIdStr
    content: str


class EditMessageBody(Inbound):
    content: str


class DeleteMessage(Inbound):
    messageId: ObjectIdStr
    groupId: ObjectIdStr | None = None


class ReactMessage(Inbound):
    messageId: ObjectIdStr
    emoji: Emoji


class MarkMessageRead(Inbound):
    messageId: ObjectIdStr
    groupId: ObjectIdStr


class MarkMessagesRead(Inbound):
    groupId: ObjectIdStr
    messageIds: Annotated[list[ObjectIdStr], Field(min_length=1, max_length=100)] | None = None
    upToSeq: Seq | None = None

    @model_validator(mode="after")
    def _one_of(self) -> MarkMessagesRead:
        if (self.messageIds is None) == (self.upToSeq is None):
            raise ValueError("give exactly one of messageIds or upToSeq")
        return self


SyncLimit = Annotated[int, Field(ge=1, le=200)]


class SyncRequest(Inbound):
    groupId: ObjectIdStr | None = None
    afterSeq: Seq | None = None
    groups: Annotated[dict[ObjectIdStr, Seq], Field(min_length=1, max_length=100)] | None = None
    limit: SyncLimit = 100

    @model_validator(mode="after")
    def _one_form(self) -> SyncRequest:
        single = self.groupId is not None
        if single == (self.groups is not None):
            raise ValueError("give either groupId with afterSeq, or groups")
        if single and self.afterSeq is None:
            raise ValueError("afterSeq is required with groupId")
        if not single and self.afterSeq is not None:
            raise ValueError("afterSeq goes with groupId; use groups: {id: afterSeq}")
        return self

    def targets(self) -> dict[str, int]:
        if self.groups is not None:
            return dict(self.groups)
        assert self.groupId is not None
        assert self.afterSeq is not None
        return {self.groupId: self.afterSeq}


class HistoryQuery(Query):
    limit: int = Field(50, ge=1, le=100)
    before: ObjectIdStr | None = None
    after: ObjectIdStr | None = None
    beforeSeq: Seq | None = None
    afterSeq: Seq | None = None

    @model_validator(mode="after")
    def _one_cursor(self) -> HistoryQuery:
        given = [
            c for c in (self.before, self.after, self.beforeSeq, self.afterSeq) if c is not None
        ]
        if len(given) > 1:
            raise ValueError("use at most one of before, after, beforeSeq, afterSeq")
        return self


def history_entry(entry: dict[str, Any], plaintext: str) -> dict[str, Any]:
    return {"content": plaintext, "editedAt": iso(entry.get("editedAt"))}
