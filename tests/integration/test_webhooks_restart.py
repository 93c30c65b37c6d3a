"""Webhooks across a crash of a real `safechat serve` (the outbox is durable: pending
deliveries resume after a restart), the documented receiver as a real process, and
`safechat doctor` reporting the webhook URL's reachability."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from safechat.adapters.embedded_mongo import free_port
from tests.helpers.processes import Serve, clean_env, database_children, kill_tree, run_cli
from tests.helpers.webhooks import EXAMPLE, Receiver, running_receiver
from tests.integration.test_cli_and_restart import api, mint

SECRET = "restart-secret"


def hook_env(url: str, **extra: str) -> dict[str, str]:
    return clean_env(
        SAFECHAT_LOG_LEVEL="WARNING",
        WEBHOOK_URL=url,
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_BACKOFF_BASE_SECONDS="0.1",
        WEBHOOK_BACKOFF_CAP_SECONDS="0.5",
        WEBHOOK_MAX_ATTEMPTS="100",
        **extra,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver(SECRET) as r:
        yield r


async def test_pending_deliveries_resume_after_serve_is_killed(
    safechat_bin: str, tmp_path: Path, receiver: Receiver
) -> None:
    port, data_dir = free_port(), tmp_path / "data"
    receiver.default = 500  # the push service is down: nothing gets through yet
    env = hook_env(receiver.url)
    first = Serve(safechat_bin, port, data_dir, tmp_path, env=env)
    second = Serve(safechat_bin, port, data_dir, tmp_path, env=env)
    try:
        async with aiohttp.ClientSession() as http:
            await first.start(http)
            alice, carol = await asyncio.gather(
                asyncio.to_thread(mint, safechat_bin, "user_alice", port, data_dir, tmp_path),
                asyncio.to_thread(mint, safechat_bin, "user_carol", port, data_dir, tmp_path),
            )
            assert (await api(http, "GET", first.url + "/api/me", carol))[0] == 200
            status, body = await api(
                http, "POST", first.url + "/api/groups", alice,
                {"name": "ops", "memberIds": ["user_carol"]},
            )  # fmt: skip
            assert status == 201, body
            gid = body["group"]["id"]
            sent = []
            for i in range(5):
                status, body = await api(
                    http, "POST", first.url + "/api/messages", alice,
                    {"groupId": gid, "content": f"page {i}"},
                )  # fmt: skip
                assert status == 201, body
                sent.append(body["message"]["id"])
            async with asyncio.timeout(15):  # at least one refused attempt
                while not any(d.headers["X-SafeChat-Event"] == "message.new" for d in receiver.got):
                    await asyncio.sleep(0.05)
            assert first.proc is not None
            first.proc.kill()  # kill -9: no clean shutdown
            await asyncio.to_thread(first.proc.wait, 10)
            # Its database child is told by the kernel and shuts down (seconds).
            async with asyncio.timeout(45):
                while database_children(data_dir):
                    await asyncio.sleep(0.1)
            receiver.default = 204  # the push service is back
            await second.start(http)
            await receiver.wait_for(5, "message.new", timeout=30)
    finally:
        first.kill()
        second.kill()
        kill_tree(data_dir)
    delivered = receiver.delivered("message.new")
    assert sorted(d.json["data"]["messageId"] for d in delivered) == sorted(sent)
    assert all(d.json["data"]["recipients"] == ["user_carol"] for d in delivered)


async def test_the_documented_receiver_accepts_signed_deliveries_only(
    safechat_bin: str, tmp_path: Path
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE), str(port)],
        env={**clean_env(), "WEBHOOK_SECRET": SECRET},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        from safechat.services.webhooks.signing import signature

        body = b'{"id":"d1","event":"message.new","data":{"recipients":["user_carol"]}}'
        now = int(time.time())
        headers = {
            "X-SafeChat-Delivery": "d1",
            "X-SafeChat-Event": "message.new",
            "X-SafeChat-Timestamp": str(now),
        }
        url = f"http://127.0.0.1:{port}/"
        async with aiohttp.ClientSession() as http:
            async with asyncio.timeout(10):
                while True:  # the process is starting
                    try:
                        async with http.post(url, data=b"") as resp:
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
            good = {**headers, "X-SafeChat-Signature": signature(SECRET, now, body)}
            forged = {**headers, "X-SafeChat-Signature": signature("guess", now, body)}
            old = {
                **headers,
                "X-SafeChat-Timestamp": str(now - 3600),
                "X-SafeChat-Signature": signature(SECRET, now - 3600, body),
            }
            statuses = []
            for h in (good, forged, old, good):
                async with http.post(url, data=body, headers=h) as resp:
                    statuses.append(resp.status)
        assert statuses == [204, 401, 401, 204]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert out.splitlines() == ["message.new ['user_carol']"]  # a repeat is dropped


async def test_doctor_reports_whether_the_webhook_url_answers(
    safechat_bin: str, tmp_path: Path, receiver: Receiver
) -> None:
    data = ("--data-dir", str(tmp_path / "data"))
    out = await asyncio.to_thread(run_cli, safechat_bin, "doctor", *data, cwd=tmp_path)
    assert "webhooks" in out.stdout
    assert "off" in out.stdout
    env = clean_env(WEBHOOK_URL=receiver.url + "?token=s3cret", WEBHOOK_SECRET=SECRET)
    out = await asyncio.to_thread(run_cli, safechat_bin, "doctor", *data, cwd=tmp_path, env=env)
    assert f"reachable at http://127.0.0.1:{receiver.port}" in out.stdout, out.stdout
    assert "s3cret" not in out.stdout
    env = clean_env(WEBHOOK_URL=f"http://127.0.0.1:{free_port()}/x", WEBHOOK_SECRET=SECRET)
    out = await asyncio.to_thread(run_cli, safechat_bin, "doctor", *data, cwd=tmp_path, env=env)
    failing = [line for line in out.stdout.splitlines() if "FAIL" in line]
    assert len(failing) == 1, out.stdout
    assert "webhooks" in failing[0]
    assert out.returncode != 0
