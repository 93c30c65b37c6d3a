"""Ports: what services need from the outside world, as small interfaces."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from bson import ObjectId

    from safechat.events import Event
    from safechat.models.message import StoredMessage
    from safechat.services.ai.schemas import ChatRequest, Verdict

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
# An event's payload: one of the TypedDicts of events.py (user_groups: a list of them).
Payload = Mapping[str, Any] | Sequence[Mapping[str, Any]]


class Clock(Protocol):
    """The one source of time for whatever depends on it: stored timestamps, deadlines,
    TTLs, expiry, rate limits, the AI breaker, typing and presence. Injected everywhere,
    so tests drive time with a fake instead of sleeping."""

    def now(self) -> datetime:
        """Wall-clock time, UTC, whole milliseconds. For what is stored or shared between
        nodes: timestamps, and deadlines as epoch seconds (`now().timestamp()`)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never going back. For intervals measured
        within this process only: caches, cool-downs, the breaker, per-node buckets."""
        ...


class SystemClock:
    def now(self) -> datetime:
        # MongoDB stores milliseconds; truncate so what we return equals what we read back.
        current = datetime.now(UTC)
        return current.replace(microsecond=current.microsecond // 1000 * 1000)

    def monotonic(self) -> float:
        return time.monotonic()


class Notifier(Protocol):
    """Delivers events (events.Event) to connected clients and keeps sockets in their
    rooms (events.group_room, events.user_room). Announcements of a change are made
    only after the write they announce has returned."""

    async def to_group(
        self, group_id: str, event: Event, data: Payload, *, skip_sid: str | None = None
    ) -> None: ...

    async def to_groups(
        self,
        group_ids: list[str],
        event: Event,
        data: Payload,
        *,
        skip_sid: str | None = None,
        also_user: str | None = None,
    ) -> None:
        """Once to every socket in any of the groups' rooms (and, with `also_user`, that
        user's own sockets), however many of them a socket is in."""

    async def to_user(self, user_id: str, event: Event, data: Payload) -> None:
        """To every live socket of the user, on every node."""

    async def to_socket(self, sid: str, event: Event, data: Payload) -> None:
        """To one socket (a sid: never a room name, never None)."""

    async def enter_rooms(self, sid: str, user_id: str, group_ids: list[str]) -> None:
        """A new socket joins its user's room and the rooms of the user's groups."""

    async def join(self, sid: str, group_id: str) -> None:
        """One socket joins the group's room."""

    async def leave(self, sid: str, group_id: str) -> None:
        """One socket leaves the group's room."""

    def in_group_room(self, sid: str, group_id: str) -> bool:
        """Whether the socket (one of this node's) is in the group's room: local
        state, no I/O."""

    async def add_user_to_group(self, user_id: str, group_id: str) -> None:
        """Moves every live socket of the user into the group's room."""

    async def remove_user_from_group(self, user_id: str, group_id: str) -> None:
        """Takes every live socket of the user out of the group's room."""

    async def close_group(self, group_id: str) -> None:
        """Empties the group's room (the group was deleted)."""

    async def disconnect_user(self, user_id: str) -> None:
        """Disconnects every live socket of the user, on every node."""


class PresenceStore(Protocol):
    """Live sockets per user, with expiry so a dead node's sockets drop out.

    Times are epoch seconds passed in by the caller; an entry lives `ttl` seconds
    (a store setting) after its last `add`/`heartbeat`, which the node owning the
    socket repeats. Memory on one node; Redis when nodes share it.
    """

    async def add(
        self, user_id: str, sid: str, info: dict[str, Any], now: float, limit: int | None = None
    ) -> bool:
        """Records a socket; True when it is the user's first live one. With `limit`,
        the count and the insert are one atomic step (across nodes where shared):
        raises errors.PresenceFull, recording nothing, when `limit` sockets are live."""

    async def remove(self, user_id: str, sid: str, now: float) -> bool:
        """Forgets a socket; True when it was the user's last one."""

    async def heartbeat(self, entries: list[tuple[str, str, dict[str, Any]]], now: float) -> None:
        """Renews (or re-creates) this node's sockets, given as (user_id, sid, info)."""

    async def online(self, user_ids: list[str], now: float) -> set[str]:
        """The subset of `user_ids` with at least one unexpired socket."""

    async def sessions(self, user_id: str, now: float) -> dict[str, dict[str, Any]]:
        """The user's unexpired sockets and what was recorded about each."""

    async def set_status(self, user_id: str, status: str) -> None:
        """The user's chosen status (online/away), forgotten when they go offline."""

    async def statuses(self, user_ids: list[str]) -> dict[str, str]:
        """Chosen statuses of those users that set one."""

    async def purge_node(self, node_id: str, now: float) -> list[str]:
        """Drops sockets a previous run of `node_id` left (info["node"]); returns the
        users that this left with no socket."""

    async def expired_users(self, now: float) -> list[str]:
        """Users whose sockets all expired, forgotten now; each returned to one caller
        only, so one node announces it."""


class TypingStore(Protocol):
    """Who is typing where, with a deadline per (group, user)."""

    async def start(self, group_id: str, user_id: str, deadline: float) -> bool:
        """Sets the deadline; True when the user was not typing there (announce it)."""

    async def stop(self, group_id: str, user_id: str) -> bool:
        """True when the user was typing in the group (announce the stop)."""

    async def due(self, now: float) -> list[tuple[str, str]]:
        """(group_id, user_id) pairs past their deadline, removed; each to one caller."""

    async def typing(self, group_id: str, now: float) -> list[str]:
        """Users typing in the group now."""


@dataclass(frozen=True, slots=True)
class Limit:
    """`rate` tokens per second refill a bucket holding at most `burst` tokens."""

    name: str
    rate: float
    burst: int

    @classmethod
    def per_minute(cls, name: str, count: int, burst: int | None = None) -> Limit:
        return cls(name, count / 60.0, burst if burst is not None else count)


class RateLimiter(Protocol):
    """Token buckets by key. Memory on one node; Redis when nodes share limits."""

    async def acquire(self, key: str, limit: Limit) -> float:
        """Takes one token from bucket `key`: 0.0 when allowed, else seconds to wait."""


# --- AI (docs/ai.md) ---------------------------------------------------------


class AIProvider(Protocol):
    """Chat completion with structured output, embeddings, moderation.

    OpenAI-compatible servers (adapters/ai/openai.py) or the offline heuristics
    (adapters/ai/offline.py). Implementations raise on failure; the guard adds
    timeouts, the circuit breaker and fallbacks.
    """

    name: str
    embedding_model: str

    async def complete(self, request: ChatRequest, schema: type[T]) -> T: ...

    async def embed(self, texts: list[str], keys: list[bytes]) -> list[list[float]]:
        """One vector per text. `keys[i]` is the embedding key of text i's group: the
        offline hashing is keyed with it (services/encryption.py); a remote model
        cannot be keyed and ignores it."""
        ...

    async def moderate(self, texts: list[str]) -> list[Verdict]: ...


class CpuPool(Protocol):
    """Runs CPU-heavy pure functions off the event loop (adapters/ai/cpu_pool.py).
    `fn` and its arguments must be picklable (module-level functions, plain data)."""

    async def run(self, fn: Callable[..., R], *args: Any) -> R: ...


class EmbeddingKeys(Protocol):
    """Per-group secrets for keyed embeddings (implemented by services/encryption.py)."""

    @property
    def primary_kid(self) -> str: ...

    def embedding_key(self, group_id: str) -> bytes: ...


class MessageHooks(Protocol):
    """AI steps on the message path, called by MessageService."""

    @property
    def needs_group(self) -> bool:
        """True when screening depends on the group's aiEnabled (a remote provider), so
        the sender's group must be read before the write."""

    async def screen(self, text: str, *, ai_enabled: bool) -> dict[str, Any] | None:
        """Before the write: None (clean, or moderation off), a verdict to store
        (flag mode), or raises ContentRejected (block mode). With ai_enabled False the
        text never leaves this server."""

    def on_stored(self, message: StoredMessage, text: str, *, ai_enabled: bool | None) -> None:
        """After the durable write: schedules background work; never blocks.
        ai_enabled None: not known on the send path; the background step reads it."""

    async def on_deleted(self, message_id: ObjectId) -> None:
        """After a message was deleted (or its text removed by an edit): what was
        derived from its text (its embedding) goes too."""

    async def on_group_deleted(self, group_id: ObjectId) -> None:
        """After a group was deleted: the embeddings of all its messages go."""


# --- media storage (docs/media.md) ------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedUrl:
    """A URL that grants one kind of access to one object until `expires_at`."""

    url: str
    expires_at: datetime
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object found by MediaStore.scan: its key and when it was last written."""

    key: str
    modified: datetime


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

    def scan(self, prefix: str) -> AsyncIterator[list[StoredObject]]:
        """Every object whose key starts with `prefix`, a page at a time (for the sweep)."""


# --- notification webhooks (docs/webhooks.md) -------------------------------------------


class WebhookSender(Protocol):
    """POSTs one delivery to the operator's endpoint."""

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout_seconds: float
    ) -> int:
        """The HTTP status of the answer; raises on a timeout or a connection failure."""


# --- seq allocation for the group commit (docs/performance.md) --------------------------


class SeqAllocator(Protocol):
    """Hands out a group's gap-free seqs, only while every sender may send there.

    Two implementations (services/messages/seqs.py): an atomic `$inc` on the group
    document whose filter is the membership check (any database, any number of nodes),
    and an in-memory one for a node that is its database's only writer."""

    async def reserve(
        self, group_id: ObjectId, count: int, now: datetime, senders: Sequence[str]
    ) -> int | None:
        """The last of `count` new seqs; None when the group is gone or one of `senders`
        may not send in it (then nothing is reserved)."""

    async def may_send(self, group_id: ObjectId, senders: Sequence[str]) -> bool:
        """The same check without reserving anything."""

    async def stored(self, group_id: ObjectId, last_seq: int, now: datetime) -> None:
        """Called with the batch's insert: makes what `reserve` gave durable (or nothing,
        when `reserve` already did)."""
