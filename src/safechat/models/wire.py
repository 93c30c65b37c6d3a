"""The shapes the server sends (docs/protocol.md §3), as types pydantic can describe.

The models render these as plain dicts (Message.to_wire, Group.summary, ...); these
TypedDicts say what those dicts hold, so the OpenAPI document (safechat/contract) is made
from them. `extra="forbid"`: a field the server sends that is not listed here is a bug in
the document, and the contract tests (schemathesis) find it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    ConfigDict,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    WithJsonSchema,
    with_config,
)
from pydantic_core import CoreSchema
from typing_extensions import TypedDict

CLOSED = ConfigDict(extra="forbid")

# ISO-8601 UTC with milliseconds and a Z (models/common.iso).
Timestamp = str


@with_config(CLOSED)
class UserSummary(TypedDict):
    """What other users see of a user: never the email."""

    userId: str
    firstName: NotRequired[str]
    lastName: NotRequired[str]
    username: NotRequired[str]
    profileImageUrl: NotRequired[str]


@with_config(CLOSED)
class UserProfile(TypedDict):
    """The user's own view (GET /api/me, authentication_success)."""

    id: str
    userId: str
    firstName: NotRequired[str]
    lastName: NotRequired[str]
    username: NotRequired[str]
    profileImageUrl: NotRequired[str]
    email: str | None
    lastSeen: Timestamp | None
    createdAt: Timestamp | None


@with_config(CLOSED)
class MediaView(TypedDict):
    """A message's `media`: SafeChat's own URLs, which sign on every read."""

    id: str
    mediaId: str
    kind: NotRequired[Literal["image", "file"]]
    mimeType: NotRequired[str]
    size: NotRequired[int]
    width: NotRequired[int]
    height: NotRequired[int]
    filename: str
    url: str
    thumbnailUrl: NotRequired[str]


@with_config(CLOSED)
class UploadedMedia(TypedDict):
    """The `media` of upload and complete answers: the message view plus its state."""

    id: str
    mediaId: str
    kind: NotRequired[Literal["image", "file"]]
    mimeType: NotRequired[str]
    size: NotRequired[int]
    width: NotRequired[int]
    height: NotRequired[int]
    filename: str
    url: str
    thumbnailUrl: NotRequired[str]
    status: Literal["pending", "ready", "attached"]
    groupId: str
    createdAt: Timestamp


@with_config(CLOSED)
class ReadReceipt(TypedDict):
    userId: str
    readAt: Timestamp


@with_config(CLOSED)
class ModerationFlag(TypedDict):
    """Kept on a message in MODERATION_MODE=flag."""

    flagged: bool
    categories: list[str]


@with_config(CLOSED)
class Message(TypedDict):
    id: str
    groupId: str
    roomId: str
    seq: int
    senderId: str
    type: Literal["text", "image", "file", "system"]
    content: str
    readBy: list[ReadReceipt]
    reactions: dict[str, list[str]]
    isDeleted: bool
    timestamp: Timestamp
    createdAt: Timestamp
    updatedAt: Timestamp
    replyTo: NotRequired[str]
    editedAt: NotRequired[Timestamp]
    deletedAt: NotRequired[Timestamp | None]
    deletedBy: NotRequired[str | None]
    media: NotRequired[MediaView]
    moderation: NotRequired[ModerationFlag]
    tempId: NotRequired[str]
    mentions: list[str]
    replyCount: int
    lastReplyAt: NotRequired[Timestamp]


@with_config(CLOSED)
class GroupPublic(TypedDict):
    """What anyone may see of a public group (discover, a non-member's GET)."""

    id: str
    name: str
    description: NotRequired[str]
    isPrivate: bool
    memberCount: int
    type: Literal["group"]
    createdAt: Timestamp


@with_config(CLOSED)
class GroupView(TypedDict):
    """A group as every member sees it alike (group_updated): no per-viewer fields."""

    id: str
    name: str
    description: NotRequired[str]
    isPrivate: bool
    memberCount: int
    type: Literal["group", "direct"]
    createdAt: Timestamp
    ownerId: NotRequired[str]  # none in a direct conversation
    lastSeq: int
    updatedAt: Timestamp
    lastMessageAt: NotRequired[Timestamp]
    aiEnabled: bool


@with_config(CLOSED)
class GroupSummary(GroupView):
    """A group as one member sees it: the shared view plus the viewer's own fields."""

    role: NotRequired[Literal["owner", "admin", "member"]]
    lastMessage: NotRequired[Message]
    unreadCount: int
    muted: bool
    mutedUntil: NotRequired[Timestamp]
    peer: NotRequired[UserSummary]  # the other person of a direct conversation
    unreadMentions: int


@with_config(CLOSED)
class Member(TypedDict):
    userId: str
    role: Literal["owner", "admin", "member"]
    joinedAt: Timestamp


@with_config(CLOSED)
class GroupDetail(GroupSummary):
    """GET /api/groups/{id} for a member: the summary plus its members."""

    members: list[Member]


@with_config(CLOSED)
class MemberDetail(TypedDict):
    """A member with their profile and whether they are online (members lists)."""

    userId: str
    role: Literal["owner", "admin", "member"]
    joinedAt: Timestamp
    user: UserSummary
    isOnline: bool


# --- for the socket events (events.py) and the AsyncAPI document -------------------


def described_as(shape: Any) -> GetPydanticSchema:
    """An annotation that gives a plain-dict alias the schema of `shape` (a TypedDict):
    type checkers see the dict the services build, pydantic validates and documents
    `shape`."""

    def schema(_source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return handler.generate_schema(shape)

    return GetPydanticSchema(schema)


def one_of(*values: str) -> WithJsonSchema:
    """For a `str` field that services fill from plain strings: the schema lists the values."""
    return WithJsonSchema({"type": "string", "enum": list(values)})


# Plain strings to the code, their values to the contract documents.
ReactionAction = Annotated[str, one_of("added", "removed")]
StatusText = Annotated[str, one_of("online", "away")]
ProviderName = Annotated[str, one_of("openai", "offline")]


@with_config(CLOSED)
class OnlineMember(TypedDict):
    """An online member of a joined group: the profile summary and the status."""

    userId: str
    firstName: NotRequired[str]
    lastName: NotRequired[str]
    username: NotRequired[str]
    profileImageUrl: NotRequired[str]
    status: Literal["online", "away"]


@with_config(CLOSED)
class OnlineUser(TypedDict):
    userId: str
    user: UserSummary
    status: Literal["online", "away"]
    lastActivity: Timestamp | None
    deviceType: str


@with_config(CLOSED)
class SyncResult(TypedDict):
    """One group's catch-up: new messages after `afterSeq`, and earlier ones changed."""

    messages: list[Message]
    updated: list[Message]
    hasMore: bool
    lastSeq: int


# Plain-dict aliases with these schemas, for payload types that services build as dicts.
MessageDict = Annotated[dict[str, Any], described_as(Message)]
UserSummaryDict = Annotated[dict[str, Any], described_as(UserSummary)]
UserProfileDict = Annotated[dict[str, Any], described_as(UserProfile)]
GroupViewDict = Annotated[dict[str, Any], described_as(GroupView)]
GroupSummaryDict = Annotated[dict[str, Any], described_as(GroupSummary)]
OnlineMemberDict = Annotated[dict[str, Any], described_as(OnlineMember)]
GroupMemberDict = Annotated[dict[str, Any], described_as(MemberDetail)]
OnlineUserDict = Annotated[dict[str, Any], described_as(OnlineUser)]
