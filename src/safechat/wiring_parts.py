"""Parts of the composition root (safechat/wiring.py) that build one feature's objects:
the §8 people services and the notification webhooks. No rules live here."""

from __future__ import annotations

from safechat.components import node_id
from safechat.config import Settings
from safechat.repositories.audit import AuditRepository
from safechat.repositories.bans import BanRepository
from safechat.repositories.blocks import BlockRepository
from safechat.repositories.db import Database
from safechat.repositories.directs import DirectRepository
from safechat.repositories.groups import GroupRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.repositories.users import UserRepository
from safechat.repositories.webhooks import OutboxRepository
from safechat.services.groups.service import GroupService
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.people.bans import GroupBanning
from safechat.services.people.blocks import Blocking
from safechat.services.people.directory import Directory
from safechat.services.people.directs import DirectConversations
from safechat.services.people.service import PeopleService
from safechat.services.people.settings import ConversationSettings
from safechat.services.ports import Clock, Limit, PresenceStore, RateLimiter, WebhookSender
from safechat.services.users import UserService
from safechat.services.webhooks.events import NoWebhooks, OutboxEvents, WebhookEvents
from safechat.services.webhooks.worker import WebhookConfig, WebhookWorker


def build_people(
    database: Database,
    groups: GroupService,
    users: UserService,
    read_state: ReadStateRepository,
    clock: Clock,
    limiter: RateLimiter,
    create_limit: Limit,
) -> PeopleService:
    """§8: direct conversations, directory, blocks, bans, settings."""
    user_repo, blocks = UserRepository(database), BlockRepository(database)
    directs, audit = DirectRepository(database), AuditRepository(database)
    return PeopleService(
        DirectConversations(
            groups, directs, blocks, user_repo, audit, clock, limiter, create_limit
        ),
        Directory(user_repo, blocks),
        Blocking(blocks, directs, users, audit, clock),
        GroupBanning(groups, BanRepository(database), users, audit, clock),
        ConversationSettings(groups, read_state, clock),
    )


def webhook_events(settings: Settings, database: Database, clock: Clock) -> WebhookEvents:
    """Where services record member and message changes: the outbox, or nowhere."""
    if not settings.webhooks:
        return NoWebhooks()
    return OutboxEvents(OutboxRepository(database), clock)


def build_webhook_worker(
    settings: Settings,
    database: Database,
    sender: WebhookSender | None,
    groups: GroupRepository,
    presence: PresenceStore,
    people: PeopleService,
    renderer: MessageRenderer,
    clock: Clock,
) -> WebhookWorker | None:
    if sender is None or not settings.webhook_url or not settings.webhook_secret:
        return None
    config = WebhookConfig(
        url=settings.webhook_url,
        secret=settings.webhook_secret,
        include_content=settings.webhook_include_content,
        max_attempts=settings.webhook_max_attempts,
        timeout_seconds=settings.webhook_timeout_seconds,
        backoff_base_seconds=settings.webhook_backoff_base_seconds,
        backoff_cap_seconds=settings.webhook_backoff_cap_seconds,
    )
    return WebhookWorker(
        config,
        OutboxRepository(database),
        sender,
        groups,
        presence,
        people.muted_user_ids,
        renderer.plaintext,
        clock,
        node=node_id(settings.data_dir),
    )
