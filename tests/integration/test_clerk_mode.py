"""Clerk mode end to end: tokens verified against a JWKS served over HTTP.

A small aiohttp server stands in for Clerk: it serves a JWKS built from RSA keys the
test generates, can change its key set while the test runs, and counts fetches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
import socketio
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from safechat.adapters.embedded_mongo import free_port
from safechat.adapters.jwks import HttpJwks
from safechat.container import SERVICES
from safechat.services.ports import SystemClock
from tests.helpers.support import ChatServer, EventClient, start_server

CLERK_ISSUER = "https://clerk.example.test"
COOLDOWN = 1.0  # seconds between JWKS refetches for unknown kids, shortened for tests
APP_ORIGIN = "https://app.example.test"


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(
            self.private.public_key(), as_dict=True
        )
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return jwk

    def token(self, sub: str, *, issuer: str = CLERK_ISSUER, **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "sub": sub,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "sid": f"sess_{sub}",
            **claims,
        }
        return jwt.encode(body, self.private, algorithm="RS256", headers={"kid": self.kid})


@dataclass
class JwksFixture:
    """The stand-in for Clerk's JWKS endpoint."""

    keys: list[SigningKey]
    url: str = ""
    fetches: int = 0
    status: int = 200
    runner: web.AppRunner | None = None

    async def handle(self, _request: web.Request) -> web.Response:
        self.fetches += 1
        if self.status != 200:
            return web.json_response({"error": "unavailable"}, status=self.status)
        return web.json_response({"keys": [k.jwk() for k in self.keys]})

    async def start(self) -> JwksFixture:
        app = web.Application()
        app.router.add_get("/.well-known/jwks.json", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/.well-known/jwks.json"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


# RSA key generation is the slow part: make the keys once per module.
@pytest.fixture(scope="module")
def key1() -> SigningKey:
    return SigningKey("ins_key_1")


@pytest.fixture(scope="module")
def key2() -> SigningKey:
    return SigningKey("ins_key_2")


@pytest.fixture(scope="module")
def stranger() -> SigningKey:
    return SigningKey("ins_key_1")  # same kid as key1, other key material


@pytest.fixture
async def jwks(key1: SigningKey) -> AsyncIterator[JwksFixture]:
    fixture = await JwksFixture([key1]).start()
    try:
        yield fixture
    finally:
        await fixture.stop()


@pytest.fixture
async def clerk(
    jwks: JwksFixture, mongo_uri: str, db_name: str, tmp_path: Path
) -> AsyncIterator[ChatServer]:
    srv = await start_server(
        mongo_uri=mongo_uri,
        db_name=db_name,
        data_dir=tmp_path / "data",
        clerk_jwks_url=jwks.url,
        clerk_issuer=CLERK_ISSUER,
        allowed_origins=[APP_ORIGIN],
        clerk_jwks_cooldown_seconds=COOLDOWN,
    )
    try:
        yield srv
    finally:
        await srv.stop()


async def socket_client(server: ChatServer, token: str) -> EventClient:
    client = EventClient(server.url, token)
    server.clients.append(client)

    @client.sio.on("connect_error")
    async def on_error(data: Any = None) -> None:
        client.events["connect_error"].put_nowait(data)

    return client


async def refused_socket(server: ChatServer, token: str) -> dict[str, Any]:
    client = await socket_client(server, token)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect()
    error = await client.wait_for("connect_error")
    assert client.sio.connected is False
    assert isinstance(error["message"], str)
    assert error["message"]
    data: dict[str, Any] = error["data"]
    return data


async def test_clerk_token_works_for_rest_and_socket(
    clerk: ChatServer, jwks: JwksFixture, key1: SigningKey
) -> None:
    token = key1.token(
        "user_clerk_1",
        email="ada@example.test",
        given_name="Ada",
        family_name="Lovelace",
        azp=APP_ORIGIN,
    )
    status, body = await clerk.request("GET", "/api/me", token)
    assert status == 200, body
    assert body["success"] is True
    user = body["user"]
    assert user["userId"] == "user_clerk_1"
    assert user["email"] == "ada@example.test"
    assert user["firstName"] == "Ada"
    assert user["lastName"] == "Lovelace"

    client = await socket_client(clerk, token)
    await client.connect()
    welcome = await client.wait_for("authentication_success")
    assert welcome["user"]["userId"] == "user_clerk_1"
    assert await client.wait_for("user_groups") is not None
    # The keys were fetched once and then served from the cache.
    assert jwks.fetches == 1


async def test_socket_token_in_query_and_header(clerk: ChatServer, key1: SigningKey) -> None:
    token = key1.token("user_clerk_q")
    by_query = EventClient(clerk.url + f"?token={token}", "")
    clerk.clients.append(by_query)
    await by_query.connect(auth=None)
    assert (await by_query.wait_for("authentication_success"))["user"]["userId"] == "user_clerk_q"

    by_header = EventClient(clerk.url, "")
    clerk.clients.append(by_header)
    await by_header.connect(auth=None, headers={"Authorization": f"Bearer {token}"})
    assert (await by_header.wait_for("authentication_success"))["user"]["userId"] == (
        "user_clerk_q"
    )


async def test_token_from_another_key_is_refused(
    clerk: ChatServer, key1: SigningKey, stranger: SigningKey
) -> None:
    # Warm the cache first so the refusal is about the signature, not a fetch.
    status, _ = await clerk.request("GET", "/api/me", key1.token("user_ok"))
    assert status == 200

    forged = stranger.token("user_victim")
    status, body = await clerk.request("GET", "/api/me", forged)
    assert status == 401
    assert body["success"] is False
    assert body["error"]["code"] == "INVALID_TOKEN"

    data = await refused_socket(clerk, forged)
    assert data["code"] == "INVALID_TOKEN"
    assert data["message"]
    assert data["timestamp"].endswith("Z")

    # An unknown kid is refused the same way.
    unknown = SigningKey("ins_unknown", stranger.private)
    status, body = await clerk.request("GET", "/api/me", unknown.token("user_victim"))
    assert (status, body["error"]["code"]) == (401, "INVALID_TOKEN")


async def test_dev_issuer_tokens_are_refused_in_clerk_mode(
    clerk: ChatServer, key1: SigningKey
) -> None:
    assert clerk.app[SERVICES].dev_issuer is None
    # A token with the right key but the dev issuer's iss (the server's own URL).
    wrong_iss = key1.token("user_x", issuer=clerk.url)
    status, body = await clerk.request("GET", "/api/me", wrong_iss)
    assert (status, body["error"]["code"]) == (401, "INVALID_TOKEN")
    assert (await refused_socket(clerk, wrong_iss))["code"] == "INVALID_TOKEN"


async def test_expired_clerk_token(clerk: ChatServer, key1: SigningKey) -> None:
    expired = key1.token("user_x", exp=int(time.time()) - 60)
    status, body = await clerk.request("GET", "/api/me", expired)
    assert (status, body["error"]["code"]) == (401, "TOKEN_EXPIRED")
    assert (await refused_socket(clerk, expired))["code"] == "TOKEN_EXPIRED"


async def test_azp_must_be_an_allowed_origin(clerk: ChatServer, key1: SigningKey) -> None:
    other_app = key1.token("user_azp", azp="https://evil.example.test")
    status, body = await clerk.request("GET", "/api/me", other_app)
    assert (status, body["error"]["code"]) == (401, "INVALID_TOKEN")
    assert (await refused_socket(clerk, other_app))["code"] == "INVALID_TOKEN"

    ours = key1.token("user_azp", azp=APP_ORIGIN)
    status, _ = await clerk.request("GET", "/api/me", ours)
    assert status == 200
    client = await socket_client(clerk, ours)
    await client.connect()
    await client.wait_for("user_groups")


async def test_key_rotation(
    clerk: ChatServer, jwks: JwksFixture, key1: SigningKey, key2: SigningKey
) -> None:
    status, _ = await clerk.request("GET", "/api/me", key1.token("user_rot"))
    assert status == 200
    assert jwks.fetches == 1

    # Clerk starts publishing a new key and signing with it.
    jwks.keys = [key2, key1]
    new_token = key2.token("user_rot")

    # Right after a fetch, an unknown kid does not make SafeChat refetch (at most one
    # fetch per cool-down, so forged kids cannot hammer the JWKS endpoint).
    for _ in range(5):
        status, body = await clerk.request("GET", "/api/me", new_token)
        assert (status, body["error"]["code"]) == (401, "INVALID_TOKEN")
    assert jwks.fetches == 1

    # Once the cool-down is over (CLERK_JWKS_COOLDOWN_SECONDS, 30 s by default and
    # COOLDOWN here), the new kid makes SafeChat refetch the JWKS and the token is accepted.
    await asyncio.sleep(COOLDOWN + 0.05)

    status, body = await clerk.request("GET", "/api/me", new_token)
    assert status == 200, body
    assert jwks.fetches == 2
    client = await socket_client(clerk, new_token)
    await client.connect()
    await client.wait_for("user_groups")
    # Tokens of the old key keep working while the JWKS still lists it.
    status, _ = await clerk.request("GET", "/api/me", key1.token("user_rot"))
    assert status == 200
    assert jwks.fetches == 2


async def test_no_dev_issuer_jwks_in_clerk_mode(clerk: ChatServer) -> None:
    async with clerk.http.get(clerk.url + "/.well-known/jwks.json") as resp:
        assert resp.status == 404


async def test_concurrent_first_logins_fetch_the_jwks_once(
    clerk: ChatServer, jwks: JwksFixture, key1: SigningKey
) -> None:
    # After a restart every client reconnects at once: one JWKS fetch serves them all.
    tokens = [key1.token(f"user_herd_{i}") for i in range(8)]
    results = await asyncio.gather(*(clerk.request("GET", "/api/me", t) for t in tokens))
    assert [status for status, _ in results] == [200] * 8
    assert jwks.fetches == 1


# --- the JWKS key source on its own, with short timings ------------------------------------


async def test_http_jwks_refetches_once_when_the_cache_expires(
    jwks: JwksFixture, key1: SigningKey
) -> None:
    source = HttpJwks(jwks.url, SystemClock(), ttl=0.3, min_refresh=0.1)
    try:
        assert await source.key_for(key1.kid) is not None
        assert jwks.fetches == 1
        await asyncio.sleep(0.35)
        keys = await asyncio.gather(*(source.key_for(key1.kid) for _ in range(8)))
        assert all(k is not None for k in keys)
        assert jwks.fetches == 2
    finally:
        await source.close()


async def test_http_jwks_outage_keeps_old_keys_and_throttles_retries(
    jwks: JwksFixture, key1: SigningKey
) -> None:
    source = HttpJwks(jwks.url, SystemClock(), ttl=60, min_refresh=0.3)
    try:
        assert await source.key_for(key1.kid) is not None
        jwks.status = 503
        await asyncio.sleep(0.35)
        # Unknown kids during an outage: one attempt per cool-down, not one per token.
        for i in range(5):
            assert await source.key_for(f"forged_{i}") is None
        assert jwks.fetches == 2
        # The cached key keeps working.
        assert await source.key_for(key1.kid) is not None
        # When the endpoint recovers, the next unknown kid after the cool-down refetches.
        jwks.status = 200
        await asyncio.sleep(0.35)
        assert await source.key_for("forged_again") is None
        assert jwks.fetches == 3
    finally:
        await source.close()


async def test_http_jwks_first_fetch_failure_is_retried_after_cool_down(
    jwks: JwksFixture, key1: SigningKey
) -> None:
    jwks.status = 500
    source = HttpJwks(jwks.url, SystemClock(), ttl=60, min_refresh=0.2)
    try:
        assert await source.key_for(key1.kid) is None
        assert await source.key_for(key1.kid) is None
        assert jwks.fetches == 1
        jwks.status = 200
        await asyncio.sleep(0.25)
        assert await source.key_for(key1.kid) is not None
        assert jwks.fetches == 2
    finally:
        await source.close()
