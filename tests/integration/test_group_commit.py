"""Group commit (design.md §4): concurrent sends to a group share one durable write.

Each test fires sends concurrently so that they queue behind the group's batch in
flight and are written together; what must hold whatever the batching: every send is
answered, stored before its ack, seqs are contiguous and follow each sender's order,
and a send refused inside a batch (not a member, a reused tempId) costs the others
nothing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from pymongo import monitoring

from safechat.container import SERVICES
from tests.helpers.commands import CommandStarts
from tests.helpers.support import ChatServer, EventClient, start_server


class _Inserts(CommandStarts):
    """Counts insert commands into `messages` (to see that sends were batched)."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "insert" and event.command.get("insert") == "messages":
            self.sizes.append(len(event.command.get("documents", [])))


# Registered before any server of this module opens its database client.
INSERTS = _Inserts()
monitoring.register(INSERTS)


def messages(server: ChatServer) -> Any:
    return server.app[SERVICES].database.db.messages


async def group_of(server: ChatServer, owner: str, *others: str) -> tuple[str, list[EventClient]]:
    tokens = [await server.user(u, first_name=u) for u in (owner, *others)]
    gid = await server.group(tokens[0], "batch", memberIds=list(others))
    return gid, [await server.client(t) for t in tokens]


async def send_and_check_stored(
    server: ChatServer, client: EventClient, payload: dict[str, Any]
) -> dict[str, Any]:
    """Sends, then reads the database the moment the ack arrives."""
    ack = await client.call("send_message", payload)
    if ack["ok"]:
        doc = await messages(server).find_one({"_id": ObjectId(ack["message"]["id"])})
        assert doc is not None, f"acked before stored: {ack}"
        assert doc["seq"] == ack["message"]["seq"]
    return dict(ack)


async def test_concurrent_sends_from_several_users_are_batched_in_order(
    server: ChatServer,
) -> None:
    users = ["user_a", "user_b", "user_c", "user_d"]
    gid, clients = await group_of(server, *users)
    per_user = 15  # under the per-user send burst limit
    INSERTS.sizes.clear()

    async def burst(client: EventClient, who: str) -> list[dict[str, Any]]:
        payloads = [
            {"groupId": gid, "content": f"{who} {i}", "tempId": f"{who}-{i}"}
            for i in range(per_user)
        ]
        # All emitted at once, without waiting for acks: they arrive in this order.
        return list(
            await asyncio.gather(*(send_and_check_stored(server, client, p) for p in payloads))
        )

    results = await asyncio.gather(*(burst(c, u) for c, u in zip(clients, users, strict=True)))
    total = per_user * len(users)
    acks = [a for r in results for a in r]
    assert all(a["ok"] and a["duplicate"] is False for a in acks), acks
    seqs = sorted(a["message"]["seq"] for a in acks)
    assert seqs == list(range(1, total + 1)), "seqs must be unique and gap-free"
    for who, sent in zip(users, results, strict=True):
        own = [a["message"]["seq"] for a in sent]
        assert own == sorted(own), f"{who}'s messages were reordered: {own}"
        assert [a["message"]["content"] for a in sent] == [f"{who} {i}" for i in range(per_user)]
        assert [a["message"]["tempId"] for a in sent] == [f"{who}-{i}" for i in range(per_user)]

    # Fewer writes than messages: sends that queued behind a batch went in together.
    assert sum(INSERTS.sizes) == total
    assert len(INSERTS.sizes) < total, INSERTS.sizes
    assert max(INSERTS.sizes) > 1

    # Everyone else got every message, in seq order.
    for client, who in zip(clients, users, strict=True):
        expected = total - per_user
        got = [(await client.wait_for("new_message"))["message"] for _ in range(expected)]
        assert [m["seq"] for m in got] == sorted(m["seq"] for m in got)
        assert all(m["senderId"] != who for m in got)
        await client.expect_none("new_message", within=0.1)

    # Sending moves each sender's read position to its own last message.
    for client, who in zip(clients, users, strict=True):
        status, body = await server.request("GET", "/api/groups", client.token)
        assert status == 200
        last_own = max(a["message"]["seq"] for a in acks if a["message"]["senderId"] == who)
        assert body["groups"][0]["unreadCount"] == total - last_own


async def test_a_refused_send_in_a_batch_does_not_affect_the_others(server: ChatServer) -> None:
    gid, (alice, bob) = await group_of(server, "user_alice", "user_bob")
    await server.user("user_carol")
    carol = await server.client("user_carol")  # not a member
    first = await alice.call("send_message", {"groupId": gid, "content": "m0", "tempId": "t0"})
    assert first["ok"]

    def payload(i: int, temp_id: str | None = None) -> dict[str, Any]:
        return {"groupId": gid, "content": f"m{i}", "tempId": temp_id or f"t{i}"}

    acks = await asyncio.gather(
        send_and_check_stored(server, alice, payload(1)),
        send_and_check_stored(server, carol, payload(2)),
        send_and_check_stored(server, bob, payload(3)),
        send_and_check_stored(server, alice, payload(4, "t0")),  # a retry of m0
        send_and_check_stored(server, alice, payload(5, "t1")),  # a repeat within the batch
        send_and_check_stored(server, bob, payload(6)),
        send_and_check_stored(server, carol, {"groupId": str(ObjectId()), "content": "x"}),
    )
    m1, refused, m3, retry, repeat, m6, nowhere = acks
    assert refused["ok"] is False
    assert refused["error"]["code"] == "ACCESS_DENIED"
    assert nowhere["ok"] is False
    assert nowhere["error"]["code"] in {"GROUP_NOT_FOUND", "ACCESS_DENIED"}
    assert retry["ok"]
    assert retry["duplicate"] is True
    assert retry["message"]["id"] == first["message"]["id"]
    assert retry["message"]["content"] == "m0"
    assert repeat["ok"]
    assert repeat["duplicate"] is True
    assert repeat["message"]["id"] == m1["message"]["id"]
    assert [a["message"]["seq"] for a in (m1, m3, m6)] == [2, 3, 4]

    docs = [d async for d in messages(server).find({"groupId": ObjectId(gid)}).sort("seq", 1)]
    assert [(d["seq"], d["senderId"], d.get("isDeleted")) for d in docs] == [
        (1, "user_alice", False),
        (2, "user_alice", False),
        (3, "user_bob", False),
        (4, "user_bob", False),
    ]
    await carol.expect_none("new_message", within=0.1)


async def test_a_member_removed_meanwhile_cannot_send(server: ChatServer) -> None:
    gid, (alice, bob) = await group_of(server, "user_alice", "user_bob")
    assert (await bob.call("send_message", {"groupId": gid, "content": "before"}))["ok"]
    status, _ = await server.request("DELETE", f"/api/groups/{gid}/members/user_bob", alice.token)
    assert status == 200
    acks = await asyncio.gather(
        alice.call("send_message", {"groupId": gid, "content": "a1"}),
        bob.call("send_message", {"groupId": gid, "content": "after"}),
        alice.call("send_message", {"groupId": gid, "content": "a2"}),
    )
    assert acks[1]["ok"] is False
    assert acks[1]["error"]["code"] == "ACCESS_DENIED"
    assert [a["message"]["seq"] for a in (acks[0], acks[2])] == [2, 3]


@pytest.fixture
async def second_node(server: ChatServer, mongo_uri: str) -> Any:
    """Another SafeChat node on the same database, data dir and token issuer."""
    node = await start_server(
        mongo_uri=mongo_uri,
        db_name=server.settings.mongodb_db,
        data_dir=Path(server.settings.data_dir),
        public_url=server.url,
    )
    try:
        yield node
    finally:
        await node.stop()


async def test_a_retry_stored_by_another_node_is_found_and_leaves_no_gap(
    server: ChatServer, second_node: ChatServer
) -> None:
    gid, (alice, bob) = await group_of(server, "user_alice", "user_bob")
    other = await server.group(alice.token, "other", memberIds=["user_bob"])
    elsewhere = await second_node.client(alice.token)
    # Stored through node 2: node 1 has never seen these tempIds.
    original = await elsewhere.call(
        "send_message", {"groupId": gid, "content": "hi", "tempId": "x"}
    )
    assert original["ok"]
    assert (
        await elsewhere.call("send_message", {"groupId": other, "content": "o", "tempId": "y"})
    )["ok"]

    acks = await asyncio.gather(
        send_and_check_stored(server, bob, {"groupId": gid, "content": "b1"}),
        send_and_check_stored(server, alice, {"groupId": gid, "content": "hi", "tempId": "x"}),
        send_and_check_stored(server, alice, {"groupId": gid, "content": "y?", "tempId": "y"}),
        send_and_check_stored(server, bob, {"groupId": gid, "content": "b2"}),
    )
    b1, retry, misused, b2 = acks
    assert retry["ok"]
    assert retry["duplicate"] is True
    assert retry["message"]["id"] == original["message"]["id"]
    assert misused["ok"] is False
    assert misused["error"]["code"] == "VALIDATION_ERROR"
    assert b1["ok"]
    assert b2["ok"]

    # Seqs stay gap-free: a seq taken by a refused message holds a deleted placeholder.
    docs = [d async for d in messages(server).find({"groupId": ObjectId(gid)}).sort("seq", 1)]
    seqs = [d["seq"] for d in docs]
    assert seqs == list(range(1, len(docs) + 1))
    live = Counter((d["senderId"], d["isDeleted"]) for d in docs)
    assert live[("user_alice", False)] == 1
    assert live[("user_bob", False)] == 2
    assert all(d["type"] == "system" for d in docs if d["isDeleted"])
    # Node 1 now answers the retry from memory, without another placeholder.
    again = await alice.call("send_message", {"groupId": gid, "content": "hi", "tempId": "x"})
    assert again["duplicate"] is True
    assert await messages(server).count_documents({"groupId": ObjectId(gid)}) == len(docs)


async def test_the_cached_sender_summary_follows_a_profile_change(server: ChatServer) -> None:
    gid, (alice, bob) = await group_of(server, "user_alice", "user_bob")
    assert (await alice.call("send_message", {"groupId": gid, "content": "one"}))["ok"]
    assert (await bob.wait_for("new_message"))["sender"]["firstName"] == "user_alice"
    status, _ = await server.request("PATCH", "/api/me", alice.token, {"firstName": "Alicia"})
    assert status == 200
    assert (await alice.call("send_message", {"groupId": gid, "content": "two"}))["ok"]
    event = await bob.wait_for("new_message")
    assert event["sender"] == {"userId": "user_alice", "firstName": "Alicia"}
