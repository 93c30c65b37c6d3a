"""Shared pieces of the wire models."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from bson import ObjectId
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")


def _check_object_id(value: str) -> str:
    if not _OBJECT_ID.match(value):
        raise ValueError("must be a 24-character hex ObjectId")
    return value.lower()


ObjectIdStr = Annotated[str, AfterValidator(_check_object_id)]
UserId = Annotated[str, Field(min_length=1, max_length=200)]


class Inbound(BaseModel):
    """Base of every client payload: unknown fields and wrong types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Query(BaseModel):
    """Base of REST query strings (values arrive as text, so lax parsing)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def oid(value: str) -> ObjectId:
    return ObjectId(value)


def iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and a Z, as the protocol says."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
