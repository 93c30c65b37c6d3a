"""Session records: written when a session starts or ends, resumed by the same device."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import pytest

from safechat.services.session_records import Device, SessionRecords
from tests.helpers.fakes.clock import FakeClock


class _Repo:
    """The sessions collection: what was written, in order."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.fail = False

    async def start(self, session_id: str, user_id: str, **fields: Any) -> None:
        self.writes += 1
        self.docs[session_id] = {"userId": user_id, "endedAt": None, **fields}

    async def end(self, session_id: str, now: datetime) -> None:
        await self.end_many([(session_id, now)])

    async def end_many(self, ended: list[tuple[str, datetime]]) -> None:
        if self.fail:
            raise RuntimeError("database away")
        if ended:
            self.writes += 1
        for sid, at in ended:
            self.docs[sid]["endedAt"] = at


PHONE = Device("alice", "sess_1", "mobile", "App/1 (iPhone)", "10.0.0.1")
LAPTOP = Device("alice", "sess_2", "web", "Firefox", "10.0.0.2")


class _Seen:
    def __init__(self) -> None:
        self.calls: list[list[tuple[str, datetime]]] = []

    async def __call__(self, seen: list[tuple[str, datetime]]) -> None:
        self.calls.append(seen)


SEEN = _Seen()


def records(resume: float = 60.0, **kw: Any) -> tuple[SessionRecords, _Repo, FakeClock]:
    repo, clock = _Repo(), FakeClock()
    SEEN.calls.clear()
    recs = SessionRecords(cast(Any, repo), clock, "node-1", seen=SEEN, resume_seconds=resume, **kw)
    return recs, repo, clock


async def test_a_reconnect_of_the_same_device_continues_its_record_without_a_write() -> None:
    recs, repo, clock = records()
    sid, written = await recs.open(PHONE, clock.now())
    assert written
    assert repo.writes == 1
    closed_at = clock.now()
    await recs.closed(sid, PHONE.key, closed_at, user_id="alice", last=True)
    clock.advance(59)
    assert await recs.flush() == 0
    again, written = await recs.open(PHONE, clock.now())
    assert (again, written) == (sid, False)
    assert repo.writes == 1
    assert repo.docs[sid]["endedAt"] is None
    assert SEEN.calls == []  # the user never left: no lastSeen either
    # Another device of the same user gets its own record.
    other, written = await recs.open(LAPTOP, clock.now())
    assert other != sid
    assert written


async def test_a_record_nobody_resumes_ends_at_its_close_time() -> None:
    recs, repo, clock = records()
    sid, _ = await recs.open(PHONE, clock.now())
    closed_at = clock.now()
    await recs.closed(sid, PHONE.key, closed_at, user_id="alice", last=True)
    clock.advance(60)
    assert await recs.flush() == 1
    assert repo.docs[sid]["endedAt"] == closed_at
    assert SEEN.calls == [[("alice", closed_at)]]
    assert len(recs) == 0
    # Too late to resume: a new record.
    new, written = await recs.open(PHONE, clock.now())
    assert new != sid
    assert written


async def test_without_a_resume_window_a_record_ends_with_its_socket() -> None:
    recs, repo, clock = records(resume=0)
    sid, _ = await recs.open(PHONE, clock.now())
    await recs.closed(sid, PHONE.key, clock.now(), user_id="alice", last=True)
    assert repo.docs[sid]["endedAt"] == clock.now()
    assert SEEN.calls == [[("alice", clock.now())]]
    again, written = await recs.open(PHONE, clock.now())
    assert again != sid
    assert written


async def test_two_sockets_of_one_device_resume_two_records() -> None:
    recs, repo, clock = records()
    a, _ = await recs.open(PHONE, clock.now())
    b, _ = await recs.open(PHONE, clock.now())
    await recs.closed(a, PHONE.key, clock.now(), user_id="alice", last=False)
    await recs.closed(b, PHONE.key, clock.now(), user_id="alice", last=True)
    first, _ = await recs.open(PHONE, clock.now())
    second, _ = await recs.open(PHONE, clock.now())
    assert {first, second} == {a, b}
    assert repo.writes == 2


async def test_shutdown_ends_every_parked_record_and_the_cap_ends_the_oldest() -> None:
    recs, repo, clock = records(max_parked=2)
    ids = [(await recs.open(PHONE, clock.now()))[0] for _ in range(3)]
    for sid in ids:
        await recs.closed(sid, PHONE.key, clock.now(), user_id="alice", last=True)
        clock.advance(1)
    assert len(recs) == 2
    assert repo.docs[ids[0]]["endedAt"] is not None
    await recs.close()
    assert len(recs) == 0
    assert all(repo.docs[sid]["endedAt"] is not None for sid in ids)


async def test_a_failed_end_is_tried_again_and_never_resumed_meanwhile() -> None:
    recs, repo, clock = records()
    sid, _ = await recs.open(PHONE, clock.now())
    await recs.closed(sid, PHONE.key, clock.now(), user_id="alice", last=True)
    clock.advance(61)
    repo.fail = True
    with pytest.raises(RuntimeError):
        await recs.flush()
    assert len(recs) == 1
    repo.fail = False
    assert await recs.flush() == 1
    assert repo.docs[sid]["endedAt"] is not None
