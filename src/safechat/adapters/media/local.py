"""The embedded media store: a local directory, with HMAC-signed, expiring URLs
that SafeChat itself serves (GET) and accepts uploads on (PUT): local_http.py.

A URL is `/media/local/<key>?exp=<unix>&...&sig=<hex>`; the signature covers the
method, the key, the expiry and every parameter, so none can be changed. Keys are
made by SafeChat and must match KEY_PATTERN, so no URL can reach outside the root.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from safechat.errors import BadSignature
from safechat.services.ports import Clock, SignedUrl, StoredObject

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,4}$")
PREFIX = "/media/local/"
CHUNK = 64 * 1024
SCAN_PAGE = 500


class LocalMediaStore:
    kind = "local"

    def __init__(self, root: Path, secret: bytes, base_url: str, clock: Clock) -> None:
        self.root = root.resolve()
        self._secret = secret
        self._base_url = base_url
        self._clock = clock

    @staticmethod
    def new_secret() -> bytes:
        return secrets.token_bytes(32)

    def path(self, key: str) -> Path:
        if not KEY_PATTERN.match(key):
            raise BadSignature()
        path = self.root.joinpath(*key.split("/"))
        # KEY_PATTERN already rules out '..' and absolute parts; this is the backstop
        # (string-only, so no filesystem call on the event loop).
        if not Path(os.path.normpath(path)).is_relative_to(self.root):
            raise BadSignature()
        return path

    # --- MediaStore -----------------------------------------------------------

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, self.path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)  # readers see the old file or the new one, never half
        finally:
            tmp.unlink(missing_ok=True)  # a failed write (disk full) leaves nothing

    async def get(self, key: str, max_bytes: int) -> bytes | None:
        return await asyncio.to_thread(self._read, self.path(key), max_bytes)

    @staticmethod
    def _read(path: Path, max_bytes: int) -> bytes | None:
        try:
            with path.open("rb") as fh:
                return fh.read(max_bytes + 1)
        except FileNotFoundError:
            return None

    async def size(self, key: str) -> int | None:
        path = self.path(key)

        def stat() -> int | None:
            try:
                return path.stat().st_size
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(stat)

    async def delete(self, keys: list[str]) -> None:
        paths = [self.path(k) for k in keys]

        def unlink() -> None:
            for p in paths:
                p.unlink(missing_ok=True)
                with contextlib.suppress(OSError):  # the per-media directory, once empty
                    p.parent.rmdir()

        await asyncio.to_thread(unlink)

    async def scan(self, prefix: str) -> AsyncIterator[list[StoredObject]]:
        found = await asyncio.to_thread(self._list, prefix)
        for start in range(0, len(found), SCAN_PAGE):
            yield found[start : start + SCAN_PAGE]

    def _list(self, prefix: str) -> list[StoredObject]:
        top = self.root.joinpath(*prefix.strip("/").split("/")) if prefix.strip("/") else self.root
        out: list[StoredObject] = []
        for path in top.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            # Not a key of ours (a temporary file mid-write): never listed, never deleted.
            if not key.startswith(prefix) or not KEY_PATTERN.match(key):
                continue
            try:
                if not path.is_file():
                    continue
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except FileNotFoundError:  # deleted while we walked
                continue
            out.append(StoredObject(key, modified))
        return out

    async def download_url(
        self, key: str, *, content_type: str, filename: str, inline: bool, expires_in: int
    ) -> SignedUrl:
        params = {"ct": content_type, "fn": filename, "d": "inline" if inline else "attachment"}
        return self._sign("GET", key, params, expires_in)

    async def upload_url(
        self, key: str, *, content_type: str, max_bytes: int, expires_in: int
    ) -> SignedUrl:
        signed = self._sign("PUT", key, {"ct": content_type, "max": str(max_bytes)}, expires_in)
        return SignedUrl(signed.url, signed.expires_at, "PUT", {"Content-Type": content_type})

    # --- signatures -----------------------------------------------------------

    def _signature(self, method: str, key: str, params: dict[str, str]) -> str:
        canonical = "\n".join([method, key, *(f"{k}={params[k]}" for k in sorted(params))])
        return hmac.new(self._secret, canonical.encode(), hashlib.sha256).hexdigest()

    def _sign(self, method: str, key: str, params: dict[str, str], expires_in: int) -> SignedUrl:
        self.path(key)
        expires_at = self._clock.now() + timedelta(seconds=expires_in)
        params = {**params, "exp": str(int(expires_at.timestamp()))}
        query = urlencode({**params, "sig": self._signature(method, key, params)})
        return SignedUrl(f"{self._base_url}{PREFIX}{key}?{query}", expires_at, method)

    def verify(self, method: str, key: str, query: dict[str, str], names: tuple[str, ...]) -> None:
        """Raises BadSignature unless `query` is exactly what we signed and not expired."""
        if set(query) != {*names, "exp", "sig"}:
            raise BadSignature()
        params = {k: query[k] for k in (*names, "exp")}
        expected = self._signature(method, key, params)
        if not hmac.compare_digest(expected.encode(), query["sig"].encode()):
            raise BadSignature()
        try:
            expires = int(params["exp"])
        except ValueError as exc:
            raise BadSignature() from exc
        if expires <= self._clock.now().timestamp():
            raise BadSignature("The media URL has expired")
        self.path(key)
