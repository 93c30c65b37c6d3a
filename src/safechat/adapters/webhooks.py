"""The WebhookSender port over aiohttp's client: one session per app, no redirects
followed (a signed delivery goes where it was configured to, or fails)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp


class HttpWebhookSender:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout_seconds: float
    ) -> int:
        async with self._session.post(
            url,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        ) as response:
            await response.read()  # bounded by the timeout; frees the connection
            return response.status


@contextlib.asynccontextmanager
async def open_webhook_sender() -> AsyncIterator[HttpWebhookSender]:
    connector = aiohttp.TCPConnector(limit=16)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield HttpWebhookSender(session)
