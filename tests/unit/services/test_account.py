"""Who inherits a group when its owner erases their account (services/account/erase.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bson import ObjectId

from safechat.models.group import Group, Member, Role
from safechat.services.account.erase import successor

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def group(*members: tuple[str, Role, int]) -> Group:
    return Group(
        id=ObjectId(),
        name="g",
        description=None,
        is_private=False,
        is_active=True,
        owner_id="owner",
        members=[Member(u, r, T0 + timedelta(minutes=m)) for u, r, m in members],
        last_seq=0,
        created_at=T0,
        updated_at=T0,
    )


def test_the_oldest_admin_inherits_before_any_older_member() -> None:
    g = group(
        ("owner", Role.OWNER, 0),
        ("early", Role.MEMBER, 1),
        ("admin_late", Role.ADMIN, 5),
        ("admin_first", Role.ADMIN, 3),
    )
    heir = successor(g, "owner")
    assert heir is not None
    assert heir.user_id == "admin_first"


def test_without_admins_the_oldest_member_inherits_and_alone_nobody() -> None:
    g = group(("owner", Role.OWNER, 0), ("b", Role.MEMBER, 4), ("a", Role.MEMBER, 2))
    heir = successor(g, "owner")
    assert heir is not None
    assert heir.user_id == "a"
    assert successor(group(("owner", Role.OWNER, 0)), "owner") is None
