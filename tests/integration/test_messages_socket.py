"""Messages over Socket.IO: send, edit, delete, react (protocol §3-4, design §4-5)."""

from __future__ import annotations

import asyncio
from typing import Any

import bson
from bson import ObjectId

from safechat.container import SERVICES
from tests.helpers.support import ChatServer, EventClient, pair

UNICODE_TEXT = "héllo 👋🏽 👨‍👩‍👧 — مرحبا بالعالم — שלום — 你好世界 — こんにちは — 한국어 — e\u0301"


def messages_collection(server: ChatServer) -> Any:
    return server.app[SERVICES].database.db.messages


async def stored(server: ChatServer, message_id: str) -> dict[str, Any]:
    raw = await messages_collection(server).find_one({"_id": ObjectId(message_id)})
    assert raw is not None, f"message {message_id} is not in the database"
    return dict(raw)


def assert_envelope(content: Any, *plaintexts: str) -> None:
    """An encrypted envelope {v, kid, iv, ct} that contains none of the plaintexts."""
    assert isinstance(content, dict)
    assert set(content) == {"v", "kid", "iv", "ct"}
    assert content["v"] == 1
    assert len(bytes(content["iv"])) == 12
    for text in plaintexts:
        assert text.encode() not in bytes(content["ct"])


def assert_no_plaintext(doc: dict[str, Any], *plaintexts: str) -> None:
    """Nowhere in the stored document, whatever the field."""
    encoded = bson.encode(doc)
    for text in plaintexts:
        assert text.encode() not in encoded


def assert_error(ack: dict[str, Any], code: str) -> None:
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == code, ack


async def send(client: EventClient, gid: str, content: str, **extra: Any) -> dict[str, Any]:
    ack = await client.call("send_message", {"groupId": gid, "content": content, **extra})
    assert ack["ok"] is True, ack
    return dict(ack["message"])


# --- send_message -------------------------------------------------------------


async def test_ack_comes_after_the_encrypted_message_is_stored(server: ChatServer) -> None:
    gid, a, _ = await pair(server)
    secret = "the launch code is 0000"
    ack = await a.call("send_message", {"groupId": gid, "content": secret, "tempId": "t-1"})
    assert ack["ok"] is True
    assert ack["duplicate"] is False
    msg = ack["message"]
    assert msg["content"] == secret
    assert msg["seq"] == 1
    assert msg["groupId"] == msg["roomId"] == gid
    assert msg["senderId"] == "user_alice"
    assert msg["type"] == "text"
    assert msg["isDeleted"] is False
    assert msg["readBy"] == []
    assert msg["reactions"] == {}
    assert msg["timestamp"] == msg["createdAt"]

    # Read back right after the ack: it is already there, encrypted.
    raw = await stored(server, msg["id"])
    assert raw["groupId"] == ObjectId(gid)
    assert raw["seq"] == 1
    assert raw["senderId"] == "user_alice"
    assert raw["clientMessageId"] == "t-1"
    assert_envelope(raw["content"], secret, "launch code")
    assert_no_plaintext(raw, secret, "launch code")


async def test_seq_counts_up_without_gaps(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    seqs = [(await send(c, gid, f"m{i}"))["seq"] for i, c in enumerate([a, b, a, a, b])]
    assert seqs == [1, 2, 3, 4, 5]


async def test_concurrent_sends_from_two_users_get_gapless_seqs(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    n = 30
    calls = [
        (a if i % 2 == 0 else b).call(
            "send_message", {"groupId": gid, "content": f"burst {i}", "tempId": f"b-{i}"}
        )
        for i in range(n)
    ]
    acks = await asyncio.gather(*calls)
    assert all(ack["ok"] for ack in acks), [a for a in acks if not a["ok"]]
    seqs = sorted(ack["message"]["seq"] for ack in acks)
    assert seqs == list(range(1, n + 1))
    assert len({ack["message"]["id"] for ack in acks}) == n

    coll = messages_collection(server)
    docs = [d async for d in coll.find({"groupId": ObjectId(gid)}, {"seq": 1})]
    assert sorted(d["seq"] for d in docs) == list(range(1, n + 1))

    status, body = await server.request("GET", "/api/groups", a.token)
    assert status == 200
    (summary,) = body["groups"]
    assert summary["lastSeq"] == n


async def test_repeated_temp_id_returns_the_first_message_and_broadcasts_nothing(
    server: ChatServer,
) -> None:
    gid, a, b = await pair(server)
    first = await a.call("send_message", {"groupId": gid, "content": "once", "tempId": "dup-1"})
    assert first["ok"] is True
    assert first["duplicate"] is False
    seen = await b.wait_for("new_message")
    assert seen["message"]["id"] == first["message"]["id"]

    again = await a.call("send_message", {"groupId": gid, "content": "once", "tempId": "dup-1"})
    assert again["ok"] is True
    assert again["duplicate"] is True
    assert again["message"]["id"] == first["message"]["id"]
    assert again["message"]["seq"] == first["message"]["seq"] == 1
    assert again["message"]["tempId"] == "dup-1"
    assert again["message"]["content"] == "once"
    await b.expect_none("new_message")

    count = await messages_collection(server).count_documents({"groupId": ObjectId(gid)})
    assert count == 1
    # The next real message takes seq 2: the duplicate reserved nothing.
    assert (await send(a, gid, "next"))["seq"] == 2


async def test_same_temp_id_from_two_users_makes_two_messages(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    ma = await send(a, gid, "from alice", tempId="shared-tmp")
    mb = await send(b, gid, "from bob", tempId="shared-tmp")
    assert ma["id"] != mb["id"]
    assert {ma["seq"], mb["seq"]} == {1, 2}
    assert mb["content"] == "from bob"
    assert mb["senderId"] == "user_bob"
    count = await messages_collection(server).count_documents({"clientMessageId": "shared-tmp"})
    assert count == 2


async def test_reply_to_must_be_a_message_of_the_same_group(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    other = await server.group(a.token, "other", memberIds=["user_bob"])
    original = await send(a, gid, "question?")
    elsewhere = await send(a, other, "unrelated")

    reply = await send(b, gid, "answer!", replyTo=original["id"])
    assert reply["replyTo"] == original["id"]
    assert (await stored(server, reply["id"]))["replyTo"] == ObjectId(original["id"])

    a.drain("message_error")
    ack = await b.call(
        "send_message", {"groupId": gid, "content": "wrong", "replyTo": elsewhere["id"]}
    )
    assert_error(ack, "MESSAGE_NOT_FOUND")
    error = await b.wait_for("message_error")
    assert error["code"] == "MESSAGE_NOT_FOUND"
    assert "timestamp" in error

    ack = await b.call(
        "send_message", {"groupId": gid, "content": "ghost", "replyTo": str(ObjectId())}
    )
    assert_error(ack, "MESSAGE_NOT_FOUND")
    ack = await b.call("send_message", {"groupId": gid, "content": "bad", "replyTo": "nope"})
    assert_error(ack, "VALIDATION_ERROR")
    # Nothing was stored for the refused replies, and no seq was used up.
    assert await messages_collection(server).count_documents({"groupId": ObjectId(gid)}) == 2
    assert (await send(a, gid, "after"))["seq"] == 3


async def test_content_is_trimmed_and_length_checked(server: ChatServer) -> None:
    gid, a, _ = await pair(server)
    assert (await send(a, gid, " \n\t padded \t\n "))["content"] == "padded"

    for blank in ["", "   ", "\n\t \r\n"]:
        assert_error(
            await a.call("send_message", {"groupId": gid, "content": blank}), "VALIDATION_ERROR"
        )
    assert_error(await a.call("send_message", {"groupId": gid}), "VALIDATION_ERROR")

    a.drain("message_error")
    exact = "x" * 4000
    assert (await send(a, gid, exact))["content"] == exact
    # Whitespace around does not count: 4000 characters after trim.
    assert (await send(a, gid, f"  {exact}  "))["content"] == exact
    # Characters, not bytes: 4000 emoji are fine.
    assert (await send(a, gid, "😀" * 4000))["content"] == "😀" * 4000

    ack = await a.call("send_message", {"groupId": gid, "content": "x" * 4001})
    assert_error(ack, "MESSAGE_TOO_LONG")
    assert ack["error"]["details"]["maxLength"] == 4000
    error = await a.wait_for("message_error")
    assert error["code"] == "MESSAGE_TOO_LONG"

    ack = await a.call("send_message", {"groupId": gid, "content": "hi", "type": "system"})
    assert_error(ack, "VALIDATION_ERROR")
    ack = await a.call("send_message", {"groupId": gid, "content": 42})
    assert_error(ack, "VALIDATION_ERROR")
    ack = await a.call("send_message", {"groupId": gid, "content": "hi", "extra": 1})
    assert_error(ack, "VALIDATION_ERROR")

    count = await messages_collection(server).count_documents({"groupId": ObjectId(gid)})
    assert count == 4


async def test_non_member_cannot_send(server: ChatServer) -> None:
    gid, _, b = await pair(server)
    carol = await server.client("user_carol")
    ack = await carol.call("send_message", {"groupId": gid, "content": "let me in"})
    assert_error(ack, "ACCESS_DENIED")
    ack = await carol.call("send_message", {"groupId": str(ObjectId()), "content": "anyone?"})
    assert_error(ack, "GROUP_NOT_FOUND")
    await b.expect_none("new_message", within=0.1)
    assert await messages_collection(server).count_documents({}) == 0


async def test_fan_out_reaches_other_members_and_the_senders_other_sockets(
    server: ChatServer,
) -> None:
    gid, a1, b = await pair(server)
    a2 = await server.client(a1.token)
    carol = await server.client("user_carol")  # connected, but not a member

    ack = await a1.call("send_message", {"groupId": gid, "content": "to all", "tempId": "fan"})
    assert ack["ok"] is True
    mid = ack["message"]["id"]

    sent = await a1.wait_for("message_sent")
    assert sent["tempId"] == "fan"
    assert sent["message"]["id"] == mid
    assert sent["message"]["tempId"] == "fan"

    for other in (a2, b):
        event = await other.wait_for("new_message")
        assert event["message"]["id"] == mid
        assert event["message"]["content"] == "to all"
        assert "tempId" not in event["message"]
        assert event["sender"]["userId"] == "user_alice"
        assert event["sender"]["firstName"] == "Alice"

    await a1.expect_none("new_message", within=0.2)
    await a2.expect_none("message_sent", within=0)
    await b.expect_none("message_sent", within=0)
    await carol.expect_none("new_message", within=0)


async def test_non_ascii_content_round_trips(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    msg = await send(a, gid, UNICODE_TEXT)
    assert msg["content"] == UNICODE_TEXT
    assert (await b.wait_for("new_message"))["message"]["content"] == UNICODE_TEXT

    status, body = await server.request("GET", f"/api/messages/group/{gid}", b.token)
    assert status == 200
    assert [m["content"] for m in body["messages"]] == [UNICODE_TEXT]

    raw = await stored(server, msg["id"])
    assert_envelope(raw["content"], UNICODE_TEXT, "你好", "مرحبا", "👋")
    assert_no_plaintext(raw, "你好", "مرحبا", "שלום", "👋")

    edited = await a.call("edit_message", {"messageId": msg["id"], "content": "🎉 تم — 完成"})
    assert edited["ok"] is True
    assert edited["message"]["content"] == "🎉 تم — 完成"
    status, body = await server.request("GET", f"/api/messages/{msg['id']}/history", b.token)
    assert status == 200
    assert [h["content"] for h in body["history"]] == [UNICODE_TEXT]


# --- edit_message ---------------------------------------------------------------


async def test_edit_keeps_encrypted_history_and_broadcasts(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    msg = await send(a, gid, "first draft")
    await b.wait_for("new_message")

    ack = await a.call("edit_message", {"messageId": msg["id"], "content": "  second draft "})
    assert ack["ok"] is True
    edited = ack["message"]
    assert edited["id"] == msg["id"]
    assert edited["seq"] == msg["seq"]
    assert edited["content"] == "second draft"
    assert edited["editedAt"] >= msg["createdAt"]

    for client in (a, b):  # the whole room, sender included
        event = await client.wait_for("message_edited")
        assert event["message"]["id"] == msg["id"]
        assert event["message"]["content"] == "second draft"
        assert event["message"]["editedAt"] == edited["editedAt"]

    ack = await a.call("edit_message", {"messageId": msg["id"], "content": "final"})
    assert ack["ok"] is True

    status, body = await server.request("GET", f"/api/messages/{msg['id']}/history", b.token)
    assert status == 200
    assert body["messageId"] == msg["id"]
    assert [h["content"] for h in body["history"]] == ["first draft", "second draft"]
    assert body["history"][0]["editedAt"] == msg["createdAt"]
    assert body["history"][1]["editedAt"] == edited["editedAt"]

    raw = await stored(server, msg["id"])
    assert_envelope(raw["content"], "final")
    assert len(raw["editHistory"]) == 2
    for entry in raw["editHistory"]:
        assert_envelope(entry["content"], "first draft", "second draft")
    assert_no_plaintext(raw, "first draft", "second draft", "final")


async def test_only_the_sender_may_edit(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    msg = await send(a, gid, "mine")
    await b.wait_for("new_message")

    ack = await b.call("edit_message", {"messageId": msg["id"], "content": "hijacked"})
    assert_error(ack, "ACCESS_DENIED")
    assert (await b.wait_for("message_error"))["code"] == "ACCESS_DENIED"

    carol = await server.client("user_carol")
    ack = await carol.call("edit_message", {"messageId": msg["id"], "content": "hijacked"})
    assert_error(ack, "MESSAGE_NOT_FOUND")
    status, body = await server.request("GET", f"/api/messages/{msg['id']}/history", carol.token)
    assert status == 404
    assert body["success"] is False
    assert body["error"]["code"] == "MESSAGE_NOT_FOUND"

    await a.expect_none("message_edited", within=0.1)
    raw = await stored(server, msg["id"])
    assert "editedAt" not in raw
    assert raw.get("editHistory", []) == []


async def test_edit_validates_content_and_refuses_deleted_messages(server: ChatServer) -> None:
    gid, a, _ = await pair(server)
    msg = await send(a, gid, "short")
    assert_error(
        await a.call("edit_message", {"messageId": msg["id"], "content": "   "}), "VALIDATION_ERROR"
    )
    assert_error(
        await a.call("edit_message", {"messageId": msg["id"], "content": "y" * 4001}),
        "MESSAGE_TOO_LONG",
    )
    assert_error(
        await a.call("edit_message", {"messageId": str(ObjectId()), "content": "z"}),
        "MESSAGE_NOT_FOUND",
    )
    assert (await stored(server, msg["id"])).get("editHistory", []) == []

    assert (await a.call("delete_message", {"messageId": msg["id"], "groupId": gid}))["ok"]
    ack = await a.call("edit_message", {"messageId": msg["id"], "content": "resurrect"})
    assert_error(ack, "MESSAGE_NOT_FOUND")
    raw = await stored(server, msg["id"])
    assert raw["isDeleted"] is True
    assert raw["content"] == ""


# --- delete_message -------------------------------------------------------------


async def test_sender_deletes_softly_and_content_is_wiped(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    await send(a, gid, "before")
    msg = await send(a, gid, "oops, wrong chat")
    await send(a, gid, "after")
    assert (await a.call("edit_message", {"messageId": msg["id"], "content": "oops 2"}))["ok"]
    assert (await b.call("react_message", {"messageId": msg["id"], "emoji": "😮"}))["ok"]

    ack = await a.call("delete_message", {"messageId": msg["id"], "groupId": gid})
    assert ack["ok"] is True
    expected = {"messageId": msg["id"], "groupId": gid, "deletedBy": "user_alice"}
    assert {k: ack[k] for k in expected} == expected
    for client in (a, b):  # room including the sender
        assert await client.wait_for("message_deleted") == expected

    raw = await stored(server, msg["id"])
    assert raw["isDeleted"] is True
    assert raw["deletedBy"] == "user_alice"
    assert raw["content"] == ""
    assert raw["editHistory"] == []
    assert raw["seq"] == 2

    status, body = await server.request("GET", f"/api/messages/group/{gid}", b.token)
    assert status == 200
    assert [m["seq"] for m in body["messages"]] == [1, 2, 3]
    gone = body["messages"][1]
    assert gone["id"] == msg["id"]
    assert gone["isDeleted"] is True
    assert gone["content"] == ""
    assert gone["reactions"] == {}
    assert gone["deletedBy"] == "user_alice"
    assert [m["content"] for m in body["messages"]] == ["before", "", "after"]

    status, body = await server.request("GET", f"/api/messages/{msg['id']}/history", a.token)
    assert status == 200
    assert body["history"] == []

    again = await a.call("delete_message", {"messageId": msg["id"], "groupId": gid})
    assert_error(again, "MESSAGE_NOT_FOUND")
    await b.expect_none("message_deleted", within=0.1)


async def test_admins_and_owner_delete_others_plain_members_do_not(server: ChatServer) -> None:
    gid, owner, admin = await pair(server)
    await server.user("user_carol")
    status, _ = await server.request(
        "POST", f"/api/groups/{gid}/members", owner.token, {"userId": "user_carol"}
    )
    assert status == 201
    status, body = await server.request(
        "PATCH", f"/api/groups/{gid}/members/user_bob", owner.token, {"role": "admin"}
    )
    assert status == 200, body
    member = await server.client("user_carol")

    by_owner = await send(owner, gid, "owner says")
    by_admin = await send(admin, gid, "admin says")
    c1 = await send(member, gid, "spam 1")
    c2 = await send(member, gid, "spam 2")

    for victim in (by_owner, by_admin):
        ack = await member.call("delete_message", {"messageId": victim["id"], "groupId": gid})
        assert_error(ack, "ACCESS_DENIED")
        assert (await stored(server, victim["id"]))["isDeleted"] is False

    ack = await admin.call("delete_message", {"messageId": c1["id"], "groupId": gid})
    assert ack["ok"] is True
    assert ack["deletedBy"] == "user_bob"
    ack = await owner.call("delete_message", {"messageId": c2["id"], "groupId": gid})
    assert ack["ok"] is True
    assert ack["deletedBy"] == "user_alice"
    ack = await owner.call("delete_message", {"messageId": by_admin["id"], "groupId": gid})
    assert ack["ok"] is True

    events = [await member.wait_for("message_deleted") for _ in range(3)]
    assert [e["messageId"] for e in events] == [c1["id"], c2["id"], by_admin["id"]]
    raw = await stored(server, c1["id"])
    assert raw["isDeleted"] is True
    assert raw["deletedBy"] == "user_bob"
    assert raw["content"] == ""


async def test_delete_with_a_group_that_is_not_the_messages_group(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    other = await server.group(a.token, "other", memberIds=["user_bob"])
    msg = await send(a, gid, "stay")

    ack = await a.call("delete_message", {"messageId": msg["id"], "groupId": other})
    assert_error(ack, "MESSAGE_NOT_FOUND")
    ack = await a.call("delete_message", {"messageId": str(ObjectId()), "groupId": gid})
    assert_error(ack, "MESSAGE_NOT_FOUND")
    ack = await a.call("delete_message", {"messageId": "not-an-id", "groupId": gid})
    assert_error(ack, "VALIDATION_ERROR")
    await b.expect_none("message_deleted", within=0.1)
    assert (await stored(server, msg["id"]))["isDeleted"] is False

    carol = await server.client("user_carol")
    ack = await carol.call("delete_message", {"messageId": msg["id"], "groupId": gid})
    assert_error(ack, "ACCESS_DENIED")
    assert (await stored(server, msg["id"]))["isDeleted"] is False


# --- react_message --------------------------------------------------------------


async def test_reactions_toggle_and_broadcast(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    msg = await send(a, gid, "react to me")
    mid = msg["id"]

    ack = await b.call("react_message", {"messageId": mid, "emoji": "👍"})
    assert ack["ok"] is True
    assert ack["action"] == "added"
    assert ack["reactions"] == {"👍": ["user_bob"]}
    for client in (a, b):
        event = await client.wait_for("message_reaction")
        assert event == {
            "messageId": mid,
            "groupId": gid,
            "emoji": "👍",
            "userId": "user_bob",
            "action": "added",
            "reactions": {"👍": ["user_bob"]},
        }

    async def toggle(client: EventClient, emoji: str, action: str) -> dict[str, Any]:
        ack = await client.call("react_message", {"messageId": mid, "emoji": emoji})
        assert ack["ok"] is True, ack
        assert ack["action"] == action, ack
        for member in (a, b):
            event = await member.wait_for("message_reaction")
            assert event["action"] == action
            assert event["emoji"] == emoji
            assert event["reactions"] == ack["reactions"]
        return dict(ack["reactions"])

    reactions = await toggle(a, "👍", "added")
    assert sorted(reactions["👍"]) == ["user_alice", "user_bob"]
    await toggle(a, "❤️", "added")
    assert await toggle(b, "👍", "removed") == {"👍": ["user_alice"], "❤️": ["user_alice"]}
    assert await toggle(a, "👍", "removed") == {"❤️": ["user_alice"]}

    _, body = await server.request("GET", f"/api/messages/group/{gid}", b.token)
    assert body["messages"][0]["reactions"] == {"❤️": ["user_alice"]}

    for bad in ["a.b", "$set", "", "   "]:
        ack = await a.call("react_message", {"messageId": mid, "emoji": bad})
        assert_error(ack, "VALIDATION_ERROR")
    carol = await server.client("user_carol")
    ack = await carol.call("react_message", {"messageId": mid, "emoji": "👍"})
    assert_error(ack, "MESSAGE_NOT_FOUND")

    assert (await a.call("delete_message", {"messageId": mid, "groupId": gid}))["ok"]
    ack = await b.call("react_message", {"messageId": mid, "emoji": "👍"})
    assert_error(ack, "MESSAGE_NOT_FOUND")


async def test_concurrent_repeats_of_one_temp_id_store_one_message(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    payload = {"groupId": gid, "content": "retry storm", "tempId": "retry-1"}
    acks = await asyncio.gather(*(a.call("send_message", payload) for _ in range(5)))
    assert all(ack["ok"] for ack in acks), acks
    assert len({ack["message"]["id"] for ack in acks}) == 1
    assert sorted(ack["duplicate"] for ack in acks) == [False, True, True, True, True]
    assert {ack["message"]["seq"] for ack in acks} == {1}

    assert (await b.wait_for("new_message"))["message"]["id"] == acks[0]["message"]["id"]
    await b.expect_none("new_message", within=0.2)
    docs = [d async for d in messages_collection(server).find({"groupId": ObjectId(gid)})]
    assert [(d["seq"], d["senderId"]) for d in docs] == [(1, "user_alice")]
    assert (await send(a, gid, "next"))["seq"] == 2
