"""`safechat migrate-from-node`: a database in the Node service's shape (tests/helpers/
node_db.py) moved by the real command, then checked as users see it, through the real
server's REST and Socket.IO API: complete ordered history, decrypted, gap-free seqs,
unread counts, roles, sync. Re-running changes nothing, an interrupted run resumed ends
the same, a dry run writes nothing."""

from __future__ import annotations

import base64
import fcntl
import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from safechat.services.encryption import Encryptor
from tests.helpers import node_db
from tests.helpers.support import ChatServer, start_server

KEYS = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
COLLECTIONS = ("users", "groups", "messages", "read_state", "media")
SIGN_IN = ("lastSeen", "updatedAt", "isActive")


@pytest.fixture(scope="module")
def source(mongo_uri: str) -> tuple[str, node_db.Expected]:
    name = f"node_{uuid.uuid4().hex[:10]}"
    return name, node_db.build(mongo_uri, name)


def command(
    safechat_bin: str, mongo_uri: str, source_db: str, target_db: str, tmp: Path, *extra: str
) -> tuple[list[str], dict[str, str]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SAFECHAT_", "MONGODB_"))},
        "MONGODB_URI": mongo_uri,
        "MONGODB_DB": target_db,
        "ENCRYPTION_KEYS": KEYS,
        "LEGACY_ENCRYPTION_SECRET": node_db.SECRET,
        "S3_BUCKET": node_db.BUCKET,
        "SAFECHAT_LOG_LEVEL": "WARNING",
    }
    argv = [safechat_bin, "migrate-from-node", "--source-uri", mongo_uri, "--source-db", source_db]
    return [*argv, "--data-dir", str(tmp), *extra], env


def run(
    safechat_bin: str, mongo_uri: str, source_db: str, target_db: str, tmp: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    argv, env = command(safechat_bin, mongo_uri, source_db, target_db, tmp, *extra)
    return subprocess.run(
        argv, env=env, cwd=tmp, capture_output=True, text=True, timeout=120, check=False
    )


def snapshot(mongo_uri: str, db_name: str, *, decrypt: bool = False) -> dict[str, list[Any]]:
    """Every migrated collection, in _id order; with `decrypt`, content as plaintext (a
    ciphertext differs from run to run: the IV is random) and read_state without its _id."""
    enc = Encryptor.from_spec(KEYS)
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    try:
        out: dict[str, list[Any]] = {}
        for name in COLLECTIONS:
            docs = list(client[db_name][name].find().sort("_id", 1))
            if name == "users":
                # What signing in to the running server changes, not the migration.
                docs = [{k: v for k, v in d.items() if k not in SIGN_IN} for d in docs]
            if decrypt and name == "messages":
                for d in docs:
                    d["content"] = enc.decrypt(d["content"], str(d["groupId"]))
            if decrypt and name == "read_state":
                docs = sorted(
                    ({k: v for k, v in d.items() if k != "_id"} for d in docs),
                    key=lambda d: (str(d["groupId"]), d["userId"]),
                )
            out[name] = docs
        return out
    finally:
        client.close()


def databases(mongo_uri: str) -> list[str]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    try:
        return client.list_database_names()
    finally:
        client.close()


async def history(srv: ChatServer, token: str, gid: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        after = found[-1]["seq"] if found else 0
        status, body = await srv.request(
            "GET", f"/api/messages/group/{gid}?afterSeq={after}&limit=100", token
        )
        assert status == 200, body
        found += body["messages"]
        if not body["hasMore"]:
            return found


async def test_migrated_history_as_users_see_it(
    safechat_bin: str,
    mongo_uri: str,
    source: tuple[str, node_db.Expected],
    tmp_path: Path,
) -> None:
    source_db, expected = source
    target = f"t_{uuid.uuid4().hex[:12]}"
    done = run(safechat_bin, mongo_uri, source_db, target, tmp_path)
    # The orphan (a message of a group that is gone) is skipped: reported, exit code 1.
    assert done.returncode == 1, done.stderr
    report = done.stdout
    migrated = expected.total_messages - 1
    assert f"inserted {migrated}" in report
    assert "orphaned 1" in report
    assert f"undecryptable {expected.undecryptable}" in report
    assert f"deleted {expected.deleted}" in report
    assert "INCOMPLETE, 1 skipped" in report
    assert "progress: messages" in done.stderr
    before = snapshot(mongo_uri, target)
    assert not any("vectorEmbedding" in d for d in before["messages"])

    srv = await start_server(
        mongo_uri=mongo_uri, db_name=target, data_dir=tmp_path / "srv", encryption_keys=KEYS
    )
    try:
        # Migrated users are in the directory before they ever sign in to SafeChat.
        searcher, other = node_db.USERS[0], node_db.USERS[1]
        status, body = await srv.request(
            "GET", f"/api/users/search?q={other[:3]}", srv.token(node_db.uid(searcher))
        )
        assert status == 200, body
        assert node_db.uid(other) in {u["userId"] for u in body["users"]}
        await check_groups(srv, expected)
        await check_sync(srv, expected)

        # Running again writes nothing, byte for byte (ciphertexts included).
        again = run(safechat_bin, mongo_uri, source_db, target, tmp_path)
        assert again.returncode == 1, again.stderr
        assert f"already_present {migrated}" in again.stdout
        assert "messages: inserted" not in again.stdout
        assert snapshot(mongo_uri, target) == before

        # A dry run on the migrated database, and on an empty one: nothing written.
        dry = run(safechat_bin, mongo_uri, source_db, target, tmp_path, "--dry-run")
        assert dry.returncode == 1, dry.stderr
        assert "dry run, nothing written" in dry.stdout
        assert snapshot(mongo_uri, target) == before
        empty = f"t_{uuid.uuid4().hex[:12]}"
        dry = run(safechat_bin, mongo_uri, source_db, empty, tmp_path, "--dry-run")
        assert f"inserted {migrated}" in dry.stdout
        assert empty not in databases(mongo_uri)

        # The migrated groups go on: the next message takes the next seq, reads clear unread.
        general = expected.groups["general"]
        bob = await srv.client("user_bob")
        ack = await bob.call(
            "send_message", {"groupId": general.id, "content": "hello after the move"}
        )
        assert ack["ok"] is True, ack
        assert ack["message"]["seq"] == len(general.messages) + 1
        ack = await bob.call(
            "mark_messages_read", {"groupId": general.id, "upToSeq": len(general.messages) + 1}
        )
        assert ack["ok"] is True, ack
        _, body = await srv.request("GET", "/api/groups", srv.token("user_bob"))
        assert {g["id"]: g["unreadCount"] for g in body["groups"]}[general.id] == 0

        # Once the group is used on SafeChat, a re-run refuses to rewrite it.
        late = run(safechat_bin, mongo_uri, source_db, target, tmp_path)
        assert late.returncode == 1
        assert "changed_in_safechat" in late.stdout
        _, body = await srv.request(
            "GET", f"/api/messages/group/{general.id}?limit=1", srv.token("user_bob")
        )
        assert body["messages"][0]["content"] == "hello after the move"
    finally:
        await srv.stop()


async def check_groups(srv: ChatServer, expected: node_db.Expected) -> None:
    for name in node_db.USERS:
        user = node_db.uid(name)
        token = srv.token(user)
        status, body = await srv.request("GET", "/api/groups", token)
        assert status == 200
        mine = {g["id"]: g for g in body["groups"]}
        should = {g.id: g for g in expected.groups.values() if g.active and user in g.roles}
        assert set(mine) == set(should), name
        for gid, group in should.items():
            assert mine[gid]["role"] == group.roles[user]
            assert mine[gid]["lastSeq"] == len(group.messages)
            assert mine[gid]["unreadCount"] == group.unread[user], (group.name, name)
            assert mine[gid]["ownerId"] == group.owner

    for group in expected.groups.values():
        owner = srv.token(group.owner)
        status, body = await srv.request("GET", f"/api/groups/{group.id}", owner)
        if not group.active:
            assert status == 404  # kept, and still inactive
            continue
        assert status == 200, body
        assert {m["userId"]: m["role"] for m in body["group"]["members"]} == group.roles
        got = await history(srv, owner, group.id)
        assert [m["seq"] for m in got] == list(range(1, len(group.messages) + 1))
        assert [m["id"] for m in got] == [m.id for m in group.messages]
        assert [m["content"] for m in got] == [m.content for m in group.messages]
        assert [m["isDeleted"] for m in got] == [m.deleted for m in group.messages]
        assert [m["senderId"] for m in got] == [m.sender for m in group.messages]
        for m, want in zip(got, group.messages, strict=True):
            assert m["type"] == want.type
            if want.media == "s3":
                assert m["media"]["mediaId"] == want.id
                assert m["media"]["url"].endswith(f"/api/media/{want.id}")
            elif want.media == "external":
                assert m["media"]["url"] == want.url
                assert m["media"]["external"] is True
            else:
                assert "media" not in m


async def check_sync(srv: ChatServer, expected: node_db.Expected) -> None:
    general, left = expected.groups["general"], expected.groups["creator left"]
    carol = await srv.client("user_carol")
    ack = await carol.call("sync", {"groupId": general.id, "afterSeq": 0, "limit": 200})
    assert ack["ok"] is True, ack
    assert [m["seq"] for m in ack["messages"]] == list(range(1, 201))
    assert ack["hasMore"] is True
    assert ack["lastSeq"] == len(general.messages)
    ack = await carol.call(
        "sync",
        {"groups": {general.id: len(general.messages) - 3, left.id: len(left.messages) - 2}},
    )
    assert ack["ok"] is True, ack
    tail = ack["groups"][general.id]
    assert [m["content"] for m in tail["messages"]] == [m.content for m in general.messages[-3:]]
    assert [m["id"] for m in ack["groups"][left.id]["messages"]] == [
        m.id for m in left.messages[-2:]
    ]
    # Deleted messages before the point are reported as changed; read receipts are not.
    deleted_before = {m.id for m in general.messages[:-3] if m.deleted}
    assert {m["id"] for m in tail["updated"]} <= deleted_before


async def test_interrupted_run_resumed_ends_the_same(
    safechat_bin: str,
    mongo_uri: str,
    source: tuple[str, node_db.Expected],
    tmp_path: Path,
) -> None:
    source_db, expected = source
    whole, resumed = (f"t_{uuid.uuid4().hex[:12]}" for _ in range(2))
    assert run(safechat_bin, mongo_uri, source_db, whole, tmp_path).returncode == 1

    argv, env = command(safechat_bin, mongo_uri, source_db, resumed, tmp_path, "--batch", "5")
    proc = subprocess.Popen(
        argv, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    # A one-page pipe: should this test fall behind reading, the command blocks on its next
    # few progress lines (one per 5 messages) instead of finishing before it is killed.
    fcntl.fcntl(proc.stderr.fileno(), fcntl.F_SETPIPE_SZ, 4096)
    try:
        for line in proc.stderr:
            if line.startswith("progress: messages") and int(line.split()[2].split("/")[0]) >= 300:
                proc.send_signal(signal.SIGKILL)  # no cleanup of any kind
                break
    finally:
        proc.wait(30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    partial = snapshot(mongo_uri, resumed)
    assert 300 <= len(partial["messages"]) < expected.total_messages - 1

    done = run(safechat_bin, mongo_uri, source_db, resumed, tmp_path, "--batch", "50")
    assert done.returncode == 1, done.stderr
    assert "already_present" in done.stdout
    assert snapshot(mongo_uri, resumed, decrypt=True) == snapshot(mongo_uri, whole, decrypt=True)


def test_refusals(safechat_bin: str, mongo_uri: str, tmp_path: Path) -> None:
    argv, env = command(safechat_bin, mongo_uri, "node", "safechat", tmp_path)
    env.pop("LEGACY_ENCRYPTION_SECRET")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "LEGACY_ENCRYPTION_SECRET" in done.stderr
    argv, env = command(safechat_bin, mongo_uri, "same", "same", tmp_path)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "same database" in done.stderr


def test_clean_source_exits_0_and_a_taken_username_is_dropped(
    safechat_bin: str, mongo_uri: str, tmp_path: Path
) -> None:
    source_db, target = (f"t_{uuid.uuid4().hex[:12]}" for _ in range(2))
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    try:
        client[source_db].users.insert_many(
            [
                {"clerkId": "user_new", "username": "taken", "email": "n@example.com"},
                {"clerkId": "user_known", "firstName": "Old name"},
            ]
        )
        # Already on SafeChat: one holds the username, one signed in under its clerkId.
        client[target].users.insert_many(
            [
                {"clerkId": "user_other", "username": "taken"},
                {"clerkId": "user_known", "firstName": "New name"},
            ]
        )
        done = run(safechat_bin, mongo_uri, source_db, target, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "users: already_present 1, username_dropped 1" in done.stdout
        assert "complete, nothing skipped" in done.stdout
        users = {d["clerkId"]: d for d in client[target].users.find()}
        assert "username" not in users["user_new"]
        assert users["user_new"]["email"] == "n@example.com"
        assert users["user_known"]["firstName"] == "New name"  # SafeChat's is newer
    finally:
        client.close()
