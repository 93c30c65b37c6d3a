"""Every REST answer's body, as the routes send it (routes/common.ok and error_response).

Described for the OpenAPI document (safechat/contract/openapi.py); the routes declare
which of these each status answers with (routes/spec.py).
"""

from __future__ import annotations

from typing import Literal, NotRequired

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from safechat.models.wire import (
    CLOSED,
    GroupDetail,
    GroupPublic,
    GroupSummary,
    MemberDetail,
    Message,
    Timestamp,
    UploadedMedia,
    UserProfile,
    UserSummary,
)

# --- errors ---------------------------------------------------------------------------


@with_config(CLOSED)
class ValidationIssue(TypedDict):
    loc: str
    msg: str
    type: str


@with_config(ConfigDict(extra="allow"))
class ErrorDetails(TypedDict, total=False):
    """An error's `details`: where and why, never the offending value. Open: which keys
    appear depends on the error; these are the ones the server sends today."""

    errors: list[ValidationIssue]  # VALIDATION_ERROR from a model check (at most 20)
    field: str  # VALIDATION_ERROR: an unexpected multipart field
    allowed: list[str]  # VALIDATION_ERROR: the file types taken
    declared: int | None  # VALIDATION_ERROR: a direct upload of another size than presigned
    actual: int
    userIds: list[str]  # USER_NOT_FOUND: who has never signed in
    retryAfterMs: int  # RATE_LIMITED
    limit: str  # RATE_LIMITED: the bucket
    maxBytes: int  # PAYLOAD_TOO_LARGE
    maxPixels: int
    maxFrames: int
    maxLength: int  # MESSAGE_TOO_LONG
    length: int
    maxReactions: int  # CONFLICT: a message at its reaction cap
    categories: list[str]  # CONTENT_REJECTED
    reason: str  # CONTENT_REJECTED: moderation was unavailable


@with_config(CLOSED)
class ErrorDetail(TypedDict):
    code: str
    message: str
    details: NotRequired[ErrorDetails]


@with_config(CLOSED)
class ErrorResponse(TypedDict):
    success: Literal[False]
    error: ErrorDetail


# --- me -------------------------------------------------------------------------------


@with_config(CLOSED)
class Ok(TypedDict):
    success: Literal[True]


@with_config(CLOSED)
class UserResponse(TypedDict):
    success: Literal[True]
    user: UserProfile


# --- groups ---------------------------------------------------------------------------


@with_config(CLOSED)
class GroupResponse(TypedDict):
    success: Literal[True]
    group: GroupSummary


@with_config(CLOSED)
class GroupViewResponse(TypedDict):
    success: Literal[True]
    group: GroupDetail | GroupPublic


@with_config(CLOSED)
class GroupListResponse(TypedDict):
    success: Literal[True]
    groups: list[GroupSummary]


@with_config(CLOSED)
class DiscoverResponse(TypedDict):
    success: Literal[True]
    groups: list[GroupPublic]
    hasMore: bool
    nextCursor: str | None


@with_config(CLOSED)
class GroupIdResponse(TypedDict):
    success: Literal[True]
    groupId: str


@with_config(CLOSED)
class MembersResponse(TypedDict):
    success: Literal[True]
    members: list[MemberDetail]


@with_config(CLOSED)
class MemberRemovedResponse(TypedDict):
    success: Literal[True]
    groupId: str
    userId: str


# --- messages -------------------------------------------------------------------------


@with_config(CLOSED)
class HistoryResponse(TypedDict):
    success: Literal[True]
    messages: list[Message]
    hasMore: bool
    nextCursor: str | None


@with_config(CLOSED)
class SentMessageResponse(TypedDict):
    success: Literal[True]
    message: Message
    duplicate: bool


@with_config(CLOSED)
class MessageResponse(TypedDict):
    success: Literal[True]
    message: Message


@with_config(CLOSED)
class EditEntry(TypedDict):
    content: str
    editedAt: Timestamp | None


@with_config(CLOSED)
class EditHistoryResponse(TypedDict):
    success: Literal[True]
    messageId: str
    history: list[EditEntry]


@with_config(CLOSED)
class MessageDeletedResponse(TypedDict):
    success: Literal[True]
    messageId: str
    groupId: str
    deletedBy: str


@with_config(CLOSED)
class MessagesReadResponse(TypedDict):
    success: Literal[True]
    groupId: str
    messageIds: list[str]
    readBy: str
    readAt: Timestamp
    lastReadSeq: int


# --- AI -------------------------------------------------------------------------------


@with_config(CLOSED)
class SmartRepliesResponse(TypedDict):
    success: Literal[True]
    requestId: str
    groupId: str
    suggestions: list[str]
    confidence: float
    processingTime: int
    provider: str


@with_config(CLOSED)
class TypingSuggestionResponse(TypedDict):
    success: Literal[True]
    requestId: str
    groupId: str
    suggestion: str
    text: str
    confidence: float
    provider: str


@with_config(CLOSED)
class ModerationResponse(TypedDict):
    success: Literal[True]
    flagged: bool
    categories: list[str]
    scores: dict[str, float]
    provider: str


@with_config(CLOSED)
class SummaryResponse(TypedDict):
    success: Literal[True]
    groupId: str
    since: Timestamp
    messageCount: int
    summary: str
    topics: list[str]
    provider: str


@with_config(CLOSED)
class SearchHit(TypedDict):
    message: Message
    score: float


@with_config(CLOSED)
class SearchResponse(TypedDict):
    success: Literal[True]
    groupId: str
    query: str
    hits: list[SearchHit]


@with_config(CLOSED)
class FeedbackSummaryResponse(TypedDict):
    success: Literal[True]
    groupId: str
    totals: dict[str, int]
    byKind: dict[str, dict[str, int]]


# --- media ----------------------------------------------------------------------------


@with_config(CLOSED)
class MediaResponse(TypedDict):
    success: Literal[True]
    media: UploadedMedia


@with_config(CLOSED)
class PresignResponse(TypedDict):
    success: Literal[True]
    mediaId: str
    uploadUrl: str
    method: Literal["PUT"]
    headers: dict[str, str]
    expiresAt: Timestamp


@with_config(CLOSED)
class SignedUrlResponse(TypedDict):
    success: Literal[True]
    url: str
    expiresAt: Timestamp


# --- dev sign-in ----------------------------------------------------------------------


@with_config(CLOSED)
class DevTokenResponse(TypedDict):
    success: Literal[True]
    token: str
    userId: str
    expiresIn: int


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
