"""Media on the embedded default: a local directory with signed URLs served by SafeChat."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from bson import ObjectId

from safechat.container import LOCAL_MEDIA, SERVICES
from tests.helpers.media import (
    ELF,
    GPS_MARKER,
    PDF,
    PE,
    exif_jpeg,
    fetch,
    follow,
    form,
    image_of,
    png_bytes,
    presign,
    upload,
)
from tests.helpers.support import ChatServer, pair

LIMIT = 10 * 1024 * 1024


def media_files(server: ChatServer) -> list[str]:
    root = Path(server.settings.data_dir) / "media"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_image_upload_send_and_another_member_fetches_the_thumbnail(
    server: ChatServer,
) -> None:
    gid, a, b = await pair(server)
    alice = a.token
    status, body = await upload(server, alice, gid, exif_jpeg(1200, 800), filename="IMG_1.jpg")
    assert status == 201, body
    media = body["media"]
    assert media["kind"] == "image"
    assert media["mimeType"] == "image/jpeg"
    assert (media["width"], media["height"]) == (800, 1200)  # EXIF orientation applied
    assert media["filename"] == "IMG_1.jpg"
    assert media["status"] == "ready"
    assert media["url"] == f"{server.url}/api/media/{media['id']}"
    assert media["thumbnailUrl"] == media["url"] + "?variant=thumbnail"

    ack = await a.call(
        "send_message",
        {"groupId": gid, "type": "image", "mediaId": media["id"], "content": " look! "},
    )
    assert ack["ok"] is True, ack
    assert ack["message"]["type"] == "image"
    assert ack["message"]["content"] == "look!"
    seen = (await b.wait_for("new_message"))["message"]
    assert seen["id"] == ack["message"]["id"]
    wire = seen["media"]
    assert wire["mediaId"] == wire["id"] == media["id"]
    assert wire["url"] == media["url"]
    assert wire["thumbnailUrl"] == media["thumbnailUrl"]
    assert (wire["width"], wire["height"], wire["size"]) == (800, 1200, media["size"])
    assert "expires" not in str(wire).lower()

    bob = b.token
    content_type, thumb = await follow(server, wire["thumbnailUrl"], bob)
    assert content_type == "image/jpeg"
    assert max(image_of(thumb).size) <= 300
    content_type, original = await follow(server, wire["url"], bob)
    assert image_of(original).size == (800, 1200)
    assert len(image_of(original).getexif()) == 0
    assert GPS_MARKER.encode() not in original

    # History carries the same stable URLs; the database stores no URL at all.
    status, page = await server.request("GET", f"/api/messages/group/{gid}", bob)
    assert page["messages"][-1]["media"]["thumbnailUrl"] == wire["thumbnailUrl"]
    db = server.app[SERVICES].database.db
    raw = await db.messages.find_one({"_id": ObjectId(seen["id"])})
    assert raw is not None
    assert "url" not in raw["media"]
    assert "thumbnailUrl" not in raw["media"]
    stored = await db.media.find_one({"_id": ObjectId(media["id"])})
    assert stored is not None
    assert (stored["status"], str(stored["messageId"])) == ("attached", seen["id"])


async def test_json_variant_of_the_signed_url_and_rest_send(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    _, body = await upload(server, a.token, gid, png_bytes())
    mid = body["media"]["id"]
    status, signed = await server.request("GET", f"/api/media/{mid}?redirect=false", a.token)
    assert status == 200
    assert signed["url"].startswith(f"{server.url}/media/local/media/{mid}/original?")
    assert signed["expiresAt"].endswith("Z")

    # POST /api/messages takes a mediaId too, and broadcasts like send_message.
    status, sent = await server.request(
        "POST",
        "/api/messages",
        a.token,
        {"groupId": gid, "type": "image", "mediaId": mid, "content": "via REST"},
    )
    assert status == 201, sent
    assert sent["message"]["media"]["id"] == mid
    seen = await b.wait_for("new_message")
    assert seen["message"]["media"]["thumbnailUrl"].endswith(f"/api/media/{mid}?variant=thumbnail")


async def test_upload_and_send_in_one_request_is_idempotent(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    data = form(PDF, filename="../report.pdf", content_type="application/pdf", field="image")
    for name, value in {"groupId": gid, "caption": "the report", "tempId": "t-9"}.items():
        data.add_field(name, value)
    status, body = await server.request("POST", "/api/media/chat/send", a.token, data=data)
    assert status == 201, body
    message = body["message"]
    assert (message["type"], message["content"], message["tempId"]) == ("file", "the report", "t-9")
    assert message["media"]["filename"] == "report.pdf"
    assert "thumbnailUrl" not in message["media"]
    seen = await b.wait_for("new_message")
    assert seen["message"]["media"]["mimeType"] == "application/pdf"

    again = form(PDF, filename="report.pdf", content_type="application/pdf")
    for name, value in {"groupId": gid, "caption": "the report", "tempId": "t-9"}.items():
        again.add_field(name, value)
    status, body = await server.request("POST", "/api/media/chat/send", a.token, data=again)
    assert status == 200, body
    assert body["duplicate"] is True
    assert body["message"]["id"] == message["id"]
    await b.expect_none("new_message")
    # The retry's upload was dropped at once, not left for the sweep.
    assert await server.app[SERVICES].database.db.media.count_documents({}) == 1
    content_type, pdf = await follow(server, message["media"]["url"], b.token)
    assert (content_type, pdf) == ("application/pdf", PDF)


async def test_disguised_executables_and_unknown_types_are_refused(server: ChatServer) -> None:
    gid, a, _ = await pair(server)
    for data in (ELF, PE, b"\xff\xd8\xff\xe0 not really a jpeg" * 10, b"\x00\x01\x02"):
        status, body = await upload(server, a.token, gid, data, filename="holiday.jpg")
        assert status == 400, body
        assert body["error"]["code"] == "VALIDATION_ERROR"
    assert media_files(server) == []
    assert await server.app[SERVICES].database.db.media.count_documents({"status": "ready"}) == 0


async def test_oversize_uploads_are_refused(server: ChatServer) -> None:
    gid, a, _ = await pair(server)
    too_big = b"a" * (LIMIT + 1)
    status, body = await upload(server, a.token, gid, too_big, filename="big.txt")
    assert status == 413, body
    assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"

    # Chunked, with no Content-Length: refused while streaming.
    boundary = "xyzBOUNDARY"

    async def chunks():  # type: ignore[no-untyped-def]
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="groupId"\r\n\r\n{gid}\r\n'
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n'
        ).encode()
        for _ in range(LIMIT // (1024 * 1024) + 2):
            yield b"b" * (1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    status, body = await server.request(
        "POST",
        "/api/media/chat/upload",
        a.token,
        data=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert status == 413, body
    status, body = await presign(server, a.token, gid, "big.pdf", "application/pdf", LIMIT + 1)
    assert status == 413, body
    assert media_files(server) == []

    # Exactly the limit is fine (well above the 1 MB JSON body limit, too).
    status, body = await upload(server, a.token, gid, b"c" * LIMIT, filename="max.txt")
    assert status == 201, body
    assert body["media"]["size"] == LIMIT
    status, info = await server.request("GET", "/info")
    assert info["limits"]["uploadBytes"] == LIMIT


async def test_path_traversal_in_names_and_urls_is_harmless(server: ChatServer) -> None:
    gid, a, _ = await pair(server)
    names = ["../../../../etc/passwd", "..\\..\\..\\media-url-key", "/tmp/x", "....//....//x"]
    for name in names:
        status, body = await upload(
            server, a.token, gid, b"hello\n", filename=name, content_type="text/plain"
        )
        assert status == 201, body
        assert "/" not in body["media"]["filename"]
        assert "\\" not in body["media"]["filename"]
        assert body["media"]["filename"].endswith(".txt")
    assert all(f.startswith("media/") and f.endswith("/original") for f in media_files(server))
    assert len(media_files(server)) == len(names)
    data_dir = Path(server.settings.data_dir)
    assert not (data_dir.parent / "x").exists()

    # The store's own URLs: every key outside the pattern is refused before any signature.
    for path in [
        "/media/local/../media-url-key",
        "/media/local/..%2F..%2Fmedia-url-key",
        "/media/local/media/..%2F..%2Fmedia-url-key",
        "/media/local/%2e%2e/%2e%2e/media-url-key",
        "/media/local//etc/passwd",
    ]:
        status, _, _, body = await fetch(server, server.url + path + "?exp=1&sig=x", None)
        assert status in (403, 404), (path, status)
        assert b"media-url-key" not in body


async def test_members_only_and_only_your_own_unsent_uploads(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    alice, bob = a.token, b.token
    carol = await server.user("user_carol")
    other = await server.group(alice, name="other", memberIds=["user_bob", "user_carol"])
    _, body = await upload(server, alice, gid, png_bytes())
    media = body["media"]

    # Before it is sent: the uploader only.
    status, _, _, _ = await fetch(server, media["url"], bob)
    assert status == 403
    status, _, _, _ = await fetch(server, media["url"], carol)
    assert status == 403
    status, _, _, _ = await fetch(server, media["url"], None)
    assert status == 401

    # Nobody else may attach it, and it stays in the group it was uploaded to.
    ack = await b.call("send_message", {"groupId": gid, "type": "image", "mediaId": media["id"]})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "VALIDATION_ERROR"
    c = await server.client(carol)
    ack = await c.call("send_message", {"groupId": other, "type": "image", "mediaId": media["id"]})
    assert ack["error"]["code"] == "VALIDATION_ERROR"
    ack = await a.call("send_message", {"groupId": other, "type": "image", "mediaId": media["id"]})
    assert ack["error"]["code"] == "VALIDATION_ERROR"
    ack = await a.call("send_message", {"groupId": gid, "mediaId": media["id"], "content": "x"})
    assert ack["error"]["code"] == "VALIDATION_ERROR"  # type text with a mediaId
    # Carol cannot even upload to a group she is not in.
    status, body = await upload(server, carol, gid, png_bytes())
    assert status == 403, body

    ack = await a.call("send_message", {"groupId": gid, "type": "image", "mediaId": media["id"]})
    assert ack["ok"] is True, ack
    assert ack["message"]["content"] == ""
    status, _, _, _ = await fetch(server, media["url"], bob)
    assert status == 302
    status, _, _, _ = await fetch(server, media["url"], carol)
    assert status == 403
    # Sent once only.
    ack = await a.call("send_message", {"groupId": gid, "type": "image", "mediaId": media["id"]})
    assert ack["error"]["code"] == "CONFLICT"

    # A PDF is a file, not an image.
    _, body = await upload(server, alice, gid, PDF, filename="a.pdf")
    ack = await a.call(
        "send_message", {"groupId": gid, "type": "image", "mediaId": body["media"]["id"]}
    )
    assert ack["error"]["code"] == "VALIDATION_ERROR"

    # After the message is deleted, its media is no longer served.
    _, body = await upload(server, alice, gid, b"notes\n", filename="n.txt")
    ack = await a.call(
        "send_message", {"groupId": gid, "type": "file", "mediaId": body["media"]["id"]}
    )
    assert ack["ok"] is True, ack
    status, _, _, _ = await fetch(server, body["media"]["url"], bob)
    assert status == 302
    await a.call("delete_message", {"messageId": ack["message"]["id"]})
    status, _, _, _ = await fetch(server, body["media"]["url"], bob)
    assert status == 404


async def test_expired_and_forged_signatures_are_refused(server: ChatServer) -> None:
    gid, a, _ = await pair(server)
    _, body = await upload(server, a.token, gid, png_bytes())
    mid = body["media"]["id"]
    _, location, _, _ = await fetch(server, body["media"]["url"], a.token)
    assert location is not None
    status, _, headers, data = await fetch(server, location, None)
    assert status == 200
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Type"] == "image/png"
    assert image_of(data).size == (64, 48)

    parts = urlsplit(location)
    query = dict(parse_qsl(parts.query))
    forged = [
        {**query, "sig": "0" * 64},
        {**query, "ct": "text/html"},
        {**query, "exp": str(int(query["exp"]) + 3600)},
        {k: v for k, v in query.items() if k != "sig"},
    ]
    for q in forged:
        status, _, _, _ = await fetch(server, f"{server.url}{parts.path}?{urlencode(q)}", None)
        assert status == 403
    # The signature covers the key: another object's path with this query is refused.
    other = parts.path.replace("original", "thumbnail")
    status, _, _, _ = await fetch(server, f"{server.url}{other}?{parts.query}", None)
    assert status == 403
    # A GET signature does not allow a PUT.
    async with server.http.put(location, data=b"x", headers={"Content-Type": "image/png"}) as r:
        assert r.status == 403

    store = server.app[LOCAL_MEDIA]
    expired = await store.download_url(
        f"media/{mid}/original",
        content_type="image/png",
        filename="a.png",
        inline=True,
        expires_in=-1,
    )
    status, _, _, body = await fetch(server, expired.url, None)
    assert status == 403
    assert b"expired" in body


async def test_direct_upload_through_the_local_put_endpoint(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    source = exif_jpeg(640, 480, orientation=1)
    status, signed = await presign(server, a.token, gid, "cam/p.jpg", "image/jpeg", len(source))
    assert status == 201, signed
    assert signed["method"] == "PUT"
    assert signed["headers"] == {"Content-Type": "image/jpeg"}
    mid = signed["mediaId"]

    status, body = await server.request("POST", f"/api/media/{mid}/complete", a.token)
    assert status == 409, body  # nothing uploaded yet
    status, _, _, _ = await fetch(server, f"{server.url}/api/media/{mid}", a.token)
    assert status == 404

    async with server.http.put(
        signed["uploadUrl"], data=source, headers={"Content-Type": "text/plain"}
    ) as r:
        assert r.status == 403  # the Content-Type is part of the signature
    async with server.http.put(signed["uploadUrl"], data=source, headers=signed["headers"]) as r:
        assert r.status == 200, await r.text()
    status, body = await server.request("POST", f"/api/media/{mid}/complete", b.token)
    assert status == 404  # not Bob's upload
    status, body = await server.request("POST", f"/api/media/{mid}/complete", a.token)
    assert status == 200, body
    media = body["media"]
    assert (media["status"], media["width"], media["height"]) == ("ready", 640, 480)
    assert media["filename"] == "p.jpg"
    status, again = await server.request("POST", f"/api/media/{mid}/complete", a.token)
    assert status == 200
    assert again["media"]["id"] == mid

    # The upload URL was single use: re-using it is refused, and nothing replaces what is served.
    async with server.http.put(signed["uploadUrl"], data=ELF, headers=signed["headers"]) as r:
        assert r.status == 403
    ack = await a.call("send_message", {"groupId": gid, "type": "image", "mediaId": mid})
    assert ack["ok"] is True, ack
    _, original = await follow(server, ack["message"]["media"]["url"], b.token)
    assert image_of(original).size == (640, 480)
    assert GPS_MARKER.encode() not in original


async def test_direct_upload_is_verified_on_complete(server: ChatServer) -> None:
    gid, a, _ = await pair(server)

    async def presign_and_put(declared: int, data: bytes) -> tuple[str, int, dict]:  # type: ignore[type-arg]
        _, signed = await presign(server, a.token, gid, "x.png", "image/png", declared)
        async with server.http.put(signed["uploadUrl"], data=data, headers=signed["headers"]):
            pass
        status, body = await server.request(
            "POST", f"/api/media/{signed['mediaId']}/complete", a.token
        )
        return signed["mediaId"], status, body

    _, status, body = await presign_and_put(len(ELF), ELF)
    assert status == 400, body
    _, status, body = await presign_and_put(10, png_bytes())
    assert status == 400, body
    assert body["error"]["details"]["actual"] == len(png_bytes())
    # Refused uploads leave nothing behind.
    assert media_files(server) == []
    assert await server.app[SERVICES].database.db.media.count_documents({}) == 0
    # Declared types outside the list are refused up front.
    status, body = await presign(server, a.token, gid, "x.exe", "application/x-msdownload", 9)
    assert status == 400, body


async def test_orphaned_uploads_are_swept(server: ChatServer) -> None:
    gid, a, _ = await pair(server)
    _, kept = await upload(server, a.token, gid, png_bytes())
    _, orphan = await upload(server, a.token, gid, png_bytes(32, 32))
    _, signed = await presign(server, a.token, gid, "never.pdf", "application/pdf", 9)
    ack = await a.call(
        "send_message", {"groupId": gid, "type": "image", "mediaId": kept["media"]["id"]}
    )
    assert ack["ok"] is True
    assert len(media_files(server)) == 4  # two originals, two thumbnails

    media = server.app[SERVICES].media
    db = server.app[SERVICES].database.db
    stored = await db.media.find_one({"_id": ObjectId(orphan["media"]["id"])})
    assert stored is not None
    created = stored["createdAt"]
    assert await media.cleanup_orphans(created + timedelta(hours=23)) == 0
    assert await media.cleanup_orphans(created + timedelta(hours=25)) == 2
    assert await db.media.find_one({"_id": ObjectId(signed["mediaId"])}) is None
    assert await db.media.find_one({"_id": ObjectId(orphan["media"]["id"])}) is None
    assert media_files(server) == sorted(
        f"media/{kept['media']['id']}/{v}" for v in ("original", "thumbnail")
    )
    status, _, _, _ = await fetch(server, orphan["media"]["url"], a.token)
    assert status == 404
    status, _, _, _ = await fetch(server, kept["media"]["url"], a.token)
    assert status == 302


async def test_uploads_older_than_a_day_cannot_be_sent(server: ChatServer) -> None:
    gid, a, _ = await pair(server)
    _, body = await upload(server, a.token, gid, png_bytes())
    mid = body["media"]["id"]
    db = server.app[SERVICES].database.db
    stored = await db.media.find_one({"_id": ObjectId(mid)})
    assert stored is not None
    old = stored["createdAt"] - timedelta(hours=24, seconds=1)
    await db.media.update_one({"_id": ObjectId(mid)}, {"$set": {"createdAt": old}})
    ack = await a.call("send_message", {"groupId": gid, "type": "image", "mediaId": mid})
    assert ack["error"]["code"] == "VALIDATION_ERROR"
    assert "expired" in ack["error"]["message"]


async def test_malformed_upload_requests_get_400_not_500(server: ChatServer) -> None:
    gid, a, _ = await pair(server)
    b = "BND"
    part = f'--{b}\r\nContent-Disposition: form-data; name="groupId"\r\n\r\n{gid}\r\n'
    file_part = (
        f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhi\r\n'
    )
    multipart = f"multipart/form-data; boundary={b}"
    cases: list[tuple[str, bytes]] = [
        ("application/json", b'{"groupId": "x"}'),
        ("multipart/form-data", (part + f"--{b}--\r\n").encode()),  # no boundary
        (multipart, b"garbage without any boundary"),
        (multipart, (part + file_part).encode()),  # never closed
        (multipart, (part + f"--{b}--\r\n").encode()),  # no file
        (multipart, (part + part + file_part + f"--{b}--\r\n").encode()),  # field twice
        (multipart, (file_part + file_part + part + f"--{b}--\r\n").encode()),  # two files
        (
            multipart,
            (part.replace("groupId", "ownerId") + file_part + f"--{b}--\r\n").encode(),
        ),
        (multipart, (part.replace(gid, "../../x") + file_part + f"--{b}--\r\n").encode()),
        (multipart, (part * 12 + f"--{b}--\r\n").encode()),
        (
            multipart,
            (
                f'--{b}\r\nContent-Disposition: form-data; name="groupId"\r\n\r\n'.encode()
                + b"\xff\xfe"
                + f"\r\n{file_part}--{b}--\r\n".encode()
            ),
        ),
    ]
    for content_type, body in cases:
        for path in ("/api/media/chat/upload", "/api/media/chat/send"):
            status, answer = await server.request(
                "POST", path, a.token, data=body, headers={"Content-Type": content_type}
            )
            assert status == 400, (content_type, body[:80], answer)
            assert answer["error"]["code"] == "VALIDATION_ERROR"
    # Well-formed, by hand: accepted.
    status, answer = await server.request(
        "POST",
        "/api/media/chat/upload",
        a.token,
        data=(part + file_part + f"--{b}--\r\n").encode(),
        headers={"Content-Type": multipart},
    )
    assert status == 201, answer
    assert answer["media"]["filename"] == "a.txt"


async def test_one_upload_sent_twice_at_once_makes_one_message(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    status, body = await upload(server, a.token, gid, png_bytes(), filename="p.png")
    assert status == 201
    mid = body["media"]["id"]
    phone = await server.client(a.token)
    send = {"groupId": gid, "type": "image", "mediaId": mid, "content": ""}
    acks = await asyncio.gather(a.call("send_message", send), phone.call("send_message", send))
    assert sorted(x["ok"] for x in acks) == [False, True]
    refused = next(x for x in acks if not x["ok"])
    assert refused["error"]["code"] in ("CONFLICT", "VALIDATION_ERROR")
    assert (await b.wait_for("new_message"))["message"]["media"]["mediaId"] == mid
    await b.expect_none("new_message", within=0.2)
    status, history = await server.request("GET", f"/api/messages/group/{gid}", a.token)
    assert [m["type"] for m in history["messages"] if not m["isDeleted"]] == ["image"]
