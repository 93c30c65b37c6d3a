"""What each server event means, for the AsyncAPI document: (summary, tag).

Keyed by every `Event` (events.py); tests/apidocs fail when one is missing, so a new
event cannot ship without its summary.
"""

from __future__ import annotations

from safechat.events import Event

SERVER_EVENTS: dict[Event, tuple[str, str]] = {
    Event.AUTHENTICATION_SUCCESS: (
        "After connect (and on authenticate): your profile and session.",
        "connection",
    ),
    Event.USER_GROUPS: ("After connect (and on authenticate): your groups.", "connection"),
    Event.AUTH_EXPIRED: (
        "Your token expired past the reauth grace period; the socket is then disconnected.",
        "connection",
    ),
    Event.NEW_MESSAGE: ("A message in one of your groups (not to the sending socket).", "messages"),
    Event.MESSAGE_SENT: ("To the sending socket: its stored message, with its tempId.", "messages"),
    Event.MESSAGE_EDITED: ("A message was edited.", "messages"),
    Event.MESSAGE_DELETED: ("A message was deleted.", "messages"),
    Event.MESSAGE_REACTION: ("A reaction was added or removed.", "messages"),
    Event.MESSAGE_READ: ("A member read a message (first read only).", "messages"),
    Event.MESSAGES_READ: ("A member read several messages.", "messages"),
    Event.GROUP_JOINED: ("To the socket: the join_group answer.", "groups"),
    Event.GROUP_LEFT: ("To the socket: the leave_group answer.", "groups"),
    Event.GROUP_MEMBERS: ("To the socket: the get_group_members answer.", "groups"),
    Event.GROUP_ADDED: (
        "You were added to or joined a group; your sockets are already in its room.",
        "groups",
    ),
    Event.GROUP_REMOVED: (
        "You left or were removed, or the group was deleted; your sockets left its room.",
        "groups",
    ),
    Event.GROUP_UPDATED: (
        "A group's name, settings, membership or roles changed (no per-viewer fields).",
        "groups",
    ),
    Event.USER_ONLINE: ("A user of your groups came online (their first socket).", "presence"),
    Event.USER_OFFLINE: ("A user of your groups went offline (their last socket).", "presence"),
    Event.USER_STATUS_CHANGED: ("A user set their status.", "presence"),
    Event.USER_TYPING: ("A member started typing.", "presence"),
    Event.USER_STOPPED_TYPING: ("A member stopped typing (or timed out).", "presence"),
    Event.ONLINE_USERS: ("To the socket: the get_online_users answer.", "presence"),
    Event.SMART_REPLIES_COMPLETE: ("The answer to request_smart_replies.", "ai"),
    Event.TYPING_SUGGESTION: ("The answer to request_typing_suggestions.", "ai"),
    Event.MENTION: ("You were mentioned in a message (to each of your sockets).", "messages"),
    Event.THREAD_UPDATED: ("A thread got a reply: its parent's reply count changed.", "messages"),
    Event.MESSAGE_PINNED: ("A message was pinned.", "messages"),
    Event.MESSAGE_UNPINNED: ("A message was unpinned.", "messages"),
    Event.ERROR: (
        "Error channel of connection and presence events, and of unknown events.",
        "connection",
    ),
    Event.MESSAGE_ERROR: ("Error channel of message events.", "messages"),
    Event.GROUP_ERROR: ("Error channel of group events.", "groups"),
    Event.AI_ERROR: ("Error channel of AI events, with the requestId of a late failure.", "ai"),
}
