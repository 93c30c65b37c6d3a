"""Every client event the server handles: its payload model, ack reply and error channel.

The handlers (handlers/*.py) register these names on the Socket.IO server; a test
fails when one is registered without an entry here (tests/contract/), so the AsyncAPI
document (contract/asyncapi.py) cannot miss an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from safechat.events import Event
from safechat.models import acks
from safechat.models.ai import RateSuggestion, SmartRepliesRequest, TypingSuggestionsRequest
from safechat.models.group import GroupRef
from safechat.models.message import (
    DeleteMessage,
    EditMessage,
    MarkMessageRead,
    MarkMessagesRead,
    ReactMessage,
    SendMessage,
    SyncRequest,
)
from safechat.models.presence import ChangeStatus, OnlineUsersQuery, TypingEvent
from safechat.models.threads import PinMessage
from safechat.models.user import Reauth


@dataclass(frozen=True, slots=True)
class ClientEvent:
    name: str
    summary: str
    payload: type[BaseModel] | None  # None: any payload, ignored
    ack: Any  # the success ack's type (acks.py); a refusal is always acks.AckError
    channel: Event = Event.ERROR  # where a refusal is also sent
    emits: tuple[Event, ...] = ()  # events the server sends because of it
    tag: str = "connection"


MSG, GRP, AI = Event.MESSAGE_ERROR, Event.GROUP_ERROR, Event.AI_ERROR

CLIENT_EVENTS: tuple[ClientEvent, ...] = (
    ClientEvent(
        "authenticate",
        "Re-send authentication_success and user_groups (the payload is ignored).",
        None,
        acks.AuthenticateAck,
        emits=(Event.AUTHENTICATION_SUCCESS, Event.USER_GROUPS),
    ),
    ClientEvent("reauth", "Swap in a fresh token for the same user.", Reauth, acks.ReauthAck),
    ClientEvent(
        "join_group",
        "Enter a group's live room (members only).",
        GroupRef,
        acks.JoinGroupAck,
        GRP,
        (Event.GROUP_JOINED,),
        "groups",
    ),
    ClientEvent(
        "leave_group",
        "Leave a group's live room; the membership stays.",
        GroupRef,
        acks.LeaveGroupAck,
        GRP,
        (Event.GROUP_LEFT,),
        "groups",
    ),
    ClientEvent(
        "get_group_members",
        "List a group's members with their online state.",
        GroupRef,
        acks.GroupMembersAck,
        GRP,
        (Event.GROUP_MEMBERS,),
        "groups",
    ),
    ClientEvent(
        "send_message",
        "Send a message; acked once stored. A repeated tempId returns the first message.",
        SendMessage,
        acks.SendMessageAck,
        MSG,
        (Event.MESSAGE_SENT, Event.NEW_MESSAGE),
        "messages",
    ),
    ClientEvent(
        "edit_message",
        "Edit your own message.",
        EditMessage,
        acks.EditMessageAck,
        MSG,
        (Event.MESSAGE_EDITED,),
        "messages",
    ),
    ClientEvent(
        "delete_message",
        "Delete a message (its sender, or a group owner/admin).",
        DeleteMessage,
        acks.DeleteMessageAck,
        MSG,
        (Event.MESSAGE_DELETED,),
        "messages",
    ),
    ClientEvent(
        "react_message",
        "Toggle your reaction (one emoji) on a message.",
        ReactMessage,
        acks.ReactMessageAck,
        MSG,
        (Event.MESSAGE_REACTION,),
        "messages",
    ),
    ClientEvent(
        "mark_message_read",
        "Mark one message read.",
        MarkMessageRead,
        acks.MarkMessageReadAck,
        MSG,
        (Event.MESSAGE_READ,),
        "messages",
    ),
    ClientEvent(
        "mark_messages_read",
        "Mark messages read: give messageIds (1..100) or upToSeq.",
        MarkMessagesRead,
        acks.MarkMessagesReadAck,
        MSG,
        (Event.MESSAGES_READ,),
        "messages",
    ),
    ClientEvent(
        "sync",
        "Catch up after a reconnect: {groupId, afterSeq} or {groups: {id: afterSeq}}.",
        SyncRequest,
        acks.SyncAck | acks.SyncGroupsAck,
        MSG,
        tag="messages",
    ),
    ClientEvent(
        "pin_message",
        "Pin a message of the group (owner/admin; both people in a direct conversation).",
        PinMessage,
        acks.PinMessageAck,
        MSG,
        (Event.MESSAGE_PINNED,),
        "messages",
    ),
    ClientEvent(
        "unpin_message",
        "Unpin a message.",
        PinMessage,
        acks.UnpinMessageAck,
        MSG,
        (Event.MESSAGE_UNPINNED,),
        "messages",
    ),
    ClientEvent(
        "typing_start",
        "Start typing in a group (auto-stops after 5 s).",
        TypingEvent,
        acks.Ack,
        emits=(Event.USER_TYPING,),
        tag="presence",
    ),
    ClientEvent(
        "typing_stop",
        "Stop typing in a group.",
        TypingEvent,
        acks.Ack,
        emits=(Event.USER_STOPPED_TYPING,),
        tag="presence",
    ),
    ClientEvent(
        "get_online_users",
        "Online users of a group, or of every group you share with them.",
        OnlineUsersQuery,
        acks.OnlineUsersAck,
        emits=(Event.ONLINE_USERS,),
        tag="presence",
    ),
    ClientEvent(
        "change_status",
        "Set your status (online or away).",
        ChangeStatus,
        acks.ChangeStatusAck,
        emits=(Event.USER_STATUS_CHANGED,),
        tag="presence",
    ),
    ClientEvent(
        "request_smart_replies",
        "Ask for reply suggestions; acked at once, answered by smart_replies_complete.",
        SmartRepliesRequest,
        acks.AIRequestAck,
        AI,
        (Event.SMART_REPLIES_COMPLETE,),
        "ai",
    ),
    ClientEvent(
        "request_typing_suggestions",
        "Ask to complete the typed text; answered by typing_suggestion.",
        TypingSuggestionsRequest,
        acks.AIRequestAck,
        AI,
        (Event.TYPING_SUGGESTION,),
        "ai",
    ),
    ClientEvent(
        "rate_ai_suggestion",
        "Rate an AI suggestion you were given (your own requestIds of the last hour).",
        RateSuggestion,
        acks.Ack,
        AI,
        tag="ai",
    ),
)
