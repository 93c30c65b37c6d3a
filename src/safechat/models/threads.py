"""Threads, mentions and pins: inbound events and REST queries."""

from __future__ import annotations

from pydantic import Field

from safechat.models.common import Inbound, ObjectIdStr, Query

MAX_PINS = 50


class PinMessage(Inbound):
    messageId: ObjectIdStr


class RepliesQuery(Query):
    limit: int = Field(50, ge=1, le=100)
    after: ObjectIdStr | None = None  # a reply's id: the page after it


class MentionsQuery(Query):
    limit: int = Field(20, ge=1, le=100)
    before: ObjectIdStr | None = None  # a mentioning message's id: the page before it
