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
