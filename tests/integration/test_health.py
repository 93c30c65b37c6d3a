"""Health, info, readiness and the dev issuer's JWKS."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from urllib.parse import urlparse

import jwt

from safechat import __version__
from safechat.adapters.embedded_mongo import free_port
from tests.helpers.support import ChatServer, start_server


async def test_health(server: ChatServer) -> None:
    status, body = await server.request("GET", "/health")
    assert status == 200
    assert set(body) == {"status", "database", "redis", "uptime", "version"}
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] == "off"
    assert isinstance(body["uptime"], int | float)
    assert body["uptime"] >= 0
    assert body["version"] == __version__
    await asyncio.sleep(0.05)
    _, later = await server.request("GET", "/health")
    assert later["uptime"] > body["uptime"]


async def test_info(server: ChatServer) -> None:
    status, body = await server.request("GET", "/info")
    assert status == 200
    assert body["name"] == "SafeChat"
    assert body["version"] == __version__
    assert body["env"] == "dev"
    assert body["socketPath"] == "/socket.io/"
    assert body["apiPrefixes"] == ["/api", "/api/v1"]
    assert body["auth"] == "dev-issuer"
    assert body["issuer"] == server.url
    assert body["limits"]["messageChars"] == 4000
    assert body["limits"]["frameBytes"] == 64 * 1024


async def test_live_and_ready_under_both_prefixes_without_auth(server: ChatServer) -> None:
    for prefix in ("/api", "/api/v1"):
        status, body = await server.request("GET", f"{prefix}/health/live")
        assert (status, body) == (200, {"status": "ok"})
        status, body = await server.request("GET", f"{prefix}/health/ready")
        assert (status, body) == (200, {"status": "ok", "database": True})


async def test_jwks_has_the_dev_issuers_key(server: ChatServer) -> None:
    async with server.http.get(server.url + "/.well-known/jwks.json") as resp:
        assert resp.status == 200
        assert "max-age" in resp.headers.get("Cache-Control", "")
        body = await resp.json()
    assert len(body["keys"]) == 1
    key = body["keys"][0]
    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    assert key["use"] == "sig"
    assert "d" not in key
    assert "p" not in key
    token = server.token("user_jwks")
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]
    # A third party can verify our tokens with the published key alone.
    claims = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        issuer=server.url,
        options={"verify_aud": False},
    )
    assert claims["sub"] == "user_jwks"


async def test_request_id_is_echoed_or_generated(server: ChatServer) -> None:
    for path in ("/health", "/api/health/live", "/api/me", "/api/nowhere"):
        async with server.http.get(server.url + path, headers={"X-Request-Id": "req-42"}) as resp:
            assert resp.headers["X-Request-Id"] == "req-42", path
        async with server.http.get(server.url + path) as resp:
            generated = resp.headers.get("X-Request-Id", "")
            assert generated, path
            assert generated != "req-42", path
    long_id = "x" * 200
    async with server.http.get(server.url + "/health", headers={"X-Request-Id": long_id}) as resp:
        assert resp.headers["X-Request-Id"] == long_id[:64]


async def test_api_needs_a_token_but_health_does_not(server: ChatServer) -> None:
    status, body = await server.request("GET", "/api/me")
    assert status == 401
    assert body["success"] is False
    assert body["error"]["code"] == "AUTHENTICATION_FAILED"
    status, body = await server.request("GET", "/api/v1/me", "garbage")
    assert status == 401
    assert body["error"]["code"] == "INVALID_TOKEN"


class TcpProxy:
    """A TCP relay we can cut, to take the database away from a running server."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._relay, "127.0.0.1", self.port, reuse_address=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers.difference_update((writer, up_writer))

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.close()
        self._writers.clear()


async def test_health_reports_a_lost_database_and_recovers(
    mongo_uri: str, db_name: str, tmp_path: Path
) -> None:
    target = urlparse(mongo_uri)
    assert target.hostname
    assert target.port
    proxy = TcpProxy(target.hostname, target.port)
    await proxy.start()
    srv = await start_server(
        mongo_uri=f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true",
        db_name=db_name,
        data_dir=tmp_path / "data",
        db_timeout_ms=300,
    )
    try:
        assert (await srv.request("GET", "/health"))[1]["status"] == "ok"
        await proxy.cut()

        started = time.monotonic()
        status, body = await srv.request("GET", "/health")
        assert time.monotonic() - started < 3  # the ping has a timeout
        assert status == 200
        assert body["status"] == "degraded"
        assert body["database"] == "unreachable"
        status, body = await srv.request("GET", "/api/health/ready")
        assert (status, body) == (503, {"status": "unavailable", "database": False})
        assert (await srv.request("GET", "/api/health/live"))[0] == 200

        await proxy.start()
        deadline = time.monotonic() + 10
        while True:
            _, body = await srv.request("GET", "/health")
            if body["status"] == "ok" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert body == {**body, "status": "ok", "database": "ok"}
        assert (await srv.request("GET", "/api/v1/health/ready"))[0] == 200
    finally:
        await srv.stop()
        await proxy.cut()
