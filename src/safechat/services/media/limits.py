"""The limits of media: upload size, image pixels and frames, and how long URLs,
upload windows and unsent uploads last (set from Settings in components.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from safechat.services.media.files import MAX_FRAMES


@dataclass(frozen=True, slots=True)
class MediaLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_frames: int = MAX_FRAMES
    url_ttl: int = 600
    upload_ttl: int = 900
    orphan_ttl: timedelta = timedelta(hours=24)
