"""App-scoped objects and the typed keys they live under on the web.Application."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from safechat.config import Settings
from safechat.metrics import Metrics
from safechat.repositories.db import Database
from safechat.services.ai.service import AIService
from safechat.services.auth import DevIssuer, TokenVerifier
from safechat.services.connections import ConnectionService
from safechat.services.groups import GroupService
from safechat.services.media.service import MediaService
from safechat.services.media.work import ImageWorkers
from safechat.services.messages.service import MessageService
from safechat.services.ports import MediaStore, Notifier, RateLimiter
from safechat.services.presence import PresenceService
from safechat.services.ratelimit import Limits
from safechat.services.users import UserService


@dataclass(frozen=True, slots=True)
class Services:
    database: Database
    verifier: TokenVerifier
    users: UserService
    groups: GroupService
    messages: MessageService
    connections: ConnectionService
    presence: PresenceService
    limiter: RateLimiter
    limits: Limits
    dev_issuer: DevIssuer | None
    ai: AIService
    media: MediaService
    notifier: Notifier
    # None on a single node; otherwise whether Redis answers right now.
    redis_available: Callable[[], bool] | None = None


SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
STARTED_AT = web.AppKey("started_at", float)
METRICS = web.AppKey("metrics", Metrics)
MEDIA_STORE = web.AppKey[MediaStore]("media_store")
IMAGE_WORKERS = web.AppKey("image_workers", ImageWorkers)
