"""Ack replies of the client events (docs/protocol.md §2, §4, §7), for the contracts.

Every ack is `{ok: true, ...result}` or `{ok: false, error: {code, message, details?}}`
(handlers/boundary.py builds both); the results are the handlers' return values.
"""

from __future__ import annotations

from typing import Literal

from typing_extensions import TypedDict

from safechat.errors import ErrorBody
from safechat.events import (
    AuthenticationSuccess,
    GroupJoined,
    GroupLeft,
    GroupMembers,
    MessageDeleted,
    MessagePinned,
    MessageReaction,
    MessageRead,
    MessagesRead,
    MessageUnpinned,
    OnlineUsers,
    UserStatusChanged,
)
from safechat.models.wire import Message, SyncResult


class AckError(TypedDict):
    """Every refused event's ack; the same error also goes to the event's error channel."""

    ok: Literal[False]
    error: ErrorBody


class Ack(TypedDict):
    """An accepted event with no result fields."""

    ok: Literal[True]


class AuthenticateAck(AuthenticationSuccess):
    ok: Literal[True]


class ReauthAck(TypedDict):
    ok: Literal[True]
    expiresAt: str | None  # the new token's expiry


class JoinGroupAck(GroupJoined):
    ok: Literal[True]


class LeaveGroupAck(GroupLeft):
    ok: Literal[True]


class GroupMembersAck(GroupMembers):
    ok: Literal[True]


class SendMessageAck(TypedDict):
    ok: Literal[True]
    message: Message  # the stored message, with the sender's tempId
    duplicate: bool  # true: a repeated tempId, the first message returned


class EditMessageAck(TypedDict):
    ok: Literal[True]
    message: Message


class DeleteMessageAck(MessageDeleted):
    ok: Literal[True]


class ReactMessageAck(MessageReaction):
    ok: Literal[True]


class MarkMessageReadAck(MessageRead):
    ok: Literal[True]
    newlyRead: bool


class MarkMessagesReadAck(MessagesRead):
    ok: Literal[True]
    lastReadSeq: int


class SyncAck(SyncResult):
    """`sync {groupId, afterSeq}`: that group's catch-up."""

    ok: Literal[True]


class SyncGroupsAck(TypedDict):
    """`sync {groups: {id: afterSeq}}`: each group's catch-up by id."""

    ok: Literal[True]
    groups: dict[str, SyncResult]


class OnlineUsersAck(OnlineUsers):
    ok: Literal[True]


class ChangeStatusAck(UserStatusChanged):
    ok: Literal[True]


class AIRequestAck(TypedDict):
    """Accepted: the answer follows as an event carrying this requestId, or ai_error."""

    ok: Literal[True]
    requestId: str


class PinMessageAck(MessagePinned):
    ok: Literal[True]
    alreadyPinned: bool  # true: it was pinned before; nothing was broadcast


class UnpinMessageAck(MessageUnpinned):
    ok: Literal[True]
    wasPinned: bool  # false: it was not pinned; nothing was broadcast
