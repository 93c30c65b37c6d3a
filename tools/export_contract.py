"""Writes the server's contract documents for client generators (`make client-types`).

    python tools/export_contract.py [OUT_DIR]   # default clients/typescript/contract

asyncapi.json (safechat.contract.asyncapi) and openapi.json (safechat.contract.openapi,
of an app built with the default routes: local media, web client) are what a default
server serves (protocol §7); clients/typescript/scripts/generate.mjs reads them. Both are
generated from the models, so the output only changes with the server's code.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from safechat.app import create_app
from safechat.config import Settings
from safechat.contract.asyncapi import asyncapi_document
from safechat.contract.openapi import openapi_document

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "clients" / "typescript" / "contract"


class DefaultSettings(Settings):
    """The defaults alone: no environment variable or .env changes the export."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        **_others: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def default_openapi() -> dict[str, Any]:
    """The routes of a server with default settings (no S3: the local media URLs; the
    web client on). Building the app opens nothing."""
    with tempfile.TemporaryDirectory() as data_dir:
        return openapi_document(create_app(DefaultSettings(data_dir=Path(data_dir))))


# file name -> document builder.
DOCUMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "asyncapi.json": asyncapi_document,
    "openapi.json": default_openapi,
}


def export(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in DOCUMENTS.items():
        path = out / name
        path.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    for path in export(out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
