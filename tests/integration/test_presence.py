"""Typing, status and online users on one node, through a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers.support import ChatServer, pair, start_server


@pytest.fixture
async def quick(mongo_uri: str, db_name: str, tmp_path: Path) -> AsyncIterator[ChatServer]:
    """Typing auto-stops after 0.3 s, so the timeout can be observed quickly."""
    srv = await start_server(
        mongo_uri=mongo_uri,
        db_name=db_name,
        data_dir=tmp_path / "data",
        typing_timeout_seconds=0.3,
    )
    try:
        yield srv
    finally:
        await srv.stop()


async def test_typing_start_and_stop_reach_the_others_once(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    assert await a.call("typing_start", {"groupId": gid}) == {"ok": True}
    typing = await b.wait_for("user_typing")
    assert typing["groupId"] == gid
    assert typing["userId"] == "user_alice"
    assert typing["user"]["firstName"] == "Alice"
    await a.expect_none("user_typing", within=0.1)
    # Repeated starts inside the window are not re-broadcast.
    for _ in range(3):
        assert (await a.call("typing_start", {"groupId": gid}))["ok"] is True
    await b.expect_none("user_typing", within=0.2)
    assert await a.call("typing_stop", {"groupId": gid}) == {"ok": True}
    assert await b.wait_for("user_stopped_typing") == {"groupId": gid, "userId": "user_alice"}
    # A stop while not typing announces nothing.
    assert (await a.call("typing_stop", {"groupId": gid}))["ok"] is True
    await b.expect_none("user_stopped_typing", within=0.2)
    # After a stop, a new start is announced again.
    await a.call("typing_start", {"groupId": gid})
    assert (await b.wait_for("user_typing"))["userId"] == "user_alice"


async def test_typing_stops_by_itself(quick: ChatServer) -> None:
    """The auto-stop reaches a client. Its timing (the deadline, announced once, pushed
    back by a repeated start) is tested without a server or sleeping in
    tests/unit/services/test_presence.py."""
    gid, a, b = await pair(quick)
    await a.call("typing_start", {"groupId": gid})
    await b.wait_for("user_typing")
    stopped = await b.wait_for("user_stopped_typing", timeout=3)
    assert stopped == {"groupId": gid, "userId": "user_alice"}


async def test_disconnect_stops_every_typing_state_of_the_socket(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    await server.user("user_bob")
    g1 = await server.group(alice, "one", memberIds=["user_bob"])
    g2 = await server.group(alice, "two", memberIds=["user_bob"])
    a = await server.client(alice)
    b = await server.client("user_bob")
    await a.call("typing_start", {"groupId": g1})
    await a.call("typing_start", {"groupId": g2})
    assert {(await b.wait_for("user_typing"))["groupId"] for _ in range(2)} == {g1, g2}
    await a.close()
    stops = [await b.wait_for("user_stopped_typing") for _ in range(2)]
    assert sorted(s["groupId"] for s in stops) == sorted([g1, g2])
    assert {s["userId"] for s in stops} == {"user_alice"}


async def test_typing_in_a_group_you_are_not_in_is_refused(server: ChatServer) -> None:
    gid, _a, b = await pair(server)
    await server.user("user_eve")
    eve = await server.client("user_eve")
    ack = await eve.call("typing_start", {"groupId": gid})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "ACCESS_DENIED"
    await b.expect_none("user_typing", within=0.2)
    ack = await eve.call("typing_start", {"groupId": "0" * 24})
    assert ack["error"]["code"] == "GROUP_NOT_FOUND"


async def test_typing_after_leaving_the_live_room_checks_membership(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    await a.call("leave_group", {"groupId": gid})
    # Still a member: allowed (checked against the database this time).
    assert (await a.call("typing_start", {"groupId": gid}))["ok"] is True
    assert (await b.wait_for("user_typing"))["userId"] == "user_alice"


async def test_removed_member_can_no_longer_type(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    alice = a.token
    status, _ = await server.request("DELETE", f"/api/groups/{gid}/members/user_bob", alice)
    assert status == 200
    await b.wait_for("group_removed")
    ack = await b.call("typing_start", {"groupId": gid})
    assert ack["error"]["code"] == "ACCESS_DENIED"
    await a.expect_none("user_typing", within=0.2)


async def test_online_users_are_scoped_to_shared_groups(server: ChatServer) -> None:
    gid, a, _b = await pair(server)
    carol = await server.user("user_carol")
    await server.group(carol, "carol's own")
    await server.client(carol)
    await server.user("user_dave")
    await server.client("user_dave")

    ack = await a.call("get_online_users", {"groupId": gid})
    assert ack["ok"] is True
    assert ack["groupId"] == gid
    users = {u["userId"]: u for u in ack["users"]}
    assert set(users) == {"user_alice", "user_bob"}
    assert users["user_bob"]["status"] == "online"
    assert users["user_bob"]["deviceType"] == "web"
    assert users["user_bob"]["user"]["userId"] == "user_bob"
    assert users["user_bob"]["lastActivity"].endswith("Z")
    event = await a.wait_for("online_users")
    assert event == {k: ack[k] for k in ("groupId", "users")}

    everyone = await a.call("get_online_users", {})
    assert {u["userId"] for u in everyone["users"]} == {"user_alice", "user_bob"}
    assert "groupId" not in everyone
    alone = await server.client(carol)
    assert {u["userId"] for u in (await alone.call("get_online_users"))["users"]} == {"user_carol"}


async def test_online_users_of_a_group_needs_membership(server: ChatServer) -> None:
    gid, _a, _b = await pair(server)
    await server.user("user_eve")
    eve = await server.client("user_eve")
    ack = await eve.call("get_online_users", {"groupId": gid})
    assert ack["error"]["code"] == "ACCESS_DENIED"


async def test_change_status_reaches_the_groups(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    ack = await a.call("change_status", {"status": "away"})
    assert ack["ok"] is True
    assert ack["status"] == "away"
    changed = await b.wait_for("user_status_changed")
    assert changed["userId"] == "user_alice"
    assert changed["status"] == "away"
    assert changed["lastSeen"].endswith("Z")
    listed = await b.call("get_online_users", {"groupId": gid})
    assert {u["userId"]: u["status"] for u in listed["users"]}["user_alice"] == "away"
    joined = await b.call("join_group", {"groupId": gid})
    statuses = {m["userId"]: m["status"] for m in joined["onlineMembers"]}
    assert statuses == {"user_alice": "away", "user_bob": "online"}
    # The status is forgotten when the user goes offline.
    await a.close()
    await b.wait_for("user_offline")
    again = await server.client(a.token)
    await again.call("get_online_users", {"groupId": gid})
    listed = await b.call("get_online_users", {"groupId": gid})
    assert {u["userId"]: u["status"] for u in listed["users"]}["user_alice"] == "online"


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("typing_start", {}),
        ("typing_start", {"groupId": "nope"}),
        ("typing_stop", {"groupId": 5}),
        ("typing_start", {"groupId": "0" * 24, "extra": 1}),
        ("change_status", {"status": "busy"}),
        ("change_status", {}),
        ("get_online_users", {"groupId": "x"}),
        ("get_online_users", {"groupId": "0" * 24, "all": True}),
    ],
)
async def test_bad_presence_payloads(server: ChatServer, event: str, payload: object) -> None:
    _gid, a, b = await pair(server)
    ack = await a.call(event, payload)
    assert ack["ok"] is False
    assert ack["error"]["code"] == "VALIDATION_ERROR"
    assert (await a.wait_for("error"))["code"] == "VALIDATION_ERROR"
    await b.expect_none("user_typing", within=0.05)
