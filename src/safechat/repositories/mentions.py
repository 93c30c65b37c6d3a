"""The `mentions` collection: one entry per (mentioned user, message), written by the
group commit with the messages' batch; it serves `GET /api/me/mentions`.

Unread counts do not read it: they come from the seqs kept on the read mark
(read_state.py), so a group list costs no query per group.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bson import ObjectId
from pymongo import DESCENDING

from safechat.repositories.db import Database, Doc

# The listing reads the (userId, messageId) index in time windows ending at the cursor,
# each wider than the last, then one open-ended read: the embedded database fetches a
# whole range before it sorts and limits (see seq_windows.py), so an unbounded range
# would cost every mention the user ever had.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WINDOWS = (timedelta(days=1), timedelta(days=16), timedelta(days=256))


class MentionRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("mentions")

    async def insert_many(self, entries: list[Doc]) -> None:
        """`{userId, groupId, seq, messageId, at}` each; unordered, one round trip."""
        if entries:
            await self._c.insert_many(entries, ordered=False)

    async def newest(
        self, user_id: str, before: ObjectId | None, limit: int, now: datetime
    ) -> list[Doc]:
        """Up to `limit` entries with messageId < `before`, newest first. Pass a larger
        limit than needed when the caller filters the result."""
        found: list[Doc] = []
        upper = before  # exclusive; none: open above (ids need not follow the clock)
        top = before.generation_time if before is not None else now
        for span in (*WINDOWS, None):
            need = limit - len(found)
            if need <= 0:
                break
            bound: Doc = {} if upper is None else {"$lt": upper}
            # A window reaching before 1970 (a cursor near ObjectId 0) is open below.
            start = None if span is None else top - span
            lower = None if start is None or start <= EPOCH else ObjectId.from_datetime(start)
            if lower is not None:
                bound["$gte"] = lower
            query: Doc = {"userId": user_id, **({"messageId": bound} if bound else {})}
            cursor = self._c.find(query).sort("messageId", DESCENDING).limit(need)
            found.extend([d async for d in cursor])
            upper = lower  # the next window ends where this one began
        return found
