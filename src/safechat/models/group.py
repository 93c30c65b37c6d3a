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
    owner_id: str | None  # None for a direct conversation: neither person owns it
    members: list[Member]
    last_seq: int
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None = None
    ai_enabled: bool = True
    kind: Literal["group", "direct"] = "group"
    # Members who may not send here (a direct conversation's blocked person); checked by
    # the send's atomic seq reservation (repositories/groups.py), never read per message.
    send_blocked: frozenset[str] = frozenset()
    # Users refused on join and add while their ban lasts (details: `group_bans`).
    banned_ids: frozenset[str] = frozenset()
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
            owner_id=doc.get("ownerId"),
            members=[
                Member(m["userId"], Role(m["role"]), m["joinedAt"]) for m in doc.get("members", [])
            ],
            last_seq=int(doc.get("lastSeq", 0)),
            created_at=doc["createdAt"],
            updated_at=doc.get("updatedAt", doc["createdAt"]),
            last_message_at=doc.get("lastMessageAt"),
            ai_enabled=bool(doc.get("aiEnabled", True)),
            kind="direct" if doc.get("type") == "direct" else "group",
            send_blocked=frozenset(doc.get("sendBlocked", ())),
            banned_ids=frozenset(doc.get("bannedIds", ())),
        )

    @property
    def is_direct(self) -> bool:
        return self.kind == "direct"

    def peer_of(self, user_id: str) -> str | None:
        """The other person of a direct conversation (None for groups)."""
        if not self.is_direct:
            return None
        return next((m.user_id for m in self.members if m.user_id != user_id), None)

    def may_moderate(self, user_id: str) -> bool:
        """Owner-ish actions §8 opens to both people of a direct conversation (pins):
        an admin or the owner of a group, either member of a direct conversation."""
        role = self.role_of(user_id)
        if role is None:
            return False
        return self.is_direct or role.rank >= Role.ADMIN.rank

    def may_send(self, user_id: str) -> bool:
        return user_id in self.member_index and user_id not in self.send_blocked

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
                "type": self.kind,
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
        muted_until: datetime | None = None,
        muted: bool = False,
        peer: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """GroupSummary of the protocol, as seen by `viewer`. A direct conversation has no
        name of its own: it carries the other person (`peer`) and their display name."""
        role = self.role_of(viewer)
        out = {
            **self.shared_view(),
            **drop_none({"role": role.value if role else None, "lastMessage": last_message}),
            "unreadCount": unread_count,
            "unreadMentions": unread_mentions,
            "muted": muted,
        }
        if muted and muted_until is not None:
            out["mutedUntil"] = iso(muted_until)
        if peer is not None:
            out["peer"] = peer
            out["name"] = display_name(peer)
        return out


def display_name(user: dict[str, Any]) -> str:
    """What a client would show for a UserSummary: the full name, else the username."""
    full = " ".join(p for p in (user.get("firstName"), user.get("lastName")) if p)
    return full or str(user.get("username") or user.get("userId", ""))


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
