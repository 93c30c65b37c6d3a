"""What the migration reads from, writes to and reports progress on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol

from bson import ObjectId

Doc = dict[str, Any]
WriteOutcome = Literal["inserted", "already_present", "username_dropped"]
GroupOutcome = Literal["inserted", "updated", "unchanged"]


class NodeSource(Protocol):
    """The Node service's database, read only."""

    async def count(self, collection: str) -> int: ...

    def users(self) -> AsyncIterator[Doc]: ...

    def groups(self) -> AsyncIterator[Doc]: ...

    async def count_messages(self, group_id: ObjectId) -> int: ...

    def messages(self, group_id: ObjectId) -> AsyncIterator[Doc]:
        """One group's messages in createdAt order, ties by _id, without vectorEmbedding."""
        ...

    async def count_orphans(self, group_ids: list[ObjectId]) -> int:
        """Messages whose groupId is none of these groups."""
        ...


class MigrationTarget(Protocol):
    """SafeChat's database; with dry_run the writes only answer what they would do."""

    async def put_users(self, docs: list[Doc]) -> list[WriteOutcome]: ...

    async def group_state(self, group_id: ObjectId) -> tuple[int | None, dict[ObjectId, int]]:
        """The stored group's lastSeq (None when absent) and its messages' seqs by id."""
        ...

    async def put_media(self, docs: list[Doc]) -> None: ...

    async def insert_messages(self, docs: list[Doc]) -> int:
        """Inserts; returns how many a unique index (an id or a seq taken) refused."""
        ...

    async def put_read_marks(self, group_id: ObjectId, marks: dict[str, Doc]) -> None: ...

    async def put_group(self, doc: Doc) -> GroupOutcome: ...


class Progress(Protocol):
    def stage(self, name: str, total: int) -> None: ...

    def advance(self, count: int) -> None: ...

    def close(self) -> None: ...
