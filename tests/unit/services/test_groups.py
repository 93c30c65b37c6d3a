"""GroupService over fakes: creation, membership and role rules, and who is told what."""

from __future__ import annotations

from typing import Any

import pytest

from safechat.errors import ChatError, ErrorCode
from safechat.models.group import AddMember, CreateGroup, Group, UpdateGroup
from safechat.services.groups.service import GroupService
from safechat.services.ports import Limit
from tests.unit.services.conftest import PRESENCE_TTL, World

USERS = ["alice", "bob", "carol", "dave", "eve"]


async def refused(call: Any) -> ChatError:
    with pytest.raises(ChatError) as info:
        await call
    return info.value


class Team:
    """Alice owns the group, Carol is an admin, Bob and Dave are members; Eve is outside."""

    def __init__(self, world: World) -> None:
        self.w = world
        for uid in USERS:
            world.user_repo.seed(uid, firstName=uid.title())
        self.group: Group = world.group_repo.seed("alice", "bob", "dave", admins=["carol"])
        self.gid = self.group.gid
        self.service: GroupService = world.groups

    def roles(self) -> dict[str, str]:
        doc = self.w.group_repo.docs[self.group.id]
        return {m["userId"]: m["role"] for m in doc["members"]}

    def told(self, user: str) -> list[str]:
        return [s.event or "" for s in self.w.notifier.sent if s.target == user and s.event]


@pytest.fixture
def team(world: World) -> Team:
    return Team(world)


# --- create -------------------------------------------------------------------------------


async def test_create_makes_the_creator_owner_and_tells_every_member(world: World) -> None:
    for uid in USERS:
        world.user_repo.seed(uid)
    body = CreateGroup.model_validate({"name": "trip", "memberIds": ["bob", "alice", "bob"]})
    summary = await world.groups.create("alice", body)
    assert summary["name"] == "trip"
    assert summary["role"] == "owner"
    assert summary["unreadCount"] == 0
    (doc,) = world.group_repo.docs.values()
    assert [(m["userId"], m["role"]) for m in doc["members"]] == [
        ("alice", "owner"),
        ("bob", "member"),
    ]
    assert doc["createdAt"] == world.clock.now()
    joins = [(s.user_id, s.target) for s in world.notifier.sent if s.to == "join"]
    assert joins == [("alice", summary["id"]), ("bob", summary["id"])]
    added = world.notifier.events("group_added")
    assert [(s.to, s.target) for s in added] == [("user", "alice"), ("user", "bob")]
    assert added[1].data["group"]["role"] == "member"
    assert world.audit.actions() == ["group.created"]


async def test_create_needs_members_who_signed_in(world: World) -> None:
    world.user_repo.seed("alice")
    body = CreateGroup.model_validate({"name": "x", "memberIds": ["ghost", "phantom"]})
    error = await refused(world.groups.create("alice", body))
    assert error.code is ErrorCode.USER_NOT_FOUND
    assert error.details == {"userIds": ["ghost", "phantom"]}
    assert world.group_repo.docs == {}


async def test_group_creation_is_rate_limited_per_user_by_the_clock(world: World) -> None:
    world.user_repo.seed("alice")
    service = world.group_service(create_limit=Limit.per_minute("group_create", 2))
    body = CreateGroup.model_validate({"name": "x"})
    await service.create("alice", body)
    await service.create("alice", body)
    error = await refused(service.create("alice", body))
    assert error.code is ErrorCode.RATE_LIMITED
    assert error.details is not None
    assert error.details["retryAfterMs"] == 30_000
    world.clock.advance(30)  # one token back, no sleeping
    await service.create("alice", body)
    assert len(world.group_repo.docs) == 3


# --- add, join ----------------------------------------------------------------------------


async def test_an_admin_adds_a_member_who_sees_no_old_history_as_unread(team: Team) -> None:
    team.w.group_repo.docs[team.group.id]["lastSeq"] = 7
    result = await team.service.add_member("carol", team.gid, AddMember(userId="eve"))
    assert "eve" in {m["userId"] for m in result["members"]}
    assert team.roles()["eve"] == "member"
    assert team.w.read_state.marks[(team.group.id, "eve")] == 7
    assert team.told("eve") == ["group_added"]
    assert team.told(team.gid) == ["group_updated"]
    assert ("join", "eve") in [(s.to, s.user_id) for s in team.w.notifier.sent]
    assert team.w.audit.events[-1]["action"] == "member.added"
    assert team.w.audit.events[-1]["targetId"] == "eve"
    summary = (await team.service.mine("eve"))[0]
    assert summary["unreadCount"] == 0


async def test_who_may_add_whom(team: Team) -> None:
    cases = [
        ("bob", AddMember(userId="eve"), ErrorCode.ACCESS_DENIED),  # a member
        ("eve", AddMember(userId="eve"), ErrorCode.ACCESS_DENIED),  # an outsider
        ("carol", AddMember(userId="eve", role="admin"), ErrorCode.ACCESS_DENIED),  # owner only
        ("carol", AddMember(userId="bob"), ErrorCode.CONFLICT),  # already in
        ("carol", AddMember(userId="ghost"), ErrorCode.USER_NOT_FOUND),
    ]
    for actor, body, expected in cases:
        assert (await refused(team.service.add_member(actor, team.gid, body))).code is expected
    await team.service.add_member("alice", team.gid, AddMember(userId="eve", role="admin"))
    assert team.roles()["eve"] == "admin"


async def test_public_groups_can_be_joined_private_ones_cannot(team: Team) -> None:
    summary = await team.service.join("eve", team.gid)
    assert summary["role"] == "member"
    again = await team.service.join("eve", team.gid)  # already in: nothing changes
    assert again["role"] == "member"
    assert team.told("eve") == ["group_added"]
    private = team.w.group_repo.seed("alice", name="secret", is_private=True)
    error = await refused(team.service.join("eve", private.gid))
    assert error.code is ErrorCode.ACCESS_DENIED


# --- remove, leave ------------------------------------------------------------------------


async def test_an_admin_removes_a_member_who_is_told_and_leaves_the_room(team: Team) -> None:
    await team.service.remove_member("carol", team.gid, "bob")
    assert "bob" not in team.roles()
    assert team.told("bob") == ["group_removed"]
    assert ("leave", "bob") in [(s.to, s.user_id) for s in team.w.notifier.sent]
    assert team.told(team.gid) == ["group_updated"]
    assert team.w.audit.actions() == ["member.removed"]


async def test_who_may_remove_whom(team: Team) -> None:
    cases = [
        ("bob", "dave", ErrorCode.ACCESS_DENIED),  # members remove no one
        ("carol", "alice", ErrorCode.ACCESS_DENIED),  # not the owner
        ("carol", "eve", ErrorCode.VALIDATION_ERROR),  # not a member
    ]
    for actor, target, expected in cases:
        error = await refused(team.service.remove_member(actor, team.gid, target))
        assert error.code is expected, (actor, target)
    await team.service.remove_member("alice", team.gid, "carol")  # the owner removes an admin
    assert "carol" not in team.roles()


async def test_members_leave_but_the_owner_must_hand_over_first(team: Team) -> None:
    await team.service.remove_member("dave", team.gid, "dave")  # oneself: a leave
    assert "dave" not in team.roles()
    assert team.w.audit.actions() == ["member.left"]
    error = await refused(team.service.leave("alice", team.gid))
    assert error.code is ErrorCode.ACCESS_DENIED
    assert "transfer" in error.message


# --- roles, ownership ---------------------------------------------------------------------


async def test_only_the_owner_changes_roles(team: Team) -> None:
    members = await team.service.change_role("alice", team.gid, "bob", "admin")
    assert {m["userId"]: m["role"] for m in members}["bob"] == "admin"
    assert team.told(team.gid) == ["group_updated"]
    cases = [
        ("carol", "dave", ErrorCode.ACCESS_DENIED),
        ("alice", "eve", ErrorCode.VALIDATION_ERROR),
        ("alice", "alice", ErrorCode.VALIDATION_ERROR),
    ]
    for actor, target, expected in cases:
        error = await refused(team.service.change_role(actor, team.gid, target, "member"))
        assert error.code is expected, (actor, target)


async def test_transfer_makes_the_old_owner_an_admin(team: Team) -> None:
    summary = await team.service.transfer("alice", team.gid, "bob")
    assert summary["role"] == "admin"  # the caller's view
    assert summary["ownerId"] == "bob"
    assert team.roles()["bob"] == "owner"
    assert team.roles()["alice"] == "admin"
    assert team.w.audit.actions() == ["group.ownership_transferred"]
    await team.service.leave("alice", team.gid)  # no longer the owner
    for actor, target, expected in [
        ("carol", "dave", ErrorCode.ACCESS_DENIED),
        ("bob", "bob", ErrorCode.VALIDATION_ERROR),
        ("bob", "eve", ErrorCode.VALIDATION_ERROR),
    ]:
        error = await refused(team.service.transfer(actor, team.gid, target))
        assert error.code is expected, (actor, target)


# --- update, delete, views ----------------------------------------------------------------


async def test_admins_update_the_group_and_everyone_is_told(team: Team) -> None:
    team.w.clock.advance(60)
    summary = await team.service.update("carol", team.gid, UpdateGroup(name="renamed"))
    assert summary["name"] == "renamed"
    (event,) = team.w.notifier.events("group_updated")
    assert event.data["group"]["name"] == "renamed"
    assert team.w.group_repo.docs[team.group.id]["updatedAt"] == team.w.clock.now()
    error = await refused(team.service.update("carol", team.gid, UpdateGroup()))
    assert error.code is ErrorCode.VALIDATION_ERROR
    error = await refused(team.service.update("bob", team.gid, UpdateGroup(name="x")))
    assert error.code is ErrorCode.ACCESS_DENIED


async def test_only_the_owner_deletes_and_the_room_is_closed(team: Team) -> None:
    error = await refused(team.service.delete("carol", team.gid))
    assert error.code is ErrorCode.ACCESS_DENIED
    await team.service.delete("alice", team.gid)
    assert [(s.to, s.event) for s in team.w.notifier.sent] == [
        ("group", "group_removed"),
        ("close", None),
    ]
    assert (await refused(team.service.view("alice", team.gid))).code is ErrorCode.GROUP_NOT_FOUND
    assert await team.service.mine("bob") == []


async def test_outsiders_see_public_groups_only_from_outside(team: Team) -> None:
    view = await team.service.view("eve", team.gid)
    assert "members" not in view
    assert view["memberCount"] == 4
    inside = await team.service.view("bob", team.gid)
    assert {m["userId"] for m in inside["members"]} == {"alice", "bob", "carol", "dave"}
    private = team.w.group_repo.seed("alice", name="secret", is_private=True)
    error = await refused(team.service.view("eve", private.gid))
    assert error.code is ErrorCode.ACCESS_DENIED


async def test_members_are_online_until_their_presence_expires(team: Team) -> None:
    now = team.w.clock.timestamp()
    await team.w.presence_store.add("bob", "sid-bob", {"node": "n1"}, now)
    members = await team.service.members("alice", team.gid)
    assert {m["userId"]: m["isOnline"] for m in members} == {
        "alice": False,
        "bob": True,
        "carol": False,
        "dave": False,
    }
    team.w.clock.advance(PRESENCE_TTL + 1)  # no heartbeat came
    members = await team.service.members("alice", team.gid)
    assert not any(m["isOnline"] for m in members)


async def test_unread_counts_follow_the_read_marks(team: Team) -> None:
    team.w.group_repo.docs[team.group.id]["lastSeq"] = 10
    await team.w.read_state.advance(team.group.id, "bob", 4, team.w.clock.now())
    (summary,) = await team.service.mine("bob")
    assert summary["unreadCount"] == 6
    (summary,) = await team.service.mine("dave")
    assert summary["unreadCount"] == 10
