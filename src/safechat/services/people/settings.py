"""Per-user settings of a conversation: muting (protocol §8).

Stored beside the user's read mark of the group (read_state), which the summaries read
anyway, so `GroupSummary.muted` costs no query. A mute with `mutedUntil` ends by itself
at that time (compared with the Clock when read)."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from safechat.errors import ValidationFailed
from safechat.models.people import GroupSettings, when
from safechat.repositories.read_state import ReadStateRepository
from safechat.services.groups.service import GroupService
from safechat.services.ports import Clock


class ConversationSettings:
    def __init__(self, groups: GroupService, read_state: ReadStateRepository, clock: Clock) -> None:
        self._groups = groups
        self._read_state = read_state
        self._clock = clock

    async def update(self, user_id: str, group_id: str, body: GroupSettings) -> dict[str, Any]:
        group = await self._groups.require_member(group_id, user_id)
        now = self._clock.now()
        until = when(body.mutedUntil)
        if until is not None and not body.muted:
            raise ValidationFailed("mutedUntil goes with muted: true")
        if until is not None and until <= now:
            raise ValidationFailed("mutedUntil must be in the future")
        await self._read_state.set_mute(group.id, user_id, body.muted, until, now)
        return await self._groups.summary(user_id, group)

    async def muted_user_ids(self, group_id: ObjectId) -> set[str]:
        """Who has the group muted now (for the notification webhooks)."""
        return await self._read_state.muted_user_ids(group_id, self._clock.now())
