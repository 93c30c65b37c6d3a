"""The bodies of the public routes, which carry no `success` envelope: health, info,
readiness, the dev issuer's JWKS and the web client's settings (routes/health.py,
routes/web.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import with_config
from typing_extensions import TypedDict

from safechat.models.wire import CLOSED


@with_config(CLOSED)
class Health(TypedDict):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    redis: Literal["off", "ok", "unreachable"]
    uptime: float
    version: str


@with_config(CLOSED)
class InfoLimits(TypedDict):
    messageChars: int
    frameBytes: int
    jsonBodyBytes: int
    uploadBytes: int


@with_config(CLOSED)
class Info(TypedDict):
    name: str
    version: str
    env: str
    socketPath: str
    apiPrefixes: list[str]
    auth: Literal["dev-issuer", "clerk"]
    issuer: str
    limits: InfoLimits


@with_config(CLOSED)
class Live(TypedDict):
    status: Literal["ok"]


@with_config(CLOSED)
class Ready(TypedDict):
    status: Literal["ok", "unavailable"]
    database: bool


class Jwks(TypedDict):
    keys: list[dict[str, Any]]


@with_config(CLOSED)
class WebClientConfig(TypedDict):
    devSignIn: bool
    auth: Literal["dev-issuer", "clerk"]
