"""The choice and opening of the app's components, each from Settings alone.

Every component has a configured form and an embedded default, chosen here: MongoDB or
the embedded server, Redis or in-memory shared state, S3 or the local media directory,
the JWKS of an identity provider or the dev issuer, the remote AI provider or the
offline one. Openers are async context managers (what they open they close); the
values derived from Settings that the services are built with live here too. Wiring
them into services is safechat/wiring.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from pymongo import AsyncMongoClient

from safechat.adapters.ai.cpu_pool import ProcessPool
from safechat.adapters.ai.offline import OfflineProvider
from safechat.adapters.embedded_mongo import EmbeddedMongo
from safechat.adapters.jwks import HttpJwks
from safechat.adapters.media.local import LocalMediaStore
from safechat.adapters.presence.memory import MemoryPresence, MemoryTyping
from safechat.adapters.ratelimit.memory import MemoryRateLimiter
from safechat.config import Settings
from safechat.datadir import read_or_create
from safechat.repositories.db import Database, Doc
from safechat.services.ai.guard import CircuitBreaker, GuardedAI
from safechat.services.auth import DevIssuer, SigningKeys
from safechat.services.encryption import Encryptor, load_or_create_dev_keyring
from safechat.services.media.limits import MediaLimits
from safechat.services.media.work import ImageWorkers
from safechat.services.ports import (
    Clock,
    CpuPool,
    Limit,
    MediaStore,
    PresenceStore,
    RateLimiter,
    TypingStore,
    WebhookSender,
)
from safechat.services.ratelimit import Limits

# The components a configuration chooses are imported where they are chosen: the OpenAI
# provider (openai, langchain-openai, numpy: ~80 MiB and ~2 s of imports), S3 (boto3,
# ~25 MiB) and Redis load only when configured (docs/performance.md, "Memory").
if TYPE_CHECKING:
    from safechat.adapters.ai.openai import OpenAIProvider
    from safechat.adapters.redis_link import RedisLink

log = structlog.get_logger("safechat")

# How long a stop waits for the MongoDB client to close its pools and monitors.
DATABASE_CLOSE_SECONDS = 10.0

NODE_ID_FILE = "node-id"
MEDIA_KEY_FILE = "media-url-key"


def node_id(data_dir: Path) -> str:
    """A stable id for this node's data dir, so its stale sessions can be closed."""
    made = read_or_create(
        data_dir / NODE_ID_FILE, lambda: f"node_{uuid.uuid4().hex[:12]}\n".encode()
    )
    return made.decode().strip()


def encryption_keys(settings: Settings) -> str:
    if settings.encryption_keys:
        return settings.encryption_keys
    if settings.env == "production":
        raise RuntimeError("ENCRYPTION_KEYS is required in production (see README)")
    return load_or_create_dev_keyring(settings.data_dir)


def encryptor(settings: Settings) -> Encryptor:
    return Encryptor.from_spec(encryption_keys(settings), settings.legacy_encryption_secret)


# --- database ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def open_database(
    settings: Settings, *, indexes: bool = True
) -> AsyncIterator[tuple[Database, EmbeddedMongo | None]]:
    """The configured MongoDB, or the embedded server started (and stopped) here.

    Indexes are created on every open (creating an existing index is a no-op), unless
    `indexes` is False: a dry run that must write nothing.
    """
    embedded: EmbeddedMongo | None = None
    uri = settings.mongodb_uri
    if not uri:
        embedded = EmbeddedMongo(
            settings.data_dir / "db",
            command=settings.embedded_mongo_cmd,
            sync_on_commit=settings.embedded_sync_on_commit,
        )
        uri = await embedded.start()
    options: dict[str, Any] = {}
    if embedded is not None:
        # The embedded server keeps every retryable write's id for 30 minutes and rescans
        # them on each write: a durable insert went from 3.8 ms to 31 ms after 10 000
        # writes. Its connection is loopback to a child process, where a retry buys
        # nothing; group commit's tempId dedupe and seq placeholders cover a lost reply.
        options["retryWrites"] = False
    client: AsyncMongoClient[Doc] = AsyncMongoClient(
        uri,
        **options,
        serverSelectionTimeoutMS=settings.db_timeout_ms,
        # A deadline on every operation (selection, connect, reply, retries): a hung
        # database gives timeouts the edges answer with SERVICE_UNAVAILABLE, not hangs.
        timeoutMS=settings.db_timeout_ms,
        tz_aware=True,
    )
    writer: AsyncMongoClient[Doc] | None = None
    if embedded is not None:
        # One Python process serves every connection on a thread each: two writes at once
        # cost it ~40 % more CPU each (GIL hand-offs around every storage call) than the
        # same writes one after another, so the send path's writes share few connections.
        writer = AsyncMongoClient(
            uri,
            **options,
            maxPoolSize=settings.embedded_write_connections,
            serverSelectionTimeoutMS=settings.db_timeout_ms,
            timeoutMS=settings.db_timeout_ms,
            tz_aware=True,
        )
    database = Database(client, settings.mongodb_db, writer=writer)
    try:
        await (database.ensure_indexes() if indexes else database.ping())
        yield database, embedded
    finally:
        try:
            # Bounded: a stop must end even if the driver's monitors do not.
            await asyncio.wait_for(database.close(), DATABASE_CLOSE_SECONDS)
        except TimeoutError:
            log.warning("database_close_timeout", seconds=DATABASE_CLOSE_SECONDS)
        finally:
            if embedded is not None:
                await embedded.stop()


# --- state shared by the nodes ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SharedState:
    """Presence, typing and per-user limits: in memory, or in Redis for several nodes."""

    presence: PresenceStore
    typing: TypingStore
    limiter: RateLimiter
    link: RedisLink | None

    def redis_status(self) -> Callable[[], bool] | None:
        """None on a single node; otherwise whether Redis answers right now."""
        link = self.link
        if link is None:
            return None
        return lambda: link.available


@contextlib.asynccontextmanager
async def shared_state(settings: Settings, clock: Clock) -> AsyncIterator[SharedState]:
    ttl = float(settings.presence_ttl_seconds)
    if not settings.redis_url:
        yield SharedState(MemoryPresence(ttl), MemoryTyping(), MemoryRateLimiter(clock), None)
        return
    from safechat.adapters.presence.redis import RedisPresence, RedisTyping
    from safechat.adapters.ratelimit.redis import RedisRateLimiter
    from safechat.adapters.redis_link import RedisLink, redis_client

    link = RedisLink(redis_client(settings.redis_url), settings.redis_channel)
    if not await link.ping():
        log.error("redis_unreachable_at_start", effect="starting anyway; retrying in background")
    link.start_watch()
    try:
        limiter = RedisRateLimiter(link, clock)
        yield SharedState(RedisPresence(link, ttl), RedisTyping(link), limiter, link)
    finally:
        await link.close()


def limits_from(settings: Settings) -> Limits:
    return Limits(
        send=Limit("send_message", settings.rate_send_per_second, settings.rate_send_burst),
        events=Limit("events", settings.rate_events_per_second, settings.rate_events_burst),
        ai=Limit.per_minute("ai", settings.rate_ai_per_minute),
        rest=Limit.per_minute("rest", settings.rate_rest_per_minute),
        group_create=Limit.per_minute(
            "group_create",
            settings.rate_group_create_per_minute,
            settings.rate_group_create_burst,
        ),
        account=Limit(
            "account", settings.rate_account_per_hour / 3600.0, settings.rate_account_per_hour
        ),
    )


# --- identity ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def open_signing_keys(
    settings: Settings, clock: Clock
) -> AsyncIterator[tuple[SigningKeys, DevIssuer | None]]:
    """The identity provider's JWKS (CLERK_JWKS_URL), else the dev issuer of the data dir."""
    if not settings.clerk_jwks_url:
        dev_issuer = DevIssuer.load_or_create(settings.data_dir, settings.issuer)
        yield dev_issuer, dev_issuer
        return
    jwks = HttpJwks(
        settings.clerk_jwks_url, clock, min_refresh=settings.clerk_jwks_cooldown_seconds
    )
    try:
        yield jwks, None
    finally:
        await jwks.close()


# --- media (docs/media.md) -------------------------------------------------------


@contextlib.asynccontextmanager
async def open_media_store(settings: Settings, clock: Clock) -> AsyncIterator[MediaStore]:
    """S3 when S3_BUCKET is set, else the local directory under <data_dir>/media."""
    if settings.s3_bucket:
        from safechat.adapters.media.s3 import S3MediaStore

        s3 = await S3MediaStore.open(
            settings.s3_bucket,
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url,
            prefix=settings.s3_prefix,
            clock=clock,
        )
        try:
            yield s3
        finally:
            await s3.close()
        return
    secret = await asyncio.to_thread(
        read_or_create, settings.data_dir / MEDIA_KEY_FILE, LocalMediaStore.new_secret
    )
    yield LocalMediaStore(settings.data_dir / "media", secret, settings.base_url, clock)


@contextlib.asynccontextmanager
async def open_image_workers(settings: Settings) -> AsyncIterator[ImageWorkers]:
    # Image decoding gets threads of its own: the default executor serves file reads,
    # downloads and S3 calls, which must never wait behind a slow image.
    pool = ThreadPoolExecutor(settings.media_workers, thread_name_prefix="safechat-media")
    try:
        yield ImageWorkers(pool, per_user=settings.media_user_concurrency)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def media_limits(settings: Settings) -> MediaLimits:
    return MediaLimits(
        max_bytes=settings.max_upload_bytes,
        max_pixels=settings.media_max_pixels,
        max_frames=settings.media_max_frames,
        url_ttl=settings.media_url_ttl_seconds,
        upload_ttl=settings.media_upload_ttl_seconds,
        orphan_ttl=timedelta(seconds=settings.media_orphan_ttl_seconds),
    )


# --- AI -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def open_cpu_pool(settings: Settings) -> AsyncIterator[ProcessPool]:
    """Worker processes for CPU-heavy AI work; started on first use, stopped here."""
    pool = ProcessPool(settings.ai_cpu_workers)
    try:
        yield pool
    finally:
        await pool.close()


def build_ai_guard(settings: Settings, clock: Clock, *, pool: CpuPool | None = None) -> GuardedAI:
    """The configured AI provider behind timeouts, the breaker and the offline fallback."""
    offline = OfflineProvider(pool)
    primary: OfflineProvider | OpenAIProvider = offline
    if settings.ai_remote:
        from safechat.adapters.ai.openai import OpenAIProvider

        primary = OpenAIProvider(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            model=settings.ai_model,
            embedding_model=settings.embedding_model,
            moderation_model=settings.moderation_model,
            timeout=settings.ai_timeout_seconds,
            dimensions=settings.embedding_dimensions,
        )
    breaker = CircuitBreaker(clock, settings.ai_breaker_failures, settings.ai_breaker_open_seconds)
    return GuardedAI(
        primary,
        offline,
        breaker,
        timeout=settings.ai_timeout_seconds,
        moderation_timeout=settings.moderation_timeout_seconds,
        fallback=settings.ai_fallback_offline,
    )


# --- notification webhooks ----------------------------------------------------------


@contextlib.asynccontextmanager
async def open_webhook_sender(settings: Settings) -> AsyncIterator[WebhookSender | None]:
    """The HTTP client for webhook deliveries, only when webhooks are configured."""
    if not settings.webhooks:
        yield None
        return
    from safechat.adapters.webhooks import open_webhook_sender as open_http

    async with open_http() as sender:
        yield sender
