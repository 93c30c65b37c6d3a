"""Test helpers: a running SafeChat server and socket clients that record events."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web

from safechat.adapters.embedded_mongo import free_port
from safechat.adapters.http_guard import runner_options
from safechat.app import create_app
from safechat.config import Settings
from safechat.container import SERVICES
from safechat.services.ports import Clock


class EventClient:
    """python-socketio AsyncClient that queues every event it receives, by name."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        self.sio.on("*", self._record)

    async def _record(self, event: str, *args: Any) -> None:
        self.events[event].put_nowait(args[0] if len(args) == 1 else args)

    async def connect(self, **kwargs: Any) -> EventClient:
        kwargs.setdefault("auth", {"token": self.token})
        kwargs.setdefault("transports", ["websocket"])
        await self.sio.connect(self.url, wait_timeout=10, **kwargs)
        return self

    async def call(self, event: str, data: Any = None, timeout: float = 10) -> Any:
        return await self.sio.call(event, data, timeout=timeout)

    async def wait_for(self, event: str, timeout: float = 5.0) -> Any:
        return await asyncio.wait_for(self.events[event].get(), timeout)

    async def expect_none(self, event: str, within: float = 0.3) -> None:
        await asyncio.sleep(within)
        assert self.events[event].empty(), f"unexpected {event}: {self.events[event].get_nowait()}"

    def drain(self, event: str) -> list[Any]:
        out = []
        while not self.events[event].empty():
            out.append(self.events[event].get_nowait())
        return out

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


@dataclass
class ChatServer:
    settings: Settings
    app: web.Application
    runner: web.AppRunner
    http: aiohttp.ClientSession
    clients: list[EventClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def token(self, sub: str, **claims: Any) -> str:
        issuer = self.app[SERVICES].dev_issuer
        assert issuer is not None
        return issuer.mint(sub, **claims)

    async def user(self, sub: str, **claims: Any) -> str:
        """A token for a user who has signed in once (so others can add them)."""
        token = self.token(sub, **claims)
        status, _ = await self.request("GET", "/api/me", token)
        assert status == 200
        return token

    async def client(
        self, sub_or_token: str, *, connect: bool = True, **claims: Any
    ) -> EventClient:
        token = sub_or_token if sub_or_token.count(".") == 2 else self.token(sub_or_token, **claims)
        client = EventClient(self.url, token)
        self.clients.append(client)
        if connect:
            await client.connect()
            await client.wait_for("user_groups")
        return client

    async def request(
        self, method: str, path: str, token: str | None = None, json: Any = None, **kw: Any
    ) -> tuple[int, Any]:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.request(
            method, self.url + path, json=json, headers=headers, **kw
        ) as resp:
            body = await resp.json(content_type=None)
            return resp.status, body

    async def group(self, token: str, name: str = "room", **body: Any) -> str:
        status, data = await self.request("POST", "/api/groups", token, {"name": name, **body})
        assert status == 201, data
        return str(data["group"]["id"])

    async def stop(self) -> None:
        for c in self.clients:
            await c.close()
        await self.http.close()
        await self.runner.cleanup()


# The developer's environment must not point test servers at real services.
ISOLATED: dict[str, Any] = {
    "redis_url": None,
    "s3_bucket": None,
    "openai_api_key": None,
    "openai_base_url": None,
    "clerk_jwks_url": None,
    "clerk_issuer": None,
    "encryption_keys": None,
    # Session records end when their socket closes (tests that check resumption set it).
    "session_resume_seconds": 0,
}

# Tests fire events far faster than people do; rate-limit tests set their own limits.
GENEROUS_LIMITS: dict[str, Any] = {
    "rate_send_per_second": 10_000.0,
    "rate_send_burst": 10_000,
    "rate_events_per_second": 10_000.0,
    "rate_events_burst": 10_000,
    "rate_rest_per_minute": 1_000_000,
    "rate_group_create_per_minute": 1_000_000,
    "rate_group_create_burst": 1_000_000,
}


async def start_server(
    *, mongo_uri: str, db_name: str, data_dir: Path, clock: Clock | None = None, **overrides: Any
) -> ChatServer:
    port = free_port()
    settings = Settings(
        port=port,
        data_dir=data_dir,
        mongodb_uri=mongo_uri,
        mongodb_db=db_name,
        log_level="WARNING",
        **{**ISOLATED, **GENEROUS_LIMITS, **overrides},
    )
    app = create_app(settings, clock=clock)
    runner = web.AppRunner(app, **runner_options(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return ChatServer(settings, app, runner, aiohttp.ClientSession())


async def pair(server: ChatServer) -> tuple[str, EventClient, EventClient]:
    """Alice (owner) and Bob in one group, both connected."""
    alice = await server.user("user_alice", first_name="Alice")
    await server.user("user_bob", first_name="Bob")
    gid = await server.group(alice, memberIds=["user_bob"])
    a = await server.client(alice)
    b = await server.client("user_bob")
    return gid, a, b


@contextlib.asynccontextmanager
async def module_server(mongo_uri: str, data_dir: Path) -> AsyncIterator[ChatServer]:
    """A server with its own database, for module-scoped fixtures."""
    srv = await start_server(
        mongo_uri=mongo_uri, db_name=f"t_{uuid.uuid4().hex[:12]}", data_dir=data_dir
    )
    try:
        yield srv
    finally:
        await srv.stop()


def terminate(proc: subprocess.Popen[Any], grace: float = 15.0) -> None:
    """SIGTERM (a clean shutdown flushes the database), SIGKILL after `grace` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def fill_template(template: Any, values: dict[str, str]) -> Any:
    """Replaces {name} placeholders in a payload or path template, recursively.

    Plain replacement rather than str.format, so other braces in bad-input strings stay.
    """
    if isinstance(template, str):
        for name, value in values.items():
            template = template.replace("{" + name + "}", value)
        return template
    if isinstance(template, dict):
        return {fill_template(k, values): fill_template(v, values) for k, v in template.items()}
    if isinstance(template, list | tuple):
        return type(template)(fill_template(v, values) for v in template)
    return template


def require_node(package_dir: Path, make_target: str) -> str:
    """The `node` executable, failing (never skipping) when it or the npm package is missing."""
    exe = shutil.which("node")
    if exe is None:
        pytest.fail(f"node not found: run `make {make_target}` (or `make test`) to install it")
    if not package_dir.is_dir():
        pytest.fail(f"{package_dir} missing: run `make {make_target}` (or `make test`)")
    return exe


async def refusal(server: ChatServer, url: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """Connects a raw client that must be refused; returns what `connect_error` carried."""
    sio = socketio.AsyncClient(reconnection=False)
    seen: asyncio.Queue[Any] = asyncio.Queue()

    async def on_error(data: Any = None) -> None:
        seen.put_nowait(data)

    sio.on("connect_error", on_error)

    kwargs.setdefault("transports", ["websocket"])
    try:
        await sio.connect(url or server.url, wait_timeout=10, **kwargs)
    except socketio.exceptions.ConnectionError:
        pass
    else:
        await sio.disconnect()
        raise AssertionError("connection was accepted")
    data = await asyncio.wait_for(seen.get(), 5)
    assert sio.connected is False
    assert isinstance(data, dict)
    return data
