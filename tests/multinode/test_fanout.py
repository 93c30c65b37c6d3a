"""A room of 50 split over two nodes on Redis: every member gets every message exactly
once, whichever node it and the sender are on, each sender's messages in the order sent,
and never its own (skip_sid). The receiving node emits what it gets from the bus through
the same inline fan-out as its own messages (adapters/socketio/manager.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.helpers.support import EventClient
from tests.multinode.test_two_nodes import Cluster, start_cluster

ROOM = 50
SENDERS = 4  # users 0-3: two on each node
EACH = 5


@pytest.fixture
async def c(
    mongo_uri: str, safechat_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    async with start_cluster(mongo_uri, safechat_bin, tmp_path_factory.mktemp("fanout")) as c:
        try:
            yield c
        finally:
            await c.close_clients()


async def test_a_room_of_50_across_two_nodes_gets_every_message_once(c: Cluster) -> None:
    users = [f"user_x{i:02d}" for i in range(ROOM)]
    nodes = [c.a if i % 2 == 0 else c.b for i in range(ROOM)]
    tokens = await asyncio.gather(*(c.user(n, u) for n, u in zip(nodes, users, strict=True)))
    gid = await c.group(c.a, tokens[0], "fifty", users[1:])
    clients: list[EventClient] = list(
        await asyncio.gather(*(c.client(n, t) for n, t in zip(nodes, tokens, strict=True)))
    )

    async def send(sender: int) -> list[str]:
        ids = []
        for k in range(EACH):  # one after the other: each sender's order is defined
            ack = await clients[sender].call(
                "send_message", {"groupId": gid, "content": f"{sender}-{k}"}
            )
            ids.append(ack["message"]["id"])
        return ids

    sent = await asyncio.gather(*(send(s) for s in range(SENDERS)))

    async def received(client: EventClient, n: int) -> list[dict[str, Any]]:
        got = [(await client.wait_for("new_message", timeout=15))["message"] for _ in range(n)]
        await client.expect_none("new_message", within=0.3)
        return got

    expect = SENDERS * EACH
    got = await asyncio.gather(
        *(received(cl, expect - (EACH if i < SENDERS else 0)) for i, cl in enumerate(clients))
    )
    for i, messages in enumerate(got):
        ids = [m["id"] for m in messages]
        for s in range(SENDERS):
            from_s = [mid for mid in ids if mid in sent[s]]
            assert from_s == ([] if s == i else sent[s]), f"member {i}, sender {s}"
        assert len(ids) == len(set(ids))
