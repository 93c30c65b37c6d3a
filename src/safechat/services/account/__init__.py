"""A user's own data: export it (export.py) and erase the account (erase.py)."""

from __future__ import annotations

from dataclasses import dataclass

from safechat.services.account.erase import AccountEraser
from safechat.services.account.export import AccountExport


@dataclass(frozen=True, slots=True)
class AccountService:
    export: AccountExport
    eraser: AccountEraser
