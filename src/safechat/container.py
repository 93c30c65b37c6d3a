"""Every app-scoped object's typed key on the web.Application, and `Services`.

The one home of the app's `web.AppKey`s: create_app (safechat/app.py) and the wiring
(safechat/wiring.py) set them; routes, the local media endpoints and tests read them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import socketio
from aiohttp import web

from safechat.adapters.embedded_mongo import EmbeddedMongo
from safechat.adapters.media.local import LocalMediaStore
from safechat.config import Settings
from safechat.handlers.connection import ConnectionHandlers
from safechat.metrics import Metrics
from safechat.repositories.db import Database
from safechat.services.account import AccountService
from safechat.services.ai.service import AIService
from safechat.services.auth import DevIssuer, TokenVerifier
from safechat.services.connections import ConnectionService
from safechat.services.groups.service import GroupService
from safechat.services.media.service import MediaService
from safechat.services.media.work import ImageWorkers
from safechat.services.messages.service import MessageService
from safechat.services.people.service import PeopleService
from safechat.services.ports import MediaStore, Notifier, RateLimiter
from safechat.services.presence import PresenceService
from safechat.services.ratelimit import Limits
from safechat.services.tasks import Background
from safechat.services.users import UserService
from safechat.services.webhooks.worker import WebhookWorker

if TYPE_CHECKING:
    from safechat.routes.spec import Operation


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
    account: AccountService
    people: PeopleService
    # None on a single node; otherwise whether Redis answers right now.
    redis_available: Callable[[], bool] | None = None
    # Only with WEBHOOK_URL and WEBHOOK_SECRET set (docs/webhooks.md).
    webhook_worker: WebhookWorker | None = None


# Whether a direct upload to a key is still open (MediaService.upload_open): the signed
# PUT URL is single use, closed once its upload is completed or refused.
UploadGate = Callable[[str], Awaitable[bool]]

SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
STARTED_AT = web.AppKey("started_at", float)
METRICS = web.AppKey("metrics", Metrics)
SIO = web.AppKey("sio", socketio.AsyncServer)
BACKGROUND = web.AppKey("background", Background)
CONNECTION_HANDLERS = web.AppKey("connection_handlers", ConnectionHandlers)
# Only with the embedded database (no MONGODB_URI).
EMBEDDED_MONGO = web.AppKey("embedded_mongo", EmbeddedMongo)
MEDIA_STORE = web.AppKey[MediaStore]("media_store")
IMAGE_WORKERS = web.AppKey("image_workers", ImageWorkers)
# Only with the local media store (no S3_BUCKET).
LOCAL_MEDIA = web.AppKey("local_media", LocalMediaStore)
UPLOAD_GATE = web.AppKey[UploadGate]("local_upload_gate")
# The REST routes' declaration table (routes/spec.py), read by the OpenAPI generator.
OPERATIONS = web.AppKey[list["Operation"]]("operations")
# /api/openapi.json's body, made on its first request (routes/openapi.py).
OPENAPI_JSON = web.AppKey[dict[str, bytes]]("openapi_json")
# The AsyncAPI document without its server entry, built on first request.
ASYNCAPI_BASE = web.AppKey[dict[str, dict[str, Any]]]("asyncapi_base")
