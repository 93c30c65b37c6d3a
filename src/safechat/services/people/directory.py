"""The user directory: prefix search over names, and one user's public summary.

Never the email (UserSummary has none). Users who blocked the searcher are left out, and
so is the searcher. The search is served by the `search_keys` index (a key range; see
repositories/users.py): no scan of all users per keystroke."""

from __future__ import annotations

from typing import Any

from safechat.errors import UserNotFound, ValidationFailed
from safechat.models.people import UserSearchQuery
from safechat.repositories.blocks import BlockRepository
from safechat.repositories.users import UserRepository

MIN_QUERY = 2


class Directory:
    def __init__(self, users: UserRepository, blocks: BlockRepository) -> None:
        self._users = users
        self._blocks = blocks

    async def search(self, user_id: str, query: UserSearchQuery) -> list[dict[str, Any]]:
        prefix = " ".join(query.q.split()).casefold()
        if len(prefix) < MIN_QUERY:
            raise ValidationFailed(f"q needs at least {MIN_QUERY} characters besides spaces")
        hidden = await self._blocks.blockers_of(user_id)
        hidden.add(user_id)
        found = await self._users.search(prefix, query.limit, hidden)
        return [u.summary() for u in found]

    async def get(self, user_id: str) -> dict[str, Any]:
        user = await self._users.get_active(user_id)
        if user is None:
            raise UserNotFound()
        return user.summary()
