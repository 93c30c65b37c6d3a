"""The REST answers of the conversation features (protocol §9-§11): your data, threads,
mentions and pins, the people routes. As models/responses.py, split by domain."""

from __future__ import annotations

from typing import Literal, NotRequired

from pydantic import with_config
from typing_extensions import TypedDict

from safechat.models.wire import CLOSED, Message, Timestamp, UserProfile, UserSummary

# --- your data (GET /api/me/export, DELETE /api/me) ----------------------------------


@with_config(CLOSED)
class ExportMembership(TypedDict):
    groupId: str
    name: str
    userId: str
    role: Literal["owner", "admin", "member"]
    joinedAt: Timestamp | None


@with_config(CLOSED)
class ExportReadMark(TypedDict):
    groupId: str
    lastReadSeq: int
    muted: bool
    mutedUntil: Timestamp | None


@with_config(CLOSED)
class ExportBlock(TypedDict):
    userId: str
    blockedAt: Timestamp | None


@with_config(CLOSED)
class ExportUpload(TypedDict):
    id: str
    groupId: str
    filename: str
    kind: str | None
    mimeType: str | None
    size: int | None
    status: str
    messageId: str | None
    createdAt: Timestamp | None


@with_config(CLOSED)
class ExportReaction(TypedDict):
    messageId: str
    groupId: str
    emoji: str


@with_config(CLOSED)
class AccountExportResponse(TypedDict):
    success: Literal[True]
    exportedAt: Timestamp
    profile: UserProfile
    memberships: list[ExportMembership]
    readMarks: list[ExportReadMark]
    blocks: list[ExportBlock]
    uploads: list[ExportUpload]
    reactions: list[ExportReaction]
    messages: list[Message]


@with_config(CLOSED)
class ErasedCounts(TypedDict):
    messagesDeleted: int
    reactionsRemoved: int
    groupsLeft: int
    groupsHandedOver: int
    groupsDeleted: int
    uploadsRemoved: int


@with_config(CLOSED)
class AccountErasedResponse(TypedDict):
    success: Literal[True]
    erased: ErasedCounts


# --- threads, mentions, pins -----------------------------------------------------------


@with_config(CLOSED)
class RepliesResponse(TypedDict):
    success: Literal[True]
    messages: list[Message]
    hasMore: bool
    nextCursor: str | None


@with_config(CLOSED)
class MentionEntry(TypedDict):
    message: Message
    groupId: str


@with_config(CLOSED)
class MentionsResponse(TypedDict):
    success: Literal[True]
    mentions: list[MentionEntry]
    hasMore: bool
    nextCursor: str | None


@with_config(CLOSED)
class PinEntry(TypedDict):
    message: Message
    pinnedBy: str
    pinnedAt: Timestamp | None


@with_config(CLOSED)
class PinsResponse(TypedDict):
    success: Literal[True]
    pins: list[PinEntry]


# --- people: directory, blocks, bans ---------------------------------------------------


@with_config(CLOSED)
class UsersResponse(TypedDict):
    success: Literal[True]
    users: list[UserSummary]


@with_config(CLOSED)
class UserSummaryResponse(TypedDict):
    success: Literal[True]
    user: UserSummary


@with_config(CLOSED)
class BlockEntry(TypedDict):
    userId: str
    user: UserSummary
    blockedAt: NotRequired[Timestamp | None]


@with_config(CLOSED)
class BlockResponse(TypedDict):
    success: Literal[True]
    block: BlockEntry


@with_config(CLOSED)
class BlocksResponse(TypedDict):
    success: Literal[True]
    blocks: list[BlockEntry]


@with_config(CLOSED)
class UserIdResponse(TypedDict):
    success: Literal[True]
    userId: str


@with_config(CLOSED)
class BanEntry(TypedDict):
    userId: str
    user: UserSummary
    reason: str | None
    until: Timestamp | None
    bannedBy: str | None
    bannedAt: Timestamp | None


@with_config(CLOSED)
class BanResponse(TypedDict):
    success: Literal[True]
    ban: BanEntry


@with_config(CLOSED)
class BansResponse(TypedDict):
    success: Literal[True]
    bans: list[BanEntry]


@with_config(CLOSED)
class BanLiftedResponse(TypedDict):
    success: Literal[True]
    groupId: str
    userId: str
