"""This node's writes to `groups` documents: announced to what caches them, and the
`lastSeq` values handed out but not yet written, which this node's reads see at once.

The local seq allocator (services/messages/seqs.py) keeps who may send in each group in
memory; it is used only where this node is the database's only writer, so this node's
own membership writes are all the changes there are. Each such write is bracketed: the
cache drops the group when the write starts *and* when it returned, and a load that
overlapped either moment (its generation changed) is not kept, so no send admitted after
a removal returned can have been checked against the membership from before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from bson import ObjectId

from safechat.models.group import Group

Listener = Callable[[ObjectId | None], None]


class GroupWrites:
    def __init__(self) -> None:
        self._all = 0
        self._per_group: dict[ObjectId, int] = {}
        self._listeners: list[Listener] = []
        # group -> (lastSeq, lastMessageAt) not yet written (services/messages/seqs.py).
        self.unwritten_seqs: dict[ObjectId, tuple[int, datetime]] = {}

    def group(self, doc: dict[str, Any]) -> Group:
        """The group as this node knows it: with a `lastSeq` it has not written yet."""
        if (ahead := self.unwritten_seqs.get(doc["_id"])) is not None and ahead[0] > int(
            doc.get("lastSeq", 0)
        ):
            doc = {**doc, "lastSeq": ahead[0], "lastMessageAt": ahead[1]}
        return Group.from_doc(doc)

    def last_seq(self, group_id: ObjectId, stored: int) -> int:
        ahead = self.unwritten_seqs.get(group_id)
        return max(stored, ahead[0]) if ahead is not None else stored

    def subscribe(self, listener: Listener) -> None:
        """`listener(group_id)` on every change; `None` means any group may have changed."""
        self._listeners.append(listener)

    def generation(self, group_id: ObjectId) -> tuple[int, int]:
        return self._all, self._per_group.get(group_id, 0)

    @contextmanager
    def changing(self, group_id: ObjectId | None) -> Iterator[None]:
        """Around a write to one group's document (None: a write found by another key)."""
        self._bump(group_id)
        try:
            yield
        finally:
            self._bump(group_id)

    def _bump(self, group_id: ObjectId | None) -> None:
        if not self._listeners:
            return
        if group_id is None:
            self._all += 1
        else:
            self._per_group[group_id] = self._per_group.get(group_id, 0) + 1
        for listener in self._listeners:
            listener(group_id)
