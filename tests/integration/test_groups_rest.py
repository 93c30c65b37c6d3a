"""Groups and membership over REST (protocol §5), with the sockets that get told."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from safechat.container import SERVICES, SIO
from tests.helpers.support import ChatServer

UNKNOWN_ID = "0123456789abcdef01234567"


async def ok(
    server: ChatServer, method: str, path: str, token: str, json: Any = None, status: int = 200
) -> dict[str, Any]:
    got, body = await server.request(method, path, token, json)
    assert got == status, body
    assert body["success"] is True
    return dict(body)


async def fails(
    server: ChatServer, method: str, path: str, token: str, json: Any = None
) -> tuple[int, str]:
    status, body = await server.request(method, path, token, json)
    assert body["success"] is False, body
    assert set(body["error"]) >= {"code", "message"}
    return status, body["error"]["code"]


async def send(server: ChatServer, token: str, gid: str, content: str) -> dict[str, Any]:
    body = await ok(
        server, "POST", "/api/messages", token, {"groupId": gid, "content": content}, status=201
    )
    return dict(body["message"])


async def members_by_id(server: ChatServer, token: str, gid: str) -> dict[str, dict[str, Any]]:
    body = await ok(server, "GET", f"/api/groups/{gid}/members", token)
    return {m["userId"]: m for m in body["members"]}


# --- create -------------------------------------------------------------------


async def test_create_makes_creator_owner_and_adds_members(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    await server.user("user_bob")
    await server.user("user_carol")

    body = await ok(
        server,
        "POST",
        "/api/groups",
        alice,
        {
            "name": "team",
            "description": "the team",
            "isPrivate": True,
            "memberIds": ["user_bob", "user_bob", "user_alice", "user_carol"],
        },
        status=201,
    )
    group = body["group"]
    assert ObjectId.is_valid(group["id"])
    assert group["name"] == "team"
    assert group["description"] == "the team"
    assert group["isPrivate"] is True
    assert group["role"] == "owner"
    assert group["ownerId"] == "user_alice"
    assert group["memberCount"] == 3
    assert group["lastSeq"] == 0
    assert group["unreadCount"] == 0
    assert group["type"] == "group"

    view = (await ok(server, "GET", f"/api/groups/{group['id']}", alice))["group"]
    roles = {m["userId"]: m["role"] for m in view["members"]}
    assert roles == {"user_alice": "owner", "user_bob": "member", "user_carol": "member"}


async def test_create_defaults_to_public_and_creator_alone(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    group = (await ok(server, "POST", "/api/groups", alice, {"name": "solo"}, status=201))["group"]
    assert group["isPrivate"] is False
    assert group["memberCount"] == 1
    assert "description" not in group or group["description"] is None


async def test_create_with_unknown_member_is_404_and_creates_nothing(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    await server.user("user_bob")
    status, code = await fails(
        server,
        "POST",
        "/api/groups",
        alice,
        {"name": "x", "memberIds": ["user_bob", "user_never_signed_in"]},
    )
    assert (status, code) == (404, "USER_NOT_FOUND")
    assert (await ok(server, "GET", "/api/groups", alice))["groups"] == []


async def test_a_user_exists_once_they_have_connected(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    await server.client("user_socket_only")
    gid = await server.group(alice, memberIds=["user_socket_only"])
    assert "user_socket_only" in await members_by_id(server, alice, gid)


async def test_create_rejects_bad_bodies(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    for body in (
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"name": "x", "owner": "user_alice"},
        {"name": "x", "isPrivate": "yes"},
        {"name": "x", "memberIds": "user_bob"},
    ):
        assert await fails(server, "POST", "/api/groups", alice, body) == (
            400,
            "VALIDATION_ERROR",
        ), body
    status, body = await server.request("POST", "/api/groups", None, {"name": "x"})
    assert status == 401
    assert body["success"] is False


# --- listing ------------------------------------------------------------------


async def test_my_groups_lists_only_mine_with_unread_and_last_message(
    server: ChatServer,
) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    shared = await server.group(alice, "shared", memberIds=["user_bob"])
    alone = await server.group(alice, "alone", isPrivate=True)
    await server.group(bob, "bobs only")

    await send(server, alice, shared, "hello bob")
    await send(server, bob, shared, "hi alice")
    await send(server, bob, shared, "how are you?")

    body = await ok(server, "GET", "/api/groups", alice)
    alias = await ok(server, "GET", "/api/groups/my-groups", alice)
    v1 = await ok(server, "GET", "/api/v1/groups", alice)
    assert alias["groups"] == body["groups"] == v1["groups"]
    mine = {g["id"]: g for g in body["groups"]}
    assert set(mine) == {shared, alone}

    g = mine[shared]
    assert g["role"] == "owner"
    assert g["memberCount"] == 2
    assert g["lastSeq"] == 3
    assert g["unreadCount"] == 2  # bob's two; alice's own message is not unread for her
    assert g["lastMessage"]["content"] == "how are you?"
    assert g["lastMessage"]["senderId"] == "user_bob"
    assert g["lastMessage"]["seq"] == 3

    a = mine[alone]
    assert a["lastSeq"] == 0
    assert a["unreadCount"] == 0
    assert "lastMessage" not in a or a["lastMessage"] is None

    bobs = {g["id"]: g for g in (await ok(server, "GET", "/api/groups", bob))["groups"]}
    assert bobs[shared]["role"] == "member"
    assert bobs[shared]["unreadCount"] == 0  # he sent the last two, after reading the first
    assert len(bobs) == 2


async def test_unread_count_follows_reads(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    gid = await server.group(alice, memberIds=["user_bob"])
    m1 = await send(server, alice, gid, "one")
    await send(server, alice, gid, "two")
    await send(server, alice, gid, "three")

    [g] = (await ok(server, "GET", "/api/groups", bob))["groups"]
    assert g["unreadCount"] == 3
    [g] = (await ok(server, "GET", "/api/groups", alice))["groups"]
    assert g["unreadCount"] == 0

    await ok(server, "POST", "/api/messages/read", bob, {"groupId": gid, "messageIds": [m1["id"]]})
    [g] = (await ok(server, "GET", "/api/groups", bob))["groups"]
    assert g["unreadCount"] == 2


async def test_history_before_joining_is_not_unread(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    carol = await server.user("user_carol")
    gid = await server.group(alice)
    for text in ("one", "two"):
        await send(server, alice, gid, text)
    await ok(server, "POST", f"/api/groups/{gid}/join", bob)
    await ok(server, "POST", f"/api/groups/{gid}/members", alice, {"userId": "user_carol"}, 201)
    await send(server, alice, gid, "three")

    for token in (bob, carol):
        [g] = (await ok(server, "GET", "/api/groups", token))["groups"]
        assert g["unreadCount"] == 1
        assert g["lastSeq"] == 3


# --- discover -----------------------------------------------------------------


async def test_discover_pages_through_public_groups_only(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    public = [await server.group(alice, f"public {i}") for i in range(5)]
    private = await server.group(alice, "secret", isPrivate=True)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        path = "/api/groups/discover?limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = await ok(server, "GET", path, bob)
        pages += 1
        assert len(body["groups"]) <= 2
        for g in body["groups"]:
            assert g["isPrivate"] is False
            assert "members" not in g
            assert "role" not in g
            assert g["memberCount"] == 1
        seen += [g["id"] for g in body["groups"]]
        if not body["hasMore"]:
            assert body["nextCursor"] is None
            break
        assert body["nextCursor"]
        cursor = body["nextCursor"]
        assert pages < 10
    assert pages == 3
    assert seen == list(reversed(public))  # newest first, no repeats
    assert private not in seen

    everything = await ok(server, "GET", "/api/groups/discover", bob)
    assert [g["id"] for g in everything["groups"]] == seen
    assert everything["hasMore"] is False


async def test_discover_filters_on_the_name(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    cats = await server.group(alice, "Cat Lovers")
    kittens = await server.group(alice, "kittens and CATS")
    await server.group(alice, "dogs")
    await server.group(alice, "secret cats", isPrivate=True)

    body = await ok(server, "GET", "/api/groups/discover?q=cat", alice)
    assert {g["id"] for g in body["groups"]} == {cats, kittens}
    body = await ok(server, "GET", "/api/groups/discover?q=.*", alice)
    assert body["groups"] == []  # a plain substring, not a regex
    body = await ok(server, "GET", "/api/groups/discover?q=cat&limit=1", alice)
    assert [g["id"] for g in body["groups"]] == [kittens]
    assert body["hasMore"] is True
    nxt = body["nextCursor"]
    body = await ok(server, "GET", f"/api/groups/discover?q=cat&limit=1&cursor={nxt}", alice)
    assert [g["id"] for g in body["groups"]] == [cats]
    assert body["hasMore"] is False


async def test_discover_rejects_bad_queries(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    for query in ("limit=0", "limit=101", "limit=abc", "cursor=nope", "bogus=1"):
        assert await fails(server, "GET", f"/api/groups/discover?{query}", alice) == (
            400,
            "VALIDATION_ERROR",
        ), query


# --- get ----------------------------------------------------------------------


async def test_get_group_views(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    pub = await server.group(alice, "pub", description="open to all")
    priv = await server.group(alice, "priv", isPrivate=True)

    for prefix in ("/api", "/api/v1"):
        member = (await ok(server, "GET", f"{prefix}/groups/{pub}", alice))["group"]
        assert member["id"] == pub
        assert member["role"] == "owner"
        assert [(m["userId"], m["role"]) for m in member["members"]] == [("user_alice", "owner")]
        assert member["members"][0]["joinedAt"].endswith("Z")

        outsider = (await ok(server, "GET", f"{prefix}/groups/{pub}", bob))["group"]
        assert outsider["id"] == pub
        assert outsider["name"] == "pub"
        assert outsider["description"] == "open to all"
        assert outsider["memberCount"] == 1
        assert "members" not in outsider
        assert "role" not in outsider
        assert "lastMessage" not in outsider

        assert await fails(server, "GET", f"{prefix}/groups/{priv}", bob) == (
            403,
            "ACCESS_DENIED",
        )
        assert await fails(server, "GET", f"{prefix}/groups/{UNKNOWN_ID}", bob) == (
            404,
            "GROUP_NOT_FOUND",
        )
        assert await fails(server, "GET", f"{prefix}/groups/not-an-id", bob) == (
            400,
            "VALIDATION_ERROR",
        )

    # Non-ObjectId ids are refused on every group route, never a 500.
    for method, path in (
        ("PATCH", "/api/groups/not-an-id"),
        ("DELETE", "/api/groups/not-an-id"),
        ("POST", "/api/groups/not-an-id/join"),
        ("POST", "/api/groups/not-an-id/leave"),
        ("GET", "/api/groups/not-an-id/members"),
        ("POST", "/api/groups/not-an-id/transfer-ownership"),
        ("DELETE", "/api/groups/0123/members/user_bob"),
    ):
        status, code = await fails(server, method, path, alice, {"name": "x"})
        assert (status, code) == (400, "VALIDATION_ERROR"), (method, path)


# --- update -------------------------------------------------------------------


async def test_update_by_owner_and_admin_but_not_member(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    carol = await server.user("user_carol")
    dave = await server.user("user_dave")
    gid = await server.group(alice, "before", memberIds=["user_bob", "user_carol"])
    await ok(server, "PATCH", f"/api/groups/{gid}/members/user_bob", alice, {"role": "admin"})
    c = await server.client(carol)
    c.drain("group_updated")

    g = (await ok(server, "PATCH", f"/api/groups/{gid}", alice, {"name": "after"}))["group"]
    assert g["name"] == "after"
    assert g["role"] == "owner"
    pushed = await c.wait_for("group_updated")
    assert pushed["group"]["id"] == gid
    assert pushed["group"]["name"] == "after"
    assert "role" not in pushed["group"]
    assert "unreadCount" not in pushed["group"]

    g = (
        await ok(
            server,
            "PATCH",
            f"/api/v1/groups/{gid}",
            bob,
            {"description": "by the admin", "isPrivate": True},
        )
    )["group"]
    assert g["description"] == "by the admin"
    assert g["isPrivate"] is True
    assert g["role"] == "admin"
    assert (await c.wait_for("group_updated"))["group"]["isPrivate"] is True

    assert await fails(server, "PATCH", f"/api/groups/{gid}", carol, {"name": "nope"}) == (
        403,
        "ACCESS_DENIED",
    )
    assert await fails(server, "PATCH", f"/api/groups/{gid}", dave, {"name": "nope"}) == (
        403,
        "ACCESS_DENIED",
    )
    for body in ({}, {"ownerId": "user_carol"}, {"name": ""}, {"name": 5}):
        assert await fails(server, "PATCH", f"/api/groups/{gid}", alice, body) == (
            400,
            "VALIDATION_ERROR",
        ), body
    assert await fails(server, "PATCH", f"/api/groups/{UNKNOWN_ID}", alice, {"name": "x"}) == (
        404,
        "GROUP_NOT_FOUND",
    )
    await c.expect_none("group_updated", within=0.1)

    view = (await ok(server, "GET", f"/api/groups/{gid}", carol))["group"]
    assert (view["name"], view["description"], view["isPrivate"]) == (
        "after",
        "by the admin",
        True,
    )


# --- delete -------------------------------------------------------------------


async def test_delete_is_owner_only_soft_and_closes_the_room(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    carol = await server.user("user_carol")
    gid = await server.group(alice, "doomed", memberIds=["user_bob", "user_carol"])
    keep = await server.group(alice, "kept", memberIds=["user_bob"])
    await ok(server, "PATCH", f"/api/groups/{gid}/members/user_bob", alice, {"role": "admin"})
    await send(server, alice, gid, "last words")
    b = await server.client(bob)

    assert await fails(server, "DELETE", f"/api/groups/{gid}", bob) == (403, "ACCESS_DENIED")
    assert await fails(server, "DELETE", f"/api/groups/{gid}", carol) == (403, "ACCESS_DENIED")

    body = await ok(server, "DELETE", f"/api/groups/{gid}", alice)
    assert body["groupId"] == gid
    assert (await b.wait_for("group_removed")) == {"groupId": gid}

    # Gone for everyone, everywhere.
    for token in (alice, bob):
        assert [g["id"] for g in (await ok(server, "GET", "/api/groups", token))["groups"]] == [
            keep
        ]
        assert await fails(server, "GET", f"/api/groups/{gid}", token) == (
            404,
            "GROUP_NOT_FOUND",
        )
    discover = (await ok(server, "GET", "/api/groups/discover", carol))["groups"]
    assert gid not in [g["id"] for g in discover]
    assert await fails(server, "DELETE", f"/api/groups/{gid}", alice) == (404, "GROUP_NOT_FOUND")
    assert await fails(server, "POST", f"/api/groups/{gid}/join", carol) == (
        404,
        "GROUP_NOT_FOUND",
    )
    status, _ = await server.request(
        "POST", "/api/messages", alice, {"groupId": gid, "content": "anyone?"}
    )
    assert status in (403, 404)

    # The socket left the room: nothing addressed to that group reaches it any more,
    # while the other group still does.
    await server.app[SIO].emit("probe", {"g": gid}, room=f"group:{gid}")
    await server.app[SIO].emit("probe", {"g": keep}, room=f"group:{keep}")
    assert await b.wait_for("probe") == {"g": keep}
    await b.expect_none("probe", within=0.1)

    # Soft: the document is still there, only inactive.
    raw = await server.app[SERVICES].database.db.groups.find_one({"_id": ObjectId(gid)})
    assert raw is not None
    assert raw["isActive"] is False
    assert raw["deletedAt"] is not None


# --- join / leave -------------------------------------------------------------


async def test_join_public_group_moves_live_socket_into_room(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    carol = await server.user("user_carol", first_name="Carol")
    gid = await server.group(alice, "open")
    priv = await server.group(alice, "closed", isPrivate=True)
    a = await server.client(alice)
    c = await server.client(carol)

    g = (await ok(server, "POST", f"/api/groups/{gid}/join", carol))["group"]
    assert g["id"] == gid
    assert g["role"] == "member"
    assert g["memberCount"] == 2
    added = await c.wait_for("group_added")
    assert added["group"]["id"] == gid
    assert added["group"]["role"] == "member"
    assert (await a.wait_for("group_updated"))["group"]["memberCount"] == 2

    # Idempotent: a second join changes nothing and announces nothing.
    again = (await ok(server, "POST", f"/api/groups/{gid}/join", carol))["group"]
    assert again["memberCount"] == 2
    assert again["role"] == "member"
    await c.expect_none("group_added", within=0.1)
    assert list(await members_by_id(server, alice, gid)) == ["user_alice", "user_carol"]

    # Carol's socket is in the room without calling join_group.
    msg = await send(server, alice, gid, "welcome carol")
    got = await c.wait_for("new_message")
    assert got["message"]["id"] == msg["id"]
    assert got["message"]["content"] == "welcome carol"

    assert await fails(server, "POST", f"/api/groups/{priv}/join", carol) == (
        403,
        "ACCESS_DENIED",
    )
    assert await fails(server, "POST", f"/api/groups/{UNKNOWN_ID}/join", carol) == (
        404,
        "GROUP_NOT_FOUND",
    )
    assert [g["id"] for g in (await ok(server, "GET", "/api/groups", carol))["groups"]] == [gid]


async def test_leave_ends_membership_and_events(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    carol = await server.user("user_carol")
    gid = await server.group(alice, "club", memberIds=["user_bob"], isPrivate=True)
    a = await server.client(alice)
    b = await server.client(bob)

    assert await fails(server, "POST", f"/api/groups/{gid}/leave", alice) == (
        403,
        "ACCESS_DENIED",
    )
    assert await fails(server, "POST", f"/api/groups/{gid}/leave", carol) == (
        403,
        "ACCESS_DENIED",
    )

    body = await ok(server, "POST", f"/api/groups/{gid}/leave", bob)
    assert body["groupId"] == gid
    assert await b.wait_for("group_removed") == {"groupId": gid}
    assert (await a.wait_for("group_updated"))["group"]["memberCount"] == 1

    await send(server, alice, gid, "bob is gone")
    await b.expect_none("new_message", within=0.2)
    assert (await ok(server, "GET", "/api/groups", bob))["groups"] == []
    assert await fails(server, "GET", f"/api/groups/{gid}", bob) == (403, "ACCESS_DENIED")
    status, _ = await server.request("GET", f"/api/messages/group/{gid}", bob)
    assert status == 403
    assert await fails(server, "POST", f"/api/groups/{gid}/leave", bob) == (403, "ACCESS_DENIED")


# --- members ------------------------------------------------------------------


async def test_member_list_has_profiles_roles_and_presence(server: ChatServer) -> None:
    alice = await server.user("user_alice", first_name="Alice", last_name="Liddell")
    await server.user("user_bob", first_name="Bob")
    dave = await server.user("user_dave")
    gid = await server.group(alice, memberIds=["user_bob"])
    await server.client("user_bob")

    members = await members_by_id(server, alice, gid)
    assert list(members) == ["user_alice", "user_bob"]
    a, b = members["user_alice"], members["user_bob"]
    assert a["role"] == "owner"
    assert b["role"] == "member"
    assert a["user"]["userId"] == "user_alice"
    assert a["user"]["firstName"] == "Alice"
    assert a["user"]["lastName"] == "Liddell"
    assert b["user"]["firstName"] == "Bob"
    assert b["joinedAt"].endswith("Z")
    assert b["isOnline"] is True
    assert a["isOnline"] is False  # alice only used REST

    assert await fails(server, "GET", f"/api/groups/{gid}/members", dave) == (
        403,
        "ACCESS_DENIED",
    )
    assert await fails(server, "GET", f"/api/groups/{UNKNOWN_ID}/members", dave) == (
        404,
        "GROUP_NOT_FOUND",
    )


async def test_add_member_rules(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    carol = await server.user("user_carol")
    await server.user("user_dave")
    await server.user("user_erin")
    gid = await server.group(alice, memberIds=["user_carol"])

    path = f"/api/groups/{gid}/members"
    body = await ok(server, "POST", path, alice, {"userId": "user_bob", "role": "admin"}, 201)
    assert {m["userId"]: m["role"] for m in body["members"]} == {
        "user_alice": "owner",
        "user_carol": "member",
        "user_bob": "admin",
    }
    # An admin adds members, but not admins.
    body = await ok(server, "POST", path, bob, {"userId": "user_dave"}, 201)
    assert {m["userId"]: m["role"] for m in body["members"]}["user_dave"] == "member"
    assert await fails(server, "POST", path, bob, {"userId": "user_erin", "role": "admin"}) == (
        403,
        "ACCESS_DENIED",
    )
    # A plain member adds nobody.
    assert await fails(server, "POST", path, carol, {"userId": "user_erin"}) == (
        403,
        "ACCESS_DENIED",
    )
    assert await fails(server, "POST", path, alice, {"userId": "user_dave"}) == (409, "CONFLICT")
    assert await fails(server, "POST", path, alice, {"userId": "user_alice"}) == (409, "CONFLICT")
    assert await fails(server, "POST", path, alice, {"userId": "user_ghost"}) == (
        404,
        "USER_NOT_FOUND",
    )
    for bad in ({"userId": "user_erin", "role": "owner"}, {}, {"userId": "user_erin", "x": 1}):
        assert await fails(server, "POST", path, alice, bad) == (400, "VALIDATION_ERROR"), bad

    roles = {u: m["role"] for u, m in (await members_by_id(server, alice, gid)).items()}
    assert roles == {
        "user_alice": "owner",
        "user_carol": "member",
        "user_bob": "admin",
        "user_dave": "member",
    }


async def test_added_user_socket_enters_room_at_once(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    gid = await server.group(alice, "later")
    b = await server.client(bob)
    a = await server.client(alice)

    await ok(server, "POST", f"/api/groups/{gid}/members", alice, {"userId": "user_bob"}, 201)
    added = await b.wait_for("group_added")
    assert added["group"]["id"] == gid
    assert added["group"]["role"] == "member"
    assert added["group"]["memberCount"] == 2
    assert (await a.wait_for("group_updated"))["group"]["memberCount"] == 2

    ack = await a.call("send_message", {"groupId": gid, "content": "you're in"})
    assert ack["ok"] is True
    got = await b.wait_for("new_message")
    assert got["message"]["id"] == ack["message"]["id"]


async def test_change_role_is_owner_only(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    carol = await server.user("user_carol")
    await server.user("user_dave")
    gid = await server.group(alice, memberIds=["user_bob", "user_carol"])
    c = await server.client(carol)

    path = f"/api/groups/{gid}/members"
    body = await ok(server, "PATCH", f"{path}/user_bob", alice, {"role": "admin"})
    assert {m["userId"]: m["role"] for m in body["members"]}["user_bob"] == "admin"
    assert (await c.wait_for("group_updated"))["group"]["id"] == gid

    # An admin may not change roles, nor may a member.
    assert await fails(server, "PATCH", f"{path}/user_carol", bob, {"role": "admin"}) == (
        403,
        "ACCESS_DENIED",
    )
    assert await fails(server, "PATCH", f"{path}/user_bob", carol, {"role": "member"}) == (
        403,
        "ACCESS_DENIED",
    )
    # The owner cannot change their own role, nor make a second owner.
    assert await fails(server, "PATCH", f"{path}/user_alice", alice, {"role": "member"}) == (
        400,
        "VALIDATION_ERROR",
    )
    for bad in ({"role": "owner"}, {}, {"role": "admin", "x": 1}):
        assert await fails(server, "PATCH", f"{path}/user_carol", alice, bad) == (
            400,
            "VALIDATION_ERROR",
        ), bad
    status, _ = await fails(server, "PATCH", f"{path}/user_dave", alice, {"role": "admin"})
    assert status in (400, 404)

    body = await ok(server, "PATCH", f"{path}/user_bob", alice, {"role": "member"})
    roles = {m["userId"]: m["role"] for m in body["members"]}
    assert roles == {"user_alice": "owner", "user_bob": "member", "user_carol": "member"}


async def test_remove_member_rules(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    carol = await server.user("user_carol")
    dave = await server.user("user_dave")
    erin = await server.user("user_erin")
    await server.user("user_frank")
    gid = await server.group(
        alice, memberIds=["user_bob", "user_carol", "user_dave", "user_erin", "user_frank"]
    )
    path = f"/api/groups/{gid}/members"
    await ok(server, "PATCH", f"{path}/user_bob", alice, {"role": "admin"})
    await ok(server, "PATCH", f"{path}/user_carol", alice, {"role": "admin"})

    # Admins remove members, not other admins nor the owner.
    assert await fails(server, "DELETE", f"{path}/user_carol", bob) == (403, "ACCESS_DENIED")
    assert await fails(server, "DELETE", f"{path}/user_alice", bob) == (403, "ACCESS_DENIED")
    body = await ok(server, "DELETE", f"{path}/user_dave", bob)
    assert body["userId"] == "user_dave"
    # A member removes nobody else.
    assert await fails(server, "DELETE", f"{path}/user_frank", erin) == (403, "ACCESS_DENIED")
    assert await fails(server, "DELETE", f"{path}/user_bob", dave) == (403, "ACCESS_DENIED")
    # The owner removes admins; never themself.
    await ok(server, "DELETE", f"{path}/user_carol", alice)
    assert await fails(server, "DELETE", f"{path}/user_alice", alice) == (403, "ACCESS_DENIED")
    # A member removing themself leaves.
    await ok(server, "DELETE", f"{path}/user_erin", erin)
    assert (await ok(server, "GET", "/api/groups", erin))["groups"] == []
    # Removing someone who is not a member is refused.
    status, _ = await fails(server, "DELETE", f"{path}/user_dave", alice)
    assert status in (400, 404)

    roles = {u: m["role"] for u, m in (await members_by_id(server, alice, gid)).items()}
    assert roles == {"user_alice": "owner", "user_bob": "admin", "user_frank": "member"}
    assert await fails(server, "GET", f"/api/groups/{gid}/members", carol) == (
        403,
        "ACCESS_DENIED",
    )


async def test_removed_user_socket_leaves_the_room(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    gid = await server.group(alice, memberIds=["user_bob"])
    other = await server.group(alice, "other", memberIds=["user_bob"])
    b = await server.client(bob)
    b2 = await server.client(bob)  # a second device

    await send(server, alice, gid, "before")
    assert (await b.wait_for("new_message"))["message"]["content"] == "before"
    assert (await b2.wait_for("new_message"))["message"]["content"] == "before"

    await ok(server, "DELETE", f"/api/groups/{gid}/members/user_bob", alice)
    assert await b.wait_for("group_removed") == {"groupId": gid}
    assert await b2.wait_for("group_removed") == {"groupId": gid}

    await send(server, alice, gid, "after")
    await send(server, alice, other, "elsewhere")
    for client in (b, b2):
        got = await client.wait_for("new_message")
        assert got["message"]["content"] == "elsewhere"
    await b.expect_none("new_message", within=0.15)
    await b2.expect_none("new_message", within=0.0)

    ack = await b.call("send_message", {"groupId": gid, "content": "let me back"})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "ACCESS_DENIED"


# --- ownership ----------------------------------------------------------------


async def test_transfer_ownership(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    carol = await server.user("user_carol")
    await server.user("user_dave")
    gid = await server.group(alice, memberIds=["user_bob", "user_carol"])
    await ok(server, "PATCH", f"/api/groups/{gid}/members/user_carol", alice, {"role": "admin"})
    b = await server.client(bob)
    path = f"/api/groups/{gid}/transfer-ownership"

    assert await fails(server, "POST", path, bob, {"userId": "user_bob"}) == (
        403,
        "ACCESS_DENIED",
    )
    assert await fails(server, "POST", path, carol, {"userId": "user_carol"}) == (
        403,
        "ACCESS_DENIED",
    )
    status, code = await fails(server, "POST", path, alice, {"userId": "user_dave"})
    assert (status, code) in ((400, "VALIDATION_ERROR"), (404, "USER_NOT_FOUND"))
    assert await fails(server, "POST", path, alice, {}) == (400, "VALIDATION_ERROR")
    assert await fails(server, "POST", path, alice, {"userId": "user_alice"}) == (
        400,
        "VALIDATION_ERROR",
    )
    b.drain("group_updated")

    g = (await ok(server, "POST", path, alice, {"userId": "user_bob"}))["group"]
    assert g["ownerId"] == "user_bob"
    assert g["role"] == "admin"
    assert (await b.wait_for("group_updated"))["group"]["ownerId"] == "user_bob"

    roles = {u: m["role"] for u, m in (await members_by_id(server, bob, gid)).items()}
    assert roles == {"user_alice": "admin", "user_bob": "owner", "user_carol": "admin"}
    assert list(roles.values()).count("owner") == 1

    # The old owner is now an ordinary admin: no transfer, and free to leave.
    assert await fails(server, "POST", path, alice, {"userId": "user_alice"}) == (
        403,
        "ACCESS_DENIED",
    )
    assert await fails(server, "POST", f"/api/groups/{gid}/leave", bob) == (
        403,
        "ACCESS_DENIED",
    )
    await ok(server, "POST", f"/api/groups/{gid}/leave", alice)
    roles = {u: m["role"] for u, m in (await members_by_id(server, bob, gid)).items()}
    assert roles == {"user_bob": "owner", "user_carol": "admin"}
    # And the new owner holds the owner's powers.
    await ok(server, "PATCH", f"/api/groups/{gid}/members/user_carol", bob, {"role": "member"})
    await ok(server, "DELETE", f"/api/groups/{gid}", bob)


# --- audit --------------------------------------------------------------------


async def test_membership_changes_are_audited_without_content(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    await server.user("user_carol")
    await server.user("user_dave")
    gid = await server.group(alice, memberIds=["user_bob"])
    secret = "the launch code is 0000"
    await send(server, alice, gid, secret)
    await send(server, bob, gid, secret + " indeed")

    members = f"/api/groups/{gid}/members"
    await ok(server, "POST", members, alice, {"userId": "user_carol"}, 201)
    await ok(server, "POST", members, alice, {"userId": "user_dave"}, 201)
    await ok(server, "PATCH", f"{members}/user_carol", alice, {"role": "admin"})
    await ok(server, "DELETE", f"{members}/user_dave", alice)
    await ok(server, "POST", f"/api/groups/{gid}/leave", bob)
    transfer = f"/api/groups/{gid}/transfer-ownership"
    await ok(server, "POST", transfer, alice, {"userId": "user_carol"})
    carol = server.token("user_carol")
    await ok(server, "DELETE", f"/api/groups/{gid}", carol)

    coll = server.app[SERVICES].database.db.audit_events
    docs = [d async for d in coll.find({"groupId": ObjectId(gid)}).sort("_id", 1)]
    got = [(d["action"], d["actorId"], d.get("targetId")) for d in docs]
    assert got == [
        ("group.created", "user_alice", None),
        ("member.added", "user_alice", "user_carol"),
        ("member.added", "user_alice", "user_dave"),
        ("member.role_changed", "user_alice", "user_carol"),
        ("member.removed", "user_alice", "user_dave"),
        ("member.left", "user_bob", "user_bob"),
        ("group.ownership_transferred", "user_alice", "user_carol"),
        ("group.deleted", "user_carol", None),
    ]
    assert docs[3]["details"]["role"] == "admin"
    for d in docs:
        assert d["at"] is not None
        assert "launch code" not in repr(d)
