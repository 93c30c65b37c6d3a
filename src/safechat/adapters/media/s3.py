"""The S3 media store: boto3 with presigned GET/PUT URLs.

Every boto3 call runs in a thread (boto3 is blocking, and even presigning may
fetch credentials from the instance/task metadata endpoint). Credentials come
only from boto3's standard chain (environment, web identity, ECS/EC2 role,
shared config); SafeChat never takes keys in its own settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from safechat.services.media.files import content_disposition
from safechat.services.ports import Clock, SignedUrl, StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MISSING = {"404", "NoSuchKey", "NotFound"}
# S3 answers a missing key with 403 (not 404) to a role without s3:ListBucket on it; the
# Terraform role grants listing only under the prefix, and GetObject on every key there,
# so a 403 on a key of ours means "not there".
MISSING_OR_UNLISTED = MISSING | {"403", "AccessDenied"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3MediaStore:
    kind = "s3"

    def __init__(self, client: S3Client, bucket: str, prefix: str, clock: Clock) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._clock = clock

    @classmethod
    async def open(
        cls,
        bucket: str,
        *,
        region: str | None,
        endpoint_url: str | None,
        prefix: str,
        clock: Clock,
    ) -> S3MediaStore:
        def make() -> S3Client:
            config = Config(
                signature_version="s3v4",
                # MinIO and other S3-compatible servers want path-style URLs.
                s3={"addressing_style": "path" if endpoint_url else "auto"},
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=30,
            )
            session = boto3.session.Session()
            return session.client(
                "s3", region_name=region, endpoint_url=endpoint_url, config=config
            )

        return cls(await asyncio.to_thread(make), bucket, prefix, clock)

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self._bucket,
            Key=self._key(key),
            Body=data,
            ContentType=content_type,
        )

    async def get(self, key: str, max_bytes: int) -> bytes | None:
        def read() -> bytes | None:
            try:
                found = self._client.get_object(
                    Bucket=self._bucket, Key=self._key(key), Range=f"bytes=0-{max_bytes}"
                )
            except ClientError as exc:
                if _code(exc) in MISSING:
                    return None
                if _code(exc) == "InvalidRange":  # an empty object has no byte 0
                    return b""
                raise
            body = found["Body"]
            try:
                return body.read(max_bytes + 1)
            finally:
                body.close()

        return await asyncio.to_thread(read)

    async def size(self, key: str) -> int | None:
        def head() -> int | None:
            try:
                found = self._client.head_object(Bucket=self._bucket, Key=self._key(key))
            except ClientError as exc:
                if _code(exc) in MISSING_OR_UNLISTED:
                    return None
                raise
            return int(found["ContentLength"])

        return await asyncio.to_thread(head)

    async def delete(self, keys: list[str]) -> None:
        if not keys:
            return
        objects: Any = [{"Key": self._key(k)} for k in keys]
        await asyncio.to_thread(
            self._client.delete_objects,
            Bucket=self._bucket,
            Delete={"Objects": objects, "Quiet": True},
        )

    async def scan(self, prefix: str) -> AsyncIterator[list[StoredObject]]:
        # Needs s3:ListBucket under the prefix (the Terraform role has it, nothing wider).
        full = self._key(prefix)
        token: str | None = None
        while True:
            params: Any = {"Bucket": self._bucket, "Prefix": full}
            if token:
                params["ContinuationToken"] = token
            page = await asyncio.to_thread(self._client.list_objects_v2, **params)
            yield [
                StoredObject(o["Key"][len(self._prefix) :], o["LastModified"])
                for o in page.get("Contents", [])
            ]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    async def download_url(
        self, key: str, *, content_type: str, filename: str, inline: bool, expires_in: int
    ) -> SignedUrl:
        params = {
            "Bucket": self._bucket,
            "Key": self._key(key),
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition(filename, inline=inline),
        }
        url = await asyncio.to_thread(
            self._client.generate_presigned_url,
            "get_object",
            Params=params,
            ExpiresIn=expires_in,
        )
        return SignedUrl(url, self._clock.now() + timedelta(seconds=expires_in), "GET")

    async def upload_url(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> SignedUrl:
        # A presigned PUT cannot cap the size; `complete` checks the real size.
        params = {"Bucket": self._bucket, "Key": self._key(key), "ContentType": content_type}
        url = await asyncio.to_thread(
            self._client.generate_presigned_url,
            "put_object",
            Params=params,
            ExpiresIn=expires_in,
        )
        expires_at = self._clock.now() + timedelta(seconds=expires_in)
        return SignedUrl(url, expires_at, "PUT", {"Content-Type": content_type})
