"""A real local HTTP receiver for SafeChat's webhooks: records every request, answers
what a test scripts (a status, or a hang past the sender's timeout)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from aiohttp import web

from safechat.adapters.embedded_mongo import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webhook_receiver.py"


def example_receiver() -> ModuleType:
    """The documented receiver (examples/webhook_receiver.py), imported."""
    spec = importlib.util.spec_from_file_location("webhook_receiver_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    at: float
    status: int

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def id(self) -> str:
        return self.headers["X-SafeChat-Delivery"]


@dataclass
class Receiver:
    secret: str
    port: int = field(default_factory=free_port)
    # Scripted answers, used in order; then `default`. "hang": no answer for 3 s.
    script: list[int | str] = field(default_factory=list)
    script_event: str | None = None  # the script answers only this event, when set
    default: int = 204
    got: list[Delivery] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        app.router.add_route("HEAD", "/hooks", self._head)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _head(self, request: web.Request) -> web.Response:
        return web.Response(status=405)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        scripted = self.script_event in (None, request.headers.get("X-SafeChat-Event"))
        answer = self.script.pop(0) if self.script and scripted else self.default
        status = 0 if answer == "hang" else int(answer)
        self.got.append(Delivery(dict(request.headers), body, time.monotonic(), status))
        self.arrived.set()
        if answer == "hang":
            await asyncio.sleep(3)  # past the sender's timeout in these tests
        return web.Response(status=status)

    def delivered(self, event: str | None = None) -> list[Delivery]:
        """Deliveries answered 2xx (of one event type)."""
        return [
            d
            for d in self.got
            if 200 <= d.status < 300 and (event is None or d.json["event"] == event)
        ]

    async def wait_for(self, count: int, event: str | None = None, timeout: float = 15) -> None:
        async with asyncio.timeout(timeout):
            while True:
                self.arrived.clear()  # no await between this and the check
                if len(self.delivered(event)) >= count:
                    return
                await self.arrived.wait()


@contextlib.asynccontextmanager
async def running_receiver(secret: str) -> AsyncIterator[Receiver]:
    receiver = await Receiver(secret).start()
    try:
        yield receiver
    finally:
        await receiver.stop()
