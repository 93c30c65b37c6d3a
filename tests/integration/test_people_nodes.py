"""§8 across nodes and limits: two servers on one database (no cache to go stale), and
new direct conversations drawing from the group-creation bucket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from safechat.container import SERVICES
from tests.helpers.support import ChatServer, start_server


@pytest_asyncio.fixture
async def two_nodes(
    mongo_uri: str, db_name: str, tmp_path: Path
) -> AsyncIterator[tuple[ChatServer, ChatServer]]:
    one = await start_server(mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path / "one")
    # One database; each node its own dev issuer (tokens are minted per node).
    two = await start_server(mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path / "two")
    try:
        yield one, two
    finally:
        await two.stop()
        await one.stop()


async def test_a_block_on_one_node_stops_sends_on_the_other(
    two_nodes: tuple[ChatServer, ChatServer],
) -> None:
    one, two = two_nodes
    alice = await one.user("user_alice", first_name="Alice")
    await one.user("user_bob", first_name="Bob")
    status, body = await one.request("POST", "/api/dms", alice, {"userId": "user_bob"})
    dm = body["group"]["id"]
    b = await two.client("user_bob")
    assert (await b.call("send_message", {"groupId": dm, "content": "before"}))["ok"] is True

    status, _ = await one.request("POST", "/api/me/blocks", alice, {"userId": "user_bob"})
    assert status == 201
    ack = await b.call("send_message", {"groupId": dm, "content": "after"})
    assert ack["error"]["code"] == "ACCESS_DENIED"

    status, _ = await two.request("DELETE", "/api/me/blocks/user_bob", two.token("user_alice"))
    assert status == 200
    assert (await b.call("send_message", {"groupId": dm, "content": "again"}))["ok"] is True


async def test_concurrent_opens_on_two_nodes_make_one(
    two_nodes: tuple[ChatServer, ChatServer],
) -> None:
    one, two = two_nodes
    alice = await one.user("user_alice")
    bob = await two.user("user_bob")
    calls = [
        node.request("POST", "/api/dms", token, {"userId": peer})
        for _ in range(10)
        for node, token, peer in ((one, alice, "user_bob"), (two, bob, "user_alice"))
    ]
    results: list[tuple[int, Any]] = await asyncio.gather(*calls)
    assert len({body["group"]["id"] for _, body in results}) == 1, results
    assert [status for status, _ in results].count(201) == 1
    db = one.app[SERVICES].database.db
    assert await db.groups.count_documents({"type": "direct"}) == 1


async def test_new_direct_conversations_are_rate_limited(
    mongo_uri: str, db_name: str, tmp_path: Path
) -> None:
    server = await start_server(
        mongo_uri=mongo_uri,
        db_name=db_name,
        data_dir=tmp_path / "data",
        rate_group_create_per_minute=1,
        rate_group_create_burst=2,
    )
    try:
        me = await server.user("user_me")
        for name in ("user_a", "user_b", "user_c"):
            await server.user(name)
        for peer in ("user_a", "user_b"):
            status, _ = await server.request("POST", "/api/dms", me, {"userId": peer})
            assert status == 201
        status, data = await server.request("POST", "/api/dms", me, {"userId": "user_c"})
        assert (status, data["error"]["code"]) == (429, "RATE_LIMITED")
        # Reopening an existing one is not a creation.
        status, _ = await server.request("POST", "/api/dms", me, {"userId": "user_a"})
        assert status == 200
    finally:
        await server.stop()
