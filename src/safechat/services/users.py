"""Users: upsert from verified claims, profiles, summaries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from safechat.errors import DuplicateKey, UserNotFound, ValidationFailed
from safechat.models.user import UpdateMe, User, unknown_user
from safechat.repositories.users import UserRepository
from safechat.services.auth import Claims
from safechat.services.ports import Clock

# A REST caller is upserted at most this often per node (not on every request).
UPSERT_EVERY_SECONDS = 300.0
# Sender summaries on new_message are display data: a few seconds stale is fine, and a
# profile change made through this node shows at once (the entry is dropped).
SUMMARY_TTL_SECONDS = 30.0
MAX_CACHED = 100_000


class UserService:
    def __init__(self, users: UserRepository, clock: Clock) -> None:
        self._users = users
        self._clock = clock
        self._recent: dict[str, float] = {}
        self._summaries: dict[str, tuple[float, dict[str, Any]]] = {}

    async def upsert_from_claims(self, claims: Claims) -> User:
        """The user as the token describes them: one read, and a write only when the
        stored profile lacks a claim (a sign-in of an unchanged user writes nothing)."""
        fields: dict[str, Any] = {
            "email": claims.email,
            "firstName": claims.first_name,
            "lastName": claims.last_name,
            "profileImageUrl": claims.picture,
        }
        fields = {k: v for k, v in fields.items() if v is not None}
        if claims.username:
            fields["username"] = claims.username.lower()
        stored = await self._users.get_current(claims.sub)
        if stored is not None and stored.has(fields):
            self._recent[claims.sub] = self._clock.monotonic()
            return stored
        now = self._clock.now()
        try:
            user = await self._users.upsert(claims.sub, fields, now)
        except DuplicateKey:
            # Another account holds that username; keep the rest of the profile.
            fields.pop("username", None)
            if stored is not None and stored.has(fields):
                user = stored
            else:
                user = await self._users.upsert(claims.sub, fields, now)
        self._recent[claims.sub] = self._clock.monotonic()
        self._summaries.pop(claims.sub, None)
        return user

    async def ensure(self, claims: Claims) -> None:
        """Cheap per-request sign-in: only when this node has not done it lately."""
        seen = self._recent.get(claims.sub)
        if seen is None or self._clock.monotonic() - seen > UPSERT_EVERY_SECONDS:
            if len(self._recent) > MAX_CACHED:
                self._recent.clear()
            await self.upsert_from_claims(claims)

    async def me(self, user_id: str) -> User:
        user = await self._users.get(user_id)
        if user is None:
            raise UserNotFound()
        return user

    async def update_me(self, user_id: str, body: UpdateMe) -> User:
        fields = body.model_dump(exclude_none=True)
        if not fields:
            raise ValidationFailed("Nothing to update")
        if "username" in fields:
            fields["username"] = fields["username"].lower()
        user = await self._users.update_profile(user_id, fields, self._clock.now())
        self._summaries.pop(user_id, None)
        if user is None:
            raise UserNotFound()
        return user

    async def summaries(self, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(dict.fromkeys(user_ids))
        found = await self._users.get_many(ids)
        return {uid: found.get(uid, unknown_user(uid)).summary() for uid in ids}

    async def summary(self, user_id: str) -> dict[str, Any]:
        """One user's summary, from a short-lived per-node cache (the send path's sender).

        `warm` refreshes expired entries; between a warm and this call an entry may
        expire, and is still served (for up to another TTL) rather than waited for.
        """
        hit = self._summaries.get(user_id)
        if hit is None or self._clock.monotonic() - hit[0] >= 2 * SUMMARY_TTL_SECONDS:
            await self.warm([user_id])
            hit = self._summaries[user_id]
        return dict(hit[1])

    async def warm(self, user_ids: Iterable[str]) -> None:
        """Loads the summaries `summary` would miss, in one query."""
        now = self._clock.monotonic()
        missing = [
            u
            for u in dict.fromkeys(user_ids)
            if (hit := self._summaries.get(u)) is None or now - hit[0] >= SUMMARY_TTL_SECONDS
        ]
        if not missing:
            return
        found = await self.summaries(missing)
        if len(self._summaries) + len(found) > MAX_CACHED:
            self._summaries.clear()
        for user_id, summary in found.items():
            self._summaries[user_id] = (now, summary)

    async def require_existing(self, user_ids: Iterable[str]) -> None:
        ids = set(user_ids)
        missing = ids - await self._users.existing_ids(ids)
        if missing:
            raise UserNotFound(
                "Unknown user: users must have signed in once",
                details={"userIds": sorted(missing)},
            )

    async def erase(self, user_id: str) -> None:
        """Deletes the user record; this node forgets it, so the next request or
        connect with a valid token creates a new, empty user."""
        await self._users.delete(user_id)
        self._recent.pop(user_id, None)
        self._summaries.pop(user_id, None)

    async def touch_last_seen(self, user_id: str) -> None:
        await self._users.touch_last_seen(user_id, self._clock.now())

    async def seen(self, seen: list[tuple[str, datetime]]) -> None:
        """Users last seen at these times (their last socket closed then)."""
        await self._users.seen_many(seen)
