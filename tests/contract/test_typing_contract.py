"""TypingStore contract: the same answers from memory and from Redis."""

from __future__ import annotations

import asyncio

from tests.contract.conftest import Stores


async def test_start_announces_once_per_window(stores: Stores) -> None:
    t, now = stores.typing, stores.clock.now
    assert await t.start("g1", "alice", now + 5) is True
    assert await t.start("g1", "alice", now + 6) is False
    assert await t.start("g2", "alice", now + 5) is True
    assert await t.typing("g1", now) == ["alice"]
    assert await stores.other_typing.typing("g1", now) == ["alice"]


async def test_stop_only_when_typing(stores: Stores) -> None:
    t, now = stores.typing, stores.clock.now
    assert await t.stop("g1", "alice") is False
    await t.start("g1", "alice", now + 5)
    assert await t.stop("g1", "alice") is True
    assert await t.stop("g1", "alice") is False
    assert await t.typing("g1", now) == []
    assert await t.due(now + 100) == []


async def test_due_returns_expired_once_and_renewal_postpones(stores: Stores) -> None:
    t, now = stores.typing, stores.clock.now
    await t.start("g1", "alice", now + 5)
    await t.start("g1", "bob", now + 5)
    await t.start("g1", "bob", now + 9)  # renewed
    assert await t.due(now + 4) == []
    assert await t.due(now + 5) == [("g1", "alice")]
    assert await t.due(now + 5) == []
    assert await t.typing("g1", now + 6) == ["bob"]
    assert await t.due(now + 9) == [("g1", "bob")]
    # After an auto-stop the next start announces again.
    assert await t.start("g1", "alice", now + 20) is True


async def test_due_is_claimed_by_one_node(stores: Stores) -> None:
    now = stores.clock.now
    for i in range(30):
        await stores.typing.start("g", f"u{i}", now + 1)
    mine, theirs = await asyncio.gather(
        stores.typing.due(now + 2), stores.other_typing.due(now + 2)
    )
    assert sorted(mine + theirs) == sorted(("g", f"u{i}") for i in range(30))
    assert not set(mine) & set(theirs)
