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
