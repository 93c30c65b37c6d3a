"""Read receipts, unread counts and catch-up sync (protocol §4-5, design §4)."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from safechat.container import SERVICES
from tests.helpers.support import ChatServer, EventClient, pair


async def send_many(
    client: EventClient, gid: str, n: int, prefix: str = "m"
) -> list[dict[str, Any]]:
    out = []
    for i in range(1, n + 1):
        ack = await client.call("send_message", {"groupId": gid, "content": f"{prefix}{i}"})
        assert ack["ok"] is True, ack
        out.append(dict(ack["message"]))
    return out


async def unread(server: ChatServer, token: str, gid: str) -> int:
    status, body = await server.request("GET", "/api/groups", token)
    assert status == 200, body
    (group,) = [g for g in body["groups"] if g["id"] == gid]
    return int(group["unreadCount"])


async def read_by(server: ChatServer, message_id: str) -> list[str]:
    raw = await server.app[SERVICES].database.db.messages.find_one({"_id": ObjectId(message_id)})
    assert raw is not None
    return [r["userId"] for r in raw.get("readBy", [])]


def assert_error(ack: dict[str, Any], code: str) -> None:
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == code, ack


# --- mark_message_read --------------------------------------------------------


async def test_only_the_first_read_of_a_message_is_broadcast(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    m1, m2, _ = await send_many(a, gid, 3)
    assert await unread(server, b.token, gid) == 3

    ack = await b.call("mark_message_read", {"messageId": m2["id"], "groupId": gid})
    assert ack["ok"] is True
    assert ack["newlyRead"] is True
    assert ack["readBy"] == "user_bob"
    for client in (a, b):
        event = await client.wait_for("message_read")
        assert event == {
            "messageId": m2["id"],
            "groupId": gid,
            "readBy": "user_bob",
            "readAt": ack["readAt"],
        }
    assert await read_by(server, m2["id"]) == ["user_bob"]
    # The read mark is a high-water mark: reading seq 2 leaves seq 3 unread.
    assert await unread(server, b.token, gid) == 1

    again = await b.call("mark_message_read", {"messageId": m2["id"], "groupId": gid})
    assert again["ok"] is True
    assert again["newlyRead"] is False
    await a.expect_none("message_read", within=0.2)
    assert await read_by(server, m2["id"]) == ["user_bob"]

    # Reading an older message afterwards is a first read too, but does not move the mark back.
    ack = await b.call("mark_message_read", {"messageId": m1["id"], "groupId": gid})
    assert ack["newlyRead"] is True
    assert (await a.wait_for("message_read"))["messageId"] == m1["id"]
    assert await unread(server, b.token, gid) == 1

    status, body = await server.request("GET", f"/api/messages/group/{gid}", a.token)
    assert status == 200
    readers = [[r["userId"] for r in m["readBy"]] for m in body["messages"]]
    assert readers == [["user_bob"], ["user_bob"], []]


async def test_mark_message_read_checks_the_group(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    other = await server.group(a.token, "other", memberIds=["user_bob"])
    (msg,) = await send_many(a, gid, 1)

    ack = await b.call("mark_message_read", {"messageId": msg["id"], "groupId": other})
    assert_error(ack, "MESSAGE_NOT_FOUND")
    assert (await b.wait_for("message_error"))["code"] == "MESSAGE_NOT_FOUND"
    ack = await b.call("mark_message_read", {"messageId": str(ObjectId()), "groupId": gid})
    assert_error(ack, "MESSAGE_NOT_FOUND")
    ack = await b.call("mark_message_read", {"messageId": msg["id"]})
    assert_error(ack, "VALIDATION_ERROR")

    carol = await server.client("user_carol")
    ack = await carol.call("mark_message_read", {"messageId": msg["id"], "groupId": gid})
    assert_error(ack, "ACCESS_DENIED")

    await a.expect_none("message_read", within=0.1)
    assert await read_by(server, msg["id"]) == []
    assert await unread(server, b.token, gid) == 1


async def test_reading_your_own_message_adds_nothing(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    (msg,) = await send_many(a, gid, 1)
    assert await unread(server, a.token, gid) == 0

    ack = await a.call("mark_message_read", {"messageId": msg["id"], "groupId": gid})
    assert ack["ok"] is True
    assert ack["newlyRead"] is False
    await b.expect_none("message_read", within=0.2)
    assert await read_by(server, msg["id"]) == []

    ack = await a.call("mark_messages_read", {"groupId": gid, "upToSeq": 1})
    assert ack["ok"] is True
    assert ack["messageIds"] == []
    await b.expect_none("messages_read", within=0.1)
    assert await read_by(server, msg["id"]) == []


# --- mark_messages_read ---------------------------------------------------------


async def test_mark_messages_read_by_ids_lists_only_newly_read(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    other = await server.group(a.token, "other", memberIds=["user_bob"])
    (foreign,) = await send_many(a, other, 1, prefix="x")
    m1, m2, m3 = await send_many(a, gid, 3)
    assert await unread(server, b.token, gid) == 3

    ack = await b.call("mark_messages_read", {"groupId": gid, "messageIds": [m1["id"]]})
    assert ack["ok"] is True
    assert ack["messageIds"] == [m1["id"]]
    assert ack["lastReadSeq"] == 1
    first = await a.wait_for("messages_read")
    assert first == {
        "groupId": gid,
        "messageIds": [m1["id"]],
        "readBy": "user_bob",
        "readAt": ack["readAt"],
    }
    assert await unread(server, b.token, gid) == 2

    ids = [m3["id"], m1["id"], m2["id"], foreign["id"]]
    ack = await b.call("mark_messages_read", {"groupId": gid, "messageIds": ids})
    assert ack["ok"] is True
    assert ack["messageIds"] == [m2["id"], m3["id"]]  # seq order, m1 and the foreign id left out
    for client in (a, b):
        event = await client.wait_for("messages_read")
        if event["messageIds"] == [m1["id"]]:  # Bob's copy of the first batch
            event = await client.wait_for("messages_read")
        assert event["messageIds"] == [m2["id"], m3["id"]]
        assert event["readBy"] == "user_bob"
    assert await unread(server, b.token, gid) == 0
    assert await unread(server, a.token, gid) == 0
    assert await read_by(server, foreign["id"]) == []
    for m in (m1, m2, m3):
        assert await read_by(server, m["id"]) == ["user_bob"]

    ack = await b.call("mark_messages_read", {"groupId": gid, "messageIds": ids})
    assert ack["ok"] is True
    assert ack["messageIds"] == []
    await a.expect_none("messages_read", within=0.2)


async def test_mark_messages_read_up_to_seq(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    sent = await send_many(a, gid, 5)
    ack = await b.call("send_message", {"groupId": gid, "content": "bob's own"})
    own = ack["message"]
    assert own["seq"] == 6
    # Sending reads the conversation up to the sender's own message.
    assert await unread(server, b.token, gid) == 0
    assert await unread(server, a.token, gid) == 1

    await a.call("send_message", {"groupId": gid, "content": "m7"})
    assert await unread(server, b.token, gid) == 1

    ack = await b.call("mark_messages_read", {"groupId": gid, "upToSeq": 3})
    assert ack["ok"] is True
    assert ack["messageIds"] == [m["id"] for m in sent[:3]]
    assert (await a.wait_for("messages_read"))["messageIds"] == ack["messageIds"]

    ack = await b.call("mark_messages_read", {"groupId": gid, "upToSeq": 1000})
    assert ack["ok"] is True
    assert ack["lastReadSeq"] == 7  # clamped to the group's last seq
    newly = ack["messageIds"]
    assert newly[:2] == [sent[3]["id"], sent[4]["id"]]
    assert own["id"] not in newly  # own messages are never "read" by their sender
    assert len(newly) == 3
    assert await unread(server, b.token, gid) == 0
    assert await read_by(server, own["id"]) == []

    ack = await b.call("mark_messages_read", {"groupId": gid, "upToSeq": 7})
    assert ack["messageIds"] == []


async def test_rest_mark_read_resets_unread_and_broadcasts(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    sent = await send_many(a, gid, 4)
    assert await unread(server, b.token, gid) == 4

    status, body = await server.request(
        "POST",
        "/api/messages/read",
        b.token,
        {"groupId": gid, "messageIds": [m["id"] for m in sent]},
    )
    assert status == 200, body
    assert body["success"] is True
    assert body["messageIds"] == [m["id"] for m in sent]
    assert body["readBy"] == "user_bob"
    event = await a.wait_for("messages_read")
    assert event["messageIds"] == body["messageIds"]
    assert await unread(server, b.token, gid) == 0

    status, body = await server.request(
        "POST", "/api/v1/messages/read", b.token, {"groupId": gid, "upToSeq": 4}
    )
    assert status == 200
    assert body["messageIds"] == []

    carol = await server.user("user_carol")
    status, body = await server.request(
        "POST", "/api/messages/read", carol, {"groupId": gid, "messageIds": [sent[0]["id"]]}
    )
    assert status == 403
    assert body["error"]["code"] == "ACCESS_DENIED"


async def test_mark_messages_read_validation(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    (msg,) = await send_many(a, gid, 1)
    bad: list[dict[str, Any]] = [
        {"groupId": gid},
        {"groupId": gid, "messageIds": [msg["id"]], "upToSeq": 1},
        {"groupId": gid, "messageIds": []},
        {"groupId": gid, "messageIds": [str(ObjectId()) for _ in range(101)]},
        {"groupId": gid, "messageIds": ["nope"]},
        {"groupId": gid, "upToSeq": -1},
        {"groupId": gid, "upToSeq": "3"},
    ]
    for payload in bad:
        assert_error(await b.call("mark_messages_read", payload), "VALIDATION_ERROR")
        status, body = await server.request("POST", "/api/messages/read", b.token, payload)
        assert status == 400, payload
        assert body["error"]["code"] == "VALIDATION_ERROR"

    hundred = [msg["id"]] + [str(ObjectId()) for _ in range(99)]
    ack = await b.call("mark_messages_read", {"groupId": gid, "messageIds": hundred})
    assert ack["ok"] is True
    assert ack["messageIds"] == [msg["id"]]


# --- sync -----------------------------------------------------------------------


async def test_sync_returns_messages_after_seq_in_order(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    sent = await send_many(a, gid, 4)
    sent += await send_many(b, gid, 3, prefix="b")

    ack = await b.call("sync", {"groupId": gid, "afterSeq": 2, "limit": 3})
    assert ack["ok"] is True
    assert [m["seq"] for m in ack["messages"]] == [3, 4, 5]
    assert [m["content"] for m in ack["messages"]] == ["m3", "m4", "b1"]
    assert ack["hasMore"] is True
    assert ack["lastSeq"] == 7

    ack = await b.call("sync", {"groupId": gid, "afterSeq": 5, "limit": 3})
    assert [m["seq"] for m in ack["messages"]] == [6, 7]
    assert ack["hasMore"] is False

    ack = await b.call("sync", {"groupId": gid, "afterSeq": 0})
    assert [m["id"] for m in ack["messages"]] == [m["id"] for m in sent]
    assert ack["hasMore"] is False
    assert ack["updated"] == []

    ack = await b.call("sync", {"groupId": gid, "afterSeq": 7})
    assert ack["messages"] == []
    assert ack["hasMore"] is False
    ack = await b.call("sync", {"groupId": gid, "afterSeq": 50})
    assert ack["messages"] == []

    ack = await b.call("sync", {"groupId": gid, "afterSeq": 3, "limit": 4})
    assert [m["seq"] for m in ack["messages"]] == [4, 5, 6, 7]
    assert ack["hasMore"] is False


async def test_sync_reports_earlier_messages_changed_since_the_clients_newest(
    server: ChatServer,
) -> None:
    gid, a, b = await pair(server)
    m1, m2, m3 = await send_many(a, gid, 3)
    # Edited before the client's newest message existed: the client already has it.
    assert (await a.call("edit_message", {"messageId": m1["id"], "content": "m1 (early)"}))["ok"]
    (m4,) = await send_many(a, gid, 1, prefix="latest")
    # The client knows everything up to seq 4 and goes offline. Then:
    assert (await a.call("edit_message", {"messageId": m2["id"], "content": "m2 (edited)"}))["ok"]
    assert (await a.call("delete_message", {"messageId": m3["id"], "groupId": gid}))["ok"]
    (m5,) = await send_many(a, gid, 1, prefix="new")
    assert (await a.call("edit_message", {"messageId": m5["id"], "content": "new (edited)"}))["ok"]

    ack = await b.call("sync", {"groupId": gid, "afterSeq": m4["seq"]})
    assert ack["ok"] is True
    assert [m["id"] for m in ack["messages"]] == [m5["id"]]
    assert ack["messages"][0]["content"] == "new (edited)"
    assert ack["hasMore"] is False

    updated = {m["id"]: m for m in ack["updated"]}
    assert list(updated) == [m2["id"], m3["id"]]  # seq order; m1 and m4 unchanged since
    assert updated[m2["id"]]["content"] == "m2 (edited)"
    assert "editedAt" in updated[m2["id"]]
    assert updated[m3["id"]]["isDeleted"] is True
    assert updated[m3["id"]]["content"] == ""
    assert updated[m3["id"]]["seq"] == 3

    # The socket form of a client that knows less gets those as plain messages instead.
    ack = await b.call("sync", {"groupId": gid, "afterSeq": 1})
    assert [m["seq"] for m in ack["messages"]] == [2, 3, 4, 5]
    assert [m["content"] for m in ack["messages"]] == ["m2 (edited)", "", "latest1", "new (edited)"]


async def test_sync_many_groups_at_once(server: ChatServer) -> None:
    g1, a, b = await pair(server)
    g2 = await server.group(a.token, "second", memberIds=["user_bob"])
    await send_many(a, g1, 3, prefix="one-")
    await send_many(a, g2, 2, prefix="two-")

    ack = await b.call("sync", {"groups": {g1: 1, g2: 0}})
    assert ack["ok"] is True
    assert set(ack["groups"]) == {g1, g2}
    one, two = ack["groups"][g1], ack["groups"][g2]
    assert [m["content"] for m in one["messages"]] == ["one-2", "one-3"]
    assert [m["content"] for m in two["messages"]] == ["two-1", "two-2"]
    assert one["hasMore"] is False
    assert two["hasMore"] is False
    assert one["lastSeq"] == 3
    assert two["lastSeq"] == 2

    ack = await b.call("sync", {"groups": {g1: 0, g2: 0}, "limit": 1})
    assert [m["seq"] for m in ack["groups"][g1]["messages"]] == [1]
    assert ack["groups"][g1]["hasMore"] is True
    assert ack["groups"][g2]["hasMore"] is True


async def test_sync_validation_and_access(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    private = await server.group(a.token, "alice only")
    bad: list[Any] = [
        {},
        {"groupId": gid},
        {"afterSeq": 0},
        {"groupId": gid, "afterSeq": -1},
        {"groupId": gid, "afterSeq": 0, "limit": 201},
        {"groupId": gid, "afterSeq": 0, "limit": 0},
        {"groupId": gid, "afterSeq": 0, "groups": {gid: 0}},
        {"groups": {}},
        {"groups": {gid: 0}, "afterSeq": 0},
        {"groups": {"nope": 0}},
        {"groupId": gid, "afterSeq": "0"},
        [gid, 0],
    ]
    for payload in bad:
        assert_error(await b.call("sync", payload), "VALIDATION_ERROR")

    assert (await b.call("sync", {"groupId": gid, "afterSeq": 0, "limit": 200}))["ok"] is True
    assert_error(await b.call("sync", {"groupId": private, "afterSeq": 0}), "ACCESS_DENIED")
    assert_error(await b.call("sync", {"groups": {gid: 0, private: 0}}), "ACCESS_DENIED")
    assert_error(
        await b.call("sync", {"groupId": str(ObjectId()), "afterSeq": 0}), "GROUP_NOT_FOUND"
    )
