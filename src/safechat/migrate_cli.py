"""`safechat migrate-from-node` on the command line: settings in, report out, exit code."""

from __future__ import annotations

import argparse
import asyncio
import sys

from pymongo.errors import PyMongoError

from safechat.config import Settings


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from safechat.cli import claim_data_dir
    from safechat.commands import MigrationRefused, migrate_from_node
    from safechat.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format, settings.env)
    if args.legacy_secret:
        settings = settings.model_copy(update={"legacy_encryption_secret": args.legacy_secret})
    if args.batch < 1:
        print("migrate-from-node: --batch must be at least 1", file=sys.stderr)
        return 2
    # The embedded database serves one process: not while `safechat serve` runs on it.
    lock = claim_data_dir(settings) if not settings.mongodb_uri else None
    if lock is False:
        print(
            f"migrate-from-node: data dir {settings.data_dir} is in use by `safechat serve`; "
            "stop it first (or use MONGODB_URI)",
            file=sys.stderr,
        )
        return 2
    try:
        report = asyncio.run(
            migrate_from_node(
                settings,
                source_uri=args.source_uri,
                source_db=args.source_db,
                batch=args.batch,
                dry_run=args.dry_run,
            )
        )
    except MigrationRefused as exc:
        print(f"migrate-from-node: {exc}", file=sys.stderr)
        return 2
    except PyMongoError as exc:
        print(f"migrate-from-node: database error, nothing more written: {exc}", file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    return 1 if report.skipped else 0
