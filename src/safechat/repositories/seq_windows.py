"""Reads of one group's messages in bounded seq windows.

The embedded database (SecantusDB) answers `{groupId, seq: <range>}` from the (groupId,
seq) index, but applies sort and limit only after it has fetched and decoded every
document the range covers, holding its global lock; an open-ended range (`seq < X`, or
no seq clause at all) costs the group's whole history, and every other query of every
client waits behind it (docs/performance.md, "Steady state"). The filter must also be
exactly `{groupId, seq}`: any further clause, even `isDeleted: false`, makes it fetch the
whole group and filter afterwards.

Seqs are gap-free (a seq whose message could not be stored gets a placeholder), so the
`limit` messages next to a point lie within `limit` seqs of it. A window that comes up
short (a seq still being written, or a gap a crash left) is followed by the next one,
four times wider, and the last one is open-ended: the results are exactly those of the
open-ended query, at the cost of the window in the common case.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from safechat.repositories.db import Doc

GROWTH = 4


async def newest(
    c: AsyncCollection[Doc],
    group_id: ObjectId,
    limit: int,
    *,
    last_seq: int,
    before_seq: int | None = None,
    projection: Doc | None = None,
) -> list[Doc]:
    """Up to `limit` documents with seq < `before_seq` (any seq when None), newest first.

    `last_seq` (the group's, as last read) only sizes the first window: a stale value
    costs a wider read, never a different result, because the window with no
    `before_seq` is open above."""
    found: list[Doc] = []
    ref = before_seq if before_seq is not None else last_seq + 1
    upper = before_seq  # exclusive
    span = max(1, limit)
    while len(found) < limit:
        lower = ref - span  # inclusive
        last_window = lower <= 1  # seqs start at 1: open below, as the unbounded query
        seq: dict[str, Any] = {}
        if upper is not None:
            seq["$lt"] = upper
        if not last_window:
            seq["$gte"] = lower
        query: Doc = {"groupId": group_id, **({"seq": seq} if seq else {})}
        cursor = c.find(query, projection).sort("seq", DESCENDING).limit(limit - len(found))
        found.extend([d async for d in cursor])
        if last_window:
            break
        upper, span = lower, span * GROWTH
    return found


async def oldest(
    c: AsyncCollection[Doc],
    group_id: ObjectId,
    limit: int,
    *,
    after_seq: int,
    last_seq: int,
) -> list[Doc]:
    """Up to `limit` documents with seq > `after_seq`, oldest first.

    The window reaching `last_seq` is open above, so messages stored after the group was
    read are still found, as with the unbounded query."""
    found: list[Doc] = []
    lower = after_seq  # exclusive
    span = max(1, limit)
    while len(found) < limit:
        upper = after_seq + span  # inclusive
        last_window = upper >= last_seq
        seq: dict[str, Any] = {"$gt": lower}
        if not last_window:
            seq["$lte"] = upper
        cursor = (
            c.find({"groupId": group_id, "seq": seq})
            .sort("seq", ASCENDING)
            .limit(limit - len(found))
        )
        found.extend([d async for d in cursor])
        if last_window:
            break
        lower, span = upper, span * GROWTH
    return found


async def between(
    c: AsyncCollection[Doc], group_id: ObjectId, after_seq: int, up_to_seq: int, projection: Doc
) -> list[Doc]:
    """Every document with `after_seq` < seq <= `up_to_seq` (one bounded range)."""
    cursor = c.find({"groupId": group_id, "seq": {"$gt": after_seq, "$lte": up_to_seq}}, projection)
    return [d async for d in cursor]


def contiguous_through(after_seq: int, seqs: list[int]) -> int:
    """The highest seq S such that every seq in (after_seq, S] is among `seqs`."""
    through = after_seq
    for s in sorted(set(seqs)):
        if s <= through:
            continue
        if s != through + 1:
            break
        through = s
    return through
