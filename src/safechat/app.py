"""create_app(settings) -> web.Application. Wiring only: no rules live here."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import socketio
import structlog
from aiohttp import web
from pymongo import AsyncMongoClient

from safechat.adapters.embedded_mongo import EmbeddedMongo
from safechat.adapters.fast_json import socketio_json
from safechat.adapters.jwks import HttpJwks
from safechat.adapters.local_media import LOCAL_MEDIA, LocalMediaStore
from safechat.adapters.local_media import setup_routes as setup_local_media_routes
from safechat.adapters.memory_presence import MemoryPresence, MemoryTyping
from safechat.adapters.memory_ratelimit import MemoryRateLimiter
from safechat.adapters.offline_ai import OfflineProvider
from safechat.adapters.openai_ai import OpenAIProvider
from safechat.adapters.redis_link import RedisLink, redis_client
from safechat.adapters.redis_presence import RedisPresence, RedisTyping
from safechat.adapters.redis_ratelimit import RedisRateLimiter
from safechat.adapters.s3_media import S3MediaStore
from safechat.adapters.socketio_manager import client_manager
from safechat.adapters.socketio_notifier import SocketIONotifier
from safechat.adapters.websocket import configure_websocket
from safechat.ai.guard import CircuitBreaker, GuardedAI
from safechat.config import Settings
from safechat.container import MEDIA_STORE, METRICS, SERVICES, SETTINGS, STARTED_AT, Services
from safechat.datadir import read_or_create
from safechat.handlers.ai import AIHandlers
from safechat.handlers.boundary import Boundary
from safechat.handlers.connection import ConnectionHandlers
from safechat.handlers.groups import GroupHandlers
from safechat.handlers.messages import MessageHandlers
from safechat.handlers.presence import PresenceHandlers
from safechat.metrics import Metrics
from safechat.models.media import media_wire
from safechat.repositories.ai_feedback import FeedbackRepository
from safechat.repositories.audit import AuditRepository
from safechat.repositories.db import Database, Doc
from safechat.repositories.embeddings import EmbeddingRepository
from safechat.repositories.groups import GroupRepository
from safechat.repositories.media import MediaRepository
from safechat.repositories.messages import MessageRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.repositories.sessions import SessionRepository
from safechat.repositories.users import UserRepository
from safechat.routes import ai as ai_routes
from safechat.routes import groups as group_routes
from safechat.routes import health as health_routes
from safechat.routes import me as me_routes
from safechat.routes import media as media_routes
from safechat.routes import messages as message_routes
from safechat.routes.common import auth_middleware, error_middleware
from safechat.services.ai import AIService
from safechat.services.ai_content import ContentAI
from safechat.services.auth import DevIssuer, SigningKeys, TokenVerifier
from safechat.services.connections import ConnectionService
from safechat.services.encryption import Encryptor, load_or_create_dev_keyring
from safechat.services.groups import GroupService
from safechat.services.maintenance import ReencryptReport, reencrypt_messages
from safechat.services.media import MediaLimits, MediaService
from safechat.services.messages import MessageService
from safechat.services.ports import (
    Clock,
    MediaStore,
    PresenceStore,
    RateLimiter,
    SystemClock,
    TypingStore,
)
from safechat.services.presence import PresenceService
from safechat.services.ratelimit import Limit, Limits
from safechat.services.rendering import MessageRenderer
from safechat.services.tasks import TaskTracker
from safechat.services.users import UserService

log = structlog.get_logger("safechat")

SIO = web.AppKey("sio", socketio.AsyncServer)
EMBEDDED_MONGO = web.AppKey("embedded_mongo", EmbeddedMongo)
CONNECTION_HANDLERS = web.AppKey("connection_handlers", ConnectionHandlers)
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


@contextlib.asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[tuple[Database, EmbeddedMongo | None]]:
    """The configured MongoDB, or the embedded server started (and stopped) here.

    Indexes are created on every open; creating an existing index is a no-op.
    """
    embedded: EmbeddedMongo | None = None
    uri = settings.mongodb_uri
    if not uri:
        embedded = EmbeddedMongo(settings.data_dir / "db", command=settings.embedded_mongo_cmd)
        uri = await embedded.start()
    client: AsyncMongoClient[Doc] = AsyncMongoClient(
        uri,
        serverSelectionTimeoutMS=settings.db_timeout_ms,
        # A deadline on every operation (selection, connect, reply, retries): a hung
        # database gives timeouts the edges answer with SERVICE_UNAVAILABLE, not hangs.
        timeoutMS=settings.db_timeout_ms,
        tz_aware=True,
    )
    database = Database(client, settings.mongodb_db)
    try:
        await database.ensure_indexes()
        yield database, embedded
    finally:
        await database.close()
        if embedded is not None:
            await embedded.stop()


async def reencrypt(settings: Settings, *, batch: int, dry_run: bool) -> ReencryptReport:
    """`safechat reencrypt`: every stored ciphertext under the primary key."""
    encryptor = Encryptor.from_spec(encryption_keys(settings), settings.legacy_encryption_secret)
    async with open_database(settings) as (database, _):
        return await reencrypt_messages(
            MessageRepository(database), encryptor, batch=batch, dry_run=dry_run
        )


@dataclass(frozen=True, slots=True)
class SharedState:
    """Presence, typing and per-user limits: in memory, or in Redis for several nodes."""

    presence: PresenceStore
    typing: TypingStore
    limiter: RateLimiter
    link: RedisLink | None


@contextlib.asynccontextmanager
async def shared_state(settings: Settings) -> AsyncIterator[SharedState]:
    ttl = float(settings.presence_ttl_seconds)
    if not settings.redis_url:
        yield SharedState(MemoryPresence(ttl), MemoryTyping(), MemoryRateLimiter(), None)
        return
    link = RedisLink(redis_client(settings.redis_url), settings.redis_channel)
    if not await link.ping():
        log.error("redis_unreachable_at_start", effect="starting anyway; retrying in background")
    link.start_watch()
    try:
        yield SharedState(RedisPresence(link, ttl), RedisTyping(link), RedisRateLimiter(link), link)
    finally:
        await link.close()


def redis_status(link: RedisLink | None) -> Callable[[], bool] | None:
    if link is None:
        return None
    return lambda: link.available


def limits_from(settings: Settings) -> Limits:
    return Limits(
        send=Limit("send_message", settings.rate_send_per_second, settings.rate_send_burst),
        events=Limit("events", settings.rate_events_per_second, settings.rate_events_burst),
        ai=Limit.per_minute("ai", settings.rate_ai_per_minute),
        rest=Limit.per_minute("rest", settings.rate_rest_per_minute),
    )


# --- media (docs/media.md) -------------------------------------------------------


@contextlib.asynccontextmanager
async def open_media_store(settings: Settings, clock: Clock) -> AsyncIterator[MediaStore]:
    """S3 when S3_BUCKET is set, else the local directory under <data_dir>/media."""
    if settings.s3_bucket:
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


def media_limits(settings: Settings) -> MediaLimits:
    return MediaLimits(
        max_bytes=settings.max_upload_bytes,
        max_pixels=settings.media_max_pixels,
        url_ttl=settings.media_url_ttl_seconds,
        upload_ttl=settings.media_upload_ttl_seconds,
        orphan_ttl=timedelta(seconds=settings.media_orphan_ttl_seconds),
    )


# --- the app -----------------------------------------------------------------------


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    clock = clock or SystemClock()
    app = web.Application(
        middlewares=[error_middleware, auth_middleware],
        client_max_size=settings.max_json_body_bytes,
    )
    app[SETTINGS] = settings
    app[STARTED_AT] = time.monotonic()
    metrics = app[METRICS] = Metrics()
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=client_manager(settings.redis_url, settings.redis_channel, metrics),
        cors_allowed_origins=settings.cors_origins,
        max_http_buffer_size=settings.max_frame_bytes,
        logger=False,
        engineio_logger=False,
        json=socketio_json(settings.socketio_json),
    )
    configure_websocket(sio, compress=settings.websocket_compression)
    sio.attach(app)
    app[SIO] = sio
    health_routes.setup(app)
    me_routes.setup(app)
    group_routes.setup(app)
    message_routes.setup(app)
    ai_routes.setup(app)
    media_routes.setup(app)
    setup_local_media_routes(app)

    async def media_resources(app: web.Application) -> AsyncIterator[None]:
        async with open_media_store(settings, clock) as store:
            app[MEDIA_STORE] = store
            if isinstance(store, LocalMediaStore):
                app[LOCAL_MEDIA] = store
            yield

    async def resources(app: web.Application) -> AsyncIterator[None]:
        async with open_database(settings) as (database, embedded), shared_state(settings) as state:
            if embedded is not None:
                app[EMBEDDED_MONGO] = embedded
            if state.link is not None:
                metrics.track_redis(lambda: bool(state.link and state.link.available))
            jwks, dev_issuer = None, None
            keys: SigningKeys
            if settings.clerk_jwks_url:
                jwks = HttpJwks(
                    settings.clerk_jwks_url, min_refresh=settings.clerk_jwks_cooldown_seconds
                )
                keys = jwks
            else:
                dev_issuer = DevIssuer.load_or_create(settings.data_dir, settings.issuer)
                keys = dev_issuer
            services = build_services(app, settings, database, keys, dev_issuer, clock, state)
            app[SERVICES] = services
            stale = await services.connections.cleanup_stale()
            await services.presence.purge_node(services.connections.node_id)
            handlers = register_handlers(sio, services, settings, metrics, clock)
            app[CONNECTION_HANDLERS] = handlers
            metrics.track_connections(lambda: len(services.connections.live()))
            loops = [
                asyncio.create_task(handlers.expiry_loop()),
                asyncio.create_task(handlers.presence_loop()),
                asyncio.create_task(
                    services.media.cleanup_loop(settings.media_cleanup_interval_seconds)
                ),
            ]
            log.info(
                "safechat_ready",
                issuer=settings.issuer,
                database="embedded" if embedded else "external",
                redis="shared" if settings.redis_url else "off (single node)",
                closed_stale_sessions=stale,
            )
            try:
                yield
            finally:
                # AI background work (embeddings, pending suggestions) ends with the app.
                await services.ai.close()
                for loop in loops:
                    loop.cancel()
                for loop in loops:
                    with contextlib.suppress(asyncio.CancelledError):
                        await loop
                if jwks is not None:
                    await jwks.close()

    async def close_sockets(app: web.Application) -> None:
        # Runs before aiohttp waits for open handlers: without it a SIGTERM waits until
        # every client's websocket times out (ping interval + timeout, ~45 s). An
        # Engine.IO close lets clients reconnect at once (to another node), and the
        # disconnect handlers still find the database open. wait=False: a socket whose
        # client is already gone has no writer left to drain its queue (eio.disconnect()
        # would wait on it forever).
        eio = sio.eio
        closing = [
            s.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
            for s in list(eio.sockets.values())
        ]
        await asyncio.gather(*closing, return_exceptions=True)

    app.on_shutdown.append(close_sockets)
    app.cleanup_ctx.append(media_resources)  # before resources: services need the store
    app.cleanup_ctx.append(resources)
    return app


def build_services(
    app: web.Application,
    settings: Settings,
    database: Database,
    keys: SigningKeys,
    dev_issuer: DevIssuer | None,
    clock: Clock,
    state: SharedState,
) -> Services:
    sio = app[SIO]
    encryptor = Encryptor.from_spec(encryption_keys(settings), settings.legacy_encryption_secret)
    renderer = MessageRenderer(
        encryptor, media_view=functools.partial(media_wire, base_url=settings.base_url)
    )
    presence = state.presence
    notifier = SocketIONotifier(sio, presence, clock)
    group_repo = GroupRepository(database)
    message_repo = MessageRepository(database)
    read_state = ReadStateRepository(database)
    verifier = TokenVerifier(
        keys, settings.issuer, settings.allowed_origins, settings.auth_leeway_seconds
    )
    users = UserService(UserRepository(database), clock)
    guard = build_ai_guard(settings)
    ai_tasks = TaskTracker()
    ai_content = ContentAI(
        guard,
        EmbeddingRepository(
            database,
            atlas_index=settings.vector_index_name if settings.vector_search == "atlas" else None,
        ),
        message_repo,
        group_repo,
        renderer,
        ai_tasks,
        clock,
        mode=settings.moderation_mode,
        fallback=settings.moderation_fallback,
    )
    groups = GroupService(
        group_repo,
        message_repo,
        read_state,
        AuditRepository(database),
        users,
        presence,
        renderer,
        notifier,
        clock,
    )
    media = MediaService(
        MediaRepository(database),
        message_repo,
        groups,
        app[MEDIA_STORE],
        clock,
        base_url=settings.base_url,
        limits=media_limits(settings),
    )
    messages = MessageService(
        groups,
        group_repo,
        message_repo,
        read_state,
        users,
        encryptor,
        renderer,
        notifier,
        clock,
        max_chars=settings.max_message_chars,
        hooks=ai_content,
        media=media,
        # One database deadline per step, 1.5 for the whole send: under a client's 10 s.
        send_deadline_seconds=1.5 * settings.db_timeout_ms / 1000,
    )
    ai = AIService(
        groups,
        message_repo,
        users,
        renderer,
        guard,
        ai_content,
        FeedbackRepository(database),
        state.limiter,
        limits_from(settings).ai,
        ai_tasks,
        clock,
        context_messages=settings.ai_context_messages,
    )
    connections = ConnectionService(
        verifier,
        users,
        groups,
        presence,
        SessionRepository(database),
        clock,
        node_id(settings.data_dir),
        max_sockets_per_user=settings.max_sockets_per_user,
    )
    presence_service = PresenceService(
        presence,
        state.typing,
        groups,
        users,
        notifier,
        clock,
        typing_seconds=settings.typing_timeout_seconds,
    )
    return Services(
        database,
        verifier,
        users,
        groups,
        messages,
        connections,
        presence_service,
        state.limiter,
        limits_from(settings),
        dev_issuer,
        ai,
        media,
        redis_status(state.link),
    )


def build_ai_guard(
    settings: Settings, monotonic: Callable[[], float] = time.monotonic
) -> GuardedAI:
    """The configured AI provider behind timeouts, the breaker and the offline fallback."""
    offline = OfflineProvider()
    primary: OfflineProvider | OpenAIProvider = offline
    if settings.ai_remote:
        primary = OpenAIProvider(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            model=settings.ai_model,
            embedding_model=settings.embedding_model,
            moderation_model=settings.moderation_model,
            timeout=settings.ai_timeout_seconds,
            dimensions=settings.embedding_dimensions,
        )
    breaker = CircuitBreaker(
        settings.ai_breaker_failures, settings.ai_breaker_open_seconds, monotonic
    )
    return GuardedAI(
        primary,
        offline,
        breaker,
        timeout=settings.ai_timeout_seconds,
        moderation_timeout=settings.moderation_timeout_seconds,
        fallback=settings.ai_fallback_offline,
    )


def register_handlers(
    sio: socketio.AsyncServer,
    services: Services,
    settings: Settings,
    metrics: Metrics,
    clock: Clock,
) -> ConnectionHandlers:
    boundary = Boundary(
        sio,
        services.connections,
        limiter=services.limiter,
        socket_limiter=MemoryRateLimiter(),
        limits=services.limits,
        metrics=metrics,
        clock=clock,
    )
    connection = ConnectionHandlers(
        boundary,
        services.connections,
        services.groups,
        services.presence,
        clock,
        reauth_grace_seconds=settings.auth_reauth_grace_seconds,
        heartbeat_seconds=settings.presence_ttl_seconds / 3,
    )
    connection.register()
    GroupHandlers(boundary, services.groups).register()
    MessageHandlers(boundary, services.messages).register()
    PresenceHandlers(boundary, services.presence).register()
    AIHandlers(boundary, services.ai).register()
    boundary.catch_unknown()
    return connection
