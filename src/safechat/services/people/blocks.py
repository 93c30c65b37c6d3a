"""Blocking: a blocked user cannot open a direct conversation with the blocker, nor send
in their existing one, and does not find the blocker in the directory. Shared groups are
unaffected.

**decision** (several nodes): the block is copied onto the pair's direct conversation
(`sendBlocked`), which the send's own atomic seq reservation already filters on with the
membership check (repositories/groups.py). So the send path reads nothing more per
message, keeps no cache that could be stale on another node, and needs no Redis
invalidation: the next send after the block's write is refused on every node.
"""

from __future__ import annotations

from typing import Any

from safechat.errors import ValidationFailed
from safechat.models.common import iso
from safechat.repositories.audit import AuditRepository
from safechat.repositories.blocks import BlockRepository
from safechat.repositories.directs import DirectRepository, pair_key
from safechat.services.ports import Clock
from safechat.services.users import UserService


class Blocking:
    def __init__(
        self,
        blocks: BlockRepository,
        directs: DirectRepository,
        users: UserService,
        audit: AuditRepository,
        clock: Clock,
    ) -> None:
        self._blocks = blocks
        self._directs = directs
        self._users = users
        self._audit = audit
        self._clock = clock

    async def block(self, user_id: str, target: str) -> dict[str, Any]:
        if target == user_id:
            raise ValidationFailed("You cannot block yourself")
        await self._users.require_existing([target])
        now = self._clock.now()
        if await self._blocks.add(user_id, target, now):
            await self._audit.record("user.blocked", user_id, now, target_id=target)
        # After the block's own write (see DirectConversations.open for the other order).
        await self._directs.set_send_blocked(pair_key(user_id, target), target, True)
        return {"userId": target, "user": (await self._users.summaries([target]))[target]}

    async def unblock(self, user_id: str, target: str) -> None:
        """Idempotent: unblocking someone not blocked is fine."""
        now = self._clock.now()
        if await self._blocks.remove(user_id, target):
            await self._audit.record("user.unblocked", user_id, now, target_id=target)
        # `target` is on the list only because of this user's block of them.
        await self._directs.set_send_blocked(pair_key(user_id, target), target, False)

    async def listed(self, user_id: str) -> list[dict[str, Any]]:
        docs = await self._blocks.by(user_id)
        profiles = await self._users.summaries(d["blockedId"] for d in docs)
        return [
            {
                "userId": d["blockedId"],
                "user": profiles[d["blockedId"]],
                "blockedAt": iso(d.get("createdAt")),
            }
            for d in docs
        ]
