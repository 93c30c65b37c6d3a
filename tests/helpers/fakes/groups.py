"""An in-memory GroupRepository: the same filters and atomic steps as the real one."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId

from safechat.models.group import Group, Role
from safechat.repositories.groups import new_group_doc
from tests.helpers.fakes.clock import START
from tests.helpers.fakes.faults import Faults, faulty

Doc = dict[str, Any]


def _member_ids(doc: Doc) -> list[str]:
    return [m["userId"] for m in doc.get("members", [])]


def _may_send(doc: Doc, members: Sequence[str]) -> bool:
    blocked = set(doc.get("sendBlocked", ()))
    return set(members) <= set(_member_ids(doc)) and not blocked & set(members)


class FakeGroupRepository(Faults):
    """Documents as MongoDB holds them; every method reads or changes one document with
    no await in between, so each is atomic as its find_one_and_update is."""

    def __init__(self) -> None:
        super().__init__()
        self.docs: dict[ObjectId, Doc] = {}

    # --- for tests ----------------------------------------------------------------------

    def seed(
        self,
        owner: str,
        *members: str,
        admins: Sequence[str] = (),
        name: str = "room",
        is_private: bool = False,
        now: datetime = START,
        **fields: Any,
    ) -> Group:
        """A group as GroupService.create stores it (`admins` among the members), without
        the service; `fields` are stored fields to set (camelCase)."""
        doc = new_group_doc(name, None, is_private, owner, [*members, *admins], now)
        for m in doc["members"]:
            if m["userId"] in admins:
                m["role"] = Role.ADMIN.value
        doc.update(fields)
        self.docs[doc["_id"]] = doc
        return Group.from_doc(copy.deepcopy(doc))

    def _active(self, group_id: ObjectId) -> Doc | None:
        doc = self.docs.get(group_id)
        return doc if doc is not None and doc.get("isActive") is True else None

    @staticmethod
    def _group(doc: Doc | None) -> Group | None:
        return Group.from_doc(copy.deepcopy(doc)) if doc is not None else None

    # --- GroupRepository ----------------------------------------------------------------

    @faulty
    async def insert(self, doc: Doc) -> Group:
        self.docs[doc["_id"]] = copy.deepcopy(doc)
        return Group.from_doc(copy.deepcopy(doc))

    @faulty
    async def get(self, group_id: ObjectId) -> Group | None:
        return self._group(self._active(group_id))

    @faulty
    async def ai_enabled_ids(self, group_ids: set[ObjectId]) -> set[ObjectId]:
        return {
            g for g in group_ids if (d := self._active(g)) is not None and d.get("aiEnabled", True)
        }

    @faulty
    async def for_member(self, user_id: str) -> list[Group]:
        found = [d for g in sorted(self.docs) if (d := self._active(g)) is not None]
        return [Group.from_doc(copy.deepcopy(d)) for d in found if user_id in _member_ids(d)]

    @faulty
    async def ids_for_member(self, user_id: str) -> list[str]:
        return [
            str(g)
            for g in sorted(self.docs)
            if (d := self._active(g)) is not None and user_id in _member_ids(d)
        ]

    @faulty
    async def discover(self, limit: int, cursor: ObjectId | None, q: str | None) -> list[Group]:
        needle = q.casefold() if q else None
        found: list[Group] = []
        for gid in sorted(self.docs, reverse=True):
            doc = self._active(gid)
            if doc is None or doc.get("isPrivate") is not False:
                continue
            if cursor is not None and not gid < cursor:
                continue
            if needle is None or needle in str(doc.get("name", "")).casefold():
                found.append(Group.from_doc(copy.deepcopy(doc)))
                if len(found) >= limit:
                    break
        return found

    @faulty
    async def update_fields(self, group_id: ObjectId, fields: Doc) -> Group | None:
        doc = self._active(group_id)
        if doc is None:
            return None
        doc.update(copy.deepcopy(fields))
        return self._group(doc)

    @faulty
    async def add_member(
        self, group_id: ObjectId, user_id: str, role: Role, now: datetime
    ) -> Group | None:
        doc = self._active(group_id)
        if doc is None or user_id in _member_ids(doc) or user_id in doc.get("bannedIds", ()):
            return None
        doc["members"].append({"userId": user_id, "role": role.value, "joinedAt": now})
        doc["updatedAt"] = now
        return self._group(doc)

    @faulty
    async def remove_member(self, group_id: ObjectId, user_id: str, now: datetime) -> Group | None:
        doc = self._active(group_id)
        if doc is None or doc["ownerId"] == user_id or user_id not in _member_ids(doc):
            return None
        doc["members"] = [m for m in doc["members"] if m["userId"] != user_id]
        doc["updatedAt"] = now
        return self._group(doc)

    @faulty
    async def set_role(
        self, group_id: ObjectId, user_id: str, role: Role, now: datetime
    ) -> Group | None:
        doc = self._active(group_id)
        if doc is None or doc["ownerId"] == user_id or user_id not in _member_ids(doc):
            return None
        for m in doc["members"]:
            if m["userId"] == user_id:
                m["role"] = role.value
        doc["updatedAt"] = now
        return self._group(doc)

    @faulty
    async def transfer_ownership(
        self, group_id: ObjectId, old_owner: str, new_owner: str, now: datetime
    ) -> Group | None:
        doc = self._active(group_id)
        if doc is None or doc["ownerId"] != old_owner or new_owner not in _member_ids(doc):
            return None
        doc["ownerId"] = new_owner
        for m in doc["members"]:
            if m["userId"] == new_owner:
                m["role"] = Role.OWNER.value
            elif m["userId"] == old_owner:
                m["role"] = Role.ADMIN.value
        doc["updatedAt"] = now
        return self._group(doc)

    @faulty
    async def soft_delete(self, group_id: ObjectId, now: datetime) -> Group | None:
        doc = self._active(group_id)
        if doc is None:
            return None
        before = self._group(doc)
        doc.update({"isActive": False, "deletedAt": now, "updatedAt": now})
        return before

    @faulty
    async def reserve_seqs(
        self, group_id: ObjectId, count: int, now: datetime, *, members: Sequence[str] = ()
    ) -> int | None:
        doc = self._active(group_id)
        if doc is None or not _may_send(doc, members):
            return None
        doc["lastSeq"] = int(doc.get("lastSeq", 0)) + count
        doc["lastMessageAt"] = now
        return int(doc["lastSeq"])

    @faulty
    async def has_members(self, group_id: ObjectId, members: Sequence[str]) -> bool:
        doc = self._active(group_id)
        return doc is not None and _may_send(doc, members)

    @faulty
    async def last_seqs(self, group_ids: list[ObjectId]) -> dict[str, int]:
        return {str(g): int(self.docs[g].get("lastSeq", 0)) for g in group_ids if g in self.docs}
