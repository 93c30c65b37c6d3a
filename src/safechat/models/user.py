"""Users: stored document, summaries and the /api/me body."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from safechat.models.common import Inbound, drop_none, iso

Username = Annotated[str, Field(min_length=3, max_length=30, pattern=r"^[A-Za-z0-9_-]+$")]
Name = Annotated[str, Field(min_length=1, max_length=100)]


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    profile_image_url: str | None = None
    last_seen: datetime | None = None
    created_at: datetime | None = None
    is_active: bool = True

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> User:
        return cls(
            user_id=doc["clerkId"],
            email=doc.get("email"),
            first_name=doc.get("firstName"),
            last_name=doc.get("lastName"),
            username=doc.get("username"),
            profile_image_url=doc.get("profileImageUrl"),
            last_seen=doc.get("lastSeen"),
            created_at=doc.get("createdAt"),
            is_active=doc.get("isActive") is True,
        )

    def has(self, fields: dict[str, Any]) -> bool:
        """True when the stored profile already holds every one of `fields` (wire names)."""
        stored = {
            "email": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "username": self.username,
            "profileImageUrl": self.profile_image_url,
        }
        return self.is_active and all(k in stored and stored[k] == v for k, v in fields.items())

    def summary(self) -> dict[str, Any]:
        """UserSummary of the protocol: never the email (other users see this)."""
        return drop_none(
            {
                "userId": self.user_id,
                "firstName": self.first_name,
                "lastName": self.last_name,
                "username": self.username,
                "profileImageUrl": self.profile_image_url,
            }
        )

    def profile(self) -> dict[str, Any]:
        """The user's own view (GET /api/me, authentication_success)."""
        return {
            **self.summary(),
            "id": self.user_id,
            "email": self.email,
            "lastSeen": iso(self.last_seen),
            "createdAt": iso(self.created_at),
        }


def unknown_user(user_id: str) -> User:
    return User(user_id=user_id)


class UpdateMe(Inbound):
    firstName: Name | None = None
    lastName: Name | None = None
    username: Username | None = None


class Reauth(Inbound):
    token: Annotated[str, Field(min_length=1, max_length=16384)]
