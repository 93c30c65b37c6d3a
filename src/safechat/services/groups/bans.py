"""The ban check on join and add: a banned user stays out until the ban ends or is lifted.

The group document lists banned ids (`bannedIds`), and the add's own atomic write refuses
them (repositories/groups.py), so a ban racing an add cannot let the user in. Only when
the loaded group names the user is the ban itself read: its end (`until`) is compared
with the Clock, and an ended ban is lifted on the spot.
"""

from __future__ import annotations

from datetime import UTC, datetime

from safechat.errors import AccessDenied
from safechat.models.group import Group
from safechat.repositories.bans import BanRepository
from safechat.services.ports import Clock


class BanGate:
    def __init__(self, bans: BanRepository, clock: Clock) -> None:
        self._bans = bans
        self._clock = clock

    async def admit(self, group: Group, user_id: str, *, self_join: bool) -> None:
        """Raises ACCESS_DENIED while `user_id` is banned from `group`."""
        if user_id not in group.banned_ids:
            return
        ban = await self._bans.get(group.id, user_id)
        if ban is not None and not ended(ban.get("until"), self._clock.now()):
            if self_join:
                raise AccessDenied("You are banned from this group")
            raise AccessDenied("That user is banned from this group")
        await self._bans.lift(group.id, user_id)  # ended (or only half written): gone


def ended(until: datetime | None, now: datetime) -> bool:
    if until is None:
        return False
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return until <= now
