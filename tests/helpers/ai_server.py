"""An OpenAI-compatible HTTP server for the tests, so the real openai and
langchain-openai clients run: /v1/chat/completions (json_schema response_format
and tool calling), /v1/embeddings (float and base64), /v1/moderations.

Switches: `mode` = ok | fail (HTTP 500) | slow (sleeps `delay` s) | garbage
(answers that do not fit the schema). `requests` logs every call.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import math
import re
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from safechat.adapters.embedded_mongo import free_port

CATEGORIES = [
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "sexual",
    "sexual/minors", "violence", "violence/graphic",
]  # fmt: skip
REPLIES = ["Remote yes", "Remote maybe", "Remote no"]
DIMENSIONS = 32


def toy_vector(text: str) -> list[float]:
    """Bag of words hashed into DIMENSIONS slots: shared words -> similar vectors."""
    vector = [0.0] * DIMENSIONS
    for word in re.findall(r"[a-z]+", text.lower()):
        if len(word) > 2:
            vector[hashlib.sha256(word.encode()).digest()[0] % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class FakeOpenAI:
    def __init__(self) -> None:
        self.mode = "ok"
        self.delay = 5.0
        self.flag_words = {"badword", "remote-bad"}
        self.extra_reply: str | None = None
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/moderations", self._moderations)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/v1"
        return self.url

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _misbehave(self) -> web.Response | None:
        if self.mode == "fail":
            return web.json_response({"error": {"message": "boom", "type": "server"}}, status=500)
        if self.mode == "slow":
            with contextlib.suppress(TimeoutError):  # stop() ends the wait early
                await asyncio.wait_for(self._stopping.wait(), self.delay)
        return None

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(("chat", body))
        if (failed := await self._misbehave()) is not None:
            return failed
        fmt = body.get("response_format") or {}
        tools = body.get("tools") or []
        if fmt.get("type") == "json_schema":
            schema = fmt["json_schema"]["schema"]
        elif tools:
            schema = tools[0]["function"]["parameters"]
        else:
            schema = {"properties": {}}
        answer = self._answer(schema.get("properties", {}))
        content = "this is { not json" if self.mode == "garbage" else json.dumps(answer)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        finish = "stop"
        if tools and fmt.get("type") != "json_schema":
            name = tools[0]["function"]["name"]
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": name, "arguments": content}}
                ],
            }  # fmt: skip
            finish = "tool_calls"
        return web.json_response(
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "test"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )

    def _answer(self, properties: dict[str, Any]) -> dict[str, Any]:
        if "replies" in properties:
            replies = [*REPLIES, *([self.extra_reply] if self.extra_reply else [])]
            return {"replies": replies, "language": "en", "confidence": 0.9}
        if "completion" in properties:
            return {"completion": " from the remote model", "confidence": 0.8}
        if "summary" in properties:
            return {"summary": "Remote summary of the chat.", "topics": ["remote"]}
        return {}

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(("embeddings", body))
        if (failed := await self._misbehave()) is not None:
            return failed
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for i, text in enumerate(inputs):
            vector = toy_vector(str(text))
            if self.mode == "garbage":
                vector = vector[: 3 + i]  # vectors of different lengths
            item: Any = vector
            if body.get("encoding_format") == "base64":
                item = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": item})
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        )

    async def _moderations(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(("moderations", body))
        if (failed := await self._misbehave()) is not None:
            return failed
        if self.mode == "garbage":
            return web.json_response({"id": "modr", "results": "nope"})
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        results = []
        for text in inputs:
            bad = any(w in str(text).lower() for w in self.flag_words)
            results.append(
                {
                    "flagged": bad,
                    "categories": {c: bad and c == "harassment" for c in CATEGORIES},
                    "category_scores": {
                        c: (0.97 if bad and c == "harassment" else 0.001) for c in CATEGORIES
                    },
                }
            )
        return web.json_response(
            {"id": "modr-test", "model": body.get("model"), "results": results}
        )


@contextlib.asynccontextmanager
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
