"""The composition root: builds the services from opened components, registers the
Socket.IO handlers and schedules the background loops. With safechat/lifetime.py (which
opens the components and runs these at start) the only code that sees every layer; no
rules live here.
"""

from __future__ import annotations

import functools

import socketio
import structlog

from safechat.adapters.cors import own_origins
from safechat.adapters.ratelimit.memory import MemoryRateLimiter
from safechat.adapters.ratelimit.metered import MeteredLimiter
from safechat.adapters.socketio.notifier import SocketIONotifier
from safechat.components import (
    SharedState,
    build_ai_guard,
    encryptor,
    limits_from,
    media_limits,
    node_id,
)
from safechat.config import Settings
from safechat.container import Services
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
from safechat.repositories.bans import BanRepository
from safechat.repositories.blocks import BlockRepository
from safechat.repositories.db import Database
from safechat.repositories.embeddings import EmbeddingRepository
from safechat.repositories.groups import GroupRepository
from safechat.repositories.media import MediaRepository
from safechat.repositories.mentions import MentionRepository
from safechat.repositories.messages import MessageRepository
from safechat.repositories.pins import PinRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.repositories.sessions import SessionRepository
from safechat.repositories.threads import ThreadRepository
from safechat.repositories.users import UserRepository
from safechat.services.account import AccountService
from safechat.services.account.erase import AccountEraser, EraseDeps
from safechat.services.account.export import AccountExport
from safechat.services.ai.content import ContentAI
from safechat.services.ai.service import AIService
from safechat.services.auth import DevIssuer, SigningKeys, TokenVerifier
from safechat.services.connections import ConnectionService
from safechat.services.groups.bans import BanGate
from safechat.services.groups.service import GroupService
from safechat.services.media.service import MediaService
from safechat.services.media.work import ImageWorkers
from safechat.services.messages.group_commit import GroupCommit
from safechat.services.messages.inserts import LINGER_SECONDS
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.messages.seqs import AtomicSeqs, LocalSeqs
from safechat.services.messages.service import ConversationRepos, MessageService
from safechat.services.ports import Clock, CpuPool, MediaStore, WebhookSender
from safechat.services.presence import PresenceService
from safechat.services.tasks import Background
from safechat.services.users import UserService
from safechat.wiring_parts import build_people, build_webhook_worker, webhook_events

log = structlog.get_logger("safechat")
# How often the local allocator writes the groups' lastSeq (docs/performance.md).
LAST_SEQ_FLUSH_SECONDS = 10.0
# How often the background loops run (the presence loop also auto-stops typing).
EXPIRY_CHECK_SECONDS = 15.0
PRESENCE_TICK_SECONDS = 0.5
SESSION_FLUSH_SECONDS = 5.0
# How soon a sent message's webhook is queued and a due delivery is tried.
WEBHOOK_TICK_SECONDS = 0.5


def build_services(
    settings: Settings,
    database: Database,
    keys: SigningKeys,
    dev_issuer: DevIssuer | None,
    clock: Clock,
    state: SharedState,
    *,
    sio: socketio.AsyncServer,
    store: MediaStore,
    workers: ImageWorkers,
    background: Background,
    metrics: Metrics,
    cpu: CpuPool | None = None,
    webhook_sender: WebhookSender | None = None,
) -> Services:
    limits = limits_from(settings)
    enc = encryptor(settings)
    renderer = MessageRenderer(
        enc, media_view=functools.partial(media_wire, base_url=settings.base_url)
    )
    presence = state.presence
    notifier = SocketIONotifier(sio, presence, clock)
    # Refusals are counted here, once, whichever edge asked.
    limiter = MeteredLimiter(state.limiter, metrics)
    group_repo = GroupRepository(database)
    webhooks = webhook_events(settings, database, clock)
    message_repo = MessageRepository(database)
    read_state = ReadStateRepository(database)
    audit = AuditRepository(database)
    media_repo = MediaRepository(database)
    session_repo = SessionRepository(database)
    verifier = TokenVerifier(
        keys,
        settings.issuer,
        # A token's azp may name the server's own origin (its web client at /) too.
        [*settings.allowed_origins, *own_origins(settings.base_url)],
        settings.auth_leeway_seconds,
        max_lifetime_seconds=settings.auth_max_token_lifetime_seconds,
    )
    users = UserService(UserRepository(database), clock)
    guard = build_ai_guard(settings, clock, pool=cpu)
    ai_content = ContentAI(
        guard,
        EmbeddingRepository(
            database,
            atlas_index=settings.vector_index_name if settings.vector_search == "atlas" else None,
        ),
        message_repo,
        group_repo,
        renderer,
        background,
        clock,
        enc,
        mode=settings.moderation_mode,
        fallback=settings.moderation_fallback,
        indexing=settings.ai_indexing,
    )
    groups = GroupService(
        group_repo,
        message_repo,
        read_state,
        audit,
        users,
        presence,
        renderer,
        notifier,
        clock,
        limiter,
        limits.group_create,
        hooks=ai_content,
        bans=BanGate(BanRepository(database), clock),
        webhooks=webhooks,
    )
    media = MediaService(
        media_repo,
        message_repo,
        groups,
        store,
        clock,
        base_url=settings.base_url,
        limits=media_limits(settings),
        workers=workers,
    )
    conversation = ConversationRepos(
        MentionRepository(database), ThreadRepository(database), PinRepository(database)
    )
    seqs = (
        LocalSeqs(group_repo, message_repo, database.group_writes)
        if settings.local_seqs
        else AtomicSeqs(group_repo)
    )
    commit = GroupCommit(
        group_repo,
        message_repo,
        read_state,
        clock,
        prepare=users.warm,
        mentions=conversation.mentions,
        threads=conversation.threads,
        # One database deadline per step, 1.5 for the whole send: under a client's 10 s.
        deadline_seconds=1.5 * settings.db_timeout_ms / 1000,
        webhooks=settings.webhooks,
        seqs=seqs,
        marks_behind=True,
        linger_seconds=LINGER_SECONDS,
    )
    background.on_close(commit.close)
    # What the send path writes behind, coalesced: every tick, and after the commit's
    # close at shutdown (its last batches' marks and seqs).
    background.every("read_marks_flush", settings.write_behind_seconds, read_state.flush_behind)
    background.on_close(read_state.close_behind)
    if isinstance(seqs, LocalSeqs):
        # Rarer than the marks: only a restart reads the stored value, and it also reads
        # the seqs stored above it; a `$max` on a group document costs ~2 ms of the
        # embedded database's CPU (its members index is rewritten).
        background.every("last_seq_flush", LAST_SEQ_FLUSH_SECONDS, seqs.flush)
        background.on_close(seqs.flush)
    messages = MessageService(
        groups,
        group_repo,
        message_repo,
        read_state,
        users,
        enc,
        renderer,
        notifier,
        clock,
        commit=commit,
        max_chars=settings.max_message_chars,
        max_reactions=settings.max_reactions_per_message,
        hooks=ai_content,
        media=media,
        extras=conversation,
        webhooks=webhooks,
    )
    ai = AIService(
        groups,
        message_repo,
        users,
        renderer,
        guard,
        ai_content,
        FeedbackRepository(database),
        limiter,
        limits.ai,
        background,
        clock,
        context_messages=settings.ai_context_messages,
    )
    connections = ConnectionService(
        verifier,
        users,
        groups,
        presence,
        session_repo,
        clock,
        node_id(settings.data_dir),
        notifier=notifier,
        max_sockets_per_user=settings.max_sockets_per_user,
        reauth_grace_seconds=settings.auth_reauth_grace_seconds,
        session_resume_seconds=settings.session_resume_seconds,
        open_deadline_seconds=1.5 * settings.db_timeout_ms / 1000,
    )
    presence_service = PresenceService(
        presence,
        state.typing,
        groups,
        users,
        notifier,
        clock,
        typing_seconds=settings.typing_timeout_seconds,
        heartbeat_seconds=settings.presence_ttl_seconds / 3,
    )
    people = build_people(database, groups, users, read_state, clock, limiter, limits.group_create)
    worker = build_webhook_worker(
        settings, database, webhook_sender, group_repo, presence, people, renderer, clock
    )
    return Services(
        database,
        verifier,
        users,
        groups,
        messages,
        connections,
        presence_service,
        limiter,
        limits,
        dev_issuer,
        ai,
        media,
        notifier,
        account=AccountService(
            AccountExport(
                users,
                group_repo,
                message_repo,
                read_state,
                media_repo,
                BlockRepository(database),
                renderer,
                clock,
            ),
            AccountEraser(
                EraseDeps(
                    users=users,
                    groups=groups,
                    messages=messages,
                    group_repo=group_repo,
                    message_repo=message_repo,
                    read_state=read_state,
                    media=media_repo,
                    store=store,
                    sessions=session_repo,
                    audit=audit,
                    notifier=notifier,
                    clock=clock,
                    hooks=ai_content,
                    blocks=BlockRepository(database),
                    webhooks=webhooks,
                )
            ),
        ),
        people=people,
        redis_available=state.redis_status(),
        webhook_worker=worker,
    )


def register_handlers(
    sio: socketio.AsyncServer,
    services: Services,
    metrics: Metrics,
    clock: Clock,
    background: Background,
) -> ConnectionHandlers:
    boundary = Boundary(
        sio,
        services.connections,
        services.notifier,
        limiter=services.limiter,
        socket_limiter=MeteredLimiter(MemoryRateLimiter(clock), metrics),
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
        background,
    )
    connection.register()
    GroupHandlers(boundary, services.groups, services.connections).register()
    MessageHandlers(boundary, services.messages).register()
    PresenceHandlers(boundary, services.presence).register()
    AIHandlers(boundary, services.ai).register()
    boundary.catch_unknown()
    return connection


def schedule_loops(
    background: Background,
    services: Services,
    handlers: ConnectionHandlers,
    settings: Settings,
    clock: Clock,
) -> None:
    """The app's periodic work; each body is a service method taking `now`."""
    connections, presence, media = services.connections, services.presence, services.media

    async def expiry_check() -> None:
        await connections.enforce_expiry(clock.now().timestamp(), handlers.disconnect_expired)

    async def presence_tick() -> None:
        await presence.tick(clock.now().timestamp(), connections.live())

    async def media_cleanup() -> None:
        await media.cleanup(clock.now())

    background.every("expiry_check", EXPIRY_CHECK_SECONDS, expiry_check)
    background.every("presence_tick", PRESENCE_TICK_SECONDS, presence_tick)
    background.every(
        "media_cleanup", settings.media_cleanup_interval_seconds, media_cleanup, immediately=True
    )
    # Session records nobody resumed end within a few seconds of their resume window;
    # at shutdown every parked one ends (services/session_records.py).
    background.every("session_flush", SESSION_FLUSH_SECONDS, connections.sessions.flush)
    background.on_close(connections.sessions.close)
    if services.webhook_worker is not None:
        background.every(
            "webhooks", WEBHOOK_TICK_SECONDS, services.webhook_worker.tick, immediately=True
        )
