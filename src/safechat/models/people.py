"""Direct conversations, the user directory, blocks, per-user group settings and bans
(protocol §8): inbound bodies and queries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from safechat.models.common import Inbound, Query, UserId, parse_iso


def _check_time(value: str) -> str:
    try:
        parse_iso(value)
    except ValueError as exc:
        raise ValueError("must be an ISO-8601 time such as 2026-01-31T12:00:00.000Z") from exc
    return value


# Kept as the client's text (strict models take no datetime objects); `when` parses it.
IsoTime = Annotated[str, Field(min_length=10, max_length=40), AfterValidator(_check_time)]


def when(value: str | None) -> datetime | None:
    return parse_iso(value) if value is not None else None


class OpenDirect(Inbound):
    userId: UserId


class UserSearchQuery(Query):
    q: Annotated[str, Field(min_length=2, max_length=100)]
    limit: int = Field(20, ge=1, le=50)


class BlockUser(Inbound):
    userId: UserId


class GroupSettings(Inbound):
    muted: bool
    # Muted until then (then unmuted by itself); without it, until unmuted.
    mutedUntil: IsoTime | None = None


class BanUser(Inbound):
    userId: UserId
    reason: Annotated[str, Field(max_length=500)] | None = None
    # The ban ends by itself then; without it, until lifted.
    until: IsoTime | None = None
