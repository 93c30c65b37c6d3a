"""Media bytes: sniffing by content, filename sanitising, re-encoding and thumbnails,
and the local store's URL signatures."""

from __future__ import annotations

import io
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from PIL import GifImagePlugin, Image, ImageFile, UnidentifiedImageError

from safechat.adapters.media.local import LocalMediaStore
from safechat.errors import BadSignature, PayloadTooLarge, ValidationFailed
from safechat.services.media.cleanup import orphan_cutoff
from safechat.services.media.files import (
    THUMBNAIL_PX,
    content_disposition,
    process_image,
    sanitize_filename,
    sniff,
)
from tests.helpers.media import (
    ELF,
    GPS_MARKER,
    PDF,
    PE,
    exif_jpeg,
    frames_gif,
    image_of,
    png_bytes,
    ztxt_bomb,
)


def _encoded(fmt: str, **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (1, 2, 3)).save(out, format=fmt, **save)
    return out.getvalue()


# --- sniffing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_encoded("JPEG"), "image/jpeg"),
        (_encoded("PNG"), "image/png"),
        (_encoded("GIF"), "image/gif"),
        (_encoded("WEBP"), "image/webp"),
        (PDF, "application/pdf"),
        ("héllo wörld\r\n\ttabs and ünïcode 🎉\n".encode(), "text/plain"),
        (b"\xef\xbb\xbfwith a BOM\n", "text/plain"),
        (ELF, None),
        (PE, None),
        (b"MZ just text that looks like a PE header", "text/plain"),
        (b"", None),
        (b"   \n\t ", None),
        (b"caf\xe9 latin-1 is not UTF-8", None),
        (b"text with a NUL \x00 byte", None),
        (b"escape \x1b[31m sequences", None),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"\x00\x00\x00\x18ftypheic", None),
    ],
)
def test_sniff_by_content(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


# --- filenames ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "mime", "expected"),
    [
        ("photo.jpg", "image/jpeg", "photo.jpg"),
        ("PHOTO.JPEG", "image/jpeg", "PHOTO.JPEG"),
        ("../../../etc/passwd", "text/plain", "passwd.txt"),
        ("..\\..\\Windows\\System32\\cmd.exe", "text/plain", "cmd.exe.txt"),
        ("/absolute/path/report.pdf", "application/pdf", "report.pdf"),
        ("invoice.pdf.exe", "application/pdf", "invoice.pdf.exe.pdf"),
        ("evil.jpg", "text/plain", "evil.jpg.txt"),
        ("..", "image/png", "file.png"),
        ("", "image/png", "file.png"),
        (None, "image/gif", "file.gif"),
        (".bashrc", "text/plain", "bashrc.txt"),
        ('a"b<c>d|e?f*g:h;i.txt', "text/plain", "a_b_c_d_e_f_g_h_i.txt"),
        ("new\nline\r\x00.txt", "text/plain", "new_line__.txt"),
        ("résumé.pdf", "application/pdf", "résumé.pdf"),
        ("..%2F..%2Fsecret%20plan.txt", "text/plain", "secret plan.txt"),
        ("100%25 sure.txt", "text/plain", "100% sure.txt"),
    ],
)
def test_sanitize_filename(raw: str | None, mime: str, expected: str) -> None:
    assert sanitize_filename(raw, mime) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # A right-to-left override shows "photo\u202egnp.exe" as "photoexe.png".
        ("photo\u202egnp.exe", "photognp.exe.jpg"),
        ("photo%E2%80%AEgnp.exe", "photognp.exe.jpg"),
        # Isolates, zero-width space/joiner, BOM, right-to-left mark, soft hyphen.
        ("a\u2066b\u2069c\u200bd\u200de\ufefff\u200fg\u00adh.jpg", "abcdefgh.jpg"),
        ("line\u2028para\u2029end.jpg", "lineparaend.jpg"),
        ("\u202e\u202d\u200b", "file.jpg"),
        ("lone\ud800surrogate.jpg", "lonesurrogate.jpg"),
        ("c1\x85\x9bcontrols.jpg", "c1__controls.jpg"),
    ],
)
def test_filenames_lose_invisible_and_bidi_characters(raw: str, expected: str) -> None:
    assert sanitize_filename(raw, "image/jpeg") == expected


def test_content_disposition_drops_invisible_characters() -> None:
    header = content_disposition("photo\u202egnp\u200b.jpg", inline=True)
    assert "\u202e" not in header
    assert "%E2%80" not in header
    assert header == "inline; filename=\"photognp.jpg\"; filename*=UTF-8''photognp.jpg"


def test_long_filenames_are_cut_and_keep_the_extension() -> None:
    name = sanitize_filename("x" * 5000 + ".png", "image/png")
    assert len(name) == 200
    assert name.endswith(".png")


def test_content_disposition_quotes_safely() -> None:
    header = content_disposition('na"me\\é.txt', inline=False)
    assert header.startswith('attachment; filename="na_me__.txt"')
    assert "filename*=UTF-8''na%22me%5C%C3%A9.txt" in header
    assert content_disposition("a.png", inline=True).startswith("inline;")


# --- images ---------------------------------------------------------------------------


def test_jpeg_is_rotated_stripped_and_thumbnailed() -> None:
    source = exif_jpeg(1200, 800, orientation=6)
    assert GPS_MARKER.encode() in source
    out = process_image(source, "image/jpeg", max_pixels=40_000_000)
    # Orientation 6 means the viewer rotates it: the stored image is already upright.
    assert (out.width, out.height) == (800, 1200)
    clean = image_of(out.data)
    assert clean.format == "JPEG"
    assert clean.size == (800, 1200)
    assert len(clean.getexif()) == 0
    assert GPS_MARKER.encode() not in out.data
    assert b"Alice Secret" not in out.data
    thumb = image_of(out.thumbnail)
    assert out.thumbnail_mime == "image/jpeg"
    assert max(thumb.size) == THUMBNAIL_PX
    assert thumb.size == (200, 300)
    assert len(thumb.getexif()) == 0


def test_png_with_alpha_keeps_it_and_small_images_are_not_enlarged() -> None:
    out = process_image(png_bytes(64, 48, alpha=True), "image/png", max_pixels=10_000)
    assert (out.width, out.height) == (64, 48)
    assert out.thumbnail_mime == "image/png"
    thumb = image_of(out.thumbnail)
    assert thumb.size == (64, 48)
    assert thumb.mode == "RGBA"


def test_png_text_chunks_are_dropped() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "home address: 1 Secret Lane")
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, format="PNG", pnginfo=info)
    out = process_image(buf.getvalue(), "image/png", max_pixels=10_000)
    assert b"Secret Lane" in buf.getvalue()
    assert b"Secret Lane" not in out.data


def test_animated_gif_keeps_its_frames_and_thumbnails_the_first() -> None:
    frames = [Image.new("RGB", (320, 200), (i * 60, 0, 255 - i * 60)) for i in range(4)]
    buf = io.BytesIO()
    frames[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=[50, 60, 70, 80],
        loop=0,
        comment=b"private comment",
    )
    out = process_image(buf.getvalue(), "image/gif", max_pixels=10_000_000)
    again = Image.open(io.BytesIO(out.data))
    assert again.format == "GIF"
    assert getattr(again, "n_frames", 1) == 4
    assert again.info["duration"] == 50
    assert again.info["loop"] == 0
    assert b"private comment" not in out.data
    assert image_of(out.thumbnail).size == (300, 188)


def test_webp_is_reencoded() -> None:
    out = process_image(_encoded("WEBP"), "image/webp", max_pixels=10_000)
    assert image_of(out.data).format == "WEBP"
    assert (out.width, out.height) == (40, 30)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    # 8000 x 8000 one-bit pixels compress to a few KB but would decode to 64 megapixels.
    buf = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buf, format="PNG")
    assert len(buf.getvalue()) < 100_000
    with pytest.raises(PayloadTooLarge):
        process_image(buf.getvalue(), "image/png", max_pixels=40_000_000)


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"\xff\xd8\xff\xe0" + b"garbage" * 50, "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png"),
        (_encoded("PNG"), "image/jpeg"),  # the format must be the sniffed one
    ],
)
def test_undecodable_images_are_refused(data: bytes, mime: str) -> None:
    with pytest.raises(ValidationFailed):
        process_image(data, mime, max_pixels=10_000_000)


# --- frame bombs and hostile chunks ---------------------------------------------------


def test_gif_frame_bomb_is_refused_while_reading_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    # 5000 frames of 1x1: 5000 "pixels" in all, far under any pixel cap, yet each frame
    # costs a decode and an encode.
    bomb = frames_gif(5000)
    seeks: list[int] = []
    seek = GifImagePlugin.GifImageFile.seek

    def counting(self: GifImagePlugin.GifImageFile, frame: int) -> None:
        seeks.append(frame)
        seek(self, frame)

    monkeypatch.setattr(GifImagePlugin.GifImageFile, "seek", counting)
    with pytest.raises(PayloadTooLarge) as refused:
        process_image(bomb, "image/gif", max_pixels=40_000_000)
    assert refused.value.details is not None
    assert refused.value.details["maxFrames"] == 500
    # Refused on finding a 501st frame, without decoding it or walking the rest.
    assert max(seeks) == 500


def test_tiny_frames_still_cost_a_minimum_each() -> None:
    small = frames_gif(100)
    with pytest.raises(PayloadTooLarge):
        process_image(small, "image/gif", max_pixels=1_000_000)
    assert process_image(small, "image/gif", max_pixels=10**8).width == 1


def test_frame_cap_is_configurable() -> None:
    gif = frames_gif(20, (8, 8))
    with pytest.raises(PayloadTooLarge):
        process_image(gif, "image/gif", max_pixels=10**8, max_frames=19)
    assert process_image(gif, "image/gif", max_pixels=10**8, max_frames=20).width == 8


@pytest.mark.parametrize("after_pixels", [False, True])
def test_png_text_chunk_bomb_is_a_validation_error(after_pixels: bool) -> None:
    with pytest.raises(ValidationFailed):
        process_image(ztxt_bomb(after_pixels=after_pixels), "image/png", max_pixels=40_000_000)


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (frames_gif(10, (16, 16))[:200], "image/gif"),
        (png_bytes(300, 300)[:-30], "image/png"),
        (exif_jpeg(200, 100)[:400], "image/jpeg"),
        (_encoded("WEBP")[:40], "image/webp"),
    ],
)
def test_truncated_images_are_validation_errors(data: bytes, mime: str) -> None:
    with pytest.raises(ValidationFailed):
        process_image(data, mime, max_pixels=10_000_000)


@pytest.mark.parametrize("where", ["open", "load"])
@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ValueError("Decompressed data too large"), ValidationFailed),
        (struct.error("unpack requires a buffer"), ValidationFailed),
        (EOFError(), ValidationFailed),
        (SyntaxError("not a GIF"), ValidationFailed),
        (OSError("image file is truncated"), ValidationFailed),
        (UnidentifiedImageError("cannot identify"), ValidationFailed),
        (IndexError("list index out of range"), ValidationFailed),
        (KeyError("mode"), ValidationFailed),
        (TypeError("bad argument"), ValidationFailed),
        (ZeroDivisionError(), ValidationFailed),
        (Image.DecompressionBombError("too many pixels"), PayloadTooLarge),
        (MemoryError(), PayloadTooLarge),
    ],
)
def test_every_decoder_failure_is_a_coded_error(
    monkeypatch: pytest.MonkeyPatch, where: str, error: Exception, expected: type[Exception]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise error

    target = (Image, "open") if where == "open" else (ImageFile.ImageFile, "load")
    monkeypatch.setattr(*target, broken)
    with pytest.raises(expected):
        process_image(png_bytes(), "image/png", max_pixels=10_000_000)


# --- local store signatures ---------------------------------------------------------


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def _store(tmp_path: Path, clock: FixedClock) -> LocalMediaStore:
    return LocalMediaStore(tmp_path / "media", b"k" * 32, "http://127.0.0.1:1", clock)


def _query(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path.removeprefix("/media/local/"), dict(parse_qsl(parts.query))


async def test_local_signatures(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2030, 1, 1, tzinfo=UTC))
    store = _store(tmp_path, clock)
    signed = await store.download_url(
        "media/abc/original", content_type="image/png", filename="a.png", inline=True, expires_in=60
    )
    key, query = _query(signed.url)
    names = ("ct", "fn", "d")
    store.verify("GET", key, query, names)
    with pytest.raises(BadSignature):
        store.verify("PUT", key, query, names)
    with pytest.raises(BadSignature):
        store.verify("GET", "media/abd/original", query, names)
    for name, value in [("ct", "text/html"), ("fn", "b.png"), ("exp", "9999999999"), ("sig", "0")]:
        with pytest.raises(BadSignature):
            store.verify("GET", key, {**query, name: value}, names)
    with pytest.raises(BadSignature):
        store.verify("GET", key, {**query, "extra": "1"}, names)
    other = LocalMediaStore(tmp_path / "media", b"x" * 32, "http://127.0.0.1:1", clock)
    with pytest.raises(BadSignature):
        other.verify("GET", key, query, names)
    clock.current += timedelta(seconds=61)
    with pytest.raises(BadSignature, match="expired"):
        store.verify("GET", key, query, names)


@pytest.mark.parametrize(
    "key",
    ["../x", "a/../../b", "/etc/passwd", "a//b", "a/./b", "a\\b", "..", "a/b/c/d/e/f", "é"],
)
def test_local_keys_cannot_leave_the_root(tmp_path: Path, key: str) -> None:
    store = _store(tmp_path, FixedClock(datetime(2030, 1, 1, tzinfo=UTC)))
    with pytest.raises(BadSignature):
        store.path(key)


def test_orphan_cutoff_is_ttl_plus_grace() -> None:
    now = datetime(2030, 1, 2, 12, 0, tzinfo=UTC)
    cutoff = orphan_cutoff(now, timedelta(hours=24))
    assert timedelta(hours=24) < now - cutoff <= timedelta(hours=25)
