"""PeopleService: the one entry to §8's people features for the edges and other services.

Direct conversations (directs.py), the directory (directory.py), blocking (blocks.py),
bans (bans.py) and per-user conversation settings such as muting (settings.py)."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from safechat.models.people import BanUser, GroupSettings, UserSearchQuery
from safechat.services.people.bans import GroupBanning
from safechat.services.people.blocks import Blocking
from safechat.services.people.directory import Directory
from safechat.services.people.directs import DirectConversations, Opened
from safechat.services.people.settings import ConversationSettings


class PeopleService:
    def __init__(
        self,
        directs: DirectConversations,
        directory: Directory,
        blocking: Blocking,
        banning: GroupBanning,
        settings: ConversationSettings,
    ) -> None:
        self._directs = directs
        self._directory = directory
        self._blocking = blocking
        self._banning = banning
        self._settings = settings

    async def open_direct(self, user_id: str, peer_id: str) -> Opened:
        return await self._directs.open(user_id, peer_id)

    async def search_users(self, user_id: str, query: UserSearchQuery) -> list[dict[str, Any]]:
        return await self._directory.search(user_id, query)

    async def user(self, user_id: str) -> dict[str, Any]:
        return await self._directory.get(user_id)

    async def block(self, user_id: str, target: str) -> dict[str, Any]:
        return await self._blocking.block(user_id, target)

    async def unblock(self, user_id: str, target: str) -> None:
        await self._blocking.unblock(user_id, target)

    async def blocks(self, user_id: str) -> list[dict[str, Any]]:
        return await self._blocking.listed(user_id)

    async def ban(self, actor: str, group_id: str, body: BanUser) -> dict[str, Any]:
        return await self._banning.ban(actor, group_id, body)

    async def unban(self, actor: str, group_id: str, target: str) -> None:
        await self._banning.lift(actor, group_id, target)

    async def bans(self, actor: str, group_id: str) -> list[dict[str, Any]]:
        return await self._banning.listed(actor, group_id)

    async def update_settings(
        self, user_id: str, group_id: str, body: GroupSettings
    ) -> dict[str, Any]:
        return await self._settings.update(user_id, group_id, body)

    async def muted_user_ids(self, group_id: ObjectId) -> set[str]:
        """Members who have the group muted now (webhooks leave them out)."""
        return await self._settings.muted_user_ids(group_id)
