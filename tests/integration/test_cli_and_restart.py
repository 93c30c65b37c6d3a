"""The `safechat` command line, and durability across restarts of a real `safechat serve`."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import socketio
from pymongo import AsyncMongoClient

from safechat import __version__
from safechat.adapters.embedded_mongo import free_port
from safechat.services.auth import DevIssuer
from tests.helpers.processes import (
    Serve,
    clean_env,
    database_children,
    kill_tree,
    parent_of,
    run_cli,
)


@pytest.fixture
def serve_setup(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    data_dir = tmp_path / "data"
    try:
        yield free_port(), data_dir
    finally:
        # Whatever happened, leave no server or database process behind.
        kill_tree(data_dir)


# --- the command line ----------------------------------------------------------------


def test_help(safechat_bin: str, tmp_path: Path) -> None:
    out = run_cli(safechat_bin, "--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for word in ("serve", "token", "doctor"):
        assert word in out.stdout
    out = run_cli(safechat_bin, "serve", "--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for option in ("--port", "--data-dir", "--host", "SAFECHAT_PORT", "SAFECHAT_DATA_DIR"):
        assert option in out.stdout
    out = run_cli(safechat_bin, "--version", cwd=tmp_path)
    assert out.returncode == 0
    assert __version__ in out.stdout
    out = run_cli(safechat_bin, cwd=tmp_path)
    assert out.returncode != 0  # a command is required
    out = run_cli(safechat_bin, "nonsense", cwd=tmp_path)
    assert out.returncode != 0


def test_token_prints_a_jwt_with_the_asked_claims(safechat_bin: str, tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    args = ("--port", str(port), "--data-dir", str(data))
    before = int(time.time())
    out = run_cli(
        safechat_bin,
        "token",
        "user_ada",
        "--email",
        "ada@example.com",
        "--name",
        "Ada King Lovelace",
        "--ttl",
        "120",
        *args,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert token.count(".") == 2
    assert "\n" not in token
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "user_ada"
    assert claims["email"] == "ada@example.com"
    assert claims["given_name"] == "Ada"
    assert claims["family_name"] == "King Lovelace"
    assert claims["iss"] == f"http://127.0.0.1:{port}"
    assert claims["exp"] - claims["iat"] == 120
    assert before - 1 <= claims["iat"] <= time.time() + 1

    # The key lives in the data dir: the token verifies against it, and is reused.
    issuer = DevIssuer.load_or_create(data, claims["iss"])
    assert header["kid"] == issuer.kid
    key = jwt.PyJWK(issuer.jwks()["keys"][0]).key
    jwt.decode(token, key, algorithms=["RS256"], issuer=claims["iss"])
    again = run_cli(safechat_bin, "token", "user_bob", *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert jwt.get_unverified_header(again.stdout.strip())["kid"] == issuer.kid
    bob = jwt.decode(again.stdout.strip(), options={"verify_signature": False})
    assert bob["exp"] - bob["iat"] == 3600
    assert not {"email", "given_name", "family_name"} & set(bob)

    # A token the server would refuse for living too long is not minted at all.
    long = run_cli(safechat_bin, "token", "user_bob", "--ttl", "86401", *args, cwd=tmp_path)
    assert long.returncode == 2
    assert "AUTH_MAX_TOKEN_LIFETIME_SECONDS" in long.stderr
    assert long.stdout == ""


def test_environment_variables_are_honoured(safechat_bin: str, tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "from-env"
    env = clean_env(SAFECHAT_PORT=str(port), SAFECHAT_DATA_DIR=str(data))
    out = run_cli(safechat_bin, "token", "user_env", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    claims = jwt.decode(out.stdout.strip(), options={"verify_signature": False})
    assert claims["iss"] == f"http://127.0.0.1:{port}"
    assert (data / "dev-issuer-key.pem").exists()
    assert not (tmp_path / "var").exists()

    # Command-line options beat the environment.
    other = free_port()
    out = run_cli(safechat_bin, "token", "user_env", "--port", str(other), cwd=tmp_path, env=env)
    claims = jwt.decode(out.stdout.strip(), options={"verify_signature": False})
    assert claims["iss"] == f"http://127.0.0.1:{other}"

    # A .env file in the working directory is read too, below the real environment.
    (tmp_path / ".env").write_text(f"SAFECHAT_PORT={other}\n")
    out = run_cli(safechat_bin, "token", "user_env", "--data-dir", str(data), cwd=tmp_path)
    claims = jwt.decode(out.stdout.strip(), options={"verify_signature": False})
    assert claims["iss"] == f"http://127.0.0.1:{other}"

    bad = clean_env(SAFECHAT_PORT="not-a-port")
    out = run_cli(safechat_bin, "token", "user_env", cwd=tmp_path / "from-env", env=bad)
    assert out.returncode == 2
    assert "invalid configuration" in out.stderr
    assert out.stdout == ""

    # Production without an identity provider does not start, and says why (no secrets).
    secret = "k1:" + "S" * 43 + "="
    prod = clean_env(SAFECHAT_ENV="production", ENCRYPTION_KEYS=secret)
    out = run_cli(safechat_bin, "serve", "--data-dir", str(data), cwd=tmp_path, env=prod)
    assert out.returncode == 2
    assert "CLERK_JWKS_URL" in out.stderr
    assert "SAFECHAT_ALLOW_DEV_ISSUER=true" in out.stderr
    assert "SSSS" not in out.stderr


def test_doctor(safechat_bin: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = run_cli(safechat_bin, "doctor", "--data-dir", str(data), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "FAIL" not in out.stdout
    assert "all checks passed" in out.stdout
    assert "embedded SecantusDB" in out.stdout
    assert "dev issuer" in out.stdout

    closed = free_port()
    env = clean_env(MONGODB_URI=f"mongodb://127.0.0.1:{closed}/?directConnection=true")
    out = run_cli(safechat_bin, "doctor", "--data-dir", str(data), cwd=tmp_path, env=env)
    assert out.returncode != 0
    failing = [line for line in out.stdout.splitlines() if "FAIL" in line]
    assert len(failing) == 1, out.stdout
    assert "mongodb" in failing[0], out.stdout


# --- restarts of the real server -------------------------------------------------------


async def api(
    http: aiohttp.ClientSession, method: str, url: str, token: str, json: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with http.request(method, url, json=json, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


def mint(safechat_bin: str, sub: str, port: int, data_dir: Path, cwd: Path) -> str:
    out = run_cli(
        safechat_bin, "token", sub, "--port", str(port), "--data-dir", str(data_dir), cwd=cwd
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


async def test_history_survives_sigterm_and_sigint_restarts(
    safechat_bin: str, serve_setup: tuple[int, Path], tmp_path: Path
) -> None:
    port, data_dir = serve_setup
    cwd = tmp_path
    async with aiohttp.ClientSession() as http:
        runs = [Serve(safechat_bin, port, data_dir, cwd) for _ in range(3)]
        try:
            first = runs[0]
            await first.start(http)
            assert first.proc is not None
            children = database_children(data_dir)
            assert [parent_of(pid) for pid, _ in children] == [first.proc.pid], children

            alice = mint(safechat_bin, "user_alice", port, data_dir, cwd)
            bob = mint(safechat_bin, "user_bob", port, data_dir, cwd)
            assert (await api(http, "GET", first.url + "/api/me", bob))[0] == 200
            status, body = await api(
                http,
                "POST",
                first.url + "/api/groups",
                alice,
                {"name": "durable", "memberIds": ["user_bob"]},
            )
            assert status == 201, body
            gid = body["group"]["id"]
            history_url = f"/api/messages/group/{gid}"
            sent: list[dict[str, Any]] = []

            async def send(server: Serve, token: str, text: str) -> None:
                status, body = await api(
                    http,
                    "POST",
                    server.url + "/api/messages",
                    token,
                    {"groupId": gid, "content": text},
                )
                assert status == 201, body
                assert body["message"]["seq"] == len(sent) + 1  # no gap, no reuse
                sent.append(body["message"])

            for token, text in [(alice, "first"), (bob, "second é ✓"), (alice, "third")]:
                await send(first, token, text)

            for sig, (old, new) in zip(
                (signal.SIGTERM, signal.SIGINT), itertools.pairwise(runs), strict=True
            ):
                _, before = await api(http, "GET", old.url + history_url, alice)
                code = await old.stop(sig)
                assert code == 0, old.log.read_text()
                assert database_children(data_dir) == [], sig

                await new.start(http)
                # Tokens minted before the restart still verify: same key, same issuer.
                status, body = await api(http, "GET", new.url + history_url, bob)
                assert status == 200, body
                got = body["messages"]
                assert [(m["id"], m["seq"], m["content"], m["senderId"]) for m in got] == [
                    (m["id"], m["seq"], m["content"], m["senderId"]) for m in sent
                ], sig
                assert got == before["messages"]
                _, groups = await api(http, "GET", new.url + "/api/groups", bob)
                assert [g["id"] for g in groups["groups"]] == [gid]
                await send(new, alice, f"after {sig.name}")

            assert [m["content"] for m in sent] == [
                "first",
                "second é ✓",
                "third",
                "after SIGTERM",
                "after SIGINT",
            ]
            assert await runs[2].stop(signal.SIGTERM) == 0
            assert database_children(data_dir) == []
        finally:
            for run in runs:
                run.kill()


async def test_killed_server_leaves_no_database_and_its_sessions_are_closed(
    safechat_bin: str, serve_setup: tuple[int, Path], tmp_path: Path
) -> None:
    port, data_dir = serve_setup
    async with aiohttp.ClientSession() as http:
        first = Serve(safechat_bin, port, data_dir, tmp_path)
        second = Serve(safechat_bin, port, data_dir, tmp_path)
        sio = socketio.AsyncClient(reconnection=False)
        try:
            await first.start(http)
            token = mint(safechat_bin, "user_alice", port, data_dir, tmp_path)
            welcome: asyncio.Queue[Any] = asyncio.Queue()
            sio.on("authentication_success", welcome.put_nowait)
            await sio.connect(first.url, auth={"token": token}, transports=["websocket"])
            session_id = (await asyncio.wait_for(welcome.get(), 5))["sessionId"]

            # kill -9: the database child is told by the kernel (parent-death signal).
            assert first.proc is not None
            first.proc.kill()
            await asyncio.to_thread(first.proc.wait, 10)
            # SecantusDB takes ~4 s to shut down cleanly on SIGTERM when idle, several
            # times that on a loaded CI machine (once past 45 s).
            deadline = time.monotonic() + 90
            while database_children(data_dir) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert database_children(data_dir) == []

            await second.start(http)
            ((_, argv),) = database_children(data_dir)
            db_port = argv[argv.index("--port") + 1]
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                f"mongodb://127.0.0.1:{db_port}/?directConnection=true",
                serverSelectionTimeoutMS=5000,
            )
            try:
                doc = await client.safechat.sessions.find_one({"sessionId": session_id})
            finally:
                await client.close()
            assert doc is not None
            assert doc["endedAt"] is not None  # closed by the restarted node, not left online
            status, body = await api(http, "GET", second.url + "/api/me", token)
            assert status == 200
            assert body["user"]["userId"] == "user_alice"
            assert await second.stop(signal.SIGTERM) == 0
        finally:
            with contextlib.suppress(Exception):
                await sio.disconnect()
            first.kill()
            second.kill()
