"""Groups: domain objects, inbound events and REST bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from bson import ObjectId
from pydantic import Field

from safechat.models.common import Inbound, ObjectIdStr, Query, UserId, drop_none, iso


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"

    @property
    def rank(self) -> int:
        return {Role.OWNER: 3, Role.ADMIN: 2, Role.MEMBER: 1}[self]


@dataclass(frozen=True, slots=True)
class Member:
    user_id: str
    role: Role
    joined_at: datetime

    def to_wire(self) -> dict[str, Any]:
        return {"userId": self.user_id, "role": self.role.value, "joinedAt": iso(self.joined_at)}


@dataclass(frozen=True, slots=True)
class Group:
    id: ObjectId
    name: str
    description: str | None
    is_private: bool
    is_active: bool
    owner_id: str
    members: list[Member]
    last_seq: int
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None = None
    ai_enabled: bool = True
    member_index: dict[str, Member] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.member_index.update({m.user_id: m for m in self.members})

    @property
    def gid(self) -> str:
        return str(self.id)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Group:
        return cls(
            id=doc["_id"],
            name=doc["name"],
            description=doc.get("description"),
            is_private=bool(doc.get("isPrivate", False)),
            is_active=bool(doc.get("isActive", True)),
            owner_id=doc["ownerId"],
            members=[
                Member(m["userId"], Role(m["role"]), m["joinedAt"]) for m in doc.get("members", [])
            ],
            last_seq=int(doc.get("lastSeq", 0)),
            created_at=doc["createdAt"],
            updated_at=doc.get("updatedAt", doc["createdAt"]),
            last_message_at=doc.get("lastMessageAt"),
            ai_enabled=bool(doc.get("aiEnabled", True)),
        )

    def member(self, user_id: str) -> Member | None:
        return self.member_index.get(user_id)

    def role_of(self, user_id: str) -> Role | None:
        m = self.member_index.get(user_id)
        return m.role if m else None

    def public_view(self) -> dict[str, Any]:
        """What anyone may see of a public group (discover, non-member GET)."""
        return drop_none(
            {
                "id": self.gid,
                "name": self.name,
                "description": self.description,
                "isPrivate": self.is_private,
                "memberCount": len(self.members),
                "type": "group",
                "createdAt": iso(self.created_at),
            }
        )

    def shared_view(self) -> dict[str, Any]:
        """What every member sees alike (group_updated broadcasts)."""
        return {
            **self.public_view(),
            **drop_none(
                {
                    "ownerId": self.owner_id,
                    "lastSeq": self.last_seq,
                    "updatedAt": iso(self.updated_at),
                    "lastMessageAt": iso(self.last_message_at),
                    "aiEnabled": self.ai_enabled,
                }
            ),
        }

    def summary(
        self,
        viewer: str,
        *,
        unread_count: int = 0,
        last_message: dict[str, Any] | None = None,
        unread_mentions: int = 0,
    ) -> dict[str, Any]:
        """GroupSummary of the protocol, as seen by `viewer`."""
        role = self.role_of(viewer)
        return {
            **self.shared_view(),
            **drop_none({"role": role.value if role else None, "lastMessage": last_message}),
            "unreadCount": unread_count,
            "unreadMentions": unread_mentions,
        }


GroupName = Annotated[str, Field(min_length=1, max_length=100)]
Description = Annotated[str, Field(max_length=1000)]


class GroupRef(Inbound):
    groupId: ObjectIdStr


class CreateGroup(Inbound):
    name: GroupName
    description: Description | None = None
    isPrivate: bool = False
    memberIds: Annotated[list[UserId], Field(max_length=256)] = []


class UpdateGroup(Inbound):
    name: GroupName | None = None
    description: Description | None = None
    isPrivate: bool | None = None
    aiEnabled: bool | None = None


class AddMember(Inbound):
    userId: UserId
    role: Literal["admin", "member"] = "member"


class ChangeRole(Inbound):
    role: Literal["admin", "member"]


class TransferOwnership(Inbound):
    userId: UserId


class DiscoverQuery(Query):
    limit: int = Field(20, ge=1, le=100)
    cursor: ObjectIdStr | None = None
    q: Annotated[str, Field(max_length=100)] | None = None
