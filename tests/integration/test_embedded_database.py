"""The embedded database as `safechat serve` opens it with nothing configured."""

from __future__ import annotations

from pathlib import Path

from safechat.components import open_database
from safechat.config import Settings


async def test_embedded_database_is_opened_without_retryable_writes(
    tmp_path: Path, mongo_uri: str
) -> None:
    # The embedded server rescans every retryable write id it keeps (30 minutes' worth)
    # on each write, so writes slowed down with uptime; an external one keeps them.
    async with open_database(Settings(data_dir=tmp_path)) as (database, embedded):
        assert embedded is not None
        assert database.client.options.retry_writes is False
        await database.ping()
    async with open_database(Settings(data_dir=tmp_path, mongodb_uri=mongo_uri)) as (db, none):
        assert none is None
        assert db.client.options.retry_writes is True


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


async def test_embedded_database_fsyncs_its_journal_before_answering(tmp_path: Path) -> None:
    """Messages are written `j: true`; the embedded server honours that only with
    --sync-on-commit (its default leaves the journal to the OS: a power loss could drop
    acknowledged messages). EMBEDDED_SYNC_ON_COMMIT=false trades that for speed."""
    async with open_database(Settings(data_dir=tmp_path / "on")) as (database, embedded):
        assert embedded is not None
        assert embedded.pid is not None
        assert "--sync-on-commit" in _cmdline(embedded.pid)
        await database.db["probe"].insert_one({"stored": True})
    off = Settings(data_dir=tmp_path / "off", embedded_sync_on_commit=False)
    async with open_database(off) as (database, embedded):
        assert embedded is not None
        assert embedded.pid is not None
        assert "--sync-on-commit" not in _cmdline(embedded.pid)
