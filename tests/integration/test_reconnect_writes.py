"""A reconnect of an unchanged user writes nothing; a changed profile is written.

Writes are counted by the database itself: `top`'s per-collection count of operations
that took the write lock (SecantusDB and MongoDB both answer it), for this test's own
database only, so other tests sharing the server do not count.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from safechat.container import SERVICES
from tests.helpers.support import ChatServer, EventClient, start_server


@pytest.fixture
async def resuming(mongo_uri: str, db_name: str, tmp_path: Path) -> AsyncIterator[ChatServer]:
    """A server with the default session resume window (the helpers turn it off)."""
    srv = await start_server(
        mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path / "data", session_resume_seconds=60
    )
    try:
        yield srv
    finally:
        await srv.stop()


async def writes(server: ChatServer) -> dict[str, int]:
    """Write-lock operations so far, per collection of this server's database."""
    db = server.app[SERVICES].database.db
    totals = (await db.client.admin.command("top"))["totals"]
    prefix = f"{db.name}."
    return {
        ns[len(prefix) :]: int(v["writeLock"]["count"])
        for ns, v in totals.items()
        if ns.startswith(prefix) and isinstance(v, dict) and "writeLock" in v
    }


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    changed = {ns: n - before.get(ns, 0) for ns, n in after.items()}
    return {ns: n for ns, n in changed.items() if n}


async def quiet(server: ChatServer, sockets: int = 0, timeout: float = 15.0) -> dict[str, int]:
    """The write counts once the server's background work (search indexing, disconnect
    bookkeeping) has stopped writing for a moment; real database, real time."""
    tasks = server.app[SERVICES].connections
    deadline = time.monotonic() + timeout
    last = await writes(server)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.7)
        now = await writes(server)
        if now == last and len(tasks.live()) == sockets:
            return now
        last = now
    raise AssertionError(f"the database kept being written: {last}")


async def test_a_reconnect_of_unchanged_users_writes_nothing(resuming: ChatServer) -> None:
    server = resuming
    alice = await server.user("user_alice", first_name="Alice", username="alice")
    bob = await server.user("user_bob", first_name="Bob")
    gid = await server.group(alice, "g", memberIds=["user_bob"])
    for text in ("one", "two"):
        status, _ = await server.request(
            "POST", "/api/messages", alice, {"groupId": gid, "content": text}
        )
        assert status == 201
    first = [await server.client(alice), await server.client(bob)]
    sessions = [c.drain("authentication_success")[0]["sessionId"] for c in first]
    connected = await quiet(server, sockets=2)
    for c in first:
        await c.close()
    before = await quiet(server)
    # Nor did the disconnects: the records (and the users' lastSeen) wait out the window.
    assert delta(connected, before) == {}

    again = [EventClient(server.url, alice), EventClient(server.url, bob)]
    server.clients.extend(again)
    await asyncio.gather(*(c.connect() for c in again))
    welcomes = [await c.wait_for("authentication_success") for c in again]
    groups = [await c.wait_for("user_groups") for c in again]
    # Everything a connect gets, from reads alone.
    assert welcomes[0]["user"]["firstName"] == "Alice"
    assert welcomes[0]["user"]["username"] == "alice"
    assert [w["sessionId"] for w in welcomes] == sessions  # the same sessions, resumed
    assert [g["id"] for g in groups[0]] == [gid]
    assert groups[1][0]["unreadCount"] == 2  # bob has read nothing
    assert groups[1][0]["lastMessage"]["content"] == "two"
    assert delta(before, await quiet(server, sockets=2)) == {}

    # The record of a resumed session is still open, and live sockets are in the rooms.
    db = server.app[SERVICES].database.db
    for sid in sessions:
        doc = await db.sessions.find_one({"sessionId": sid})
        assert doc is not None
        assert doc["endedAt"] is None
    status, _ = await server.request(
        "POST", "/api/messages", alice, {"groupId": gid, "content": "three"}
    )
    assert status == 201
    assert (await again[1].wait_for("new_message"))["message"]["content"] == "three"


async def test_a_changed_profile_is_written_on_reconnect(resuming: ChatServer) -> None:
    server = resuming
    token = await server.user("user_carol", first_name="Carol", extra={"sid": "sess_carol"})
    client = await server.client(token)
    await client.close()
    before = await quiet(server)

    # The same token session with a new name: only the user is written.
    renamed = server.token("user_carol", first_name="Caroline", extra={"sid": "sess_carol"})
    again = await server.client(renamed)
    welcome = again.drain("authentication_success")[0]
    assert welcome["user"]["firstName"] == "Caroline"
    changed = delta(before, await quiet(server, sockets=1))
    assert set(changed) == {"users"}  # the profile (and its directory keys), nothing else
    status, body = await server.request("GET", "/api/me", renamed)
    assert status == 200
    assert body["user"]["firstName"] == "Caroline"


async def test_session_records_end_after_the_resume_window(resuming: ChatServer) -> None:
    server = resuming
    client = await server.client("user_dave")
    sid: Any = client.drain("authentication_success")[0]["sessionId"]
    await client.close()
    records = server.app[SERVICES].connections.sessions
    deadline = time.monotonic() + 5
    while len(records) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert len(records) == 1  # parked, still open
    db = server.app[SERVICES].database.db
    assert (await db.sessions.find_one({"sessionId": sid}))["endedAt"] is None
    seen_before = (await db.users.find_one({"clerkId": "user_dave"}))["lastSeen"]
    await records.close()  # what the shutdown (or the window's end) does
    ended = (await db.sessions.find_one({"sessionId": sid}))["endedAt"]
    assert ended is not None
    # The user's last socket: their lastSeen is the time it closed.
    seen = (await db.users.find_one({"clerkId": "user_dave"}))["lastSeen"]
    assert seen == ended
    assert seen > seen_before


async def test_a_user_stored_without_directory_keys_gets_them_at_the_next_connect(
    resuming: ChatServer,
) -> None:
    server = resuming
    token = await server.user("user_erin", first_name="Erin")
    users = server.app[SERVICES].database.db.users
    await users.update_one({"clerkId": "user_erin"}, {"$unset": {"searchKeys": ""}})
    await server.client(token)
    doc = await users.find_one({"clerkId": "user_erin"})
    assert doc is not None
    assert doc["searchKeys"] == ["erin"]
