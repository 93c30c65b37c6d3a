"""Operator commands that open components themselves (not a running server).

`safechat reencrypt` (cli.py) runs `reencrypt` here: it opens the database as a server
would and hands the rule, services/maintenance.py `reencrypt_messages`, a repository and
the encryptor, so the service stays free of adapters and of the HTTP stack.
"""

from __future__ import annotations

from safechat.components import encryptor, open_database
from safechat.config import Settings
from safechat.repositories.messages import MessageRepository
from safechat.services.maintenance import ReencryptReport, reencrypt_messages


async def reencrypt(settings: Settings, *, batch: int, dry_run: bool) -> ReencryptReport:
    """`safechat reencrypt`: every stored ciphertext under the primary key."""
    enc = encryptor(settings)
    async with open_database(settings) as (database, _):
        return await reencrypt_messages(
            MessageRepository(database), enc, batch=batch, dry_run=dry_run
        )
