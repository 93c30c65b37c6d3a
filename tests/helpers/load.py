"""Steady send load for the fault tests, and the checks run after the fault.

Every send carries a tempId and its content names it, so afterwards the stored history
tells exactly which sends are there, and how many times.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import socketio

from tests.helpers.support import EventClient

# What a client waits for an ack before it gives up on it (socket.io-client apps use
# ~10 s): a send the server cannot store must be refused before that.
ACK_TIMEOUT = 10.0


@dataclass
class Sender:
    """Sends one message at a time to `gid`, each with a fresh tempId, until stopped.

    A send that is refused or never acknowledged stays in `unacked`; `retry()` sends
    those again with the same tempId, as a client's outbox does after a reconnect.
    """

    client: EventClient
    gid: str
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    interval: float = 0.05
    ack_timeout: float = ACK_TIMEOUT
    acked: dict[str, str] = field(default_factory=dict)  # tempId -> message id
    unacked: list[str] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    slowest: float = 0.0
    sent: int = 0
    duplicates: int = 0  # retries answered with the message stored the first time

    def content(self, temp_id: str) -> str:
        return f"load {temp_id}"

    async def send_one(self, temp_id: str) -> str | None:
        """One send; returns the error code (or ACK_TIMEOUT/DISCONNECTED), None when acked."""
        self.sent += 1
        body = {"groupId": self.gid, "content": self.content(temp_id), "tempId": temp_id}
        started = time.monotonic()
        try:
            ack = await self.client.call("send_message", body, timeout=self.ack_timeout)
        except (TimeoutError, socketio.exceptions.TimeoutError):
            code = "ACK_TIMEOUT"
        except Exception:  # socketio BadNamespaceError and the like: the socket is gone
            code = "DISCONNECTED"
        else:
            if ack.get("ok") is True:
                self.acked[temp_id] = ack["message"]["id"]
                code = None
            else:
                code = str(ack["error"]["code"])
            if ack.get("duplicate"):
                self.duplicates += 1
        self.slowest = max(self.slowest, time.monotonic() - started)
        if code is not None:
            self.codes[code] += 1
        return code

    async def run(self, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            temp_id = f"{self.name}-{n}"
            code = await self.send_one(temp_id)
            if code is not None:
                self.unacked.append(temp_id)
                if code == "DISCONNECTED":
                    return
            await asyncio.sleep(self.interval)

    async def retry(self, client: EventClient | None = None, attempts: int = 20) -> None:
        """Sends every unacked tempId again (same tempId) until each is acknowledged."""
        if client is not None:
            self.client = client
        for temp_id in list(self.unacked):
            for _ in range(attempts):
                if await self.send_one(temp_id) is None:
                    break
                await asyncio.sleep(0.5)
            else:
                raise AssertionError(f"{temp_id} was never accepted on retry: {self.codes}")
        self.unacked.clear()


async def history(client: EventClient, gid: str) -> list[dict[str, Any]]:
    """Every stored message of the group in seq order (sync pages of 200)."""
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await client.call("sync", {"groupId": gid, "afterSeq": after, "limit": 200})
        assert page["ok"] is True, page
        out.extend(page["messages"])
        if not page["hasMore"] or not page["messages"]:
            return out
        after = page["messages"][-1]["seq"]


def check_nothing_lost_or_doubled(messages: list[dict[str, Any]], senders: list[Sender]) -> int:
    """Each acked send is stored once under its acked id; each retried one exactly once.

    Returns how many sends were checked. Seqs never repeat; a seq reserved by a write
    whose outcome the database never reported (it stopped mid-write) may stay a gap
    (group_commit.py: "the gaps stay, sync tolerates them").
    """
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(set(seqs)), "seqs repeat or are out of order"
    by_content: dict[str, list[str]] = {}
    for m in messages:
        if not m["isDeleted"]:
            by_content.setdefault(m["content"], []).append(m["id"])
    doubled = {c: ids for c, ids in by_content.items() if len(ids) > 1}
    assert not doubled, f"stored more than once: {list(doubled)[:5]}"
    checked = 0
    for s in senders:
        for temp_id, message_id in s.acked.items():
            assert by_content.get(s.content(temp_id)) == [message_id], f"acked {temp_id} lost"
            checked += 1
    return checked
