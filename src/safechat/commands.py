"""Operator commands that open components themselves (not a running server).

`safechat reencrypt` (cli.py) runs `reencrypt` here (`safechat migrate-from-node` runs
`migrate_from_node` the same way, with services/migration): it opens the database as a server
would and hands the rule, services/maintenance.py `reencrypt_messages`, a repository and
the encryptor, so the service stays free of adapters and of the HTTP stack.
"""

from __future__ import annotations

import pymongo.errors
from pymongo import uri_parser

from safechat.components import encryptor, open_database
from safechat.config import Settings
from safechat.repositories.messages import MessageRepository
from safechat.services.maintenance import ReencryptReport, reencrypt_messages
from safechat.services.migration import MigrationReport


async def reencrypt(settings: Settings, *, batch: int, dry_run: bool) -> ReencryptReport:
    """`safechat reencrypt`: every stored ciphertext under the primary key."""
    enc = encryptor(settings)
    async with open_database(settings) as (database, _):
        return await reencrypt_messages(
            MessageRepository(database), enc, batch=batch, dry_run=dry_run
        )


class MigrationRefused(ValueError):
    """The command cannot start as configured (told to the operator, exit 2)."""


async def migrate_from_node(
    settings: Settings,
    *,
    source_uri: str,
    source_db: str | None,
    batch: int,
    dry_run: bool,
) -> MigrationReport:
    """`safechat migrate-from-node`: the Node service's database into the configured one."""
    from safechat.adapters.node_source import open_node_source
    from safechat.adapters.progress import stderr_progress
    from safechat.repositories.migration import MigrationTarget
    from safechat.services.migration import migrate
    from safechat.services.migration.media import Bucket

    if not settings.legacy_encryption_secret:
        raise MigrationRefused(
            "the old service's secret is needed to read its messages: "
            "set LEGACY_ENCRYPTION_SECRET (or pass --legacy-secret)"
        )
    enc = encryptor(settings)
    bucket = Bucket(settings.s3_bucket, settings.s3_endpoint_url, settings.s3_prefix)
    try:
        name = source_db or uri_parser.parse_uri(source_uri)["database"]
    except (ValueError, pymongo.errors.ConfigurationError) as exc:
        raise MigrationRefused(f"--source-uri: {exc}") from exc
    if not name:
        raise MigrationRefused("the source URI names no database: pass --source-db")
    if settings.mongodb_uri == source_uri and name == settings.mongodb_db:
        raise MigrationRefused("the source and the target are the same database")
    async with (
        open_node_source(
            source_uri, name, batch=batch, timeout_ms=settings.db_timeout_ms
        ) as source,
        open_database(settings, indexes=not dry_run) as (database, _),
    ):
        return await migrate(
            source,
            MigrationTarget(database, dry_run=dry_run),
            enc,
            bucket,
            stderr_progress(batch),
            batch=batch,
            dry_run=dry_run,
        )
