"""python-engineio's origin check: an empty list there means "no check", so "no browser
origin allowed" (production without ALLOWED_ORIGINS) needs a callable that refuses all."""

from __future__ import annotations

from collections.abc import Callable


def no_origin(origin: str | None) -> bool:
    """cors_allowed_origins callable that refuses every Origin header."""
    return False


def engineio_origins(origins: list[str] | str) -> list[str] | str | Callable[[str | None], bool]:
    return origins if origins else no_origin
