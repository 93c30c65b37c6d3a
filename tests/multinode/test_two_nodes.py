"""Two `safechat serve` processes sharing one redis-server and one database.

Clients on different nodes must see each other's messages, typing, presence,
reads, edits, deletions, reactions and membership changes; a node keeps serving
its own clients while Redis is away and resumes cross-node delivery after.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from pymongo import AsyncMongoClient

from safechat.adapters.embedded_mongo import free_port
from safechat.services.auth import DEV_KEY_FILE, DevIssuer
from tests.helpers.processes import Serve, clean_env
from tests.helpers.redis_server import RedisServer
from tests.helpers.support import GENEROUS_LIMITS, EventClient, terminate

PUBLIC_URL = "http://chat.cluster.test"
TTL = 5  # presence TTL: a dead node's users drop out within seconds
SEND_RATE, SEND_BURST = 2, 5
SOCKET_CAP = 6


def node(root: Path, name: str, env: dict[str, str], safechat_bin: str) -> Serve:
    return Serve(safechat_bin, free_port(), root / name, cwd=root, env=env)


@dataclass
class Cluster:
    a: Serve
    b: Serve
    redis: RedisServer
    issuer: DevIssuer
    http: aiohttp.ClientSession
    mongo_uri: str
    db_name: str
    clients: list[EventClient] = field(default_factory=list)

    def token(self, sub: str, **claims: Any) -> str:
        return self.issuer.mint(sub, **claims)

    async def request(
        self, node: Serve, method: str, path: str, token: str, json: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.request(method, node.url + path, json=json, headers=headers) as r:
            return r.status, await r.json(content_type=None)

    async def user(self, node: Serve, sub: str, **claims: Any) -> str:
        token = self.token(sub, **claims)
        status, _ = await self.request(node, "GET", "/api/me", token)
        assert status == 200
        return token

    async def group(self, node: Serve, token: str, name: str, members: list[str]) -> str:
        body = {"name": name, "memberIds": members}
        status, created = await self.request(node, "POST", "/api/groups", token, body)
        assert status == 201, created
        return str(created["group"]["id"])

    async def client(self, node: Serve, token: str) -> EventClient:
        client = EventClient(node.url, token)
        self.clients.append(client)
        await client.connect()
        await client.wait_for("user_groups")
        return client

    async def close_clients(self) -> None:
        for c in self.clients:
            await c.close()
        self.clients.clear()


@contextlib.asynccontextmanager
async def start_cluster(
    mongo_uri: str, safechat_bin: str, root: Path, **env_overrides: str
) -> AsyncIterator[Cluster]:
    """Two nodes on a fresh database and redis-server; `env_overrides` for both nodes."""
    redis = RedisServer(root)
    redis.start()
    # Both nodes share what a real deployment shares: keys, issuer, database, Redis.
    (root / "a").mkdir()
    issuer = DevIssuer.load_or_create(root / "a", PUBLIC_URL)
    (root / "b").mkdir()
    shutil.copy(root / "a" / DEV_KEY_FILE, root / "b" / DEV_KEY_FILE)
    db_name = f"t_{uuid.uuid4().hex[:12]}"
    env = clean_env(
        MONGODB_URI=mongo_uri,
        MONGODB_DB=db_name,
        REDIS_URL=redis.url,
        SAFECHAT_PUBLIC_URL=PUBLIC_URL,
        ENCRYPTION_KEYS=f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}",
        SAFECHAT_PRESENCE_TTL_SECONDS=str(TTL),
        SAFECHAT_TYPING_TIMEOUT_SECONDS="1",
        SAFECHAT_LOG_LEVEL="INFO",
        SAFECHAT_LOG_FORMAT="json",
        **{k.upper(): str(v) for k, v in GENEROUS_LIMITS.items()},
    )
    env.update(env_overrides)
    http = aiohttp.ClientSession()
    a, b = node(root, "a", env, safechat_bin), node(root, "b", env, safechat_bin)
    try:
        await asyncio.gather(a.start(http), b.start(http))
        yield Cluster(a, b, redis, issuer, http, mongo_uri, db_name)
    finally:
        for serve in (a, b):
            if serve.proc is not None:
                terminate(serve.proc)
        await http.close()
        redis.stop()


@pytest.fixture(scope="module")
async def cluster(
    mongo_uri: str, safechat_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    limits = {
        "RATE_SEND_PER_SECOND": str(SEND_RATE),
        "RATE_SEND_BURST": str(SEND_BURST),
        "MAX_SOCKETS_PER_USER": str(SOCKET_CAP),
    }
    async with start_cluster(mongo_uri, safechat_bin, root, **limits) as cluster:
        yield cluster


@pytest.fixture
async def c(cluster: Cluster) -> AsyncIterator[Cluster]:
    try:
        yield cluster
    finally:
        await cluster.close_clients()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not met in time")


async def test_clients_on_two_nodes_see_everything(c: Cluster) -> None:
    alice = await c.user(c.a, "user_alice", first_name="Alice")
    bob = await c.user(c.b, "user_bob", first_name="Bob")
    status, body = await c.request(
        c.a, "POST", "/api/groups", alice, {"name": "across", "memberIds": ["user_bob"]}
    )
    assert status == 201
    gid = body["group"]["id"]
    a = await c.client(c.a, alice)
    b = await c.client(c.b, bob)
    assert (await a.wait_for("user_online"))["userId"] == "user_bob"

    # Messages both ways, and the REST send on node B reaches node A.
    sent = await a.call("send_message", {"groupId": gid, "content": "hi from A"})
    got = await b.wait_for("new_message")
    assert got["message"]["id"] == sent["message"]["id"]
    assert got["message"]["content"] == "hi from A"
    assert got["sender"]["firstName"] == "Alice"
    await b.call("send_message", {"groupId": gid, "content": "hi from B"})
    assert (await a.wait_for("new_message"))["message"]["content"] == "hi from B"
    status, _ = await c.request(c.b, "POST", "/api/messages", bob, {"groupId": gid, "content": "r"})
    assert status == 201
    assert (await a.wait_for("new_message"))["message"]["content"] == "r"
    mid = sent["message"]["id"]

    # Typing, start and stop, and the auto-stop.
    await b.call("typing_start", {"groupId": gid})
    assert (await a.wait_for("user_typing"))["userId"] == "user_bob"
    await b.call("typing_stop", {"groupId": gid})
    assert (await a.wait_for("user_stopped_typing"))["userId"] == "user_bob"
    await a.call("typing_start", {"groupId": gid})
    assert (await b.wait_for("user_typing"))["userId"] == "user_alice"
    assert (await b.wait_for("user_stopped_typing", timeout=5))["userId"] == "user_alice"

    # Reads, edits, reactions, deletions.
    await b.call("mark_message_read", {"messageId": mid, "groupId": gid})
    assert (await a.wait_for("message_read"))["readBy"] == "user_bob"
    await a.call("edit_message", {"messageId": mid, "content": "edited"})
    assert (await b.wait_for("message_edited"))["message"]["content"] == "edited"
    await b.call("react_message", {"messageId": mid, "emoji": "👍"})
    assert (await a.wait_for("message_reaction"))["action"] == "added"
    await a.call("delete_message", {"messageId": mid, "groupId": gid})
    assert (await b.wait_for("message_deleted"))["messageId"] == mid

    # Presence and status across nodes.
    online = await a.call("get_online_users", {"groupId": gid})
    bob_entry = {u["userId"]: u for u in online["users"]}["user_bob"]
    assert bob_entry["status"] == "online"
    await b.call("change_status", {"status": "away"})
    assert (await a.wait_for("user_status_changed"))["status"] == "away"
    members = await a.call("get_group_members", {"groupId": gid})
    assert {m["userId"]: m["isOnline"] for m in members["members"]} == {
        "user_alice": True,
        "user_bob": True,
    }

    # Membership changes made on node A move sockets living on node B.
    carol = await c.user(c.b, "user_carol")
    cl = await c.client(c.b, carol)
    status, _ = await c.request(
        c.a, "POST", f"/api/groups/{gid}/members", alice, {"userId": "user_carol"}
    )
    assert status in (200, 201)
    assert (await cl.wait_for("group_added"))["group"]["id"] == gid
    await a.call("send_message", {"groupId": gid, "content": "welcome carol"})
    assert (await cl.wait_for("new_message"))["message"]["content"] == "welcome carol"
    status, _ = await c.request(c.a, "DELETE", f"/api/groups/{gid}/members/user_bob", alice)
    assert status == 200
    assert (await b.wait_for("group_removed"))["groupId"] == gid
    b.drain("new_message")
    await a.call("send_message", {"groupId": gid, "content": "bob is gone"})
    assert (await cl.wait_for("new_message"))["message"]["content"] == "bob is gone"
    await b.expect_none("new_message", within=0.5)

    # Going offline on node B is seen on node A (bob left the group: not announced).
    await b.close()
    await cl.close()
    offline = await a.wait_for("user_offline")
    assert offline["userId"] == "user_carol"
    await a.expect_none("user_offline", within=0.3)


async def test_send_limit_is_shared_by_the_nodes(c: Cluster) -> None:
    alice = await c.user(c.a, "user_rl")
    gid = await c.group(c.a, alice, "rl", [])
    on_a = await c.client(c.a, alice)
    on_b = await c.client(c.b, alice)
    # All at once, half through each node: with a limit per node all of them would pass.
    # The bucket refills at SEND_RATE while they run (a slow machine stretches that).
    started = time.monotonic()
    acks = await asyncio.gather(
        *(
            (on_a if i % 2 else on_b).call("send_message", {"groupId": gid, "content": str(i)})
            for i in range(2 * SEND_BURST)
        )
    )
    refilled = int(SEND_RATE * (time.monotonic() - started)) + 1
    passed = [x for x in acks if x["ok"]]
    refused = [x for x in acks if not x["ok"]]
    assert SEND_BURST <= len(passed) <= SEND_BURST + refilled < 2 * SEND_BURST
    assert {x["error"]["code"] for x in refused} == {"RATE_LIMITED"}
    assert all(0 < x["error"]["details"]["retryAfterMs"] <= 1000 / SEND_RATE for x in refused)


async def test_socket_cap_holds_for_concurrent_connects_on_both_nodes(c: Cluster) -> None:
    token = await c.user(c.a, "user_many")

    async def connect(i: int) -> EventClient | None:
        client = EventClient((c.a if i % 2 else c.b).url, token)
        try:
            await client.connect()
        except socketio.exceptions.ConnectionError:
            return None
        c.clients.append(client)
        return client

    accepted = [x for x in await asyncio.gather(*(connect(i) for i in range(30))) if x]
    assert len(accepted) == SOCKET_CAP
    # Freed slots are usable from either node.
    await accepted[0].close()
    await accepted[1].close()

    for i in (0, 1):

        async def reconnects(i: int = i) -> bool:
            return await connect(i) is not None

        await eventually(reconnects, timeout=10)
    assert await connect(0) is None
    assert await connect(1) is None


async def test_redis_outage_keeps_local_clients_and_recovers(c: Cluster) -> None:
    alice = await c.user(c.a, "user_ann")
    bob = await c.user(c.b, "user_ben")
    gid = await c.group(c.a, alice, "outage", ["user_ben"])
    a1 = await c.client(c.a, alice)
    a2 = await c.client(c.a, alice)
    b1 = await c.client(c.b, bob)

    c.redis.stop()
    try:
        # Node A still serves its own clients: the send is stored and delivered locally.
        ack = await a1.call("send_message", {"groupId": gid, "content": "during outage"})
        assert ack["ok"] is True
        assert (await a2.wait_for("new_message"))["message"]["content"] == "during outage"
        async with c.http.get(c.a.url + "/health") as resp:
            health = await resp.json()
        assert health["redis"] == "unreachable"
        assert health["status"] == "degraded"
        # Bob (node B) catches up from the database with sync.
        synced = await b1.call("sync", {"groupId": gid, "afterSeq": 0})
        assert [m["content"] for m in synced["messages"]] == ["during outage"]
    finally:
        c.redis.start()

    b1.drain("new_message")

    async def delivered_across() -> bool:
        await a1.call("send_message", {"groupId": gid, "content": "after"})
        try:
            await b1.wait_for("new_message", timeout=0.5)
        except TimeoutError:
            return False
        return True

    await eventually(delivered_across, timeout=30)

    async def healthy() -> bool:
        async with c.http.get(c.a.url + "/health") as resp:
            return (await resp.json())["redis"] == "ok"

    await eventually(healthy)
    log = c.a.log.read_text()
    assert "redis_unavailable" in log
    assert "redis_recovered" in log


async def test_a_dead_nodes_users_go_offline(c: Cluster) -> None:
    alice = await c.user(c.a, "user_amy")
    bob = await c.user(c.b, "user_bo")
    gid = await c.group(c.a, alice, "crash", ["user_bo"])
    a = await c.client(c.a, alice)
    await c.client(c.b, bob)
    await a.wait_for("user_online")

    await c.b.stop(signal.SIGKILL)  # no disconnect handlers run: only expiry can clear bob
    offline = await a.wait_for("user_offline", timeout=TTL * 3)
    assert offline["userId"] == "user_bo"
    listed = await a.call("get_online_users", {"groupId": gid})
    assert [u["userId"] for u in listed["users"]] == ["user_amy"]

    # Restarted, node B closes the database sessions its previous run left open.
    await c.b.start(c.http)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(c.mongo_uri)
    try:
        sessions = mongo[c.db_name]["sessions"]

        async def closed() -> bool:
            return await sessions.count_documents({"userId": "user_bo", "endedAt": None}) == 0

        await eventually(closed, timeout=10)
    finally:
        await mongo.close()
