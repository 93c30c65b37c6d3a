"""CORS on REST, health/info and local-media URLs (protocol §7), through the real server."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from safechat.config import Settings
from tests.helpers.support import ChatServer, start_server

APP = "https://app.example"
EVIL = "https://evil.example"


@pytest.fixture
async def cors_server(
    mongo_uri: str, db_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[ChatServer]:
    overrides = getattr(request, "param", {"allowed_origins": [APP]})
    srv = await start_server(mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path, **overrides)
    try:
        yield srv
    finally:
        await srv.stop()


async def preflight(
    srv: ChatServer, path: str, origin: str, method: str = "POST"
) -> tuple[int, dict[str, str]]:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    async with srv.http.options(srv.url + path, headers=headers) as resp:
        return resp.status, dict(resp.headers)


async def call(
    srv: ChatServer, method: str, path: str, origin: str, token: str | None = None, **kw: Any
) -> tuple[int, dict[str, str]]:
    headers = {"Origin": origin}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with srv.http.request(method, srv.url + path, headers=headers, **kw) as resp:
        await resp.read()
        return resp.status, dict(resp.headers)


def no_cors(headers: dict[str, str]) -> bool:
    return not any(name.lower().startswith("access-control-") for name in headers)


@pytest.mark.parametrize(
    "path", ["/api/groups", "/api/v1/groups", "/api/messages", "/health", "/info"]
)
async def test_preflight_from_an_allowed_origin_needs_no_token(
    cors_server: ChatServer, path: str
) -> None:
    status, headers = await preflight(cors_server, path, APP)
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == APP
    assert headers["Vary"] == "Origin"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    allowed = {h.strip() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"Authorization", "Content-Type", "X-Request-Id"} <= allowed
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in headers


async def test_real_answers_carry_the_origin_and_expose_headers(cors_server: ChatServer) -> None:
    srv = cors_server
    token = await srv.user("user_cors")
    for status_wanted, tok in ((200, token), (401, None)):  # errors too
        status, headers = await call(srv, "GET", "/api/groups", APP, tok)
        assert status == status_wanted
        assert headers["Access-Control-Allow-Origin"] == APP
        assert "Origin" in headers["Vary"]
        exposed = {h.strip() for h in headers["Access-Control-Expose-Headers"].split(",")}
        assert exposed == {"Retry-After", "X-Request-Id"}
    status, headers = await call(srv, "GET", "/health", APP)
    assert headers["Access-Control-Allow-Origin"] == APP


async def test_a_disallowed_origin_gets_no_cors_headers(cors_server: ChatServer) -> None:
    srv = cors_server
    status, headers = await preflight(srv, "/api/groups", EVIL)
    assert status == 403
    assert no_cors(headers)
    token = await srv.user("user_cors")
    status, headers = await call(srv, "GET", "/api/groups", EVIL, token)
    assert status == 200  # the server answers; the browser keeps the body from the page
    assert no_cors(headers)


async def test_the_servers_own_origin_is_always_allowed(cors_server: ChatServer) -> None:
    srv = cors_server
    for own in (srv.url, srv.url.replace("127.0.0.1", "localhost")):
        status, headers = await preflight(srv, "/api/groups", own)
        assert (status, headers["Access-Control-Allow-Origin"]) == (204, own)


async def test_local_media_urls_answer_preflights(cors_server: ChatServer) -> None:
    status, headers = await preflight(cors_server, "/media/local/some/key.png", APP, "PUT")
    assert status == 204
    assert "PUT" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Allow-Origin"] == APP


async def test_paths_outside_the_api_get_no_cors(cors_server: ChatServer) -> None:
    status, headers = await preflight(cors_server, "/metrics", APP, "GET")
    assert status != 204
    assert no_cors(headers)


@pytest.mark.parametrize("cors_server", [{}], indirect=True)
async def test_dev_mode_without_a_list_allows_any_origin(cors_server: ChatServer) -> None:
    status, headers = await preflight(cors_server, "/api/groups", EVIL)
    assert (status, headers["Access-Control-Allow-Origin"]) == (204, EVIL)


@pytest.mark.parametrize(
    "cors_server",
    [
        {
            "env": "production",
            "allow_dev_issuer": True,
            "encryption_keys": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        }
    ],
    indirect=True,
)
async def test_production_without_a_list_allows_only_its_own_origin(
    cors_server: ChatServer,
) -> None:
    srv = cors_server
    status, headers = await preflight(srv, "/api/groups", APP)
    assert status == 403
    assert no_cors(headers)
    status, headers = await preflight(srv, "/api/groups", srv.url)
    assert (status, headers["Access-Control-Allow-Origin"]) == (204, srv.url)


def test_a_star_is_refused_outside_dev(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"\*"):
        Settings(
            env="production",
            allowed_origins="*",
            data_dir=tmp_path,
            allow_dev_issuer=True,
            encryption_keys="k1:" + base64.b64encode(os.urandom(32)).decode(),
        )
