"""The fakes stay in step with what they stand in for: each public method of a fake has
the real method's name and parameters, and FakeClock has every method of the Clock port."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from safechat.repositories.audit import AuditRepository
from safechat.repositories.groups import GroupRepository
from safechat.repositories.messages import MessageRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.repositories.users import UserRepository
from safechat.services.ports import Clock, Notifier, SystemClock
from tests.helpers.fakes import (
    FakeAuditRepository,
    FakeClock,
    FakeGroupRepository,
    FakeMessageRepository,
    FakeReadStateRepository,
    FakeUserRepository,
    RecordingNotifier,
)
from tests.helpers.fakes.faults import Faults

PAIRS = [
    (FakeGroupRepository, GroupRepository),
    (FakeMessageRepository, MessageRepository),
    (FakeReadStateRepository, ReadStateRepository),
    (FakeUserRepository, UserRepository),
    (FakeAuditRepository, AuditRepository),
]


def _signature(fn: Any) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize(("fake", "real"), PAIRS, ids=[r.__name__ for _, r in PAIRS])
def test_fake_repository_methods_match_the_real_ones(fake: type, real: type) -> None:
    helpers = set(dir(Faults))
    for name, fn in inspect.getmembers(fake, inspect.isfunction):
        if name.startswith("_") or name in helpers:
            continue
        if not inspect.iscoroutinefunction(fn):
            continue  # test-side helpers (seed, in_group, ...)
        assert hasattr(real, name), f"{fake.__name__}.{name} is not a {real.__name__} method"
        assert _signature(fn) == _signature(getattr(real, name)), f"{fake.__name__}.{name}"


def test_the_notifier_fake_implements_the_port() -> None:
    names = ("to_group", "to_user", "add_user_to_group", "remove_user_from_group", "close_group")
    for name in names:
        assert _signature(getattr(RecordingNotifier, name)) == _signature(getattr(Notifier, name))


def test_fake_clock_has_the_ports_methods_and_moves_both_times() -> None:
    for name in ("now", "monotonic"):
        assert hasattr(Clock, name)
        assert hasattr(FakeClock, name)
        assert hasattr(SystemClock, name)
    clock = FakeClock()
    wall, mono = clock.now(), clock.monotonic()
    clock.advance(1.5)
    assert (clock.now() - wall).total_seconds() == 1.5
    assert clock.monotonic() - mono == 1.5
    clock.set(wall)  # a wall-clock correction: monotonic time does not go back
    assert clock.now() == wall
    assert clock.monotonic() - mono == 1.5
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
