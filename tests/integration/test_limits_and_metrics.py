"""Rate limits (protocol.md section 6) and the Prometheus /metrics endpoint."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.helpers.support import ChatServer, pair, refusal, start_server


async def _server(mongo_uri: str, db_name: str, tmp_path: Path, **limits: object) -> ChatServer:
    return await start_server(
        mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path / "data", **limits
    )


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample, 0 when absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    found = re.search(r"^" + pattern + r"$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def metrics(server: ChatServer) -> str:
    async with server.http.get(server.url + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        return await resp.text()


async def test_send_limit_per_user_with_retry_after(
    mongo_uri: str, db_name: str, tmp_path: Path
) -> None:
    server = await _server(
        mongo_uri, db_name, tmp_path, rate_send_per_second=2.0, rate_send_burst=3
    )
    try:
        gid, a, b = await pair(server)
        phone = await server.client(a.token)  # the limit is per user, across devices
        for i in range(3):
            client = a if i % 2 == 0 else phone
            ack = await client.call("send_message", {"groupId": gid, "content": f"m{i}"})
            assert ack["ok"] is True
        ack = await phone.call("send_message", {"groupId": gid, "content": "too fast"})
        assert ack["ok"] is False
        assert ack["error"]["code"] == "RATE_LIMITED"
        retry = ack["error"]["details"]["retryAfterMs"]
        assert 0 < retry <= 500
        assert (await phone.wait_for("message_error"))["code"] == "RATE_LIMITED"
        # Nothing was stored or broadcast for the refused send.
        b.drain("new_message")
        status, body = await server.request("GET", f"/api/messages/group/{gid}", a.token)
        assert [m["content"] for m in body["messages"]] == ["m0", "m1", "m2"]
        # REST sends share the bucket.
        status, body = await server.request(
            "POST", "/api/messages", a.token, {"groupId": gid, "content": "rest"}
        )
        assert status == 429
        assert body["error"]["code"] == "RATE_LIMITED"
        await asyncio.sleep(retry / 1000 + 0.05)
        ack = await a.call("send_message", {"groupId": gid, "content": "later"})
        assert ack["ok"] is True
        # Another user has a bucket of their own.
        ack = await b.call("send_message", {"groupId": gid, "content": "bob"})
        assert ack["ok"] is True
        text = await metrics(server)
        assert sample(text, "safechat_rate_limited_total", limit="send_message") == 2
    finally:
        await server.stop()


async def test_event_limit_per_socket(mongo_uri: str, db_name: str, tmp_path: Path) -> None:
    server = await _server(
        mongo_uri, db_name, tmp_path, rate_events_per_second=1.0, rate_events_burst=4
    )
    try:
        gid, a, b = await pair(server)
        acks = [await a.call("typing_stop", {"groupId": gid}) for _ in range(5)]
        assert [x["ok"] for x in acks] == [True] * 4 + [False]
        assert acks[4]["error"]["code"] == "RATE_LIMITED"
        assert acks[4]["error"]["details"]["limit"] == "events"
        # Another socket of the same user is not affected.
        other = await server.client(a.token)
        assert (await other.call("typing_stop", {"groupId": gid}))["ok"] is True
        assert (await b.call("typing_stop", {"groupId": gid}))["ok"] is True
    finally:
        await server.stop()


async def test_rest_limit_per_user(mongo_uri: str, db_name: str, tmp_path: Path) -> None:
    server = await _server(mongo_uri, db_name, tmp_path, rate_rest_per_minute=3)
    try:
        alice = server.token("user_alice")
        statuses = [(await server.request("GET", "/api/me", alice))[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        async with server.http.get(
            server.url + "/api/me", headers={"Authorization": f"Bearer {alice}"}
        ) as resp:
            assert resp.status == 429
            assert int(resp.headers["Retry-After"]) >= 1
            body = await resp.json()
        assert body["success"] is False
        assert body["error"]["code"] == "RATE_LIMITED"
        assert body["error"]["details"]["retryAfterMs"] > 1000
        # Other users and unauthenticated health checks are unaffected.
        assert (await server.request("GET", "/api/me", server.token("user_bob")))[0] == 200
        assert (await server.request("GET", "/health"))[0] == 200
    finally:
        await server.stop()


async def test_connection_limit_per_user(mongo_uri: str, db_name: str, tmp_path: Path) -> None:
    server = await _server(mongo_uri, db_name, tmp_path, max_sockets_per_user=2)
    try:
        token = await server.user("user_alice")
        first = await server.client(token)
        await server.client(token)
        refused = await refusal(server, auth={"token": token})
        assert refused["data"]["code"] == "RATE_LIMITED"
        assert refused["data"]["details"]["limit"] == "connections"
        assert "Too many connections" in refused["message"]
        # Another user can still connect; a slot frees when a socket leaves.
        await server.client("user_bob")
        await first.close()
        await asyncio.sleep(0.1)
        again = await server.client(token)
        assert again.sio.connected
    finally:
        await server.stop()


async def test_metrics_count_events_sends_and_deliveries(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    before = await metrics(server)
    assert sample(before, "safechat_connections") == 2
    await a.call("send_message", {"groupId": gid, "content": "hi"})
    await b.wait_for("new_message")
    await a.call("send_message", {"groupId": gid, "content": 5})
    await a.call("no_such_event", {})
    text = await metrics(server)
    assert sample(text, "safechat_events_total", event="send_message", outcome="ok") == 1
    assert (
        sample(text, "safechat_events_total", event="send_message", outcome="VALIDATION_ERROR") == 1
    )
    assert sample(text, "safechat_events_total", event="unknown", outcome="VALIDATION_ERROR") == 1
    assert sample(text, "safechat_message_send_seconds_count") == 1
    assert sample(text, "safechat_message_send_seconds_sum") > 0
    delivered = sample(text, "safechat_fanout_deliveries_total")
    assert delivered - sample(before, "safechat_fanout_deliveries_total") >= 2
    assert sample(text, "safechat_http_requests_total", status="200") >= 1
    assert "safechat_redis_up" not in text or sample(text, "safechat_redis_up") == 0
