"""Group events over Socket.IO (protocol §4): join_group, leave_group, get_group_members,
and the `user_groups` list pushed on connect."""

from __future__ import annotations

from typing import Any

from tests.helpers.support import ChatServer, EventClient

UNKNOWN_ID = "0123456789abcdef01234567"


async def send(server: ChatServer, token: str, gid: str, content: str) -> dict[str, Any]:
    status, body = await server.request(
        "POST", "/api/messages", token, {"groupId": gid, "content": content}
    )
    assert status == 201, body
    return dict(body["message"])


async def refused(client: EventClient, event: str, payload: Any, code: str) -> dict[str, Any]:
    """The ack says ok:false with `code`, and the same error arrives on group_error."""
    ack = await client.call(event, payload)
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == code
    assert ack["error"]["message"]
    pushed = await client.wait_for("group_error")
    assert pushed["code"] == code
    assert pushed["message"] == ack["error"]["message"]
    assert pushed["timestamp"].endswith("Z")
    return dict(ack)


async def test_join_group_as_member(server: ChatServer) -> None:
    alice = await server.user("user_alice", first_name="Alice")
    await server.user("user_bob", first_name="Bob")
    await server.user("user_carol")
    gid = await server.group(alice, "crew", memberIds=["user_bob", "user_carol"])
    a = await server.client(alice)
    await server.client("user_bob")

    ack = await a.call("join_group", {"groupId": gid})
    assert ack["ok"] is True
    assert ack["groupId"] == gid
    assert ack["group"]["id"] == gid
    assert ack["group"]["role"] == "owner"
    assert ack["group"]["memberCount"] == 3
    online = {u["userId"]: u for u in ack["onlineMembers"]}
    assert set(online) == {"user_alice", "user_bob"}  # carol never connected
    assert online["user_bob"]["firstName"] == "Bob"
    assert online["user_bob"]["status"] == "online"

    event = await a.wait_for("group_joined")
    assert event["groupId"] == gid
    assert event["group"] == ack["group"]
    assert event["onlineMembers"] == ack["onlineMembers"]

    # Joining again is harmless and the socket gets each message once.
    assert (await a.call("join_group", {"groupId": gid}))["ok"] is True
    await send(server, server.token("user_bob"), gid, "once")
    assert (await a.wait_for("new_message"))["message"]["content"] == "once"
    await a.expect_none("new_message", within=0.15)


async def test_join_group_refusals(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    gid = await server.group(alice, "private", isPrivate=True)
    pub = await server.group(alice, "public")
    m = await server.client("user_mallory")

    await refused(m, "join_group", {"groupId": gid}, "ACCESS_DENIED")
    # Public or not, the socket event is for members (joining is POST /join).
    await refused(m, "join_group", {"groupId": pub}, "ACCESS_DENIED")
    await refused(m, "join_group", {"groupId": UNKNOWN_ID}, "GROUP_NOT_FOUND")
    for bad in ({"groupId": "not-an-id"}, {}, {"groupId": gid, "x": 1}, "nope", [gid]):
        await refused(m, "join_group", bad, "VALIDATION_ERROR")
    await m.expect_none("group_joined", within=0.05)

    # Mallory is in no room of those groups.
    await send(server, alice, gid, "secret")
    await send(server, alice, pub, "public chatter")
    await m.expect_none("new_message", within=0.15)
    assert m.sio.connected


async def test_leave_group_leaves_the_live_room_only(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    gid = await server.group(alice, memberIds=["user_bob"])
    other = await server.group(alice, "other", memberIds=["user_bob"])
    b = await server.client(bob)
    b_phone = await server.client(bob)

    ack = await b.call("leave_group", {"groupId": gid})
    assert ack == {"ok": True, "groupId": gid}
    assert await b.wait_for("group_left") == {"groupId": gid}
    await b_phone.expect_none("group_left", within=0.0)

    await send(server, alice, gid, "quiet")
    await send(server, alice, other, "loud")
    assert (await b.wait_for("new_message"))["message"]["content"] == "loud"
    # Only that socket left: bob's other device still hears the group.
    phone = [(await b_phone.wait_for("new_message"))["message"]["content"] for _ in range(2)]
    assert sorted(phone) == ["loud", "quiet"]
    await b.expect_none("new_message", within=0.15)

    # Membership stays.
    status, body = await server.request("GET", f"/api/groups/{gid}/members", bob)
    assert status == 200
    assert "user_bob" in [m["userId"] for m in body["members"]]
    status, body = await server.request("GET", "/api/groups", bob)
    assert gid in [g["id"] for g in body["groups"]]
    ack = await b.call("send_message", {"groupId": gid, "content": "still here"})
    assert ack["ok"] is True

    # join_group brings the socket back.
    assert (await b.call("join_group", {"groupId": gid}))["ok"] is True
    await send(server, alice, gid, "welcome back")
    assert (await b.wait_for("new_message"))["message"]["content"] == "welcome back"


async def test_leave_group_validates_its_payload(server: ChatServer) -> None:
    c = await server.client("user_carol")
    for bad in ({"groupId": "zz"}, {}, None, {"groupId": UNKNOWN_ID, "extra": True}):
        await refused(c, "leave_group", bad, "VALIDATION_ERROR")
    await c.expect_none("group_left", within=0.05)


async def test_get_group_members(server: ChatServer) -> None:
    alice = await server.user("user_alice", first_name="Alice")
    await server.user("user_bob", first_name="Bob")
    await server.user("user_carol")
    gid = await server.group(alice, memberIds=["user_bob", "user_carol"])
    status, _ = await server.request(
        "PATCH", f"/api/groups/{gid}/members/user_carol", alice, {"role": "admin"}
    )
    assert status == 200
    b = await server.client("user_bob")

    ack = await b.call("get_group_members", {"groupId": gid})
    assert ack["ok"] is True
    assert ack["groupId"] == gid
    members = {m["userId"]: m for m in ack["members"]}
    assert list(members) == ["user_alice", "user_bob", "user_carol"]
    assert {u: m["role"] for u, m in members.items()} == {
        "user_alice": "owner",
        "user_bob": "member",
        "user_carol": "admin",
    }
    assert {u: m["isOnline"] for u, m in members.items()} == {
        "user_alice": False,
        "user_bob": True,
        "user_carol": False,
    }
    assert members["user_alice"]["user"]["userId"] == "user_alice"
    assert members["user_alice"]["user"]["firstName"] == "Alice"
    assert members["user_bob"]["user"]["firstName"] == "Bob"
    assert members["user_bob"]["joinedAt"].endswith("Z")

    event = await b.wait_for("group_members")
    assert event == {"groupId": gid, "members": ack["members"]}

    # Alice connects: she shows as online now.
    await server.client(alice)
    ack = await b.call("get_group_members", {"groupId": gid})
    assert {m["userId"]: m["isOnline"] for m in ack["members"]}["user_alice"] is True

    outsider = await server.client("user_mallory")
    await refused(outsider, "get_group_members", {"groupId": gid}, "ACCESS_DENIED")
    await refused(outsider, "get_group_members", {"groupId": UNKNOWN_ID}, "GROUP_NOT_FOUND")
    await refused(outsider, "get_group_members", {"groupId": "bad"}, "VALIDATION_ERROR")
    await outsider.expect_none("group_members", within=0.05)


async def test_user_groups_on_connect_has_unread_counts(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    busy = await server.group(alice, "busy", memberIds=["user_bob"])
    quiet = await server.group(bob, "quiet", isPrivate=True)
    await server.group(alice, "not bob's")
    gone = await server.group(alice, "gone", memberIds=["user_bob"])
    status, _ = await server.request("DELETE", f"/api/groups/{gone}", alice)
    assert status == 200

    await send(server, bob, busy, "from bob")
    await send(server, alice, busy, "one")
    await send(server, alice, busy, "two")
    await send(server, alice, busy, "three")

    b = await server.client(bob, connect=False)
    await b.connect()
    identity = await b.wait_for("authentication_success")
    assert identity["user"]["userId"] == "user_bob"
    groups = {g["id"]: g for g in await b.wait_for("user_groups")}
    assert set(groups) == {busy, quiet}
    assert groups[busy]["unreadCount"] == 3
    assert groups[busy]["lastSeq"] == 4
    assert groups[busy]["role"] == "member"
    assert groups[busy]["lastMessage"]["content"] == "three"
    assert groups[busy]["type"] == "group"
    assert groups[quiet]["unreadCount"] == 0
    assert groups[quiet]["role"] == "owner"
    assert groups[quiet]["isPrivate"] is True

    # The sockets are already in their groups' rooms: no join_group needed.
    await send(server, alice, busy, "live")
    assert (await b.wait_for("new_message"))["message"]["content"] == "live"

    # Reading brings the count down; `authenticate` re-sends the list.
    ack = await b.call("mark_messages_read", {"groupId": busy, "upToSeq": 5})
    assert ack["ok"] is True
    await b.call("authenticate", {})
    groups = {g["id"]: g for g in await b.wait_for("user_groups")}
    assert groups[busy]["unreadCount"] == 0

    # Alice sent the last messages: none of them is unread for her.
    a = await server.client(alice, connect=False)
    await a.connect()
    mine = {g["id"]: g for g in await a.wait_for("user_groups")}
    assert mine[busy]["unreadCount"] == 0
    assert gone not in mine


async def test_group_added_then_join_group_works_on_the_same_socket(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    carol = await server.user("user_carol")
    gid = await server.group(alice, "new", isPrivate=True)
    c = await server.client(carol)
    await refused(c, "join_group", {"groupId": gid}, "ACCESS_DENIED")

    status, _ = await server.request(
        "POST", f"/api/groups/{gid}/members", alice, {"userId": "user_carol"}
    )
    assert status == 201
    assert (await c.wait_for("group_added"))["group"]["id"] == gid
    ack = await c.call("join_group", {"groupId": gid})
    assert ack["ok"] is True
    assert ack["group"]["role"] == "member"
    assert [u["userId"] for u in ack["onlineMembers"]] == ["user_carol"]
