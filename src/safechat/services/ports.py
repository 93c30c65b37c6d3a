"""Ports: what services need from the outside world, as small interfaces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        # MongoDB stores milliseconds; truncate so what we return equals what we read back.
        current = datetime.now(UTC)
        return current.replace(microsecond=current.microsecond // 1000 * 1000)


class Notifier(Protocol):
    """Delivers events to connected clients. Called only after the write it announces."""

    async def to_group(
        self, group_id: str, event: str, data: Any, *, skip_sid: str | None = None
    ) -> None: ...

    async def to_user(self, user_id: str, event: str, data: Any) -> None: ...

    async def add_user_to_group(self, user_id: str, group_id: str) -> None:
        """Moves every live socket of the user into the group's room."""

    async def remove_user_from_group(self, user_id: str, group_id: str) -> None:
        """Takes every live socket of the user out of the group's room."""

    async def close_group(self, group_id: str) -> None:
        """Empties the group's room (the group was deleted)."""


class PresenceStore(Protocol):
    """Which users have live sockets. Memory now; Redis for several nodes."""

    async def add(self, user_id: str, sid: str, info: dict[str, Any]) -> bool:
        """Records a socket; True when it is the user's first live one."""

    async def remove(self, user_id: str, sid: str) -> bool:
        """Forgets a socket; True when it was the user's last live one."""

    async def online(self, user_ids: list[str]) -> set[str]:
        """The subset of `user_ids` with at least one live socket."""

    async def sessions(self, user_id: str) -> dict[str, dict[str, Any]]:
        """The user's live sockets and what was recorded about each."""


# --- media storage (docs/media.md) ------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedUrl:
    """A URL that grants one kind of access to one object until `expires_at`."""

    url: str
    expires_at: datetime
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)


class MediaStore(Protocol):
    """Where media bytes live: a local directory or an S3 bucket.

    Keys are chosen by SafeChat (never by clients). Reads are bounded by
    `max_bytes` so a stored object can never make us load more than the limit.
    """

    kind: str

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str, max_bytes: int) -> bytes | None:
        """The object's bytes (at most `max_bytes + 1` of them), None if absent."""

    async def size(self, key: str) -> int | None:
        """The stored object's real size, None if absent."""

    async def delete(self, keys: list[str]) -> None:
        """Deletes what exists of `keys`; missing keys are not an error."""

    async def download_url(
        self, key: str, *, content_type: str, filename: str, inline: bool, expires_in: int
    ) -> SignedUrl: ...

    async def upload_url(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> SignedUrl:
        """A URL the client PUTs the bytes to, with the headers it must send."""
