"""Every event the server sends to clients, its payload, and the rooms it goes to.

The one list of outbound events: services name them by `Event` and hand them to the
Notifier port (services/ports.py), the socket boundary sends acks' echoes and error
channels by `Event` too, and a test fails if anything in src emits another name.
`PAYLOADS` maps each event to its payload type, the shapes of docs/protocol.md.
Message, UserSummary and GroupSummary are rendered by the models and stay plain dicts
here. TypedDicts from typing_extensions, so pydantic can turn them into JSON Schema.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, NotRequired, cast

from typing_extensions import TypedDict

from safechat.errors import ChatError, ErrorBody
from safechat.models.common import iso
from safechat.models.wire import (
    GroupMemberDict,
    GroupSummaryDict,
    GroupViewDict,
    MessageDict,
    OnlineMemberDict,
    OnlineUserDict,
    ProviderName,
    ReactionAction,
    StatusText,
    UserProfileDict,
    UserSummaryDict,
)

# Rendered elsewhere (models/message.py, models/user.py, models/group.py) as plain
# dicts; their shapes are in models/wire.py, attached for the contract documents.
Message = MessageDict
UserSummary = UserSummaryDict
GroupSummary = GroupSummaryDict


class Event(StrEnum):
    # connection (docs/protocol.md section 1)
    AUTHENTICATION_SUCCESS = "authentication_success"
    USER_GROUPS = "user_groups"
    AUTH_EXPIRED = "auth_expired"
    # messages
    NEW_MESSAGE = "new_message"
    MESSAGE_SENT = "message_sent"
    MESSAGE_EDITED = "message_edited"
    MESSAGE_DELETED = "message_deleted"
    MESSAGE_REACTION = "message_reaction"
    MESSAGE_READ = "message_read"
    MESSAGES_READ = "messages_read"
    # groups
    GROUP_JOINED = "group_joined"
    GROUP_LEFT = "group_left"
    GROUP_MEMBERS = "group_members"
    GROUP_ADDED = "group_added"
    GROUP_REMOVED = "group_removed"
    GROUP_UPDATED = "group_updated"
    # presence and typing
    USER_ONLINE = "user_online"
    USER_OFFLINE = "user_offline"
    USER_STATUS_CHANGED = "user_status_changed"
    USER_TYPING = "user_typing"
    USER_STOPPED_TYPING = "user_stopped_typing"
    ONLINE_USERS = "online_users"
    # AI answers, sent later to the requesting socket (docs/protocol.md §7)
    SMART_REPLIES_COMPLETE = "smart_replies_complete"
    TYPING_SUGGESTION = "typing_suggestion"
    # mentions, threads, pins (docs/protocol.md, "Mentions, threads and pins")
    MENTION = "mention"
    THREAD_UPDATED = "thread_updated"
    MESSAGE_PINNED = "message_pinned"
    MESSAGE_UNPINNED = "message_unpinned"
    # error channels (docs/protocol.md §2)
    ERROR = "error"
    MESSAGE_ERROR = "message_error"
    GROUP_ERROR = "group_error"
    AI_ERROR = "ai_error"


def group_room(group_id: str) -> str:
    """Every live socket of the group's members (rooms follow membership)."""
    return f"group:{group_id}"


def user_room(user_id: str) -> str:
    """Every live socket of one user."""
    return f"user:{user_id}"


# --- payloads ------------------------------------------------------------------


class ErrorPayload(ErrorBody):
    """An error channel's event; `requestId` on `ai_error` for a known request."""

    requestId: NotRequired[str]
    timestamp: str | None


class AuthenticationSuccess(TypedDict):
    user: UserProfileDict  # the user's own profile, email included
    sessionId: str


class NewMessage(TypedDict):
    message: Message
    sender: UserSummary


class MessageSent(TypedDict):
    message: Message  # the sender's own copy, with its tempId
    tempId: str | None


class MessageEdited(TypedDict):
    message: Message


class MessageDeleted(TypedDict):
    messageId: str
    groupId: str
    deletedBy: str


class MessageReaction(TypedDict):
    messageId: str
    groupId: str
    emoji: str
    userId: str
    action: ReactionAction
    reactions: dict[str, list[str]]


class MessageRead(TypedDict):
    messageId: str
    groupId: str
    readBy: str
    readAt: str | None


class MessagesRead(TypedDict):
    groupId: str
    messageIds: list[str]
    readBy: str
    readAt: str | None


class GroupJoined(TypedDict):
    groupId: str
    group: GroupSummary
    onlineMembers: list[OnlineMemberDict]  # UserSummary + status


class GroupLeft(TypedDict):
    groupId: str


class GroupMembers(TypedDict):
    groupId: str
    members: list[GroupMemberDict]


class GroupAdded(TypedDict):
    group: GroupSummary


class GroupRemoved(TypedDict):
    groupId: str


class GroupUpdated(TypedDict):
    group: GroupViewDict  # GroupSummary without role and unreadCount


class UserOnline(TypedDict):
    userId: str
    user: UserSummary
    status: StatusText


class UserOffline(TypedDict):
    userId: str
    lastSeen: str | None


class UserStatusChanged(TypedDict):
    userId: str
    status: StatusText
    lastSeen: str | None


class UserTyping(TypedDict):
    groupId: str
    userId: str
    user: UserSummary


class UserStoppedTyping(TypedDict):
    groupId: str
    userId: str


class OnlineUsers(TypedDict):
    groupId: NotRequired[str]
    users: list[OnlineUserDict]


class SmartRepliesComplete(TypedDict):
    requestId: str
    groupId: str
    suggestions: list[str]
    confidence: float
    processingTime: int
    provider: ProviderName


class TypingSuggestion(TypedDict):
    requestId: str
    groupId: str
    suggestion: str
    text: str
    confidence: float
    provider: ProviderName


class Mention(TypedDict):
    message: Message
    groupId: str


class ThreadUpdated(TypedDict):
    messageId: str  # the thread's parent
    groupId: str
    replyCount: int
    lastReplyAt: str | None


class MessagePinned(TypedDict):
    messageId: str
    groupId: str
    pinnedBy: str
    pinnedAt: str | None


class MessageUnpinned(TypedDict):
    messageId: str
    groupId: str


PAYLOADS: dict[Event, Any] = {
    Event.AUTHENTICATION_SUCCESS: AuthenticationSuccess,
    Event.USER_GROUPS: list[GroupSummary],
    Event.AUTH_EXPIRED: ErrorBody,
    Event.NEW_MESSAGE: NewMessage,
    Event.MESSAGE_SENT: MessageSent,
    Event.MESSAGE_EDITED: MessageEdited,
    Event.MESSAGE_DELETED: MessageDeleted,
    Event.MESSAGE_REACTION: MessageReaction,
    Event.MESSAGE_READ: MessageRead,
    Event.MESSAGES_READ: MessagesRead,
    Event.GROUP_JOINED: GroupJoined,
    Event.GROUP_LEFT: GroupLeft,
    Event.GROUP_MEMBERS: GroupMembers,
    Event.GROUP_ADDED: GroupAdded,
    Event.GROUP_REMOVED: GroupRemoved,
    Event.GROUP_UPDATED: GroupUpdated,
    Event.USER_ONLINE: UserOnline,
    Event.USER_OFFLINE: UserOffline,
    Event.USER_STATUS_CHANGED: UserStatusChanged,
    Event.USER_TYPING: UserTyping,
    Event.USER_STOPPED_TYPING: UserStoppedTyping,
    Event.ONLINE_USERS: OnlineUsers,
    Event.SMART_REPLIES_COMPLETE: SmartRepliesComplete,
    Event.TYPING_SUGGESTION: TypingSuggestion,
    Event.MENTION: Mention,
    Event.THREAD_UPDATED: ThreadUpdated,
    Event.MESSAGE_PINNED: MessagePinned,
    Event.MESSAGE_UNPINNED: MessageUnpinned,
    Event.ERROR: ErrorPayload,
    Event.MESSAGE_ERROR: ErrorPayload,
    Event.GROUP_ERROR: ErrorPayload,
    Event.AI_ERROR: ErrorPayload,
}


def error_payload(exc: ChatError, now: datetime, *, request_id: str | None = None) -> ErrorPayload:
    """The one builder of error events and connect refusals: the error's body
    (ChatError.to_dict, as in acks and REST) plus the time, and the request's id."""
    extra = {} if request_id is None else {"requestId": request_id}
    return cast(ErrorPayload, {**exc.to_dict(), **extra, "timestamp": iso(now)})
