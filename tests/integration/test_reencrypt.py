"""`safechat reencrypt`: finishing a key rotation and a migration from the legacy format."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bson import ObjectId

from safechat.commands import reencrypt
from safechat.config import Settings
from safechat.container import SERVICES
from safechat.services.encryption import legacy_encrypt
from tests.helpers.support import start_server

LEGACY_SECRET = "old-node-service-secret"


def key(kid: str) -> str:
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


async def test_rotation_and_legacy_migration(mongo_uri: str, db_name: str, tmp_path: Path) -> None:
    k1, k2 = key("k1"), key("k2")
    common: dict[str, Any] = {"mongo_uri": mongo_uri, "db_name": db_name}
    old = await start_server(
        **common,
        data_dir=tmp_path / "a",
        encryption_keys=k1,
        legacy_encryption_secret=LEGACY_SECRET,
    )
    try:
        alice = await old.user("user_alice")
        gid = await old.group(alice)
        ids = []
        for text in ("first", "second"):
            status, body = await old.request(
                "POST", "/api/messages", alice, {"groupId": gid, "content": text}
            )
            assert status == 201
            ids.append(body["message"]["id"])
        status, _ = await old.request("PATCH", f"/api/messages/{ids[0]}", alice, {"content": "1st"})
        assert status == 200
        # A message written by the old Node service, as it sits in a migrated database.
        db = old.app[SERVICES].database.db
        now = datetime.now(UTC)
        legacy_id = ObjectId()
        await db.messages.insert_one(
            {
                "_id": legacy_id,
                "groupId": ObjectId(gid),
                "seq": 3,
                "senderId": "user_alice",
                "type": "text",
                "content": legacy_encrypt("from node", gid, LEGACY_SECRET),
                "readBy": [],
                "reactions": {},
                "isDeleted": False,
                "createdAt": now,
                "updatedAt": now,
            }
        )
        await db.groups.update_one({"_id": ObjectId(gid)}, {"$set": {"lastSeq": 3}})
        before = {d["_id"]: d async for d in db.messages.find()}
    finally:
        await old.stop()

    rotated = Settings(
        mongodb_uri=mongo_uri,
        mongodb_db=db_name,
        data_dir=tmp_path / "b",
        encryption_keys=f"{k2},{k1}",
        legacy_encryption_secret=LEGACY_SECRET,
    )
    dry = await reencrypt(rotated, batch=2, dry_run=True)
    assert (dry.scanned, dry.reencrypted, dry.undecryptable) == (3, 3, 0)

    new = await start_server(**common, data_dir=tmp_path / "c", encryption_keys=k2)
    try:
        db = new.app[SERVICES].database.db
        assert {d["_id"]: d async for d in db.messages.find()} == before  # dry run wrote nothing

        report = await reencrypt(rotated, batch=2, dry_run=False)
        assert (report.scanned, report.reencrypted, report.undecryptable) == (3, 3, 0)
        async for doc in db.messages.find():
            assert doc["content"]["kid"] == "k2"
            assert all(e["content"]["kid"] == "k2" for e in doc.get("editHistory", []))
            assert doc["updatedAt"] == before[doc["_id"]]["updatedAt"]  # clients see no change

        # Only k2 is configured now: everything still reads back as plaintext.
        token = new.token("user_alice")
        status, body = await new.request("GET", f"/api/messages/group/{gid}", token)
        assert status == 200
        assert [m["content"] for m in body["messages"]] == ["1st", "second", "from node"]
        status, body = await new.request("GET", f"/api/messages/{ids[0]}/history", token)
        assert [h["content"] for h in body["history"]] == ["first"]

        again = await reencrypt(rotated, batch=2, dry_run=False)
        assert (again.scanned, again.reencrypted) == (3, 0)
    finally:
        await new.stop()


async def test_content_of_a_missing_key_is_left_alone(
    mongo_uri: str, db_name: str, tmp_path: Path
) -> None:
    k1 = key("k1")
    srv = await start_server(
        mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path / "a", encryption_keys=k1
    )
    try:
        alice = await srv.user("user_alice")
        gid = await srv.group(alice)
        await srv.request("POST", "/api/messages", alice, {"groupId": gid, "content": "kept"})
        before = await srv.app[SERVICES].database.db.messages.find_one({})
    finally:
        await srv.stop()

    # k1 is gone from the keyring: nothing is destroyed, the message is reported.
    settings = Settings(
        mongodb_uri=mongo_uri,
        mongodb_db=db_name,
        data_dir=tmp_path / "b",
        encryption_keys=key("k9"),
    )
    report = await reencrypt(settings, batch=10, dry_run=False)
    assert (report.scanned, report.reencrypted, report.undecryptable) == (1, 0, 1)
    srv = await start_server(
        mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path / "c", encryption_keys=k1
    )
    try:
        assert await srv.app[SERVICES].database.db.messages.find_one({}) == before
    finally:
        await srv.stop()


def test_cli_reports_counts(
    safechat_bin: str, mongo_uri: str, db_name: str, tmp_path: Path
) -> None:
    import subprocess

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SAFECHAT_", "MONGODB_"))},
        "MONGODB_URI": mongo_uri,
        "MONGODB_DB": db_name,
        "ENCRYPTION_KEYS": key("k1"),
    }
    done = subprocess.run(
        [safechat_bin, "reencrypt", "--dry-run", "--data-dir", str(tmp_path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "scanned 0 messages; would re-encrypt 0" in done.stdout
