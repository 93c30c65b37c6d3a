"""Direct conversations: one per pair of users, found or created by `POST /api/dms`.

One per pair even when both people open it at once, on any nodes: the unique `pairKey`
index decides (repositories/directs.py); the loser of the race reads the winner's. The
conversation is a group document of `type: 'direct'` with the two as plain members and
no owner, so everything groups do (send, history, reads, typing, media, AI) works on it
unchanged; what only groups may do is refused in services/groups (`refuse_direct`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safechat.errors import AccessDenied, DuplicateKey, UserNotFound, ValidationFailed
from safechat.models.group import Group
from safechat.repositories.audit import AuditRepository
from safechat.repositories.blocks import BlockRepository
from safechat.repositories.directs import DirectRepository, pair_key
from safechat.repositories.users import UserRepository
from safechat.services.groups.service import GroupService
from safechat.services.ports import Clock, Limit, RateLimiter
from safechat.services.ratelimit import enforce


@dataclass(frozen=True, slots=True)
class Opened:
    group: dict[str, Any]
    created: bool


class DirectConversations:
    def __init__(
        self,
        groups: GroupService,
        directs: DirectRepository,
        blocks: BlockRepository,
        users: UserRepository,
        audit: AuditRepository,
        clock: Clock,
        limiter: RateLimiter,
        create_limit: Limit,
    ) -> None:
        self._groups = groups
        self._directs = directs
        self._blocks = blocks
        self._users = users
        self._audit = audit
        self._clock = clock
        self._limiter = limiter
        self._create_limit = create_limit

    async def open(self, user_id: str, peer_id: str) -> Opened:
        if peer_id == user_id:
            raise ValidationFailed("A direct conversation needs another user")
        if await self._users.get_active(peer_id) is None:
            raise UserNotFound("Unknown user: users must have signed in once")
        if await self._blocks.has(peer_id, user_id):
            raise AccessDenied("You cannot message this user")
        key = pair_key(user_id, peer_id)
        existing = await self._directs.by_pair(key)
        if existing is not None:
            return Opened(await self._groups.summary(user_id, existing), created=False)
        # Only a new conversation draws from the creation bucket (as a new group does).
        await enforce(self._limiter, user_id, self._create_limit)
        now = self._clock.now()
        blocked = await self._blocks.blocked_within(user_id, peer_id)
        try:
            group = await self._directs.insert(user_id, peer_id, blocked, now)
        except DuplicateKey:  # the other side (or another tab) created it just now
            existing = await self._directs.by_pair(key)
            if existing is None:  # pragma: no cover - the unique key says it exists
                raise
            return Opened(await self._groups.summary(user_id, existing), created=False)
        group = await self._recheck_blocks(group, user_id, peer_id, blocked)
        await self._audit.record(
            "direct.created", user_id, now, group_id=group.id, target_id=peer_id
        )
        for member in (peer_id, user_id):  # the peer, and the opener's other devices
            await self._groups.announce_added(group, member)
        return Opened(await self._groups.summary(user_id, group), created=True)

    async def _recheck_blocks(self, group: Group, a: str, b: str, seen: list[str]) -> Group:
        """A block written between our read of the blocks and our insert found no
        conversation to mark: read them again now that the conversation exists (a block
        writes itself first, then marks the conversation; we insert first, then read)."""
        now_blocked = await self._blocks.blocked_within(a, b)
        if now_blocked == seen:
            return group
        updated: Group | None = group
        for user in set(now_blocked) ^ set(seen):
            updated = await self._directs.set_send_blocked(
                pair_key(a, b), user, user in now_blocked
            )
        return updated or group
