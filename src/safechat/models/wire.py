"""The shapes the server sends (docs/protocol.md §3), for the contract documents.

The code that renders them (StoredMessage.to_wire, User.summary, Group.summary, ...)
builds plain dicts; these TypedDicts describe them so pydantic can make JSON Schema
(AsyncAPI, OpenAPI, TypeScript types) and tests can check real answers against them.
`events.py` attaches them to its `dict[str, Any]` aliases with `described_as`, so the
services keep building plain dicts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import GetCoreSchemaHandler, GetPydanticSchema, WithJsonSchema
from pydantic_core import CoreSchema
from typing_extensions import TypedDict

MessageType = Literal["text", "image", "file", "system"]
RoleName = Literal["owner", "admin", "member"]
Status = Literal["online", "away"]


def described_as(shape: Any) -> GetPydanticSchema:
    """An annotation that gives a plain-dict alias the schema of `shape` (a TypedDict):
    type checkers see the dict, pydantic validates and documents `shape`."""

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


class MediaInfo(TypedDict):
    """A message's attachment: stable SafeChat URLs that sign on every read (docs/media.md)."""

    id: str
    mediaId: str
    kind: Literal["image", "file"]
    mimeType: str
    size: int
    width: NotRequired[int]
    height: NotRequired[int]
    filename: NotRequired[str]
    url: str
    thumbnailUrl: NotRequired[str]


class ReadReceipt(TypedDict):
    userId: str
    readAt: str | None


class Moderation(TypedDict):
    """Present when MODERATION_MODE=flag flagged the message."""

    flagged: bool
    categories: list[str]


class Message(TypedDict):
    """A message; `content` is '' when deleted, the caption of a media message."""

    id: str
    groupId: str
    roomId: str  # = groupId
    seq: int
    senderId: str
    type: MessageType
    content: str
    media: NotRequired[MediaInfo]
    replyTo: NotRequired[str]
    tempId: NotRequired[str]  # only on the sender's own copy (ack, message_sent)
    readBy: list[ReadReceipt]
    reactions: dict[str, list[str]]  # emoji -> user ids
    isDeleted: bool
    deletedAt: NotRequired[str | None]
    deletedBy: NotRequired[str | None]
    editedAt: NotRequired[str]
    moderation: NotRequired[Moderation]
    timestamp: str  # == createdAt
    createdAt: str
    updatedAt: str


class UserSummary(TypedDict):
    """What other users see of a user (never the email)."""

    userId: str
    firstName: NotRequired[str]
    lastName: NotRequired[str]
    username: NotRequired[str]
    profileImageUrl: NotRequired[str]


class UserProfile(UserSummary):
    """The user's own view (authentication_success, GET /api/me)."""

    id: str
    email: str | None
    lastSeen: str | None
    createdAt: str | None


class GroupView(TypedDict):
    """A group as every member sees it alike (group_updated)."""

    id: str
    name: str
    description: NotRequired[str]
    isPrivate: bool
    memberCount: int
    type: Literal["group"]
    createdAt: str
    ownerId: str
    lastSeq: int
    updatedAt: str
    lastMessageAt: NotRequired[str]
    aiEnabled: bool


class GroupSummary(GroupView):
    """A group as one viewer sees it: their role and unread count."""

    role: NotRequired[RoleName]
    lastMessage: NotRequired[Message]
    unreadCount: int


class OnlineMember(UserSummary):
    status: Status


class GroupMember(TypedDict):
    userId: str
    role: RoleName
    joinedAt: str | None
    user: UserSummary
    isOnline: bool


class OnlineUser(TypedDict):
    userId: str
    user: UserSummary
    status: Status
    lastActivity: str | None
    deviceType: str


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
GroupMemberDict = Annotated[dict[str, Any], described_as(GroupMember)]
OnlineUserDict = Annotated[dict[str, Any], described_as(OnlineUser)]
