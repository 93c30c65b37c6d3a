"""The webhook worker, one per node, run by a background loop (services/tasks.py).

Each tick it (1) turns messages stored with their webhooks pending into outbox entries
(`message.new`, and `mention.new` per mentioned user) and clears their flag, then (2)
claims due entries and delivers them. Recipients are the members with no live socket
who have not muted the conversation, decided when the entry is queued (within a tick
of the send); a notification with no recipient is not queued.

Delivery ids are derived from the message for (1), so two nodes queuing the same message
make one entry; claims are atomic, so two nodes never deliver the same entry at once. A
node that dies mid-delivery leaves a lease that expires and the entry is delivered again
(at-least-once: receivers dedupe by X-SafeChat-Delivery).
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from bson import ObjectId

from safechat.models.common import iso
from safechat.models.group import Group
from safechat.repositories.groups import GroupRepository
from safechat.repositories.webhooks import OutboxRepository
from safechat.services.ports import Clock, PresenceStore, WebhookSender
from safechat.services.webhooks.events import entry
from safechat.services.webhooks.signing import backoff, signature

log = structlog.get_logger(__name__)

QUEUE_PAGE = 200
# Deliveries in flight per node, and claim rounds per tick (a tick stays bounded).
CONCURRENCY = 8
ROUNDS = 10
COUNT_EVERY_TICKS = 20
DELIVERED_KEPT = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str
    secret: str
    include_content: bool
    max_attempts: int
    timeout_seconds: float
    backoff_base_seconds: float
    backoff_cap_seconds: float


@dataclass(slots=True)
class WebhookStats:
    """What /metrics shows: outcomes counted here, outbox sizes refreshed every few ticks."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    pending_now: int = 0
    failed_now: int = 0


Muted = Callable[[ObjectId], Awaitable[set[str]]]
Plaintext = Callable[[Any, str, str], str]


class WebhookWorker:
    def __init__(
        self,
        config: WebhookConfig,
        outbox: OutboxRepository,
        sender: WebhookSender,
        groups: GroupRepository,
        presence: PresenceStore,
        muted: Muted,
        plaintext: Plaintext,
        clock: Clock,
        *,
        node: str,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._c = config
        self._outbox = outbox
        self._sender = sender
        self._groups = groups
        self._presence = presence
        self._muted = muted
        self._plaintext = plaintext
        self._clock = clock
        self._rand = rand
        self._node = node
        self._ticks = 0
        self.stats = WebhookStats()

    async def prepare(self) -> None:
        """At start: the outbox's indexes (and the pending-webhook index on messages),
        and what this node's previous run was delivering when it stopped, due again."""
        await self._outbox.ensure_indexes()
        released = await self._outbox.release_node(self._node, self._clock.now())
        if released:
            log.info("webhooks_resumed", deliveries=released)

    async def tick(self) -> None:
        await self.queue_sent()
        await self.deliver_due()
        if self._ticks % COUNT_EVERY_TICKS == 0:
            self.stats.pending_now = await self._outbox.count("pending")
            self.stats.failed_now = await self._outbox.count("failed")
            await self._outbox.prune_delivered(self._clock.now() - DELIVERED_KEPT)
        self._ticks += 1

    # --- (1) sent messages -> outbox --------------------------------------------------

    async def queue_sent(self) -> int:
        """Queues the webhooks of messages stored since the last tick; returns how many
        entries were new."""
        queued = 0
        while True:
            docs = await self._outbox.hooked_messages(QUEUE_PAGE)
            if not docs:
                return queued
            entries = await self._entries_for(docs)
            queued += await self._outbox.add_many(entries)
            await self._outbox.unhook([d["_id"] for d in docs])
            if len(docs) < QUEUE_PAGE:
                return queued

    async def _entries_for(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        now = self._clock.now()
        groups: dict[ObjectId, Group | None] = {}
        offline: dict[ObjectId, set[str]] = {}
        out: list[dict[str, Any]] = []
        for doc in docs:
            gid = doc["groupId"]
            if gid not in groups:
                groups[gid] = group = await self._groups.get(gid)
                offline[gid] = await self._offline_unmuted(group) if group else set()
            group = groups[gid]
            if group is None or doc.get("isDeleted"):
                continue
            mid, sender = str(doc["_id"]), doc["senderId"]
            base = {
                "groupId": group.gid,
                "groupType": group.kind,
                "messageId": mid,
                "seq": doc["seq"],
                "senderId": sender,
                "type": doc.get("type", "text"),
                "createdAt": iso(doc.get("createdAt")),
            }
            recipients = sorted(offline[gid] - {sender})
            if recipients:
                data = {**base, "recipients": recipients}
                out.append(entry(f"{mid}.message.new", "message.new", data, now))
            for user in dict.fromkeys(doc.get("mentions") or []):
                if user != sender and user in offline[gid]:
                    data = {**base, "mentionedUserId": user, "recipients": [user]}
                    out.append(entry(f"{mid}.mention.{user}", "mention.new", data, now))
        return out

    async def _offline_unmuted(self, group: Group) -> set[str]:
        members = [m.user_id for m in group.members]
        online = await self._presence.online(members, self._clock.now().timestamp())
        muted = await self._muted(group.id)
        return set(members) - online - muted

    # --- (2) delivery --------------------------------------------------------------------

    async def deliver_due(self) -> int:
        delivered = 0
        lease = timedelta(seconds=self._c.timeout_seconds + 30)
        for _ in range(ROUNDS):
            claimed = []
            for _ in range(CONCURRENCY):
                token = uuid.uuid4().hex
                doc = await self._outbox.claim(self._clock.now(), lease, token, self._node)
                if doc is None:
                    break
                claimed.append((doc, token))
            results = await asyncio.gather(*(self._deliver(d, t) for d, t in claimed))
            delivered += sum(results)
            if len(claimed) < CONCURRENCY:
                break
        return delivered

    async def body(self, doc: dict[str, Any]) -> bytes:
        data = dict(doc["data"])
        if self._c.include_content and doc["event"] in ("message.new", "mention.new"):
            stored = await self._outbox.message(ObjectId(data["messageId"]))
            if stored is not None and not stored.get("isDeleted"):
                data["content"] = self._plaintext(
                    stored.get("content"), data["groupId"], data["messageId"]
                )
        payload = {
            "id": doc["_id"],
            "event": doc["event"],
            "createdAt": doc.get("createdAtIso"),
            "data": data,
        }
        return json.dumps(payload, separators=(",", ":")).encode()

    async def _deliver(self, doc: dict[str, Any], token: str) -> bool:
        delivery_id, kind = str(doc["_id"]), str(doc["event"])
        status: int | None = None
        error: str | None = None
        try:
            body = await self.body(doc)
            timestamp = int(self._clock.now().timestamp())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "SafeChat-Webhooks/1",
                "X-SafeChat-Event": kind,
                "X-SafeChat-Delivery": delivery_id,
                "X-SafeChat-Timestamp": str(timestamp),
                "X-SafeChat-Signature": signature(self._c.secret, timestamp, body),
            }
            status = await self._sender.post(self._c.url, body, headers, self._c.timeout_seconds)
        except Exception as exc:  # a timeout or a refused connection: retried
            error = type(exc).__name__
        now = self._clock.now()
        if status is not None and 200 <= status < 300:
            await self._outbox.finish(delivery_id, token, "delivered", now, status=status)
            self.stats.delivered += 1
            return True
        attempts = int(doc.get("attempts", 1))
        if attempts >= self._c.max_attempts:
            await self._outbox.finish(delivery_id, token, "failed", now, status=status, error=error)
            self.stats.failed += 1
            log.warning("webhook_failed", delivery=delivery_id, status=status, error=error)
            return False
        wait = backoff(
            attempts, self._c.backoff_base_seconds, self._c.backoff_cap_seconds, self._rand
        )
        due = now + timedelta(seconds=wait)
        await self._outbox.finish(
            delivery_id, token, "pending", now, due=due, status=status, error=error
        )
        self.stats.retried += 1
        return False
