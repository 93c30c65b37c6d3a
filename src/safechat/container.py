"""App-scoped objects and the typed keys they live under on the web.Application."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from safechat.config import Settings
from safechat.repositories.db import Database
from safechat.services.auth import DevIssuer, TokenVerifier
from safechat.services.connections import ConnectionService
from safechat.services.groups import GroupService
from safechat.services.media import MediaService
from safechat.services.messages import MessageService
from safechat.services.ports import MediaStore
from safechat.services.users import UserService


@dataclass(frozen=True, slots=True)
class Services:
    database: Database
    verifier: TokenVerifier
    users: UserService
    groups: GroupService
    messages: MessageService
    connections: ConnectionService
    dev_issuer: DevIssuer | None
    media: MediaService


SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
STARTED_AT = web.AppKey("started_at", float)
MEDIA_STORE = web.AppKey[MediaStore]("media_store")
