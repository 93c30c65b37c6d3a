"""Room broadcasts through the client manager's inline fan-out (adapters/socketio/
manager.py), end to end: in a room of 50, every member but the sender's socket gets
every message exactly once, in seq order, and the fan-out counter counts each delivery.
"""

from __future__ import annotations

import asyncio
from typing import Any

from safechat.container import METRICS
from tests.helpers.support import ChatServer, EventClient

ROOM = 50
SENDERS = 5
EACH = 4


async def new_messages(client: EventClient, n: int) -> list[dict[str, Any]]:
    got = [(await client.wait_for("new_message", timeout=15))["message"] for _ in range(n)]
    await client.expect_none("new_message", within=0.2)
    return got


def delivered(server: ChatServer) -> float:
    return float(server.app[METRICS].fanout._value.get())


async def test_a_room_of_50_gets_every_message_once_in_order(server: ChatServer) -> None:
    users = [f"user_f{i:02d}" for i in range(ROOM)]
    tokens = await asyncio.gather(*(server.user(u, first_name=u) for u in users))
    gid = await server.group(tokens[0], "fifty", memberIds=users[1:])
    clients = await asyncio.gather(*(server.client(t) for t in tokens))
    before = delivered(server)

    async def send(sender: int) -> list[dict[str, Any]]:
        client = clients[sender]
        calls = [
            client.call("send_message", {"groupId": gid, "content": f"{sender}-{k}"})
            for k in range(EACH)
        ]
        return [ack["message"] for ack in await asyncio.gather(*calls)]

    acks = await asyncio.gather(*(send(s) for s in range(SENDERS)))
    by_sender = {s: [m["id"] for m in acks[s]] for s in range(SENDERS)}
    all_ids = {m["id"] for sent in acks for m in sent}
    assert len(all_ids) == SENDERS * EACH

    received = await asyncio.gather(
        *(
            new_messages(c, SENDERS * EACH - (EACH if i < SENDERS else 0))
            for i, c in enumerate(clients)
        )
    )
    for i, got in enumerate(received):
        ids = [m["id"] for m in got]
        expected = all_ids - set(by_sender.get(i, []))  # skip_sid: not to the sender
        assert sorted(ids) == sorted(expected), f"member {i}"  # each exactly once
        seqs = [m["seq"] for m in got]
        assert seqs == sorted(seqs), f"member {i} got {seqs}"  # a group's seq order
    expected_deliveries = SENDERS * EACH * (ROOM - 1)
    # The counter also counts the other broadcasts of these events (message_sent, ...).
    assert delivered(server) - before >= expected_deliveries
