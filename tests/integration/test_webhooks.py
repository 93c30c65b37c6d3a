"""Notification webhooks (protocol §8, docs/webhooks.md) against a real local HTTP
receiver: who they are for, their signature, retries with backoff, giving up, the
change events, and one delivery per event when two nodes share a database."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from safechat.components import node_id
from safechat.container import SERVICES
from safechat.services.webhooks.events import entry
from tests.helpers.support import ChatServer, start_server
from tests.helpers.webhooks import Receiver, example_receiver, running_receiver

SECRET = "test-webhook-secret"


def hook_settings(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {
        "webhook_url": receiver.url,
        "webhook_secret": SECRET,
        "webhook_backoff_base_seconds": 0.1,
        "webhook_backoff_cap_seconds": 0.4,
        "webhook_timeout_seconds": 1.0,
        **extra,
    }


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver(SECRET) as r:
        yield r


async def hooked(
    mongo_uri: str, db_name: str, tmp_path: Path, receiver: Receiver, name: str = "a", **extra: Any
) -> ChatServer:
    return await start_server(
        mongo_uri=mongo_uri,
        db_name=db_name,
        data_dir=tmp_path / name,
        **hook_settings(receiver, **extra),
    )


async def room(server: ChatServer) -> tuple[str, str, str]:
    """Alice (sender), Bob (online), Carol (offline), Dave (offline, muted)."""
    alice = await server.user("user_alice", first_name="Alice")
    for name in ("bob", "carol", "dave"):
        await server.user(f"user_{name}", first_name=name.title())
    gid = await server.group(alice, "family", memberIds=["user_bob", "user_carol", "user_dave"])
    dave = server.token("user_dave")
    status, body = await server.request("PUT", f"/api/groups/{gid}/settings", dave, {"muted": True})
    assert status == 200, body
    await server.client("user_bob")
    return gid, alice, dave


async def post(server: ChatServer, token: str, gid: str, text: str, **extra: Any) -> str:
    status, body = await server.request(
        "POST", "/api/messages", token, {"groupId": gid, "content": text, **extra}
    )
    assert status == 201, body
    return str(body["message"]["id"])


async def test_a_message_notifies_offline_unmuted_members_signed(
    mongo_uri: str, db_name: str, tmp_path: Path, receiver: Receiver
) -> None:
    server = await hooked(mongo_uri, db_name, tmp_path, receiver)
    try:
        gid, alice, _ = await room(server)
        mid = await post(
            server, alice, gid, "dinner at 8", mentions=["user_carol", "user_dave", "user_bob"]
        )
        await receiver.wait_for(1, "message.new")
        await receiver.wait_for(1, "mention.new")
    finally:
        await server.stop()
    new = receiver.delivered("message.new")[0]
    data = new.json["data"]
    # Bob is online, Dave muted the conversation, Alice sent it: only Carol.
    assert data["recipients"] == ["user_carol"]
    assert data["messageId"] == mid
    assert data["groupId"] == gid
    assert data["senderId"] == "user_alice"
    assert "content" not in data  # WEBHOOK_INCLUDE_CONTENT is off
    assert "dinner" not in new.body.decode()
    # The same rule for mentions: one for Carol; none for muted Dave or online Bob.
    mentions = receiver.delivered("mention.new")
    assert [m.json["data"]["mentionedUserId"] for m in mentions] == ["user_carol"]
    # Headers, and a signature the documented receiver accepts.
    verify = example_receiver().verify
    for delivery in (new, *mentions):
        h = delivery.headers
        assert h["X-SafeChat-Event"] == delivery.json["event"]
        assert h["X-SafeChat-Delivery"] == delivery.json["id"]
        assert verify(
            SECRET.encode(), h["X-SafeChat-Timestamp"], delivery.body,
            h["X-SafeChat-Signature"], time.time(),
        )  # fmt: skip
        assert not verify(
            b"another secret", h["X-SafeChat-Timestamp"], delivery.body,
            h["X-SafeChat-Signature"], time.time(),
        )  # fmt: skip
        assert not verify(
            SECRET.encode(), h["X-SafeChat-Timestamp"], delivery.body + b" ",
            h["X-SafeChat-Signature"], time.time(),
        )  # fmt: skip
    assert len({d.id for d in receiver.got}) == len(receiver.got)


async def test_content_is_sent_only_when_enabled(
    mongo_uri: str, db_name: str, tmp_path: Path, receiver: Receiver
) -> None:
    server = await hooked(mongo_uri, db_name, tmp_path, receiver, webhook_include_content=True)
    try:
        gid, alice, _ = await room(server)
        await post(server, alice, gid, "the key is under the mat")
        await receiver.wait_for(1, "message.new")
        stored = await server.app[SERVICES].database.db.webhook_outbox.find_one({})
    finally:
        await server.stop()
    assert receiver.delivered("message.new")[0].json["data"]["content"] == (
        "the key is under the mat"
    )
    # Decrypted for the request only: the outbox holds ids, not content.
    assert stored is not None
    assert "under the mat" not in str(stored)


async def test_failed_deliveries_are_retried_with_backoff_then_delivered(
    mongo_uri: str, db_name: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.script = [500, 503, "hang", 200]
    receiver.script_event = "message.new"
    server = await hooked(mongo_uri, db_name, tmp_path, receiver)
    try:
        gid, alice, _ = await room(server)
        await post(server, alice, gid, "hello")
        await receiver.wait_for(1, "message.new", timeout=30)
        entry = await outbox_entry(server, "message.new", "delivered")
    finally:
        await server.stop()
    tries = [d for d in receiver.got if d.json["event"] == "message.new"]
    assert [d.status for d in tries] == [500, 503, 0, 200]
    assert len({d.id for d in tries}) == 1  # one delivery id across its attempts
    assert entry is not None
    assert entry["state"] == "delivered"
    assert entry["attempts"] == 4
    # Each retry waited (full jitter up to 0.1, 0.2, 0.4 s; the hang costs the 1 s timeout).
    gaps = [b.at - a.at for a, b in itertools.pairwise(tries)]
    assert gaps[2] >= 1.0, gaps


async def test_a_delivery_gives_up_after_its_attempts_and_is_counted(
    mongo_uri: str, db_name: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.default = 500
    server = await hooked(mongo_uri, db_name, tmp_path, receiver, webhook_max_attempts=3)
    try:
        gid, alice, _ = await room(server)
        await post(server, alice, gid, "anyone?")
        entry = await outbox_entry(server, "message.new", "failed")
        async with asyncio.timeout(10):  # counted just after the outcome is written
            while 'outcome="failed"} 0.0' in (text := (await metrics_text(server))[1]):
                await asyncio.sleep(0.05)
    finally:
        await server.stop()
    assert entry is not None
    assert entry["state"] == "failed"
    assert entry["attempts"] == 3
    assert entry["lastStatus"] == 500
    assert len([d for d in receiver.got if d.json["event"] == "message.new"]) == 3
    # Every delivery in this test fails (the member.added ones too): at least this one.
    found = re.search(r'safechat_webhook_deliveries_total\{outcome="failed"\} (\S+)', text)
    assert found is not None
    assert float(found.group(1)) >= 1


async def outbox_entry(server: ChatServer, event: str, state: str) -> dict[str, Any]:
    """The outbox entry of `event` once it reached `state` (the worker records an
    outcome just after the receiver answered)."""
    outbox = server.app[SERVICES].database.db.webhook_outbox
    async with asyncio.timeout(15):
        while True:
            entry = await outbox.find_one({"event": event})
            if entry is not None and entry["state"] == state:
                return dict(entry)
            await asyncio.sleep(0.05)


async def metrics_text(server: ChatServer) -> tuple[int, str]:
    async with server.http.get(server.url + "/metrics") as resp:
        return resp.status, await resp.text()


async def test_member_and_message_changes_are_notified(
    mongo_uri: str, db_name: str, tmp_path: Path, receiver: Receiver
) -> None:
    server = await hooked(mongo_uri, db_name, tmp_path, receiver)
    try:
        gid, alice, _ = await room(server)
        await server.user("user_erin")
        status, _ = await server.request(
            "POST", f"/api/groups/{gid}/members", alice, {"userId": "user_erin"}
        )
        assert status in (200, 201)
        status, _ = await server.request("DELETE", f"/api/groups/{gid}/members/user_erin", alice)
        assert status == 200
        mid = await post(server, alice, gid, "draft")
        status, _ = await server.request("PATCH", f"/api/messages/{mid}", alice, {"content": "v2"})
        assert status == 200
        status, _ = await server.request("DELETE", f"/api/messages/{mid}", alice)
        assert status == 200
        # The group's four first members, then Erin.
        await receiver.wait_for(5, "member.added")
        for event in ("member.removed", "message.updated", "message.deleted"):
            await receiver.wait_for(1, event)
    finally:
        await server.stop()
    added = [d.json["data"] for d in receiver.delivered("member.added")]
    assert {a["userId"] for a in added} == {
        f"user_{n}" for n in ("alice", "bob", "carol", "dave", "erin")
    }
    assert {"groupId": gid, "groupType": "group", "userId": "user_erin"} in added
    assert receiver.delivered("member.removed")[0].json["data"]["userId"] == "user_erin"
    for event in ("message.updated", "message.deleted"):
        data = receiver.delivered(event)[0].json["data"]
        assert data["messageId"] == mid
        assert data["by"] == "user_alice"
        assert "v2" not in receiver.delivered(event)[0].body.decode()


async def test_two_nodes_on_one_database_deliver_each_event_once(
    mongo_uri: str, db_name: str, tmp_path: Path, receiver: Receiver
) -> None:
    one = await hooked(mongo_uri, db_name, tmp_path, receiver, "one")
    two = await hooked(mongo_uri, db_name, tmp_path, receiver, "two")
    try:
        gid, alice, _ = await room(one)
        alice_two = two.token("user_alice")  # each node its own dev issuer
        for i in range(15):
            await post(one, alice, gid, f"from one {i}")
            await post(two, alice_two, gid, f"from two {i}")
        await receiver.wait_for(30, "message.new", timeout=30)
        # Both workers keep ticking a while: nothing comes twice.
        for node in (one, two):
            worker = node.app[SERVICES].webhook_worker
            assert worker is not None
            await worker.tick()
    finally:
        await one.stop()
        await two.stop()
    counts = Counter(d.id for d in receiver.delivered())
    assert len(receiver.delivered("message.new")) == 30
    assert max(counts.values()) == 1, counts.most_common(3)


async def test_an_erased_account_s_messages_are_notified_as_deleted(
    mongo_uri: str, db_name: str, tmp_path: Path, receiver: Receiver
) -> None:
    server = await hooked(mongo_uri, db_name, tmp_path, receiver)
    try:
        gid, alice, _ = await room(server)
        sent = {await post(server, alice, gid, f"note {i}") for i in range(3)}
        status, body = await server.request("DELETE", "/api/me", alice)
        assert status == 200, body
        await receiver.wait_for(3, "message.deleted")
        await receiver.wait_for(1, "member.removed")
    finally:
        await server.stop()
    deleted = [d.json["data"] for d in receiver.delivered("message.deleted")]
    assert {d["messageId"] for d in deleted} == sent
    assert {d["by"] for d in deleted} == {"user_alice"}


async def test_a_restarted_node_resumes_what_it_was_delivering_without_waiting_its_lease(
    mongo_uri: str, db_name: str, tmp_path: Path, receiver: Receiver
) -> None:
    data_dir = tmp_path / "node"
    data_dir.mkdir()
    now = datetime.now(UTC)
    stuck = {
        **entry("stuck-1", "member.added", {"groupId": "g", "userId": "u"}, now),
        "state": "delivering",  # claimed by this node's previous run, which died
        "dueAt": now + timedelta(hours=1),  # its lease
        "claim": "old-token",
        "claimNode": node_id(data_dir),
    }
    other = {**stuck, "_id": "stuck-2", "claimNode": "another-node"}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        await client[db_name].webhook_outbox.insert_many([stuck, other])
    finally:
        await client.close()
    server = await start_server(
        mongo_uri=mongo_uri, db_name=db_name, data_dir=data_dir, **hook_settings(receiver)
    )
    try:
        await receiver.wait_for(1, "member.added")
        await asyncio.sleep(1)  # a few ticks: the other node's lease is still waited out
    finally:
        await server.stop()
    assert [d.id for d in receiver.delivered()] == ["stuck-1"]
