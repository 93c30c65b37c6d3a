"""Operator tasks: re-encrypt stored content under the primary key.

Completes a key rotation (or a migration from the old Node service's format):
afterwards every message and edit-history entry uses the first key of
ENCRYPTION_KEYS, and the other keys / LEGACY_ENCRYPTION_SECRET can be retired.
Run by `safechat reencrypt`: the command (safechat/commands.py) opens the database
and calls `reencrypt_messages`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from safechat.errors import DecryptionError
from safechat.models.message import StoredMessage
from safechat.repositories.messages import MessageRepository
from safechat.services.encryption import Encryptor

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class ReencryptReport:
    scanned: int = 0
    reencrypted: int = 0
    changed_meanwhile: int = 0
    undecryptable: int = 0


def _is_current(enc: Encryptor, message: StoredMessage) -> bool:
    stored = [message.content, *(e.get("content") for e in message.edit_history)]
    return all(c in (None, "") or enc.is_current(c) for c in stored)


def _reencrypt(enc: Encryptor, value: Any, group_id: str) -> Any:
    if value in (None, "") or enc.is_current(value):
        return value
    return enc.encrypt(enc.decrypt(value, group_id), group_id)


async def reencrypt_messages(
    messages: MessageRepository, enc: Encryptor, *, batch: int = 500, dry_run: bool = False
) -> ReencryptReport:
    report = ReencryptReport()
    after = None
    while True:
        page = await messages.scan(after, batch)
        if not page:
            return report
        after = page[-1].id
        for message in page:
            report.scanned += 1
            if _is_current(enc, message):
                continue
            gid = str(message.group_id)
            try:
                content = _reencrypt(enc, message.content, gid)
                history = [
                    {**e, "content": _reencrypt(enc, e.get("content"), gid)}
                    for e in message.edit_history
                ]
            except DecryptionError as exc:
                # Left as is and counted: a missing old key must not lose data.
                report.undecryptable += 1
                log.warning("reencrypt_skipped", message_id=str(message.id), reason=str(exc))
                continue
            if dry_run or await messages.replace_ciphertexts(message, content, history):
                report.reencrypted += 1
            else:
                report.changed_meanwhile += 1
