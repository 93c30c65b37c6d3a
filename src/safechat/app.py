"""create_app(settings) -> web.Application. Wiring only: no rules live here."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import socketio
import structlog
from aiohttp import web
from pymongo import AsyncMongoClient

from safechat.adapters.embedded_mongo import EmbeddedMongo
from safechat.adapters.fast_json import socketio_json
from safechat.adapters.jwks import HttpJwks
from safechat.adapters.memory_presence import MemoryPresence
from safechat.adapters.socketio_notifier import SocketIONotifier
from safechat.adapters.websocket import configure_websocket
from safechat.config import Settings
from safechat.container import SERVICES, SETTINGS, STARTED_AT, Services
from safechat.datadir import read_or_create
from safechat.handlers.boundary import Boundary
from safechat.handlers.connection import ConnectionHandlers
from safechat.handlers.groups import GroupHandlers
from safechat.handlers.messages import MessageHandlers
from safechat.repositories.audit import AuditRepository
from safechat.repositories.db import Database, Doc
from safechat.repositories.groups import GroupRepository
from safechat.repositories.messages import MessageRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.repositories.sessions import SessionRepository
from safechat.repositories.users import UserRepository
from safechat.routes import groups as group_routes
from safechat.routes import health as health_routes
from safechat.routes import me as me_routes
from safechat.routes import messages as message_routes
from safechat.routes.common import auth_middleware, error_middleware
from safechat.services.auth import DevIssuer, SigningKeys, TokenVerifier
from safechat.services.connections import ConnectionService
from safechat.services.encryption import Encryptor, load_or_create_dev_keyring
from safechat.services.groups import GroupService
from safechat.services.maintenance import ReencryptReport, reencrypt_messages
from safechat.services.messages import MessageService
from safechat.services.ports import Clock, SystemClock
from safechat.services.rendering import MessageRenderer
from safechat.services.users import UserService

log = structlog.get_logger("safechat")

SIO = web.AppKey("sio", socketio.AsyncServer)
EMBEDDED_MONGO = web.AppKey("embedded_mongo", EmbeddedMongo)
CONNECTION_HANDLERS = web.AppKey("connection_handlers", ConnectionHandlers)
NODE_ID_FILE = "node-id"


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
        uri, serverSelectionTimeoutMS=settings.db_timeout_ms, tz_aware=True
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


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    clock = clock or SystemClock()
    app = web.Application(
        middlewares=[error_middleware, auth_middleware],
        client_max_size=settings.max_json_body_bytes,
    )
    app[SETTINGS] = settings
    app[STARTED_AT] = time.monotonic()
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
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

    async def resources(app: web.Application) -> AsyncIterator[None]:
        async with open_database(settings) as (database, embedded):
            if embedded is not None:
                app[EMBEDDED_MONGO] = embedded
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
            services = build_services(app, settings, database, keys, dev_issuer, clock)
            app[SERVICES] = services
            stale = await services.connections.cleanup_stale()
            handlers = register_handlers(sio, services, settings)
            app[CONNECTION_HANDLERS] = handlers
            expiry = asyncio.create_task(handlers.expiry_loop())
            log.info(
                "safechat_ready",
                issuer=settings.issuer,
                database="embedded" if embedded else "external",
                closed_stale_sessions=stale,
            )
            try:
                yield
            finally:
                expiry.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await expiry
                if jwks is not None:
                    await jwks.close()

    app.cleanup_ctx.append(resources)
    return app


def build_services(
    app: web.Application,
    settings: Settings,
    database: Database,
    keys: SigningKeys,
    dev_issuer: DevIssuer | None,
    clock: Clock,
) -> Services:
    sio = app[SIO]
    encryptor = Encryptor.from_spec(encryption_keys(settings), settings.legacy_encryption_secret)
    renderer = MessageRenderer(encryptor)
    notifier = SocketIONotifier(sio)
    presence = MemoryPresence()
    group_repo = GroupRepository(database)
    message_repo = MessageRepository(database)
    read_state = ReadStateRepository(database)
    verifier = TokenVerifier(
        keys, settings.issuer, settings.allowed_origins, settings.auth_leeway_seconds
    )
    users = UserService(UserRepository(database), clock)
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
    )
    connections = ConnectionService(
        verifier,
        users,
        groups,
        presence,
        SessionRepository(database),
        clock,
        node_id(settings.data_dir),
    )
    return Services(database, verifier, users, groups, messages, connections, dev_issuer)


def register_handlers(
    sio: socketio.AsyncServer, services: Services, settings: Settings
) -> ConnectionHandlers:
    boundary = Boundary(sio, services.connections)
    connection = ConnectionHandlers(
        boundary,
        services.connections,
        services.groups,
        reauth_grace_seconds=settings.auth_reauth_grace_seconds,
    )
    connection.register()
    GroupHandlers(boundary, services.groups).register()
    MessageHandlers(boundary, services.messages).register()
    boundary.catch_unknown()
    return connection
