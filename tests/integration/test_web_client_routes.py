"""The web client's routes: `/`, its files under /app/, and the dev-only POST /api/dev/token."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from safechat.routes.dev import dev_token
from tests.helpers.support import ChatServer, start_server


@pytest.fixture
async def make_server(mongo_uri: str, db_name: str, tmp_path: Path) -> AsyncIterator[Any]:
    started: list[ChatServer] = []

    async def make(**overrides: Any) -> ChatServer:
        srv = await start_server(
            mongo_uri=mongo_uri,
            db_name=db_name,
            data_dir=tmp_path / f"data{len(started)}",
            **overrides,
        )
        started.append(srv)
        return srv

    yield make
    for srv in started:
        await srv.stop()


async def get(server: ChatServer, path: str) -> tuple[int, str, dict[str, str]]:
    async with server.http.get(server.url + path) as resp:
        return resp.status, await resp.text(), dict(resp.headers)


async def test_index_files_and_vendor_build_are_served(server: ChatServer) -> None:
    status, html, headers = await get(server, "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert '<script type="module" src="/app/js/main.js">' in html
    for path in ("/app/js/main.js", "/app/js/chat.js", "/app/app.css"):
        status, _, _ = await get(server, path)
        assert status == 200, path
    status, js, headers = await get(server, "/app/vendor/socket.io.esm.min.js")
    assert status == 200, "run `make install` (scripts/web-vendor.sh)"
    assert headers["Content-Type"].startswith("text/javascript")
    assert "export" in js
    status, _, _ = await get(server, "/app/../config.py")
    assert status == 404
    status, body = await server.request("GET", "/app/config.json")
    assert (status, body) == (200, {"devSignIn": True, "auth": "dev-issuer"})


async def test_dev_token_signs_in_as_anyone_in_dev_on_loopback(server: ChatServer) -> None:
    status, body = await server.request(
        "POST", "/api/dev/token", json={"userId": "user_web", "name": "Wendy Eb"}
    )
    assert status == 200, body
    assert body["userId"] == "user_web"
    status, me = await server.request("GET", "/api/me", body["token"])
    assert status == 200
    assert me["user"]["userId"] == "user_web"
    assert (me["user"]["firstName"], me["user"]["lastName"]) == ("Wendy", "Eb")


@pytest.mark.parametrize(
    "body",
    [{}, {"userId": ""}, {"userId": "a b"}, {"userId": "x" * 65}, {"userId": "u", "extra": 1}],
)
async def test_dev_token_validates_its_body(server: ChatServer, body: dict[str, Any]) -> None:
    status, answer = await server.request("POST", "/api/dev/token", json=body)
    assert status == 400
    assert answer["error"]["code"] == "VALIDATION_ERROR"


async def test_dev_token_is_rate_limited(make_server: Any) -> None:
    srv = await make_server(rate_dev_token_per_minute=2)
    codes = [
        (await srv.request("POST", "/api/dev/token", json={"userId": f"u{i}"}))[0] for i in range(3)
    ]
    assert codes == [200, 200, 429]


@pytest.mark.parametrize(
    "overrides",
    [
        {"host": "0.0.0.0"},  # listening beyond loopback
        {"host": "192.0.2.10"},
        {
            "env": "production",
            "allow_dev_issuer": True,
            "allowed_origins": ["https://a.example"],
            "encryption_keys": "k1:" + base64.b64encode(bytes(range(32))).decode(),
        },
    ],
)
async def test_dev_token_is_absent_outside_dev_on_loopback(
    make_server: Any, overrides: dict[str, Any]
) -> None:
    srv = await make_server(**overrides)
    status, body = await srv.request("POST", "/api/dev/token", json={"userId": "user_x"})
    assert status == 404
    assert body["error"]["code"] == "NOT_FOUND"
    status, config = await srv.request("GET", "/app/config.json")
    assert (status, config["devSignIn"]) == (200, False)


async def test_dev_token_refuses_a_caller_not_on_loopback(server: ChatServer) -> None:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        ("203.0.113.7", 5555) if name == "peername" else default
    )
    request = make_mocked_request("POST", "/api/dev/token", app=server.app, transport=transport)
    assert request.remote == "203.0.113.7"
    with pytest.raises(web.HTTPNotFound):
        await dev_token(request)


async def test_web_client_can_be_turned_off(make_server: Any) -> None:
    srv = await make_server(web_client=False)
    status, _, _ = await get(srv, "/")
    assert status == 404
    status, _, _ = await get(srv, "/app/js/main.js")
    assert status == 404
