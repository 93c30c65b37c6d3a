"""Every error class of SafeChat.

`ChatError` and its subclasses carry a protocol code: services (and the media
store) raise them; the two edges turn them into acks, error events and HTTP
responses, each in one place (handlers/boundary.py, routes/common.py). The plain
exceptions at the end never reach a client: one layer raises them, another
catches them and decides.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, NotRequired

from pydantic import WithJsonSchema
from pymongo.errors import ConnectionFailure, PyMongoError
from typing_extensions import TypedDict


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    ACCESS_DENIED = "ACCESS_DENIED"
    GROUP_NOT_FOUND = "GROUP_NOT_FOUND"
    MESSAGE_NOT_FOUND = "MESSAGE_NOT_FOUND"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    MESSAGE_TOO_LONG = "MESSAGE_TOO_LONG"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    RATE_LIMITED = "RATE_LIMITED"
    CONTENT_REJECTED = "CONTENT_REJECTED"
    AI_UNAVAILABLE = "AI_UNAVAILABLE"
    AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"  # noqa: S105
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105
    CONFLICT = "CONFLICT"
    NOT_FOUND = "NOT_FOUND"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


# HTTP status for each code, used by the REST boundary.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.ACCESS_DENIED: 403,
    ErrorCode.GROUP_NOT_FOUND: 404,
    ErrorCode.MESSAGE_NOT_FOUND: 404,
    ErrorCode.USER_NOT_FOUND: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.MESSAGE_TOO_LONG: 422,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.CONTENT_REJECTED: 422,
    ErrorCode.AI_UNAVAILABLE: 503,
    ErrorCode.AUTHENTICATION_FAILED: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.INVALID_TOKEN: 401,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}


# The contract documents list the codes (plain strings to the code that builds bodies).
_CODE_SCHEMA = WithJsonSchema({"type": "string", "enum": [code.value for code in ErrorCode]})


class ErrorBody(TypedDict):
    """What every error answer carries: an ack's `error`, a REST error body, and
    (with a timestamp, events.error_payload) the error channels."""

    code: Annotated[str, _CODE_SCHEMA]
    message: str
    details: NotRequired[dict[str, Any]]


class ChatError(Exception):
    """An error with a protocol code, a human message and optional details."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR
    default_message = "Internal error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    def to_dict(self) -> ErrorBody:
        body: ErrorBody = {"code": self.code.value, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ValidationFailed(ChatError):
    code = ErrorCode.VALIDATION_ERROR
    default_message = "Invalid input"


class AccessDenied(ChatError):
    code = ErrorCode.ACCESS_DENIED
    default_message = "Access denied"


class GroupNotFound(ChatError):
    code = ErrorCode.GROUP_NOT_FOUND
    default_message = "Group not found"


class MessageNotFound(ChatError):
    code = ErrorCode.MESSAGE_NOT_FOUND
    default_message = "Message not found"


class UserNotFound(ChatError):
    code = ErrorCode.USER_NOT_FOUND
    default_message = "User not found"


class MessageTooLong(ChatError):
    code = ErrorCode.MESSAGE_TOO_LONG
    default_message = "Message is too long"


class PayloadTooLarge(ChatError):
    code = ErrorCode.PAYLOAD_TOO_LARGE
    default_message = "Payload too large"


class Conflict(ChatError):
    code = ErrorCode.CONFLICT
    default_message = "Conflict"


class AuthError(ChatError):
    code = ErrorCode.AUTHENTICATION_FAILED
    default_message = "Authentication failed"


class TokenExpired(AuthError):
    code = ErrorCode.TOKEN_EXPIRED
    default_message = "Token expired"


class InvalidToken(AuthError):
    code = ErrorCode.INVALID_TOKEN
    default_message = "Invalid token"


class ServiceUnavailable(ChatError):
    code = ErrorCode.SERVICE_UNAVAILABLE
    default_message = "Service temporarily unavailable"


class ContentRejected(ChatError):
    code = ErrorCode.CONTENT_REJECTED
    default_message = "The content was rejected by moderation"


class AIUnavailable(ChatError):
    code = ErrorCode.AI_UNAVAILABLE
    default_message = "AI features are unavailable right now"


class RateLimited(ChatError):
    code = ErrorCode.RATE_LIMITED
    default_message = "Too many requests"

    def __init__(self, limit: str, retry_after: float, message: str | None = None) -> None:
        """`limit` names the bucket (details.limit); `retry_after` is in seconds."""
        retry_ms = max(1, int(retry_after * 1000 + 0.999))
        super().__init__(
            message or f"Rate limit '{limit}' exceeded; retry in {retry_ms} ms",
            details={"retryAfterMs": retry_ms, "limit": limit},
        )
        self.retry_after_ms = retry_ms


class ProcessingBusy(ChatError):
    """Too many of the user's images wait for the image workers."""

    code = ErrorCode.RATE_LIMITED
    default_message = "Too many images of yours are being processed; retry shortly"


class MediaNotFound(ChatError):
    code = ErrorCode.NOT_FOUND
    default_message = "Media not found"


class BadSignature(AccessDenied):
    """A local media URL that is not exactly what we signed, or has expired."""

    default_message = "The media URL is invalid or has expired"


class UploadClosed(BadSignature):
    default_message = "This upload URL was already used (completed or refused); presign again"


# --- never sent to a client ----------------------------------------------------


class PresenceFull(Exception):
    """`PresenceStore.add` refused a socket: the user already has `limit` live ones."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} live sockets")
        self.limit = limit


class DuplicateKey(Exception):
    """A unique index refused a write (pymongo's error stays inside repositories)."""


class DecryptionError(Exception):
    """Stored content could not be decrypted (wrong key, tampered, moved)."""


class EmbeddedMongoError(RuntimeError):
    """The embedded database server could not be started (the node does not start)."""


def unavailable(exc: BaseException) -> ServiceUnavailable | None:
    """The database could not be reached or did not answer in time: a 503, not a 500.

    Every database call has a deadline (DB_TIMEOUT_MS), so a stopped or hung database
    surfaces here as a timeout or connection failure; the edges answer SERVICE_UNAVAILABLE.
    """
    if isinstance(exc, ConnectionFailure) or (isinstance(exc, PyMongoError) and exc.timeout):
        return ServiceUnavailable("The database is unavailable; please retry")
    return None
