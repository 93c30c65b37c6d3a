"""A Notifier that records what would have been sent, and to whom."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Sent:
    """One call of the Notifier: `to` is "group", "groups", "user", "socket", "join", "leave",
    "enter", "sid-join", "sid-leave" or "close"."""

    to: str
    target: str
    event: str | None = None
    data: Any = None
    skip_sid: str | None = None
    user_id: str | None = None  # join/leave: whose sockets move


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        # sid -> the group rooms it is in, as the socket adapter's rooms would be.
        self.rooms: dict[str, set[str]] = {}

    async def to_group(
        self, group_id: str, event: str, data: Any, *, skip_sid: str | None = None
    ) -> None:
        self.sent.append(Sent("group", group_id, event, copy.deepcopy(data), skip_sid))

    async def to_groups(
        self,
        group_ids: list[str],
        event: str,
        data: Any,
        *,
        skip_sid: str | None = None,
        also_user: str | None = None,
    ) -> None:
        """Recorded as one call: `target` lists the groups (and `user:<id>`), comma-joined."""
        targets = [*group_ids, *([f"user:{also_user}"] if also_user else [])]
        if targets:
            self.sent.append(
                Sent("groups", ",".join(targets), event, copy.deepcopy(data), skip_sid)
            )

    async def to_user(self, user_id: str, event: str, data: Any) -> None:
        self.sent.append(Sent("user", user_id, event, copy.deepcopy(data)))

    async def to_socket(self, sid: str, event: str, data: Any) -> None:
        self.sent.append(Sent("socket", sid, event, copy.deepcopy(data)))

    async def enter_rooms(self, sid: str, user_id: str, group_ids: list[str]) -> None:
        self.rooms.setdefault(sid, set()).update(group_ids)
        self.sent.append(Sent("enter", sid, user_id=user_id))

    async def join(self, sid: str, group_id: str) -> None:
        self.rooms.setdefault(sid, set()).add(group_id)
        self.sent.append(Sent("sid-join", group_id, user_id=sid))

    async def leave(self, sid: str, group_id: str) -> None:
        self.rooms.get(sid, set()).discard(group_id)
        self.sent.append(Sent("sid-leave", group_id, user_id=sid))

    def in_group_room(self, sid: str, group_id: str) -> bool:
        return group_id in self.rooms.get(sid, set())

    async def add_user_to_group(self, user_id: str, group_id: str) -> None:
        self.sent.append(Sent("join", group_id, user_id=user_id))

    async def remove_user_from_group(self, user_id: str, group_id: str) -> None:
        self.sent.append(Sent("leave", group_id, user_id=user_id))

    async def close_group(self, group_id: str) -> None:
        self.sent.append(Sent("close", group_id))

    async def disconnect_user(self, user_id: str) -> None:
        self.sent.append(Sent("disconnect", f"user:{user_id}"))

    def events(self, name: str) -> list[Sent]:
        return [s for s in self.sent if s.event == name]

    def names(self) -> list[str]:
        """Event names in the order they were sent (room changes left out)."""
        return [s.event for s in self.sent if s.event is not None]

    def clear(self) -> None:
        self.sent.clear()
