"""GroupCommit over in-memory repositories: ordering, gap-free seqs, tempId repeats,
partial failures, membership refused inside a batch, a group gone, and cancellation.

Sends started together (`asyncio.gather`) queue before the group's writer first runs,
so they form one batch; a Gate on a repository call holds a batch in flight so that
later sends queue behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from bson import ObjectId

from safechat.errors import ChatError, ErrorCode
from safechat.models.group import Group
from safechat.models.message import StoredMessage
from safechat.services.messages.group_commit import Draft, GroupCommit, Stored
from tests.helpers.fakes import (
    FakeClock,
    FakeGroupRepository,
    FakeMessageRepository,
    FakeReadStateRepository,
)


class Setup:
    def __init__(self, *, max_batch: int = 256) -> None:
        self.clock = FakeClock()
        self.groups = FakeGroupRepository()
        self.messages = FakeMessageRepository()
        self.read_state = FakeReadStateRepository()
        self.prepared: list[list[str]] = []
        self.prepare: Callable[[list[str]], Awaitable[None]] = self._record_prepare
        self.group = self.groups.seed("alice", "bob", "carol")
        self.commit = self.new_commit(max_batch=max_batch)

    async def _record_prepare(self, sender_ids: list[str]) -> None:
        self.prepared.append(sender_ids)

    def new_commit(self, *, max_batch: int = 256) -> GroupCommit:
        """Another GroupCommit over the same data: another node, or after a restart."""
        return GroupCommit(
            self.groups,  # type: ignore[arg-type]
            self.messages,  # type: ignore[arg-type]
            self.read_state,  # type: ignore[arg-type]
            self.clock,
            prepare=lambda ids: self.prepare(ids),
            max_batch=max_batch,
        )

    def draft(self, sender: str, text: str, temp_id: str | None = None, **fields: Any) -> Draft:
        fields.setdefault("group_id", self.group.id)
        return Draft(sender_id=sender, content=f"enc:{text}", text=text, temp_id=temp_id, **fields)

    async def send(self, *drafts: Draft, commit: GroupCommit | None = None) -> list[Any]:
        """Stores the drafts concurrently (one batch); each result is Stored or a ChatError."""
        c = commit or self.commit
        return list(await asyncio.gather(*(c.store(d) for d in drafts), return_exceptions=True))

    def stored(self, group: Group | None = None) -> list[StoredMessage]:
        return self.messages.in_group((group or self.group).id)

    def last_seq(self, group: Group | None = None) -> int:
        return int(self.groups.docs[(group or self.group).id]["lastSeq"])


def code(result: Any) -> ErrorCode:
    assert isinstance(result, ChatError), result
    return result.code


def ok(result: Any) -> StoredMessage:
    assert isinstance(result, Stored), result
    assert result.duplicate is False
    return result.message


def duplicate(result: Any) -> StoredMessage:
    assert isinstance(result, Stored), result
    assert result.duplicate is True
    return result.message


@pytest.fixture
def s() -> Setup:
    return Setup()


# --- ordering -----------------------------------------------------------------------------


async def test_a_batch_takes_seqs_in_arrival_order_in_one_write(s: Setup) -> None:
    drafts = [
        s.draft("alice", "a1", "a-1"),
        s.draft("bob", "b1", "b-1"),
        s.draft("alice", "a2", "a-2"),
        s.draft("carol", "c1"),
    ]
    results = await s.send(*drafts)
    messages = [ok(r) for r in results]
    assert [m.seq for m in messages] == [1, 2, 3, 4]
    assert [m.content for m in messages] == ["enc:a1", "enc:b1", "enc:a2", "enc:c1"]
    assert [m.client_message_id for m in messages] == ["a-1", "b-1", "a-2", None]
    # Three round trips whatever the batch size: one $inc, one insert_many, one bulk mark.
    assert s.groups.count("reserve_seqs") == 1
    assert s.groups.args_of("reserve_seqs")[0][1] == 4
    assert s.messages.count("insert_batch") == 1
    assert s.read_state.count("advance_many") == 1
    assert [m.id for m in s.stored()] == [m.id for m in messages]
    assert s.last_seq() == 4
    # Times come from the injected clock.
    assert {m.created_at for m in messages} == {s.clock.now()}
    assert s.groups.docs[s.group.id]["lastMessageAt"] == s.clock.now()


async def test_sending_marks_the_conversation_read_up_to_the_senders_last_message(
    s: Setup,
) -> None:
    await s.send(s.draft("alice", "1"), s.draft("bob", "2"), s.draft("alice", "3"))
    assert s.read_state.marks == {(s.group.id, "alice"): 3, (s.group.id, "bob"): 2}


async def test_sends_queued_behind_a_batch_in_flight_form_the_next_batch(s: Setup) -> None:
    gate = s.messages.hold_next("insert_batch")
    first = asyncio.ensure_future(s.commit.store(s.draft("alice", "first")))
    await gate.reached.wait()  # batch 1 is being written
    later = [
        asyncio.ensure_future(s.commit.store(s.draft(who, text)))
        for who, text in [("bob", "x"), ("carol", "y"), ("alice", "z")]
    ]
    await asyncio.sleep(0)
    assert not any(t.done() for t in [first, *later])  # nothing answered before its write
    gate.open()
    assert ok(await first).seq == 1
    assert [ok(await t).seq for t in later] == [2, 3, 4]
    assert [args[1] for args in s.groups.args_of("reserve_seqs")] == [1, 3]
    assert s.messages.count("insert_batch") == 2


async def test_max_batch_splits_a_long_queue_in_order() -> None:
    s = Setup(max_batch=2)
    results = await s.send(*(s.draft("alice", str(i)) for i in range(5)))
    assert [ok(r).seq for r in results] == [1, 2, 3, 4, 5]
    assert [args[1] for args in s.groups.args_of("reserve_seqs")] == [2, 2, 1]


async def test_groups_have_their_own_queues_and_seqs(s: Setup) -> None:
    other = s.groups.seed("alice", "bob", name="other")
    results = await s.send(
        s.draft("alice", "here"),
        s.draft("alice", "there", group_id=other.id),
        s.draft("bob", "here again"),
    )
    assert [(ok(r).group_id, ok(r).seq) for r in results] == [
        (s.group.id, 1),
        (other.id, 1),
        (s.group.id, 2),
    ]


async def test_prepare_runs_after_the_write_and_before_any_send_resumes(s: Setup) -> None:
    tasks: list[asyncio.Future[Stored]] = []

    async def prepare(sender_ids: list[str]) -> None:
        assert len(s.stored()) == 3  # after the write
        assert not any(t.done() for t in tasks)  # before the sends resume
        s.prepared.append(sender_ids)

    s.prepare = prepare
    drafts = [s.draft("alice", "1"), s.draft("bob", "2"), s.draft("alice", "3")]
    tasks.extend(asyncio.ensure_future(s.commit.store(d)) for d in drafts)
    await asyncio.gather(*tasks)
    assert s.prepared == [["alice", "bob"]]


# --- tempId repeats -----------------------------------------------------------------------


async def test_a_remembered_retry_gives_back_the_stored_message_without_a_seq(s: Setup) -> None:
    (first,) = await s.send(s.draft("alice", "hi", "t1"))
    (retry,) = await s.send(s.draft("alice", "hi", "t1"))
    assert duplicate(retry).id == ok(first).id
    assert s.last_seq() == 1
    assert s.groups.count("reserve_seqs") == 1  # the retry only checked membership
    assert s.groups.count("has_members") == 1
    assert len(s.stored()) == 1


async def test_a_repeat_within_one_batch_is_stored_once(s: Setup) -> None:
    results = await s.send(
        s.draft("alice", "hi", "t1"),
        s.draft("bob", "yo"),
        s.draft("alice", "hi", "t1"),
    )
    first, other, repeat = results
    assert duplicate(repeat).id == ok(first).id
    assert [ok(first).seq, ok(other).seq] == [1, 2]
    assert s.last_seq() == 2


async def test_the_same_tempid_from_two_senders_is_two_messages(s: Setup) -> None:
    results = await s.send(s.draft("alice", "a", "t1"), s.draft("bob", "b", "t1"))
    assert [ok(r).sender_id for r in results] == ["alice", "bob"]


async def test_a_retry_this_node_does_not_remember_is_caught_at_insert(s: Setup) -> None:
    (original,) = await s.send(s.draft("alice", "hi", "t1"))
    restarted = s.new_commit()
    (retry, bob) = await s.send(
        s.draft("alice", "hi", "t1"), s.draft("bob", "yo"), commit=restarted
    )
    assert duplicate(retry).id == ok(original).id
    assert ok(bob).seq == 3
    # Seq 2 was reserved for the retry: a deleted placeholder holds it, no gap.
    assert [(m.seq, m.sender_id, m.is_deleted) for m in s.stored()] == [
        (1, "alice", False),
        (2, "system", True),
        (3, "bob", False),
    ]
    assert s.stored()[1].type == "system"
    # Now remembered: a further retry costs no seq.
    (again,) = await s.send(s.draft("alice", "hi", "t1"), commit=restarted)
    assert duplicate(again).id == ok(original).id
    assert s.last_seq() == 3


async def test_one_upload_in_two_messages_is_a_conflict(s: Setup) -> None:
    media = {"mediaId": "m" * 24, "kind": "image"}
    first, second = await s.send(
        s.draft("alice", "one", "t1", type="image", media=dict(media)),
        s.draft("alice", "two", "t2", type="image", media=dict(media)),
    )
    assert ok(first).seq == 1
    assert code(second) is ErrorCode.CONFLICT
    assert "upload" in second.message
    assert [m.is_deleted for m in s.stored()] == [False, True]


async def test_a_seq_taken_behind_its_back_is_a_conflict(s: Setup) -> None:
    squatter = StoredMessage(
        id=ObjectId(),
        group_id=s.group.id,
        seq=1,
        sender_id="bob",
        type="text",
        content="x",
        created_at=s.clock.now(),
        updated_at=s.clock.now(),
    )
    await s.messages.insert(squatter)  # seq 1 stored without lastSeq knowing
    first, second = await s.send(s.draft("alice", "one"), s.draft("bob", "two"))
    assert code(first) is ErrorCode.CONFLICT
    assert ok(second).seq == 2


# --- partial failures and seq gaps --------------------------------------------------------


async def test_a_message_that_cannot_be_stored_fails_alone_and_leaves_a_placeholder(
    s: Setup,
) -> None:
    s.messages.reject = lambda m: m.content == "enc:bad"
    results = await s.send(s.draft("alice", "ok1"), s.draft("bob", "bad"), s.draft("carol", "ok2"))
    first, bad, last = results
    assert code(bad) is ErrorCode.SERVICE_UNAVAILABLE
    assert [ok(first).seq, ok(last).seq] == [1, 3]
    assert [(m.seq, m.is_deleted) for m in s.stored()] == [(1, False), (2, True), (3, False)]
    # Only stored messages move read marks.
    assert s.read_state.marks == {(s.group.id, "alice"): 1, (s.group.id, "carol"): 3}


async def test_a_failed_write_fails_its_batch_but_keeps_seqs_gap_free(s: Setup) -> None:
    s.messages.fail_next("insert_batch")
    results = await s.send(s.draft("alice", "1"), s.draft("bob", "2"))
    assert [code(r) for r in results] == [ErrorCode.SERVICE_UNAVAILABLE] * 2
    assert [(m.seq, m.sender_id, m.is_deleted) for m in s.stored()] == [
        (1, "system", True),
        (2, "system", True),
    ]
    # The next send goes on after the placeholders.
    (next_one,) = await s.send(s.draft("alice", "3"))
    assert ok(next_one).seq == 3


async def test_when_placeholders_cannot_be_stored_either_the_gap_stays(s: Setup) -> None:
    s.messages.fail_next("insert_batch")
    s.messages.fail_next("insert_batch")
    results = await s.send(s.draft("alice", "1"))
    assert code(results[0]) is ErrorCode.SERVICE_UNAVAILABLE
    assert s.stored() == []
    assert s.last_seq() == 1  # a gap, which sync tolerates
    (later,) = await s.send(s.draft("alice", "2"))
    assert ok(later).seq == 2


async def test_a_write_whose_reply_was_lost_is_found_by_the_retry(s: Setup) -> None:
    s.messages.fail_next("insert_batch", after=True)  # stored, but the call raised
    (lost,) = await s.send(s.draft("alice", "hi", "t1"))
    assert code(lost) is ErrorCode.SERVICE_UNAVAILABLE
    (retry,) = await s.send(s.draft("alice", "hi", "t1"))
    message = duplicate(retry)
    assert message.seq == 1
    assert [(m.seq, m.is_deleted) for m in s.stored()] == [(1, False), (2, True)]


async def test_read_state_or_prepare_failing_does_not_fail_stored_messages(s: Setup) -> None:
    s.read_state.fail_next("advance_many")

    async def failing_prepare(_ids: list[str]) -> None:
        raise RuntimeError("cache away")

    s.prepare = failing_prepare
    results = await s.send(s.draft("alice", "1"), s.draft("bob", "2"))
    assert [ok(r).seq for r in results] == [1, 2]


async def test_a_failed_seq_reservation_fails_the_batch_and_the_next_one_works(
    s: Setup,
) -> None:
    s.groups.fail_next("reserve_seqs")
    results = await s.send(s.draft("alice", "1"), s.draft("bob", "2"))
    assert [code(r) for r in results] == [ErrorCode.SERVICE_UNAVAILABLE] * 2
    assert s.last_seq() == 0
    (next_one,) = await s.send(s.draft("alice", "3"))
    assert ok(next_one).seq == 1


# --- membership and a group gone ----------------------------------------------------------


async def test_a_non_member_in_a_batch_is_refused_alone(s: Setup) -> None:
    results = await s.send(
        s.draft("alice", "1"), s.draft("eve", "2"), s.draft("bob", "3"), s.draft("eve", "4")
    )
    a, e1, b, e2 = results
    assert code(e1) is ErrorCode.ACCESS_DENIED
    assert code(e2) is ErrorCode.ACCESS_DENIED
    assert [ok(a).seq, ok(b).seq] == [1, 2]
    # The atomic check refused the batch once, the group was read once, then it went in.
    reserved = s.groups.args_of("reserve_seqs")
    assert [list(args[-1]) for args in reserved] == [["alice", "eve", "bob"], ["alice", "bob"]]
    assert s.groups.count("get") == 1
    assert all(m.sender_id != "eve" for m in s.stored())


async def test_a_member_removed_before_the_write_is_refused(s: Setup) -> None:
    await s.groups.remove_member(s.group.id, "bob", s.clock.now())
    results = await s.send(s.draft("alice", "1"), s.draft("bob", "2"))
    assert ok(results[0]).seq == 1
    assert code(results[1]) is ErrorCode.ACCESS_DENIED


async def test_a_removed_member_retrying_a_stored_tempid_is_refused(s: Setup) -> None:
    (first,) = await s.send(s.draft("bob", "hi", "t1"))
    ok(first)
    await s.groups.remove_member(s.group.id, "bob", s.clock.now())
    (retry,) = await s.send(s.draft("bob", "hi", "t1"))
    assert code(retry) is ErrorCode.ACCESS_DENIED


async def test_membership_that_keeps_changing_gives_up_after_a_few_attempts(
    s: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def always_refused(*_args: Any, **_kw: Any) -> None:
        return None  # as if someone left and rejoined between every check

    monkeypatch.setattr(s.groups, "reserve_seqs", always_refused)
    results = await s.send(s.draft("alice", "1"), s.draft("bob", "2"))
    assert [code(r) for r in results] == [ErrorCode.ACCESS_DENIED] * 2
    assert "retry" in results[0].message
    assert s.groups.count("get") == 3


async def test_sends_to_a_deleted_group_fail_with_group_not_found(s: Setup) -> None:
    await s.groups.soft_delete(s.group.id, s.clock.now())
    results = await s.send(s.draft("alice", "1"), s.draft("bob", "2", "t"))
    assert [code(r) for r in results] == [ErrorCode.GROUP_NOT_FOUND] * 2
    assert s.stored() == []


async def test_sends_to_a_group_that_never_existed_fail_with_group_not_found(s: Setup) -> None:
    (result,) = await s.send(s.draft("alice", "1", group_id=ObjectId()))
    assert code(result) is ErrorCode.GROUP_NOT_FOUND


# --- cancellation (shutdown) --------------------------------------------------------------


async def test_cancelled_writers_fail_every_pending_send_with_service_unavailable(
    s: Setup,
) -> None:
    gate = s.messages.hold_next("insert_batch")
    in_flight = [asyncio.ensure_future(s.commit.store(s.draft("alice", str(i)))) for i in (1, 2)]
    await gate.reached.wait()
    queued = [asyncio.ensure_future(s.commit.store(s.draft("bob", str(i)))) for i in (3, 4)]
    await asyncio.sleep(0)
    writers = list(s.commit._writers)
    assert len(writers) == 1
    for task in writers:
        task.cancel()
    await asyncio.gather(*writers, return_exceptions=True)
    results = await asyncio.gather(*in_flight, *queued, return_exceptions=True)
    assert [code(r) for r in results] == [ErrorCode.SERVICE_UNAVAILABLE] * 4
    assert not s.commit._queues  # nothing left behind for the group
    assert all(t.done() for t in [*in_flight, *queued])


# --- one deadline for the whole send ---------------------------------------------------------


async def test_the_deadline_counts_from_the_sends_arrival(s: Setup) -> None:
    arrived = s.commit.arrival()
    s.clock.advance(60.0)  # the draft's reads waited out database timeouts
    result = await asyncio.gather(
        s.commit.store(s.draft("alice", "late"), arrived=arrived), return_exceptions=True
    )
    assert code(result[0]) == ErrorCode.SERVICE_UNAVAILABLE
    assert s.stored() == []
    # A send that arrives now has the whole deadline.
    assert ok((await s.send(s.draft("alice", "on time")))[0]).seq == 1
