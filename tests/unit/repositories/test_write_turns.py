"""WriteTurns: a background write waits for the send's insert in flight, and only that one."""

from __future__ import annotations

import asyncio

from safechat.repositories.write_turns import WriteTurns


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_background_goes_at_once_when_no_insert_is_in_flight() -> None:
    turns = WriteTurns(enabled=True)
    await asyncio.wait_for(turns.background(), 1)


async def test_background_waits_for_the_insert_in_flight() -> None:
    turns = WriteTurns(enabled=True)
    order: list[str] = []
    release = asyncio.Event()

    async def insert() -> None:
        async with turns.foreground():
            order.append("insert started")
            await release.wait()
            order.append("insert done")

    async def background() -> None:
        await turns.background()
        order.append("background")

    task = asyncio.create_task(insert())
    await _settle()
    waiting = asyncio.create_task(background())
    await _settle()
    assert order == ["insert started"]
    release.set()
    await asyncio.gather(task, waiting)
    assert order == ["insert started", "insert done", "background"]


async def test_background_is_not_starved_by_inserts_that_keep_coming() -> None:
    """After the insert it waited for, it goes even though the next one has started."""
    turns = WriteTurns(enabled=True)
    first, second = asyncio.Event(), asyncio.Event()

    async def insert(release: asyncio.Event) -> None:
        async with turns.foreground():
            await release.wait()

    one = asyncio.create_task(insert(first))
    await _settle()
    waiting = asyncio.create_task(turns.background())
    await _settle()
    two = asyncio.create_task(insert(second))
    await _settle()
    first.set()
    await asyncio.wait_for(waiting, 1)
    assert not two.done()
    second.set()
    await asyncio.gather(one, two)


async def test_a_failed_insert_ends_its_turn_too() -> None:
    turns = WriteTurns(enabled=True)
    failing = asyncio.Event()

    async def insert() -> None:
        async with turns.foreground():
            await failing.wait()
            raise RuntimeError("database gone")

    task = asyncio.create_task(insert())
    await _settle()
    waiting = asyncio.create_task(turns.background())
    failing.set()
    await asyncio.wait_for(waiting, 1)
    assert isinstance(task.exception(), RuntimeError)


async def test_disabled_without_a_writer_client() -> None:
    """An external MongoDB has a pool: nothing waits."""
    turns = WriteTurns(enabled=False)
    hold = asyncio.Event()

    async def insert() -> None:
        async with turns.foreground():
            await hold.wait()

    task = asyncio.create_task(insert())
    await _settle()
    await asyncio.wait_for(turns.background(), 1)
    hold.set()
    await task
