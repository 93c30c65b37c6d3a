"""BatchExtras: a stored batch's read marks, mentions and thread counts, written at once,
one update per thread parent, never failing the batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from bson import ObjectId

from safechat.models.message import StoredMessage
from safechat.services.messages.batch_extras import BatchExtras
from tests.helpers.fakes import FakeReadStateRepository

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GID = ObjectId()


def msg(seq: int, sender: str, *, reply_to: ObjectId | None = None, mentions: Any = ()) -> Any:
    at = T0 + timedelta(seconds=seq)
    return StoredMessage(
        id=ObjectId(),
        group_id=GID,
        seq=seq,
        sender_id=sender,
        type="text",
        content="",
        created_at=at,
        updated_at=at,
        reply_to=reply_to,
        mentions=list(mentions),
    )


class Mentions:
    def __init__(self, fail: bool = False) -> None:
        self.inserts: list[list[dict[str, Any]]] = []
        self.fail = fail

    async def insert_many(self, entries: list[dict[str, Any]]) -> None:
        if self.fail:
            raise RuntimeError("database down")
        self.inserts.append(entries)


class Threads:
    def __init__(self) -> None:
        self.calls: list[dict[ObjectId, tuple[int, datetime]]] = []
        self.counts: dict[ObjectId, int] = {}

    async def count_replies(
        self, replies: dict[ObjectId, tuple[int, datetime]]
    ) -> dict[ObjectId, tuple[int, datetime]]:
        self.calls.append(dict(replies))
        for parent, (n, _at) in replies.items():
            self.counts[parent] = self.counts.get(parent, 0) + n
        return {p: (self.counts[p], at) for p, (_n, at) in replies.items()}


async def test_one_update_per_parent_and_the_last_reply_carries_the_counts() -> None:
    reads, mentions, threads = FakeReadStateRepository(), Mentions(), Threads()
    extras = BatchExtras(cast(Any, reads), cast(Any, mentions), cast(Any, threads))
    p1, p2 = ObjectId(), ObjectId()
    batch = [
        msg(1, "a", reply_to=p1, mentions=["b", "a"]),
        msg(2, "b", reply_to=p2),
        msg(3, "c", reply_to=p1, mentions=["b"]),
        msg(4, "a"),
    ]

    states = await extras.write(GID, batch, T0)

    assert threads.calls == [{p1: (2, batch[2].created_at), p2: (1, batch[1].created_at)}]
    assert set(states) == {batch[2].id, batch[1].id}
    assert states[batch[2].id].parent_id == p1
    assert states[batch[2].id].reply_count == 2
    assert states[batch[1].id].reply_count == 1
    # Self-mentions are not recorded; b's mentions are, with their seqs.
    assert [(e["userId"], e["seq"]) for e in mentions.inserts[0]] == [("b", 1), ("b", 3)]
    assert reads.mention_seqs == {(GID, "b"): [1, 3]}
    assert reads.marks == {(GID, "a"): 4, (GID, "b"): 2, (GID, "c"): 3}
    assert reads.count("advance_many") == 1


async def test_a_failing_step_is_logged_and_the_others_still_happen() -> None:
    reads, threads = FakeReadStateRepository(), Threads()
    extras = BatchExtras(cast(Any, reads), cast(Any, Mentions(fail=True)), cast(Any, threads))
    parent = ObjectId()
    batch = [msg(1, "a", reply_to=parent, mentions=["b"])]

    states = await extras.write(GID, batch, T0)

    assert states[batch[0].id].reply_count == 1
    assert reads.marks == {(GID, "a"): 1}


async def test_without_replies_or_mentions_only_the_marks_are_written() -> None:
    reads, mentions, threads = FakeReadStateRepository(), Mentions(), Threads()
    extras = BatchExtras(cast(Any, reads), cast(Any, mentions), cast(Any, threads))
    assert await extras.write(GID, [msg(1, "a")], T0) == {}
    assert mentions.inserts == []
    assert threads.calls == []
    reads.fail_next("advance_many")
    assert await extras.write(GID, [msg(2, "a")], T0) == {}  # logged, not raised


@pytest.mark.parametrize("mentions", [[], ["a"]])
async def test_only_self_mentions_write_no_mention_entries(mentions: list[str]) -> None:
    reads, store = FakeReadStateRepository(), Mentions()
    extras = BatchExtras(cast(Any, reads), cast(Any, store), cast(Any, Threads()))
    await extras.write(GID, [msg(1, "a", mentions=mentions)], T0)
    assert store.inserts == []
    assert reads.mention_seqs == {}
