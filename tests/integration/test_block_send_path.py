"""The block check costs the send path no database read: measured on the commands the
send sends to the real database (a direct conversation with a block vs without)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from safechat.errors import AccessDenied
from safechat.repositories.db import Database
from safechat.repositories.directs import DirectRepository
from safechat.repositories.groups import GroupRepository
from safechat.repositories.messages import MessageRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.services.messages.group_commit import Draft, GroupCommit
from tests.helpers.commands import CommandStarts
from tests.helpers.fakes.clock import FakeClock


@dataclass
class Commands(CommandStarts):
    seen: list[tuple[str, str]] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.seen.append((event.command_name, str(event.command.get(event.command_name))))


@dataclass
class Env:
    db: Database
    commit: GroupCommit
    commands: Commands


@pytest.fixture
async def env(mongo_uri: str, db_name: str) -> AsyncIterator[Env]:
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_uri, event_listeners=[commands], retryWrites=False, tz_aware=True
    )
    db = Database(client, db_name)
    await db.ensure_indexes()
    clock = FakeClock(start=datetime.now(UTC))
    commit = GroupCommit(GroupRepository(db), MessageRepository(db), ReadStateRepository(db), clock)
    try:
        yield Env(db, commit, commands)
    finally:
        await commit.close()
        await client.drop_database(db_name)
        await db.close()


def draft(sender: str, group: Any, n: int) -> Draft:
    return Draft(sender_id=sender, group_id=group, content={"v": 0, "t": f"m{n}"}, text=f"m{n}")


async def test_a_send_in_a_direct_conversation_with_a_block_reads_nothing_more(env: Env) -> None:
    directs = DirectRepository(env.db)
    now = datetime.now(UTC)
    open_dm = await directs.insert("user_a", "user_b", [], now)
    blocked_dm = await directs.insert("user_a", "user_c", ["user_c"], now)

    env.commands.seen.clear()
    await env.commit.store(draft("user_a", open_dm.id, 1))
    plain = list(env.commands.seen)
    env.commands.seen.clear()
    await env.commit.store(draft("user_a", blocked_dm.id, 2))
    with_block = list(env.commands.seen)

    # The same round trips, none of them a read: seq reservation, insert, read mark.
    assert [name for name, _ in with_block] == [name for name, _ in plain]
    assert [name for name, _ in with_block] == ["findAndModify", "insert", "update"]
    assert ("find", "blocks") not in with_block

    # The blocked person is refused by that same reservation (a read follows only to say
    # why, on the refusal path).
    env.commands.seen.clear()
    with pytest.raises(AccessDenied):
        await env.commit.store(draft("user_c", blocked_dm.id, 3))
    assert env.commands.seen[0] == ("findAndModify", "groups")
    assert ("insert", "messages") not in env.commands.seen
