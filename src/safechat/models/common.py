"""Shared pieces of the wire models."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from bson import ObjectId
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from safechat.errors import ValidationFailed

OBJECT_ID_PATTERN = re.compile(r"^[0-9a-fA-F]{24}$")

# The largest integer a client may send: JavaScript's Number.MAX_SAFE_INTEGER, far inside
# BSON's int64 (a bigger Python int cannot be stored or even used in a query).
MAX_SAFE_INT = 2**53 - 1


def _check_object_id(value: str) -> str:
    if not OBJECT_ID_PATTERN.match(value):
        raise ValueError("must be a 24-character hex ObjectId")
    return value.lower()


# What the OpenAPI/AsyncAPI documents say of an id (the check itself is _check_object_id).
OBJECT_ID_JSON_SCHEMA: dict[str, Any] = {"type": "string", "pattern": OBJECT_ID_PATTERN.pattern}
ObjectIdStr = Annotated[
    str, AfterValidator(_check_object_id), WithJsonSchema(OBJECT_ID_JSON_SCHEMA)
]
UserId = Annotated[str, Field(min_length=1, max_length=200)]


def _unstorable(value: object) -> str | None:
    """Why a validated value cannot be stored or encrypted, or None when it can."""
    if isinstance(value, str):
        if "\x00" in value:
            return "must not contain NUL characters"
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "must be valid Unicode text (no lone surrogates)"
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return None if -MAX_SAFE_INT <= value <= MAX_SAFE_INT else "is out of range"
    if isinstance(value, dict):
        for key, item in value.items():
            reason = _unstorable(key) or _unstorable(item)
            if reason:
                return reason
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            reason = _unstorable(item)
            if reason:
                return reason
    return None


def storable_text(value: str, what: str) -> str:
    """The same rule for client text that arrives outside a model (a multipart filename)."""
    reason = _unstorable(value)
    if reason:
        raise ValidationFailed(f"{what} {reason}")
    return value


class _Storable(BaseModel):
    """Every text and integer a client sends must survive BSON and UTF-8: checked here,
    once for every field of every inbound model, so no field can forget it. (pydantic
    already refuses lone surrogates in constrained strings, but not in a plain `str`, and
    takes NUL and integers of any size.)"""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        reason = _unstorable(value)
        if reason:
            raise ValueError(reason)
        return value


class Inbound(_Storable):
    """Base of every client payload: unknown fields and wrong types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Query(_Storable):
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


M = TypeVar("M", bound=BaseModel)


def _loc(parts: tuple[int | str, ...]) -> str:
    # The first part is a field name (an unknown one is echoed, capped); deeper
    # string parts are dict keys, i.e. client data such as a group id: masked.
    out = [str(parts[0])[:64]] if parts else []
    out += [str(p) if isinstance(p, int) or p == "[key]" else "*" for p in parts[1:]]
    return ".".join(out)


def validation_details(exc: ValidationError) -> dict[str, Any]:
    """Where and why, never the offending value (it may be message content)."""
    return {
        "errors": [
            {"loc": _loc(err["loc"]), "msg": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False, include_input=False)[:20]
        ]
    }


def validate(model: type[M], data: Any, what: str = "payload") -> M:
    """The one way client input becomes a model: errors say where and why, never the value."""
    if not isinstance(data, dict):
        raise ValidationFailed(f"The {what} must be an object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(f"Invalid {what}", details=validation_details(exc)) from exc
