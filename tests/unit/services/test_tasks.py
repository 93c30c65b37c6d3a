"""The app's background work without a server: the Background runner, the loop bodies
(token expiry, the presence tick) and the shutdown of group-commit writers."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from bson import ObjectId

from safechat.errors import GroupNotFound, ServiceUnavailable
from safechat.services.connections import ConnectionService, LiveSocket
from safechat.services.messages.group_commit import Draft, GroupCommit
from safechat.services.presence import PresenceService
from safechat.services.tasks import Background

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class _Clock:
    def now(self) -> datetime:
        return T0

    def monotonic(self) -> float:
        return 0.0


async def until(predicate: Any, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


# --- Background ---------------------------------------------------------------------


async def test_loops_start_when_started_and_survive_a_failing_tick() -> None:
    bg = Background()
    ticks: list[int] = []

    async def tick() -> None:
        ticks.append(len(ticks))
        if len(ticks) == 2:
            raise RuntimeError("the database went away")

    bg.every("probe", 0.01, tick)
    await asyncio.sleep(0.05)
    assert ticks == []  # registered, not started
    bg.start()
    await until(lambda: len(ticks) >= 4)  # the failure on tick 2 did not end the loop
    await bg.close()
    seen = len(ticks)
    await asyncio.sleep(0.05)
    assert len(ticks) == seen  # cancelled and awaited: no tick after close


async def test_a_loop_waits_an_interval_first_unless_immediate() -> None:
    bg = Background()
    calls: list[str] = []

    async def record(name: str) -> None:
        calls.append(name)

    bg.every("later", 60, lambda: record("later"))
    bg.every("now", 60, lambda: record("now"), immediately=True)
    bg.start()
    await until(lambda: calls == ["now"])
    await asyncio.sleep(0.02)
    assert calls == ["now"]
    assert bg.loops == ["later", "now"]
    await bg.close()


def test_a_loop_name_is_registered_once() -> None:
    bg = Background()

    async def tick() -> None:
        return None

    bg.every("probe", 1, tick)
    with pytest.raises(ValueError, match="probe"):
        bg.every("probe", 1, tick)


async def test_idle_waits_for_tasks_not_for_loops() -> None:
    bg = Background()
    done = asyncio.Event()

    async def forever() -> None:
        await asyncio.Event().wait()

    async def job() -> None:
        await asyncio.sleep(0.01)
        done.set()

    bg.every("forever", 0.01, forever, immediately=True)
    bg.start()
    bg.spawn(job())
    await asyncio.wait_for(bg.idle(), 2)
    assert done.is_set()
    await bg.close()


async def test_close_cancels_tasks_runs_closers_once_and_refuses_new_work() -> None:
    bg = Background()
    started = asyncio.Event()
    cancelled = asyncio.Event()
    closed: list[int] = []

    async def slow() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def closer() -> None:
        assert cancelled.is_set()  # closers run after the tasks ended
        closed.append(1)

    bg.on_close(closer)
    bg.spawn(slow())
    await started.wait()
    await bg.close()
    assert cancelled.is_set()
    assert len(bg) == 0
    assert closed == [1]
    late = slow()
    assert bg.spawn(late) is None
    assert inspect.getcoroutinestate(late) == inspect.CORO_CLOSED  # never left pending
    await bg.close()
    assert closed == [1]


class _DriverTimeout(Exception):
    """What a driver may raise when its wait is cancelled."""


async def test_close_ends_a_loop_whose_tick_turns_cancellation_into_an_error() -> None:
    bg = Background()
    ticking = asyncio.Event()

    async def tick() -> None:
        ticking.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise _DriverTimeout from None  # the loop must still stop

    bg.every("swallower", 0.01, tick, immediately=True)
    bg.start()
    await ticking.wait()
    async with asyncio.timeout(2):
        await bg.close()


async def test_close_gives_up_on_a_task_that_never_ends_after_its_deadline() -> None:
    from safechat.services.tasks import _cancel_all

    refusing = True

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if not refusing:
                    raise

    task = asyncio.get_running_loop().create_task(stubborn())
    await asyncio.sleep(0)
    async with asyncio.timeout(2):
        await _cancel_all([task], deadline=0.2)  # returns instead of waiting forever
    assert not task.done()
    refusing = False
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- loop bodies -----------------------------------------------------------------------


def _live(sid: str, expires_at: float | None) -> LiveSocket:
    return LiveSocket(
        sid=sid,
        user_id=f"user_{sid}",
        session_id=f"ses_{sid}",
        expires_at=expires_at,
        device_type="web",
        connected_at=T0,
    )


async def test_enforce_expiry_ends_only_sockets_past_the_grace() -> None:
    conns = ConnectionService(
        *(cast(Any, None),) * 5,
        _Clock(),
        "node-1",
        notifier=cast(Any, None),
        reauth_grace_seconds=60,
    )
    sockets = {s.sid: s for s in (_live("a", 100.0), _live("b", 1_000.0), _live("c", None))}
    conns._live = sockets
    ended: list[str] = []

    async def disconnect(live: LiveSocket) -> None:
        ended.append(live.sid)

    assert await conns.enforce_expiry(150.0, disconnect) == 0  # inside the grace
    assert await conns.enforce_expiry(161.0, disconnect) == 1
    assert ended == ["a"]


class _Typing:
    def __init__(self) -> None:
        self.asked: list[float] = []

    async def due(self, now: float) -> list[tuple[str, str]]:
        self.asked.append(now)
        return [("g1", "user_a")] if len(self.asked) == 1 else []


class _Store:
    def __init__(self) -> None:
        self.beats: list[float] = []

    async def heartbeat(self, entries: list[Any], now: float) -> None:
        self.beats.append(now)

    async def expired_users(self, now: float) -> list[str]:
        return []


class _Notifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def to_group(self, group_id: str, event: str, data: Any, **_: Any) -> None:
        self.sent.append((group_id, event))


async def test_presence_tick_stops_typing_each_time_and_beats_on_its_interval() -> None:
    store, typing, notifier = _Store(), _Typing(), _Notifier()
    presence = PresenceService(
        cast(Any, store),
        cast(Any, typing),
        cast(Any, None),
        cast(Any, None),
        cast(Any, notifier),
        _Clock(),
        heartbeat_seconds=20,
    )
    a = _live("a", None)
    a.started_typing("g1")
    await presence.tick(1_000.0, [a])
    assert notifier.sent == [("g1", "user_stopped_typing")]
    assert a.typing_in() == []
    await presence.tick(1_010.0, [a])
    await presence.tick(1_020.0, [a])
    assert typing.asked == [1_000.0, 1_010.0, 1_020.0]
    assert store.beats == [1_000.0, 1_020.0]


# --- group commit at shutdown ----------------------------------------------------------


class _Groups:
    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.reserving = asyncio.Event()

    async def reserve_seqs(self, group_id: ObjectId, n: int, now: datetime, **_: Any) -> None:
        self.reserving.set()
        await self.gate.wait()
        return None  # refused: not a member, or no such group

    async def has_members(self, group_id: ObjectId, members: list[str]) -> bool:
        return False

    async def get(self, group_id: ObjectId) -> None:
        return None


def _commit(groups: _Groups) -> GroupCommit:
    return GroupCommit(cast(Any, groups), cast(Any, None), cast(Any, None), _Clock())


def _draft() -> Draft:
    return Draft(sender_id="user_a", group_id=ObjectId(), content="hi", text="hi")


async def test_close_fails_pending_sends_and_refuses_later_ones() -> None:
    groups = _Groups()
    commit = _commit(groups)
    send = asyncio.create_task(commit.store(_draft()))
    await groups.reserving.wait()
    await commit.close()
    with pytest.raises(ServiceUnavailable):
        await send
    with pytest.raises(ServiceUnavailable, match="shutting down"):
        await commit.store(_draft())


async def test_a_send_to_a_group_that_is_gone_fails_with_group_not_found() -> None:
    groups = _Groups()
    groups.gate.set()
    with pytest.raises(GroupNotFound):
        await _commit(groups).store(_draft())
