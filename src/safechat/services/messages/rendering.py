"""Turns stored messages into the protocol's Message (plaintext) shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from safechat.errors import DecryptionError
from safechat.models.message import StoredMessage
from safechat.services.encryption import Encryptor

log = structlog.get_logger(__name__)


class MessageRenderer:
    def __init__(
        self,
        encryptor: Encryptor,
        media_view: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self._enc = encryptor
        # Media: stored summaries get their URLs here, at read time (models/media.py).
        self._media_view = media_view

    def plaintext(self, content: Any, group_id: str, message_id: str) -> str:
        try:
            return self._enc.decrypt(content, group_id)
        except DecryptionError as exc:
            # Never the content itself in logs; the id is enough to find it.
            log.warning("message_undecryptable", message_id=message_id, reason=str(exc))
            return ""

    def render(self, message: StoredMessage, *, temp_id: str | None = None) -> dict[str, Any]:
        text = (
            ""
            if message.is_deleted
            else self.plaintext(message.content, str(message.group_id), str(message.id))
        )
        return self.render_known(message, text, temp_id=temp_id)

    def render_known(
        self, message: StoredMessage, text: str, *, temp_id: str | None = None
    ) -> dict[str, Any]:
        """As render, for a message whose plaintext is at hand (no decryption)."""
        wire = message.to_wire(text, temp_id=temp_id)
        if self._media_view is not None and "media" in wire:
            wire["media"] = self._media_view(wire["media"])
        return wire

    def render_many(self, messages: list[StoredMessage]) -> list[dict[str, Any]]:
        return [self.render(m) for m in messages]
