"""Pure functions on uploaded bytes: type sniffing, filenames, image re-encoding.

Nothing here trusts the client: the type comes from the bytes, the filename is
only a display name. Image work is CPU-heavy: callers run it in a thread.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

import structlog

from safechat.errors import ChatError, PayloadTooLarge, ValidationFailed

# Pillow is imported by the functions that decode, on the first upload of an image: the
# rest of this module (sniffing, names) is needed by every node, Pillow only by some.
if TYPE_CHECKING:
    from PIL import Image

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
ALLOWED_TYPES = (*IMAGE_TYPES, "application/pdf", "text/plain")
EXTENSIONS = {
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
    "text/plain": (".txt",),
}
PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
THUMBNAIL_PX = 300
MAX_FILENAME_CHARS = 200
MAX_FRAMES = 500
# Each frame of an animation costs at least this many pixels of the budget: decoding and
# re-encoding a 1x1 frame is not free, so a GIF of 40 000 of them must not pass as tiny.
MIN_FRAME_PIXELS = 65_536
# Text may hold tabs, newlines, form feeds; any other C0 control (NUL above all) means binary.
_BINARY_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f"*:<>?|;\\/]')
# Invisible in a name, and able to disguise it: format characters (bidi overrides and
# isolates, zero-width, BOM, soft hyphen), lone surrogates, line/paragraph separators.
_INVISIBLE = frozenset(("Cf", "Cs", "Zl", "Zp"))

log = structlog.get_logger(__name__)


def kind_of(mime: str) -> str:
    return "image" if mime in IMAGE_TYPES else "file"


def sniff(data: bytes) -> str | None:
    """The MIME type the bytes really are, among the allowed ones; None otherwise."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if _is_text(data):
        return "text/plain"
    return None


def _is_text(data: bytes) -> bool:
    if not data.strip():
        return False
    if _BINARY_CONTROL.search(data):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def visible(text: str) -> str:
    """`text` without invisible characters (see _INVISIBLE); other controls become `_`."""
    return "".join(
        "" if (cat := unicodedata.category(c)) in _INVISIBLE else "_" if cat == "Cc" else c
        for c in text
    )


def sanitize_filename(raw: str | None, mime: str) -> str:
    """A display name: the last path component, no control, invisible (bidi, zero-width)
    or shell-special characters, and an extension that matches the real type (added if
    not)."""
    # Some clients (aiohttp's FormData, for one) percent-encode the multipart filename.
    name = unquote(raw or "")
    name = unicodedata.normalize("NFC", visible(name))
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE_NAME_CHARS.sub("_", name).strip().lstrip(".").strip()
    if not name:
        name = "file"
    extensions = EXTENSIONS[mime]
    if not name.lower().endswith(extensions):
        name += extensions[0]
    if len(name) > MAX_FILENAME_CHARS:
        ext = extensions[0]
        name = name[: MAX_FILENAME_CHARS - len(ext)] + ext
    return name


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    data: bytes  # re-encoded original, no metadata
    thumbnail: bytes
    thumbnail_mime: str
    width: int
    height: int


def process_image(
    data: bytes, mime: str, *, max_pixels: int, max_frames: int = MAX_FRAMES
) -> ProcessedImage:
    """Re-encodes an image without EXIF/XMP/comments (orientation applied first)
    and makes a thumbnail of at most THUMBNAIL_PX on its longer side.

    Animated GIF/WebP keep their frames (and per-frame durations and loop count);
    the thumbnail is the first frame. Raises ValidationFailed for bytes Pillow
    cannot decode or whose format disagrees with the sniffed type, and
    PayloadTooLarge for images above `max_pixels` (decompression bombs) or
    animations of more than `max_frames` frames or `max_pixels` in all.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data), formats=[PIL_FORMATS[mime]]) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise _too_many_pixels(max_pixels)
            # is_animated looks at the second frame only; n_frames would walk them all.
            if mime in ("image/gif", "image/webp") and getattr(im, "is_animated", False):
                return _animated(im, mime, max_pixels, max_frames)
            im.load()
            upright = ImageOps.exif_transpose(im)
            return _still(upright, mime)
    except ChatError:
        raise
    except (Image.DecompressionBombError, MemoryError) as exc:
        raise _too_many_pixels(max_pixels) from exc
    except Exception as exc:
        # Pillow's parsers answer hostile bytes with whatever the failing line raised:
        # OSError, ValueError (a zTXt chunk past MAX_TEXT_CHUNK), SyntaxError,
        # struct.error, EOFError, IndexError, KeyError, TypeError... all mean "unreadable".
        log.info("image_undecodable", mime=mime, error=type(exc).__name__)
        raise ValidationFailed("The image could not be decoded") from exc


def _too_many_pixels(max_pixels: int) -> PayloadTooLarge:
    return PayloadTooLarge("The image is too large to process", details={"maxPixels": max_pixels})


def _frames(im: Image.Image, max_pixels: int, max_frames: int) -> Iterator[Image.Image]:
    """Each frame in turn, refusing before decoding the one that would go past the
    frame cap or the pixel budget (every frame is decoded at the full canvas size)."""
    cost = max(im.width * im.height, MIN_FRAME_PIXELS)
    index = 0
    while True:
        try:
            im.seek(index)
        except EOFError:
            return
        if index >= max_frames:
            raise PayloadTooLarge(
                f"Animations are limited to {max_frames} frames", details={"maxFrames": max_frames}
            )
        if (index + 1) * cost > max_pixels:
            raise _too_many_pixels(max_pixels)
        yield im
        index += 1


# Kept: how to draw the pixels. Dropped: everything else Pillow found (EXIF, XMP,
# comments, text chunks), since Pillow writes back some of what sits in .info.
_KEPT_INFO = ("transparency", "icc_profile")


def _clean(im: Image.Image) -> Image.Image:
    im.info = {k: v for k, v in im.info.items() if k in _KEPT_INFO}
    return im


def _save(im: Image.Image, out: io.BytesIO, fmt: str, **options: object) -> None:
    icc = im.info.get("icc_profile")
    if icc and fmt in ("JPEG", "PNG", "WEBP"):
        options["icc_profile"] = icc
    im.save(out, format=fmt, **options)


def _still(im: Image.Image, mime: str) -> ProcessedImage:
    im = _clean(im)
    if mime == "image/jpeg" and im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    out = io.BytesIO()
    options: dict[str, object] = {"quality": 90} if mime in ("image/jpeg", "image/webp") else {}
    _save(im, out, PIL_FORMATS[mime], **options)
    thumb, thumb_mime = _thumbnail(im)
    return ProcessedImage(out.getvalue(), thumb, thumb_mime, im.width, im.height)


def _animated(im: Image.Image, mime: str, max_pixels: int, max_frames: int) -> ProcessedImage:
    durations: list[int] = []
    frames: list[Image.Image] = []
    for frame in _frames(im, max_pixels, max_frames):
        durations.append(int(frame.info.get("duration", 100)))
        frames.append(_clean(frame.copy()))
    loop = int(im.info.get("loop", 0))
    out = io.BytesIO()
    frames[0].save(
        out,
        format=PIL_FORMATS[mime],
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=loop,
    )
    thumb, thumb_mime = _thumbnail(frames[0])
    return ProcessedImage(out.getvalue(), thumb, thumb_mime, im.width, im.height)


def _thumbnail(im: Image.Image) -> tuple[bytes, str]:
    """JPEG for opaque images, PNG when there is transparency."""
    from PIL import Image

    has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    thumb = im.convert("RGBA" if has_alpha else "RGB") if im.mode not in ("RGB", "L") else im
    thumb = _clean(thumb.copy())
    thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if has_alpha:
        _save(thumb, out, "PNG")
        return out.getvalue(), "image/png"
    _save(thumb, out, "JPEG", quality=85)
    return out.getvalue(), "image/jpeg"


def content_disposition(filename: str, *, inline: bool) -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name (RFC 5987). Invisible characters
    are dropped here too, for names stored before sanitize_filename dropped them."""
    filename = visible(filename)
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    ascii_name = ascii_name.replace('"', "_").replace("\\", "_")
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
