"""Inbound payloads of the presence and typing events."""

from __future__ import annotations

from typing import Literal

from safechat.models.common import Inbound, ObjectIdStr


class TypingEvent(Inbound):
    groupId: ObjectIdStr


class OnlineUsersQuery(Inbound):
    groupId: ObjectIdStr | None = None


class ChangeStatus(Inbound):
    status: Literal["online", "away"]
