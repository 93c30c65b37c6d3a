"""`safechat serve | token | doctor | reencrypt | migrate-from-node`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from safechat import __version__
from safechat.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "host": getattr(args, "host", None),
            "port": getattr(args, "port", None),
            "data_dir": getattr(args, "data_dir", None),
        }.items()
        if value is not None
    }
    return Settings(**overrides)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="interface to listen on (SAFECHAT_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (SAFECHAT_PORT, default 3001)")
    p.add_argument(
        "--data-dir",
        type=Path,
        help="keys and embedded database (SAFECHAT_DATA_DIR, default ./var)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="safechat",
        description="SafeChat: real-time messaging backend (Socket.IO + REST over MongoDB). "
        "Every option can also be set in the environment or a .env file.",
    )
    parser.add_argument("--version", action="version", version=f"safechat {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    _add_common(serve)

    token = sub.add_parser(
        "token", help="print a JWT for a user, signed by the dev issuer of the data dir"
    )
    token.add_argument("sub", help="the user id (the token's sub claim)")
    token.add_argument("--email")
    token.add_argument("--name", help='display name, "First Last"')
    token.add_argument("--username")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    _add_common(token)

    doctor = sub.add_parser("doctor", help="check configuration and every configured component")
    _add_common(doctor)

    reencrypt = sub.add_parser(
        "reencrypt",
        help="re-encrypt stored messages under the first key of ENCRYPTION_KEYS "
        "(finishes a key rotation or a migration from the legacy format)",
        description="Re-encrypts message content and edit history written with older keys or "
        "the legacy format. Safe to run while servers use an external MongoDB; with the "
        "embedded database, stop `safechat serve` first (one process owns the data dir).",
    )
    reencrypt.add_argument("--dry-run", action="store_true", help="count, change nothing")
    reencrypt.add_argument("--batch", type=int, default=500, help="messages per page (500)")
    _add_common(reencrypt)

    migrate = sub.add_parser(
        "migrate-from-node",
        help="copy the old Node service's users, groups and messages into SafeChat's database",
        description="Reads the Node service's MongoDB (never writes to it) and writes its "
        "users, groups, messages (re-encrypted, with seqs) and read state into the database "
        "SafeChat is configured with. Idempotent: run it again after an interruption. Stop "
        "the old service's writes first; with the embedded database, stop `safechat serve` "
        "too. Guide: docs/migration.md.",
    )
    migrate.add_argument("--source-uri", required=True, help="the Node service's MongoDB URI")
    migrate.add_argument("--source-db", help="its database (default: the one the URI names)")
    migrate.add_argument(
        "--legacy-secret",
        help="the Node service's encryption secret (better: env LEGACY_ENCRYPTION_SECRET, "
        "which other users of the machine cannot read from the process list)",
    )
    migrate.add_argument("--dry-run", action="store_true", help="read and check, write nothing")
    migrate.add_argument("--batch", type=int, default=500, help="documents per write (500)")
    migrate.add_argument(
        "--data-dir", type=Path, help="keys and embedded database (SAFECHAT_DATA_DIR, ./var)"
    )
    return parser


def cmd_serve(settings: Settings) -> int:
    from aiohttp import web

    from safechat.adapters.http_guard import runner_options
    from safechat.app import create_app
    from safechat.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format, settings.env)
    lock = claim_data_dir(settings) if not settings.mongodb_uri else None
    if lock is False:
        print(
            f"safechat: data dir {settings.data_dir} is in use by another `safechat serve` "
            "(its embedded database); stop it or pass another --data-dir",
            file=sys.stderr,
        )
        return 1
    loop, loop_name = new_event_loop(settings.event_loop)
    asyncio.set_event_loop(loop)
    app = create_app(settings)
    print(
        f"SafeChat {__version__} on http://{settings.host}:{settings.port} "
        f"(socket.io path /socket.io/, data dir {settings.data_dir}, {loop_name} loop)",
        file=sys.stderr,
    )
    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            print=None,
            access_log=None,
            loop=loop,
            **runner_options(settings),
        )
    except OSError as exc:
        # A busy port (or one we may not bind): one line, not a traceback.
        reason = exc.strerror or str(exc)
        print(
            f"safechat: cannot listen on {settings.host}:{settings.port}: {reason}", file=sys.stderr
        )
        return 1
    return 0


def claim_data_dir(settings: Settings) -> IO[str] | bool:
    """An exclusive lock on the data dir for this process's life (the embedded database
    under it serves one server); False when another server holds it."""
    import fcntl

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    handle = (settings.data_dir / "serve.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    return handle


def new_event_loop(choice: str) -> tuple[asyncio.AbstractEventLoop, str]:
    """uvloop when installed (the `speed` extra) and not turned off; asyncio's otherwise."""
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise SystemExit("SAFECHAT_EVENT_LOOP=uvloop but uvloop is not installed") from None
        else:
            return uvloop.new_event_loop(), "uvloop"
    return asyncio.new_event_loop(), "asyncio"


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    from safechat.services.auth import DevIssuer

    if not settings.dev_issuer:
        print(
            "token: CLERK_JWKS_URL is set; tokens come from Clerk, not from SafeChat",
            file=sys.stderr,
        )
        return 2
    if not 0 < args.ttl <= settings.auth_max_token_lifetime_seconds:
        print(
            f"token: --ttl must be 1..{settings.auth_max_token_lifetime_seconds} seconds "
            "(AUTH_MAX_TOKEN_LIFETIME_SECONDS); longer tokens are refused",
            file=sys.stderr,
        )
        return 2
    if not args.sub.strip():
        print("token: the user id (sub) must not be empty", file=sys.stderr)
        return 2
    first, _, last = (args.name or "").partition(" ")
    issuer = DevIssuer.load_or_create(settings.data_dir, settings.issuer)
    # Which server accepts it: the same settings `serve` reads (flags, env, .env).
    print(
        f"token: signed by the dev issuer {settings.issuer} (keys in {settings.data_dir}), "
        f"valid {args.ttl} s",
        file=sys.stderr,
    )
    print(
        issuer.mint(
            args.sub,
            ttl_seconds=args.ttl,
            email=args.email,
            first_name=first or None,
            last_name=last or None,
            username=args.username,
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except ValidationError as exc:
        # Field and reason only: pydantic's own text would echo the inputs (secrets too).
        reasons = [
            f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        ]
        print("safechat: invalid configuration:\n" + "\n".join(reasons), file=sys.stderr)
        return 2
    if args.command == "serve":
        return cmd_serve(settings)
    if args.command == "token":
        return cmd_token(settings, args)
    if args.command == "reencrypt":
        return cmd_reencrypt(settings, args)
    if args.command == "migrate-from-node":
        return cmd_migrate(settings, args)
    from safechat.doctor import run_doctor

    return asyncio.run(run_doctor(settings))


def cmd_reencrypt(settings: Settings, args: argparse.Namespace) -> int:
    from safechat.commands import reencrypt
    from safechat.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format, settings.env)
    report = asyncio.run(reencrypt(settings, batch=max(1, args.batch), dry_run=args.dry_run))
    verb = "would re-encrypt" if args.dry_run else "re-encrypted"
    print(
        f"scanned {report.scanned} messages; {verb} {report.reencrypted}; "
        f"changed meanwhile {report.changed_meanwhile}; undecryptable {report.undecryptable}"
    )
    return 1 if report.undecryptable or report.changed_meanwhile else 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from pymongo.errors import PyMongoError

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
    except KeyboardInterrupt:
        print("migrate-from-node: interrupted; run it again to resume", file=sys.stderr)
        return 130
    for line in report.lines():
        print(line)
    return 1 if report.skipped else 0
