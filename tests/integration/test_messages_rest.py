"""Messages over REST: history paging, send, edit, edit history, delete (protocol §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId

from safechat.components import encryption_keys
from safechat.container import SERVICES
from safechat.models.message import StoredMessage
from safechat.services.encryption import Encryptor
from tests.helpers.support import ChatServer, EventClient


async def pair(server: ChatServer) -> tuple[str, str, str]:
    """(groupId, alice token, bob token): Alice owns the group, Bob is a member."""
    alice = await server.user("user_alice", first_name="Alice")
    bob = await server.user("user_bob", first_name="Bob")
    gid = await server.group(alice, memberIds=["user_bob"])
    return gid, alice, bob


async def post(
    server: ChatServer, token: str, gid: str, content: str, **extra: Any
) -> dict[str, Any]:
    status, body = await server.request(
        "POST", "/api/messages", token, {"groupId": gid, "content": content, **extra}
    )
    assert status == 201, body
    return dict(body["message"])


async def post_many(server: ChatServer, token: str, gid: str, n: int) -> list[dict[str, Any]]:
    """n messages 'm1'..'mn' with seq 1..n (sent one after another, so seq follows i)."""
    return [await post(server, token, gid, f"m{i}") for i in range(1, n + 1)]


async def seed(server: ChatServer, gid: str, sender: str, n: int) -> None:
    """n stored messages 'n1'..'nn' written straight to the database, encrypted with
    the server's own key, the way the send path stores them (fast bulk history)."""
    enc = Encryptor.from_spec(encryption_keys(server.settings))
    db = server.app[SERVICES].database.db
    start = datetime.now(UTC).replace(microsecond=0)
    docs = []
    for seq in range(1, n + 1):
        at = start + timedelta(milliseconds=seq)
        docs.append(
            StoredMessage(
                id=ObjectId(),
                group_id=ObjectId(gid),
                seq=seq,
                sender_id=sender,
                type="text",
                content=enc.encrypt(f"n{seq}", gid),
                created_at=at,
                updated_at=at,
            ).to_doc()
        )
    await db.messages.insert_many(docs)
    await db.groups.update_one({"_id": ObjectId(gid)}, {"$set": {"lastSeq": n}})


async def history(server: ChatServer, token: str, gid: str, query: str = "") -> dict[str, Any]:
    status, body = await server.request("GET", f"/api/messages/group/{gid}{query}", token)
    assert status == 200, body
    assert body["success"] is True
    return dict(body)


def seqs(body: dict[str, Any]) -> list[int]:
    return [m["seq"] for m in body["messages"]]


def assert_failure(status: int, body: dict[str, Any], http: int, code: str) -> None:
    assert status == http, body
    assert body["success"] is False
    assert body["error"]["code"] == code, body


# --- history ------------------------------------------------------------------


async def test_history_is_oldest_first_with_default_and_max_limits(server: ChatServer) -> None:
    gid, _, bob = await pair(server)
    empty = await history(server, bob, gid)
    assert empty["messages"] == []
    assert empty["hasMore"] is False
    assert empty["nextCursor"] is None

    await seed(server, gid, "user_alice", 105)

    page = await history(server, bob, gid)  # default limit 50: the newest 50
    assert seqs(page) == list(range(56, 106))
    assert page["hasMore"] is True
    assert page["nextCursor"] == page["messages"][0]["id"]
    assert [m["content"] for m in page["messages"]] == [f"n{i}" for i in range(56, 106)]

    page = await history(server, bob, gid, "?limit=100")
    assert seqs(page) == list(range(6, 106))
    assert page["hasMore"] is True

    page = await history(server, bob, gid, "?limit=3")
    assert seqs(page) == [103, 104, 105]

    for bad in ["101", "0", "-1", "abc", "1.5"]:
        status, body = await server.request("GET", f"/api/messages/group/{gid}?limit={bad}", bob)
        assert_failure(status, body, 400, "VALIDATION_ERROR")


async def test_paging_backwards_with_before_walks_every_message_once(server: ChatServer) -> None:
    gid, alice, bob = await pair(server)
    sent = await post_many(server, alice, gid, 12)
    ids_by_seq = {m["seq"]: m["id"] for m in sent}

    seen: list[int] = []
    query = "?limit=5"
    pages = []
    while True:
        page = await history(server, bob, gid, query)
        pages.append(seqs(page))
        seen = seqs(page) + seen
        if not page["hasMore"]:
            assert page["nextCursor"] is None
            break
        assert page["nextCursor"] == page["messages"][0]["id"]
        query = f"?limit=5&before={page['nextCursor']}"
    assert pages == [[8, 9, 10, 11, 12], [3, 4, 5, 6, 7], [1, 2]]
    assert seen == list(range(1, 13))
    assert [m["id"] for m in (await history(server, bob, gid, "?limit=12"))["messages"]] == [
        ids_by_seq[s] for s in range(1, 13)
    ]

    # Exactly 5 left before the cursor: no more after them.
    page = await history(server, bob, gid, f"?limit=5&before={ids_by_seq[6]}")
    assert seqs(page) == [1, 2, 3, 4, 5]
    assert page["hasMore"] is False


async def test_paging_forwards_with_after_walks_every_message_once(server: ChatServer) -> None:
    gid, alice, bob = await pair(server)
    sent = await post_many(server, alice, gid, 12)

    first = await history(server, bob, gid, "?limit=5&afterSeq=0")
    pages = [seqs(first)]
    assert first["hasMore"] is True
    assert first["nextCursor"] == first["messages"][-1]["id"]
    cursor = first["nextCursor"]
    while True:
        page = await history(server, bob, gid, f"?limit=5&after={cursor}")
        pages.append(seqs(page))
        if not page["hasMore"]:
            assert page["nextCursor"] is None
            break
        assert page["nextCursor"] == page["messages"][-1]["id"]
        cursor = page["nextCursor"]
    assert pages == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12]]

    page = await history(server, bob, gid, f"?after={sent[-1]['id']}")
    assert page["messages"] == []
    assert page["hasMore"] is False


async def test_paging_by_seq(server: ChatServer) -> None:
    gid, alice, bob = await pair(server)
    await post_many(server, alice, gid, 12)

    collected: list[int] = []
    before = 13
    while True:
        page = await history(server, bob, gid, f"?limit=5&beforeSeq={before}")
        collected = seqs(page) + collected
        if not page["hasMore"]:
            break
        before = page["messages"][0]["seq"]
    assert collected == list(range(1, 13))

    collected = []
    after = 0
    while True:
        page = await history(server, bob, gid, f"?limit=5&afterSeq={after}")
        collected += seqs(page)
        if not page["hasMore"]:
            break
        after = page["messages"][-1]["seq"]
    assert collected == list(range(1, 13))

    page = await history(server, bob, gid, "?beforeSeq=4&limit=2")
    assert seqs(page) == [2, 3]
    assert page["hasMore"] is True
    page = await history(server, bob, gid, "?afterSeq=9&limit=3")
    assert seqs(page) == [10, 11, 12]
    assert page["hasMore"] is False


async def test_history_cursor_and_access_errors(server: ChatServer) -> None:
    gid, alice, bob = await pair(server)
    other = await server.group(alice, "other")
    sent = await post_many(server, alice, gid, 2)
    foreign = await post(server, alice, other, "elsewhere")
    mid = sent[0]["id"]

    for query in [
        f"?before={mid}&after={mid}",
        f"?before={mid}&beforeSeq=3",
        "?afterSeq=1&beforeSeq=3",
        "?before=nope",
        "?afterSeq=-1",
        "?cursor=abc",
    ]:
        status, body = await server.request("GET", f"/api/messages/group/{gid}{query}", bob)
        assert_failure(status, body, 400, "VALIDATION_ERROR")

    status, body = await server.request(
        "GET", f"/api/messages/group/{gid}?before={foreign['id']}", alice
    )
    assert_failure(status, body, 404, "MESSAGE_NOT_FOUND")

    status, body = await server.request("GET", f"/api/messages/group/{other}", bob)
    assert_failure(status, body, 403, "ACCESS_DENIED")
    status, body = await server.request("GET", f"/api/messages/group/{ObjectId()}", bob)
    assert_failure(status, body, 404, "GROUP_NOT_FOUND")
    status, body = await server.request("GET", "/api/messages/group/not-an-id", bob)
    assert_failure(status, body, 400, "VALIDATION_ERROR")
    status, body = await server.request("GET", f"/api/messages/group/{gid}")
    assert status == 401

    # The versioned prefix serves the same thing.
    status, body = await server.request("GET", f"/api/v1/messages/group/{gid}", bob)
    assert status == 200
    assert seqs(body) == [1, 2]


# --- send ---------------------------------------------------------------------


async def test_post_message_is_stored_encrypted_and_broadcast_like_a_socket_send(
    server: ChatServer,
) -> None:
    gid, alice, bob = await pair(server)
    a: EventClient = await server.client(alice)
    b = await server.client(bob)

    status, body = await server.request(
        "POST",
        "/api/messages",
        alice,
        {"groupId": gid, "content": "  over http  ", "tempId": "rest-1"},
    )
    assert status == 201, body
    assert body["success"] is True
    assert body["duplicate"] is False
    msg = body["message"]
    assert msg["content"] == "over http"
    assert msg["seq"] == 1
    assert msg["senderId"] == "user_alice"
    assert msg["tempId"] == "rest-1"
    assert msg["groupId"] == msg["roomId"] == gid

    # No socket sent it, so every connected member's socket gets new_message,
    # the sender's own included.
    for client in (a, b):
        event = await client.wait_for("new_message")
        assert event["message"]["id"] == msg["id"]
        assert event["message"]["content"] == "over http"
        assert "tempId" not in event["message"]
        assert event["sender"]["userId"] == "user_alice"
        assert event["sender"]["firstName"] == "Alice"
    # The sender's sockets also get message_sent, as after a socket send.
    sent = await a.wait_for("message_sent")
    assert sent == {"message": msg, "tempId": "rest-1"}
    await b.expect_none("message_sent", within=0.1)

    raw = await server.app[SERVICES].database.db.messages.find_one({"_id": ObjectId(msg["id"])})
    assert raw is not None
    assert set(raw["content"]) == {"v", "kid", "iv", "ct"}
    assert b"over http" not in bytes(raw["content"]["ct"])

    # A repeated tempId returns the first message and broadcasts nothing.
    status, again = await server.request(
        "POST", "/api/messages", alice, {"groupId": gid, "content": "over http", "tempId": "rest-1"}
    )
    assert status == 200  # nothing was created this time
    assert again["duplicate"] is True
    assert again["message"]["id"] == msg["id"]
    await b.expect_none("new_message", within=0.2)

    # A socket send afterwards continues the same sequence.
    ack = await b.call("send_message", {"groupId": gid, "content": "and by socket"})
    assert ack["message"]["seq"] == 2


async def test_post_message_validation(server: ChatServer) -> None:
    gid, _, bob = await pair(server)
    carol = await server.user("user_carol")

    cases: list[tuple[Any, int, str]] = [
        ({"groupId": gid, "content": "   "}, 400, "VALIDATION_ERROR"),
        ({"groupId": gid}, 400, "VALIDATION_ERROR"),
        ({"groupId": gid, "content": "x" * 4001}, 422, "MESSAGE_TOO_LONG"),
        ({"groupId": gid, "content": "hi", "type": "system"}, 400, "VALIDATION_ERROR"),
        ({"groupId": gid, "content": "hi", "senderId": "user_bob"}, 400, "VALIDATION_ERROR"),
        ({"groupId": "nope", "content": "hi"}, 400, "VALIDATION_ERROR"),
        ({"groupId": gid, "content": "hi", "replyTo": str(ObjectId())}, 404, "MESSAGE_NOT_FOUND"),
        ({"groupId": str(ObjectId()), "content": "hi"}, 404, "GROUP_NOT_FOUND"),
    ]
    for payload, http, code in cases:
        status, body = await server.request("POST", "/api/messages", bob, payload)
        assert_failure(status, body, http, code)
    status, body = await server.request(
        "POST", "/api/messages", carol, {"groupId": gid, "content": "hi"}
    )
    assert_failure(status, body, 403, "ACCESS_DENIED")

    ok = await post(server, bob, gid, "y" * 4000)
    assert ok["seq"] == 1
    assert len(ok["content"]) == 4000


async def test_non_ascii_round_trip_over_rest(server: ChatServer) -> None:
    gid, alice, bob = await pair(server)
    texts = ["👩🏾‍💻🚀✨", "עברית ومعها العربية", "中文、日本語、한국어", "Ωμέγα ∑ ∞ — ñ"]
    for text in texts:
        assert (await post(server, alice, gid, text))["content"] == text
    page = await history(server, bob, gid)
    assert [m["content"] for m in page["messages"]] == texts

    coll = server.app[SERVICES].database.db.messages
    async for raw in coll.find({"groupId": ObjectId(gid)}):
        for text in texts:
            assert text.encode() not in bytes(raw["content"]["ct"])


# --- edit, edit history, delete ---------------------------------------------------


async def test_patch_message_edits_and_history_is_for_members(server: ChatServer) -> None:
    gid, alice, bob = await pair(server)
    carol = await server.user("user_carol")
    b = await server.client(bob)
    msg = await post(server, alice, gid, "v1")
    await b.wait_for("new_message")

    status, body = await server.request(
        "PATCH", f"/api/messages/{msg['id']}", alice, {"content": " v2 "}
    )
    assert status == 200, body
    assert body["message"]["content"] == "v2"
    assert "editedAt" in body["message"]
    event = await b.wait_for("message_edited")
    assert event["message"]["content"] == "v2"
    assert event["message"]["editedAt"] == body["message"]["editedAt"]

    status, body = await server.request(
        "PATCH", f"/api/messages/{msg['id']}", bob, {"content": "x"}
    )
    assert_failure(status, body, 403, "ACCESS_DENIED")
    status, body = await server.request(
        "PATCH", f"/api/messages/{msg['id']}", carol, {"content": "x"}
    )
    assert_failure(status, body, 404, "MESSAGE_NOT_FOUND")
    status, body = await server.request(
        "PATCH", f"/api/messages/{msg['id']}", alice, {"content": ""}
    )
    assert_failure(status, body, 400, "VALIDATION_ERROR")
    status, body = await server.request(
        "PATCH", f"/api/messages/{msg['id']}", alice, {"content": "v3", "groupId": gid}
    )
    assert_failure(status, body, 400, "VALIDATION_ERROR")
    status, body = await server.request("PATCH", "/api/messages/zzz", alice, {"content": "v3"})
    assert_failure(status, body, 400, "VALIDATION_ERROR")

    for token in (alice, bob):
        status, body = await server.request("GET", f"/api/messages/{msg['id']}/history", token)
        assert status == 200
        assert body["messageId"] == msg["id"]
        assert [h["content"] for h in body["history"]] == ["v1"]
    status, body = await server.request("GET", f"/api/messages/{msg['id']}/history", carol)
    assert_failure(status, body, 404, "MESSAGE_NOT_FOUND")
    status, body = await server.request("GET", f"/api/messages/{ObjectId()}/history", alice)
    assert_failure(status, body, 404, "MESSAGE_NOT_FOUND")


async def test_delete_message_over_rest(server: ChatServer) -> None:
    gid, alice, bob = await pair(server)
    carol = await server.user("user_carol")
    a = await server.client(alice)
    b = await server.client(bob)
    mine = await post(server, alice, gid, "alice's")
    theirs = await post(server, bob, gid, "bob's")

    status, body = await server.request("DELETE", f"/api/messages/{mine['id']}", bob)
    assert_failure(status, body, 403, "ACCESS_DENIED")
    status, body = await server.request("DELETE", f"/api/messages/{mine['id']}", carol)
    assert_failure(status, body, 404, "MESSAGE_NOT_FOUND")

    status, body = await server.request("DELETE", f"/api/messages/{mine['id']}", alice)
    assert status == 200, body
    expected = {"messageId": mine["id"], "groupId": gid, "deletedBy": "user_alice"}
    assert {k: body[k] for k in expected} == expected
    for client in (a, b):
        assert await client.wait_for("message_deleted") == expected

    # The owner may delete a member's message.
    status, body = await server.request("DELETE", f"/api/messages/{theirs['id']}", alice)
    assert status == 200
    assert body["deletedBy"] == "user_alice"

    status, body = await server.request("DELETE", f"/api/messages/{mine['id']}", alice)
    assert_failure(status, body, 404, "MESSAGE_NOT_FOUND")
    status, body = await server.request("DELETE", "/api/messages/123", alice)
    assert_failure(status, body, 400, "VALIDATION_ERROR")
    status, body = await server.request(
        "PATCH", f"/api/messages/{mine['id']}", alice, {"content": "back"}
    )
    assert_failure(status, body, 404, "MESSAGE_NOT_FOUND")

    page = await history(server, bob, gid)
    assert [(m["seq"], m["content"], m["isDeleted"]) for m in page["messages"]] == [
        (1, "", True),
        (2, "", True),
    ]
