"""SharedInserts: one insert for the batches of every group; a short wait for more only
under sustained load (services/messages/inserts.py)."""

from __future__ import annotations

import asyncio
from typing import cast

from bson import ObjectId

from safechat.models.message import StoredMessage
from safechat.repositories.messages import MessageRepository
from safechat.services.messages.inserts import (
    LINGER_MIN_RATE,
    LINGER_WINDOW,
    RATE_WINDOW,
    SharedInserts,
)
from tests.helpers.fakes.clock import FakeClock


class RecordingMessages:
    """The one method SharedInserts uses: records each insert's size."""

    def __init__(self) -> None:
        self.inserts: list[int] = []

    async def insert_batch(self, messages: list[StoredMessage]) -> dict[int, bool]:
        self.inserts.append(len(messages))
        await asyncio.sleep(0)
        return {}


def message() -> StoredMessage:
    # Only counted, never read: any object stands in for a message here.
    return cast(StoredMessage, ObjectId())


async def test_an_isolated_send_is_inserted_without_waiting() -> None:
    repo = RecordingMessages()
    inserts = SharedInserts(cast(MessageRepository, repo), FakeClock(), linger_seconds=30.0)
    # A 30 s linger would time this out if an idle insert waited for it.
    assert await asyncio.wait_for(inserts.insert_batch([message()]), 1.0) == {}
    assert repo.inserts == [1]


LOAD = int(LINGER_MIN_RATE * RATE_WINDOW)  # messages in the last second that make it busy


async def test_under_load_batches_arriving_during_the_linger_share_one_insert() -> None:
    repo = RecordingMessages()
    clock = FakeClock()
    inserts = SharedInserts(cast(MessageRepository, repo), clock, linger_seconds=0.05)
    # The previous insert just ended, and the last second brought LOAD messages: busy.
    await inserts.insert_batch([message() for _ in range(LOAD)])
    first = asyncio.ensure_future(inserts.insert_batch([message()]))
    await asyncio.sleep(0.01)  # the writer is lingering now
    second = asyncio.ensure_future(inserts.insert_batch([message(), message()]))
    await asyncio.gather(first, second)
    assert repo.inserts == [LOAD, 3]


async def test_no_linger_once_the_last_insert_is_older_than_the_window() -> None:
    repo = RecordingMessages()
    clock = FakeClock()
    inserts = SharedInserts(cast(MessageRepository, repo), clock, linger_seconds=30.0)
    await inserts.insert_batch([message() for _ in range(LOAD)])
    clock.advance(LINGER_WINDOW + 0.01)
    assert await asyncio.wait_for(inserts.insert_batch([message()]), 1.0) == {}
    assert repo.inserts == [LOAD, 1]


async def test_no_linger_below_the_rate_even_right_after_an_insert() -> None:
    """At a modest rate the fixed per-command cost is small; waiting would only add
    latency (a 30 s linger would time this out)."""
    repo = RecordingMessages()
    clock = FakeClock()
    inserts = SharedInserts(cast(MessageRepository, repo), clock, linger_seconds=30.0)
    await inserts.insert_batch([message() for _ in range(LOAD - 1)])
    assert await asyncio.wait_for(inserts.insert_batch([message()]), 1.0) == {}
    assert repo.inserts == [LOAD - 1, 1]


async def test_the_rate_counts_only_the_last_second() -> None:
    repo = RecordingMessages()
    clock = FakeClock()
    inserts = SharedInserts(cast(MessageRepository, repo), clock, linger_seconds=30.0)
    await inserts.insert_batch([message() for _ in range(LOAD)])
    clock.advance(RATE_WINDOW)
    # That load is a second old now; this one ended moments ago, but alone it is light.
    await inserts.insert_batch([message()])
    assert await asyncio.wait_for(inserts.insert_batch([message()]), 1.0) == {}
    assert repo.inserts == [LOAD, 1, 1]


async def test_without_a_linger_each_waiting_batch_goes_at_once() -> None:
    repo = RecordingMessages()
    inserts = SharedInserts(cast(MessageRepository, repo), FakeClock(), linger_seconds=0.0)
    await inserts.insert_batch([message()])
    await asyncio.wait_for(inserts.insert_batch([message()]), 1.0)
    assert repo.inserts == [1, 1]
