"""Writes the server's contract documents for client generators (`make client-types`).

    python tools/export_contract.py [OUT_DIR]   # default clients/typescript/contract

asyncapi.json comes from safechat.contract.asyncapi (protocol §7); the TypeScript
generator (clients/typescript/scripts/generate.mjs) reads it, and openapi.json when it
is there. The documents are generated from the models, so the output only changes with
the server's code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safechat.contract.asyncapi import asyncapi_document

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "clients" / "typescript" / "contract"

# file name -> document builder. OpenAPI: add `"openapi.json": openapi_document` here
# once safechat.contract.openapi exists; the generator then writes src/rest.ts too.
DOCUMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "asyncapi.json": asyncapi_document,
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
