"""Media on the S3 path, against moto's S3 server on 127.0.0.1 (real HTTP, real boto3,
real presigned URLs)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from bson import ObjectId
from moto.server import ThreadedMotoServer

from safechat.adapters.embedded_mongo import free_port
from safechat.container import SERVICES
from tests.helpers.media import (
    ELF,
    GPS_MARKER,
    exif_jpeg,
    fetch,
    follow,
    image_of,
    presign,
    upload,
)
from tests.helpers.support import ChatServer, pair, start_server

PREFIX = "chat"


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server, and an AWS environment that can only reach it: credentials from
    the environment (the first link of boto3's chain), no config files, no metadata
    endpoint."""
    empty = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(empty / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(empty / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            mp.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN"):
            mp.delenv(name, raising=False)
        port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            moto.stop()


@pytest.fixture
def bucket(moto_url: str) -> tuple[Any, str]:
    client = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    name = f"safechat-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return client, name


@pytest.fixture
async def s3_server(
    mongo_uri: str, db_name: str, tmp_path: Path, moto_url: str, bucket: tuple[Any, str]
) -> AsyncIterator[ChatServer]:
    srv = await start_server(
        mongo_uri=mongo_uri,
        db_name=db_name,
        data_dir=tmp_path / "data",
        s3_bucket=bucket[1],
        s3_endpoint_url=moto_url,
        s3_region="us-east-1",
        s3_prefix=PREFIX,
    )
    try:
        yield srv
    finally:
        await srv.stop()


def objects(bucket: tuple[Any, str]) -> dict[str, dict[str, Any]]:
    client, name = bucket
    listed = client.list_objects_v2(Bucket=name).get("Contents", [])
    return {o["Key"]: o for o in listed}


async def test_upload_send_and_fetch_the_thumbnail_from_s3(
    s3_server: ChatServer, bucket: tuple[Any, str], moto_url: str
) -> None:
    server = s3_server
    gid, a, b = await pair(server)
    status, body = await upload(server, a.token, gid, exif_jpeg(1000, 700, orientation=1))
    assert status == 201, body
    mid = body["media"]["id"]
    assert set(objects(bucket)) == {
        f"{PREFIX}/media/{mid}/original",
        f"{PREFIX}/media/{mid}/thumbnail",
    }
    head = bucket[0].head_object(Bucket=bucket[1], Key=f"{PREFIX}/media/{mid}/original")
    assert head["ContentType"] == "image/jpeg"
    # Nothing is served from the local store when S3 is configured.
    assert not (Path(server.settings.data_dir) / "media").exists()

    ack = await a.call("send_message", {"groupId": gid, "type": "image", "mediaId": mid})
    assert ack["ok"] is True, ack
    media = (await b.wait_for("new_message"))["message"]["media"]
    assert media["thumbnailUrl"] == f"{server.url}/api/media/{mid}?variant=thumbnail"

    status, location, _, _ = await fetch(server, media["thumbnailUrl"], b.token)
    assert status == 302
    assert location is not None
    assert location.startswith(f"{moto_url}/{bucket[1]}/{PREFIX}/media/{mid}/thumbnail?")
    assert "X-Amz-Signature=" in location
    assert "X-Amz-Expires=600" in location
    content_type, thumb = await follow(server, media["thumbnailUrl"], b.token)
    assert content_type == "image/jpeg"
    assert image_of(thumb).size == (300, 210)
    _, original = await follow(server, media["url"], b.token)
    assert image_of(original).size == (1000, 700)
    assert GPS_MARKER.encode() not in original

    outsider = await server.user("user_carol")
    status, _, _, _ = await fetch(server, media["url"], outsider)
    assert status == 403


async def test_the_local_store_endpoints_do_not_exist_with_s3(s3_server: ChatServer) -> None:
    assert not any(
        r.canonical.startswith("/media/local/") for r in s3_server.app.router.resources()
    )
    url = f"{s3_server.url}/media/local/media/x/original?ct=a&max=1&exp=1&sig=00"
    async with s3_server.http.put(url, data=b"x", headers={"Content-Type": "a"}) as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "NOT_FOUND"


async def test_presigned_put_to_s3_then_complete(
    s3_server: ChatServer, bucket: tuple[Any, str], moto_url: str
) -> None:
    server = s3_server
    gid, a, b = await pair(server)
    source = exif_jpeg(400, 300, orientation=8)
    status, signed = await presign(server, a.token, gid, "p.jpg", "image/jpeg", len(source))
    assert status == 201, signed
    mid = signed["mediaId"]
    url = urlsplit(signed["uploadUrl"])
    assert f"{url.scheme}://{url.netloc}" == moto_url
    assert url.path == f"/{bucket[1]}/{PREFIX}/uploads/{mid}"
    assert "X-Amz-Signature=" in url.query
    assert signed["method"] == "PUT"

    # A real HTTP PUT of the bytes, straight to the bucket, as a client would do it.
    async with server.http.put(signed["uploadUrl"], data=source, headers=signed["headers"]) as r:
        assert r.status == 200, await r.text()
    assert f"{PREFIX}/uploads/{mid}" in objects(bucket)

    status, body = await server.request("POST", f"/api/media/{mid}/complete", a.token)
    assert status == 200, body
    media = body["media"]
    assert (media["width"], media["height"]) == (300, 400)  # orientation 8 applied
    assert set(objects(bucket)) == {
        f"{PREFIX}/media/{mid}/original",
        f"{PREFIX}/media/{mid}/thumbnail",
    }
    ack = await a.call(
        "send_message", {"groupId": gid, "type": "image", "mediaId": mid, "content": "hi"}
    )
    assert ack["ok"] is True, ack
    _, original = await follow(server, ack["message"]["media"]["url"], b.token)
    assert image_of(original).size == (300, 400)
    assert len(image_of(original).getexif()) == 0


async def test_disguised_executable_put_to_s3_is_refused_and_removed(
    s3_server: ChatServer, bucket: tuple[Any, str]
) -> None:
    server = s3_server
    gid, a, _ = await pair(server)
    status, signed = await presign(server, a.token, gid, "cat.jpg", "image/jpeg", len(ELF))
    assert status == 201, signed
    async with server.http.put(signed["uploadUrl"], data=ELF, headers=signed["headers"]) as r:
        assert r.status == 200
    status, body = await server.request("POST", f"/api/media/{signed['mediaId']}/complete", a.token)
    assert status == 400, body
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert objects(bucket) == {}
    ack = await a.call(
        "send_message", {"groupId": gid, "type": "image", "mediaId": signed["mediaId"]}
    )
    assert ack["error"]["code"] == "VALIDATION_ERROR"


async def test_orphans_are_removed_from_the_bucket(
    s3_server: ChatServer, bucket: tuple[Any, str]
) -> None:
    server = s3_server
    gid, a, _ = await pair(server)
    _, body = await upload(server, a.token, gid, b"never sent\n", filename="n.txt")
    mid = body["media"]["id"]
    _, signed = await presign(server, a.token, gid, "x.txt", "text/plain", 4)
    async with server.http.put(signed["uploadUrl"], data=b"abc\n", headers=signed["headers"]):
        pass
    assert len(objects(bucket)) == 2
    db = server.app[SERVICES].database.db
    stored = await db.media.find_one({"_id": ObjectId(mid)})
    assert stored is not None
    swept = await server.app[SERVICES].media.cleanup_orphans(
        stored["createdAt"] + timedelta(hours=25)
    )
    assert swept == 2
    assert objects(bucket) == {}
    assert await db.media.count_documents({}) == 0


def test_doctor_reports_the_media_store(safechat_bin: str, tmp_path: Path, moto_url: str) -> None:
    """`safechat doctor` says where media go and whether boto3's chain finds credentials."""
    import os
    import subprocess

    aws = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SAFECHAT_", "AWS_", "S3_", "MONGODB_", "CLERK_"))
    }

    def doctor(**env: str) -> str:
        out = subprocess.run(
            [safechat_bin, "doctor", "--data-dir", str(tmp_path / "data")],
            cwd=tmp_path,
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        return next(line for line in out.stdout.splitlines() if " media " in line)

    assert "[ok]" in doctor()
    assert "local store" in doctor()
    line = doctor(S3_BUCKET="b1", S3_ENDPOINT_URL=moto_url, **aws)
    assert "[ok]" in line
    assert "credentials from env" in line
    no_credentials = {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": aws["AWS_CONFIG_FILE"],
        "AWS_SHARED_CREDENTIALS_FILE": aws["AWS_SHARED_CREDENTIALS_FILE"],
    }
    line = doctor(S3_BUCKET="b1", **no_credentials)
    assert "[FAIL]" in line
    assert "no AWS credentials" in line


async def test_upload_objects_put_again_after_complete_are_swept(
    s3_server: ChatServer, bucket: tuple[Any, str]
) -> None:
    """A presigned S3 PUT URL cannot be revoked: `complete` moves the bytes to their final
    keys, and the file sweep deletes whatever is PUT again, and any object without a record."""
    server = s3_server
    gid, a, _ = await pair(server)
    client, name = bucket
    source = exif_jpeg(64, 48, orientation=1)
    _, signed = await presign(server, a.token, gid, "p.jpg", "image/jpeg", len(source))
    mid = signed["mediaId"]
    async with server.http.put(signed["uploadUrl"], data=source, headers=signed["headers"]) as r:
        assert r.status == 200
    status, body = await server.request("POST", f"/api/media/{mid}/complete", a.token)
    assert status == 200, body
    final = {f"{PREFIX}/media/{mid}/original", f"{PREFIX}/media/{mid}/thumbnail"}
    assert set(objects(bucket)) == final
    big = b"\xff" * (4 * 1024 * 1024)
    async with server.http.put(signed["uploadUrl"], data=big, headers=signed["headers"]) as r:
        assert r.status == 200  # S3 itself still takes it
    # A refused complete, then the URL used again; an object no record knows.
    _, refused = await presign(server, a.token, gid, "c.jpg", "image/jpeg", len(ELF))
    async with server.http.put(refused["uploadUrl"], data=ELF, headers=refused["headers"]):
        pass
    status, _ = await server.request("POST", f"/api/media/{refused['mediaId']}/complete", a.token)
    assert status == 400
    async with server.http.put(refused["uploadUrl"], data=ELF, headers=refused["headers"]):
        pass
    client.put_object(Bucket=name, Key=f"{PREFIX}/media/{ObjectId()}/original", Body=b"x")
    foreign = {f"{PREFIX}/media/readme.txt", "elsewhere/uploads/x"}  # not ours to judge
    for key in foreign:
        client.put_object(Bucket=name, Key=key, Body=b"x")
    assert len(objects(bucket)) == 7

    media = server.app[SERVICES].media
    assert await media.cleanup_files(datetime.now(UTC) + timedelta(minutes=11)) == 3
    assert set(objects(bucket)) == final | foreign
