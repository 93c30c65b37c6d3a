"""Media test helpers: real image bytes made with Pillow, multipart uploads."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import aiohttp
from PIL import Image

from tests.helpers.support import ChatServer

# ELF and PE headers: what an executable disguised as photo.jpg starts with.
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
GPS_MARKER = "Nowhere, 12.3456N"


def exif_jpeg(width: int = 1200, height: int = 800, orientation: int = 6) -> bytes:
    """A JPEG with an EXIF orientation and private data (camera owner, GPS-like text)."""
    im = Image.new("RGB", (width, height), (200, 30, 30))
    im.paste((30, 200, 30), (0, 0, width // 2, height // 2))
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation: 6 = rotate 90 degrees clockwise to view
    exif[0x013B] = "Alice Secret"  # Artist
    exif[0x010E] = GPS_MARKER  # ImageDescription
    out = io.BytesIO()
    im.save(out, format="JPEG", exif=exif.tobytes(), quality=80)
    return out.getvalue()


def png_bytes(width: int = 64, height: int = 48, alpha: bool = False) -> bytes:
    im = Image.new(
        "RGBA" if alpha else "RGB", (width, height), (10, 20, 30, 128)[: 4 if alpha else 3]
    )
    out = io.BytesIO()
    im.save(out, format="PNG")
    return out.getvalue()


def image_of(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def form(
    data: bytes,
    *,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    field: str = "file",
    **fields: str,
) -> aiohttp.FormData:
    out = aiohttp.FormData()
    for name, value in fields.items():
        out.add_field(name, value)
    out.add_field(field, data, filename=filename, content_type=content_type)
    return out


async def upload(
    server: ChatServer, token: str, gid: str, data: bytes, **kw: Any
) -> tuple[int, Any]:
    return await server.request(
        "POST", "/api/media/chat/upload", token, data=form(data, groupId=gid, **kw)
    )


async def presign(
    server: ChatServer, token: str, gid: str, filename: str, mime: str, size: int
) -> tuple[int, Any]:
    """POST /api/media/presign: (status, body) with the direct-upload URL and headers."""
    body = {"groupId": gid, "filename": filename, "mimeType": mime, "size": size}
    return await server.request("POST", "/api/media/presign", token, body)


async def fetch(
    server: ChatServer, url: str, token: str | None
) -> tuple[int, str | None, dict[str, str], bytes]:
    """GET without following redirects: (status, Location, headers, body)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with server.http.get(url, headers=headers, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location"), dict(resp.headers), await resp.read()


async def follow(server: ChatServer, url: str, token: str) -> tuple[str, bytes]:
    """The SafeChat media URL -> 302 -> the signed URL, fetched without our token."""
    status, location, _, body = await fetch(server, url, token)
    assert status == 302, body
    assert location is not None
    async with server.http.get(location) as resp:
        assert resp.status == 200, await resp.text()
        return resp.headers.get("Content-Type", ""), await resp.read()


def frames_gif(count: int, size: tuple[int, int] = (1, 1)) -> bytes:
    """An animated GIF of `count` distinct frames (a "frame bomb" when there are many)."""
    frames = [Image.new("P", size, i % 256) for i in range(count)]
    out = io.BytesIO()
    frames[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=10,
        optimize=False,  # keep every frame: Pillow would merge identical ones
        disposal=0,
    )
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def ztxt_bomb(*, after_pixels: bool = False) -> bytes:
    """A small PNG with a zTXt chunk that inflates to 5 MB, past Pillow's text-chunk limit
    (before IDAT it is read by Image.open, after it by load)."""
    png = png_bytes(4, 4)
    bomb = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * 5_000_000, 9))
    at = png.rindex(b"IEND") - 4 if after_pixels else 33  # 33: signature + IHDR
    return png[:at] + bomb + png[at:]
