"""Clear answers from the command line and the verifier (issue 12, "fixes a client
developer hit"): `safechat token` refusals and its issuer line, a token for another
issuer, `serve` on a busy port or a data dir another server holds."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import aiohttp
import pytest

from safechat.adapters.embedded_mongo import free_port
from safechat.container import SERVICES
from safechat.services.auth import DevIssuer
from tests.helpers.processes import Serve, clean_env, kill_tree, run_cli
from tests.helpers.redis_server import RedisServer
from tests.helpers.support import ChatServer


def args_for(tmp_path: Path, port: int | None = None) -> tuple[str, ...]:
    return ("--port", str(port or free_port()), "--data-dir", str(tmp_path / "data"))


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("",), "must not be empty"),
        (("   ",), "must not be empty"),
        (("user_a", "--ttl", "0"), "--ttl must be"),
        (("user_a", "--ttl", "-5"), "--ttl must be"),
    ],
)
def test_token_refuses_an_empty_sub_and_a_non_positive_ttl(
    safechat_bin: str, tmp_path: Path, argv: tuple[str, ...], says: str
) -> None:
    out = run_cli(safechat_bin, "token", *argv, *args_for(tmp_path), cwd=tmp_path)
    assert out.returncode == 2
    assert says in out.stderr
    assert out.stdout == ""


def test_token_says_which_issuer_it_signs_for(safechat_bin: str, tmp_path: Path) -> None:
    port = free_port()
    out = run_cli(safechat_bin, "token", "user_a", *args_for(tmp_path, port), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"signed by the dev issuer http://127.0.0.1:{port}" in out.stderr
    # The same settings as `serve`: the environment moves the issuer for both.
    env_out = run_cli(
        safechat_bin,
        "token",
        "user_a",
        "--data-dir",
        str(tmp_path / "data"),
        cwd=tmp_path,
        env={**os.environ, "SAFECHAT_PUBLIC_URL": "https://chat.example"},
    )
    assert env_out.returncode == 0, env_out.stderr
    assert "signed by the dev issuer https://chat.example" in env_out.stderr


async def test_a_token_for_another_issuer_names_the_expected_one(server: ChatServer) -> None:
    mine = server.app[SERVICES].dev_issuer
    assert mine is not None
    foreign = DevIssuer(mine._key, "https://elsewhere.example")
    token = foreign.mint("user_foreign", ttl_seconds=300)
    status, body = await server.request("GET", "/api/me", token)
    assert status == 401
    assert body["error"]["code"] == "INVALID_TOKEN"
    message = body["error"]["message"]
    assert server.settings.issuer in message
    assert token not in message
    assert "elsewhere" not in message


def test_serve_on_a_busy_port_says_so_in_one_line(safechat_bin: str, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        try:
            out = run_cli(safechat_bin, "serve", *args_for(tmp_path, port), cwd=tmp_path)
        finally:
            kill_tree(tmp_path / "data")
    assert out.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr
    assert "Traceback" not in out.stderr


async def test_serve_on_a_data_dir_in_use_says_so(safechat_bin: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Serve(safechat_bin, free_port(), data_dir, tmp_path)
    async with aiohttp.ClientSession() as http:
        try:
            await first.start(http)
            out = run_cli(safechat_bin, "serve", *args_for(tmp_path), cwd=tmp_path)
            assert out.returncode == 1
            assert f"data dir {data_dir} is in use" in out.stderr
            assert "Traceback" not in out.stderr
            async with http.get(first.url + "/health") as resp:  # the first one is unharmed
                assert resp.status == 200
        finally:
            first.kill()
            kill_tree(data_dir)


def test_doctor_checks_redis_when_it_is_configured(
    safechat_bin: str, tmp_path: Path, redis_server: RedisServer
) -> None:
    data = ("--data-dir", str(tmp_path / "data"))
    out = run_cli(safechat_bin, "doctor", *data, cwd=tmp_path)
    assert "redis" in out.stdout
    assert "single node" in out.stdout
    env = clean_env(REDIS_URL=redis_server.url)
    out = run_cli(safechat_bin, "doctor", *data, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stdout
    assert f"reachable at 127.0.0.1:{redis_server.port}" in out.stdout
    env = clean_env(REDIS_URL=f"redis://:secretpw@127.0.0.1:{free_port()}/0")
    out = run_cli(safechat_bin, "doctor", *data, cwd=tmp_path, env=env)
    assert out.returncode != 0
    failing = [line for line in out.stdout.splitlines() if "FAIL" in line]
    assert len(failing) == 1, out.stdout
    assert "redis" in failing[0]
    assert "secretpw" not in out.stdout
