"""Media under attack, on the local store: frame bombs, hostile PNG chunks, re-used
upload URLs, files the database knows nothing about."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bson import ObjectId

from safechat.container import IMAGE_WORKERS, SERVICES
from tests.helpers.media import (
    ELF,
    follow,
    frames_gif,
    png_bytes,
    presign,
    upload,
    ztxt_bomb,
)
from tests.helpers.support import ChatServer

BOMBERS = 6


def media_files(server: ChatServer) -> list[str]:
    root = Path(server.settings.data_dir) / "media"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_gif_frame_bombs_are_refused_and_do_not_delay_other_users(
    server: ChatServer,
) -> None:
    alice = await server.user("user_alice")
    bombers = [await server.user(f"user_bomber{i}") for i in range(BOMBERS)]
    gid = await server.group(alice, memberIds=[f"user_bomber{i}" for i in range(BOMBERS)])
    _, earlier = await upload(server, alice, gid, png_bytes(200, 150))
    # 20 000 frames of 1x1: half a megabyte, 20 000 "pixels", seconds of CPU to re-encode.
    bomb = frames_gif(20_000)
    bombs = [
        asyncio.create_task(
            upload(server, token, gid, bomb, filename="b.gif", content_type="image/gif")
        )
        for token in bombers
    ]
    started = time.monotonic()
    status, body = await upload(server, alice, gid, png_bytes(64, 64))
    assert status == 201, body
    content_type, _ = await follow(server, earlier["media"]["url"], alice)
    assert content_type == "image/png"
    others = time.monotonic() - started
    answers = await asyncio.gather(*bombs)
    for status, refused in answers:
        assert status == 413, refused
        assert refused["error"]["code"] == "PAYLOAD_TOO_LARGE"
        assert refused["error"]["details"]["maxFrames"] == 500
    # Before the cap and the separate pool, this took 5+ s behind the bombs.
    assert others < 2.0, others
    assert time.monotonic() - started < 5.0


async def test_png_whose_text_chunk_inflates_past_the_limit_is_a_400(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    gid = await server.group(alice)
    for after_pixels in (False, True):
        status, body = await upload(
            server, alice, gid, ztxt_bomb(after_pixels=after_pixels), content_type="image/png"
        )
        assert status == 400, body
        assert body["error"]["code"] == "VALIDATION_ERROR"
    assert media_files(server) == []


async def test_a_presigned_upload_url_is_single_use(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    gid = await server.group(alice)
    source = png_bytes()

    async def put(url: str, data: bytes, headers: dict[str, str]) -> int:
        async with server.http.put(url, data=data, headers=headers) as resp:
            return resp.status

    _, signed = await presign(server, alice, gid, "p.png", "image/png", len(source))
    mid, url, headers = signed["mediaId"], signed["uploadUrl"], signed["headers"]
    assert await put(url, source, headers) == 200
    assert await put(url, source, headers) == 200  # a retry before complete is fine
    status, body = await server.request("POST", f"/api/media/{mid}/complete", alice)
    assert status == 200, body
    assert await put(url, b"x" * 4096, headers) == 403
    assert media_files(server) == [f"media/{mid}/original", f"media/{mid}/thumbnail"]

    # A refused complete closes the URL too.
    _, signed = await presign(server, alice, gid, "x.png", "image/png", len(ELF))
    assert await put(signed["uploadUrl"], ELF, signed["headers"]) == 200
    status, body = await server.request("POST", f"/api/media/{signed['mediaId']}/complete", alice)
    assert status == 400, body
    assert await put(signed["uploadUrl"], ELF, signed["headers"]) == 403
    assert media_files(server) == [f"media/{mid}/original", f"media/{mid}/thumbnail"]


async def test_the_sweep_finds_every_file_without_a_record(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    gid = await server.group(alice)
    _, kept = await upload(server, alice, gid, png_bytes())
    kept_id = kept["media"]["id"]
    _, signed = await presign(server, alice, gid, "n.txt", "text/plain", 3)
    async with server.http.put(signed["uploadUrl"], data=b"hi\n", headers=signed["headers"]):
        pass
    waiting = f"uploads/{signed['mediaId']}"
    root = Path(server.settings.data_dir) / "media"
    strays = [f"uploads/{ObjectId()}", f"media/{ObjectId()}/original"]
    foreign = "media/not-an-id/notes"  # not a key of ours: left alone
    for key in [*strays, foreign]:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(b"left behind")

    media = server.app[SERVICES].media
    now = datetime.now(UTC)
    assert await media.cleanup_files(now) == 1  # the upload at once; media/ after a grace
    assert await media.cleanup_files(now + timedelta(minutes=11)) == 1
    assert media_files(server) == sorted(
        [f"media/{kept_id}/original", f"media/{kept_id}/thumbnail", foreign, waiting]
    )
    # Past the upload window the waiting upload goes too, and complete says why.
    ttl = timedelta(seconds=server.settings.media_upload_ttl_seconds)
    assert await media.cleanup_files(now + ttl + timedelta(minutes=11)) == 1
    db = server.app[SERVICES].database.db
    old = datetime.now(UTC) - ttl - timedelta(minutes=6)
    await db.media.update_one({"_id": ObjectId(signed["mediaId"])}, {"$set": {"createdAt": old}})
    status, body = await server.request("POST", f"/api/media/{signed['mediaId']}/complete", alice)
    assert status == 400, body
    assert "expired" in body["error"]["message"]
    assert await db.media.find_one({"_id": ObjectId(signed["mediaId"])}) is None


async def test_one_users_image_backlog_is_capped_and_others_keep_going(
    server: ChatServer,
) -> None:
    alice = await server.user("user_alice")
    await server.user("user_bob")
    gid = await server.group(alice, memberIds=["user_bob"])
    bob = server.token("user_bob")
    source = png_bytes()
    _, signed = await presign(server, alice, gid, "p.png", "image/png", len(source))
    async with server.http.put(signed["uploadUrl"], data=source, headers=signed["headers"]) as r:
        assert r.status == 200
    # Alice already has one image decoding and four waiting (slow ones, held open here).
    workers = server.app[IMAGE_WORKERS]
    release = threading.Event()
    held = [
        asyncio.create_task(workers.run("user_alice", lambda: release.wait(10))) for _ in range(5)
    ]
    try:
        for _ in range(100):  # bounded: the tasks reach the pool within a few loop turns
            if workers.jobs("user_alice") == 5:
                break
            await asyncio.sleep(0.01)
        status, body = await upload(server, alice, gid, png_bytes(32, 32))
        assert status == 429, body
        assert body["error"]["code"] == "RATE_LIMITED"
        assert body["error"]["details"]["retryAfterMs"] > 0
        status, body = await server.request(
            "POST", f"/api/media/{signed['mediaId']}/complete", alice
        )
        assert status == 429, body
        # Bob's image takes the thread Alice may not.
        status, body = await asyncio.wait_for(upload(server, bob, gid, png_bytes(16, 16)), 5)
        assert status == 201, body
    finally:
        release.set()
        await asyncio.gather(*held)
    # The refused complete kept the bytes: the retry succeeds.
    status, body = await server.request("POST", f"/api/media/{signed['mediaId']}/complete", alice)
    assert status == 200, body
