"""The dev-only sign-in endpoint's body (POST /api/dev/token, docs/web-client.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from safechat.models.common import Inbound

DevUserId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
DevName = Annotated[str, Field(min_length=1, max_length=100)]


class DevTokenRequest(Inbound):
    userId: DevUserId
    name: DevName | None = None
