"""Users and groups: the Node service's documents in SafeChat's shape.

Raises `Invalid` for a document that cannot be migrated (it is counted and skipped)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from safechat.models.common import drop_none
from safechat.models.group import Role
from safechat.repositories.users import search_keys

Doc = dict[str, Any]
UNNAMED = "Unnamed group"


class Invalid(ValueError):
    """A source document SafeChat cannot take."""


def text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def when(value: object, fallback: datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return fallback


def created_of(doc: Doc) -> datetime:
    """createdAt, else the time in the ObjectId (every Node document has one of them)."""
    oid = doc.get("_id")
    fallback = oid.generation_time if isinstance(oid, ObjectId) else datetime.fromtimestamp(0, UTC)
    return when(doc.get("createdAt"), fallback)


@dataclass(slots=True)
class UserIds:
    """Node documents point at users by clerkId, some by the user document's _id: both
    become the clerkId SafeChat keys users by."""

    by_oid: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: object) -> str | None:
        if isinstance(value, ObjectId):
            return self.by_oid.get(str(value))
        if isinstance(value, str) and value:
            return self.by_oid.get(value, value)
        return None


def user_doc(src: Doc, ids: UserIds) -> Doc:
    clerk_id = text(src.get("clerkId"))
    if clerk_id is None:
        raise Invalid("user without clerkId")
    if isinstance(src.get("_id"), ObjectId):
        ids.by_oid[str(src["_id"])] = clerk_id
    created = created_of(src)
    doc = drop_none(
        {
            "_id": src.get("_id"),
            "clerkId": clerk_id,
            "email": text(src.get("email")),
            "firstName": text(src.get("firstName")),
            "lastName": text(src.get("lastName")),
            "username": text(src.get("username")),
            "profileImageUrl": text(src.get("profileImageUrl")),
            "isActive": bool(src.get("isActive", True)),
            "lastSeen": when(src.get("lastSeen"), created) if src.get("lastSeen") else None,
            "createdAt": created,
            "updatedAt": when(src.get("updatedAt"), created),
        }
    )
    # Findable in the user directory at once, not only after their next sign-in.
    doc["searchKeys"] = search_keys(doc)
    return doc


@dataclass(frozen=True, slots=True)
class PlannedGroup:
    id: ObjectId
    gid: str
    doc: Doc  # everything but lastSeq / lastMessageAt, known once its messages are
    owner_source: str  # "creator" | "earliest_admin" | "earliest_member" | "none"
    members: frozenset[str]


def group_plan(src: Doc, ids: UserIds) -> PlannedGroup:
    oid = src.get("_id")
    if not isinstance(oid, ObjectId):
        raise Invalid("group without an ObjectId _id")
    created = created_of(src)
    seen: dict[str, tuple[datetime, int, str]] = {}
    for n, m in enumerate(src.get("members") or []):
        uid = ids.resolve(m.get("userId")) if isinstance(m, dict) else None
        if uid is None or uid in seen:
            continue  # a member without a user, or listed twice: the first entry counts
        role = "admin" if m.get("role") == "admin" else "member"
        seen[uid] = (when(m.get("joinedAt"), created), n, role)
    creator = ids.resolve(src.get("createdBy"))
    owner, source = _owner(seen, creator)
    members = [
        {
            "userId": uid,
            "role": Role.OWNER.value if uid == owner else role,
            "joinedAt": joined,
        }
        for uid, (joined, _, role) in sorted(seen.items(), key=lambda kv: kv[1][:2])
    ]
    doc = {
        "_id": oid,
        "name": (text(src.get("name")) or UNNAMED)[:100],
        "description": (text(src.get("description")) or "")[:1000] or None,
        "isPrivate": True,
        # A group nobody is in any more is kept, but inactive: no one could reach it.
        "isActive": bool(src.get("isActive", True)) and bool(members),
        "ownerId": owner,
        "members": members,
        "createdAt": created,
        "updatedAt": when(src.get("updatedAt"), created),
    }
    return PlannedGroup(oid, str(oid), doc, source, frozenset(seen))


def _owner(seen: dict[str, tuple[datetime, int, str]], creator: str | None) -> tuple[str, str]:
    if creator is not None and creator in seen:
        return creator, "creator"
    admins = [(v[:2], uid) for uid, v in seen.items() if v[2] == "admin"]
    if admins:
        return min(admins)[1], "earliest_admin"
    if seen:
        return min((v[:2], uid) for uid, v in seen.items())[1], "earliest_member"
    return creator or "system", "none"
