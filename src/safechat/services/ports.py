"""Ports: what services need from the outside world, as small interfaces."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from safechat.ai.schemas import ChatRequest, Verdict
    from safechat.models.group import Group
    from safechat.models.message import StoredMessage
    from safechat.services.ratelimit import Limit

T = TypeVar("T", bound=BaseModel)


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


class RateLimiter(Protocol):
    """Token buckets by key. Memory on one node; Redis when nodes share limits."""

    async def acquire(self, key: str, limit: Limit) -> float:
        """Takes one token from bucket `key`: 0.0 when allowed, else seconds to wait."""


# --- AI (docs/ai.md) ---------------------------------------------------------


class AIProvider(Protocol):
    """Chat completion with structured output, embeddings, moderation.

    OpenAI-compatible servers (adapters/openai_ai.py) or the offline heuristics
    (adapters/offline_ai.py). Implementations raise on failure; the guard adds
    timeouts, the circuit breaker and fallbacks.
    """

    name: str
    embedding_model: str

    async def complete(self, request: ChatRequest, schema: type[T]) -> T: ...

    async def embed(self, texts: list[str]) -> list[list[float]]: ...

    async def moderate(self, texts: list[str]) -> list[Verdict]: ...


class MessageHooks(Protocol):
    """AI steps on the message path, called by MessageService."""

    async def screen(self, group: Group, text: str) -> dict[str, Any] | None:
        """Before the write: None (clean, or moderation off), a verdict to store
        (flag mode), or raises ContentRejected (block mode)."""

    def on_stored(self, group: Group, message: StoredMessage, text: str) -> None:
        """After the durable write: schedules background work; never blocks."""
