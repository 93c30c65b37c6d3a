"""Mentions (docs/protocol.md, "Mentions, threads and pins"): stored on the message,
announced to the mentioned users, counted in `unreadMentions` from the read mark and
listed by `GET /api/me/mentions`."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from safechat.container import SERVICES
from tests.helpers.support import ChatServer, EventClient


async def trio(server: ChatServer) -> tuple[str, EventClient, EventClient, EventClient]:
    alice = await server.user("user_alice", first_name="Alice")
    await server.user("user_bob", first_name="Bob")
    await server.user("user_carol", first_name="Carol")
    gid = await server.group(alice, memberIds=["user_bob", "user_carol"])
    return (
        gid,
        await server.client(alice),
        await server.client("user_bob"),
        await server.client("user_carol"),
    )


async def summary(server: ChatServer, token: str, gid: str) -> dict[str, Any]:
    status, body = await server.request("GET", "/api/groups", token)
    assert status == 200, body
    return next(g for g in body["groups"] if g["id"] == gid)


async def test_a_mention_is_stored_announced_and_counted(server: ChatServer) -> None:
    gid, a, b, c = await trio(server)
    ack = await a.call(
        "send_message", {"groupId": gid, "content": "@bob look", "mentions": ["user_bob"]}
    )
    assert ack["ok"], ack
    message = ack["message"]
    assert message["mentions"] == ["user_bob"]
    stored = await server.app[SERVICES].database.db.messages.find_one(
        {"_id": ObjectId(message["id"])}
    )
    assert stored is not None
    assert stored["mentions"] == ["user_bob"]

    heard = await b.wait_for("mention")
    assert heard["groupId"] == gid
    assert heard["message"]["id"] == message["id"]
    assert heard["message"]["content"] == "@bob look"
    await c.expect_none("mention", within=0.2)
    await a.expect_none("mention", within=0.0)
    assert (await b.wait_for("new_message"))["message"]["mentions"] == ["user_bob"]

    assert (await summary(server, b.token, gid))["unreadMentions"] == 1
    assert (await summary(server, c.token, gid))["unreadMentions"] == 0
    assert (await summary(server, a.token, gid))["unreadMentions"] == 0
    # The same count at connect time.
    b2 = EventClient(server.url, b.token)
    server.clients.append(b2)
    await b2.connect()
    listed = await b2.wait_for("user_groups")
    assert next(g for g in listed if g["id"] == gid)["unreadMentions"] == 1

    # History and sync carry mentions too.
    status, body = await server.request("GET", f"/api/messages/group/{gid}", b.token)
    assert status == 200
    assert body["messages"][-1]["mentions"] == ["user_bob"]
    synced = await b.call("sync", {"groupId": gid, "afterSeq": 0})
    assert synced["messages"][-1]["mentions"] == ["user_bob"]


async def test_reading_past_a_mention_clears_it_and_later_ones_still_count(
    server: ChatServer,
) -> None:
    gid, a, b, _c = await trio(server)
    seqs = []
    for i in range(3):
        ack = await a.call(
            "send_message", {"groupId": gid, "content": f"m{i}", "mentions": ["user_bob"]}
        )
        seqs.append(ack["message"]["seq"])
    await a.call("send_message", {"groupId": gid, "content": "no mention"})
    assert (await summary(server, b.token, gid))["unreadMentions"] == 3

    ack = await b.call("mark_messages_read", {"groupId": gid, "upToSeq": seqs[1]})
    assert ack["ok"], ack
    s = await summary(server, b.token, gid)
    assert s["unreadMentions"] == 1
    assert s["unreadCount"] == 2
    # Sending moves the sender's mark too: nothing is left unread.
    assert (await b.call("send_message", {"groupId": gid, "content": "read it all"}))["ok"]
    assert (await summary(server, b.token, gid))["unreadMentions"] == 0
    # Read mentions stay listed.
    status, body = await server.request("GET", "/api/me/mentions", b.token)
    assert status == 200
    assert [m["message"]["content"] for m in body["mentions"]] == ["m2", "m1", "m0"]


async def test_mentions_must_be_current_members_unique_and_at_most_50(
    server: ChatServer,
) -> None:
    gid, a, _b, _c = await trio(server)
    await server.user("user_dave")  # signed in, not a member
    db = server.app[SERVICES].database.db
    cases: list[tuple[Any, str]] = [
        (["user_dave"], "mentions.0"),
        (["user_bob", "user_nobody"], "mentions.1"),
        (["user_bob", "user_bob"], "mentions"),
        ([f"user_{i}" for i in range(51)], "mentions"),
        ("user_bob", "mentions"),
        ([""], "mentions.0"),
    ]
    for mentions, loc in cases:
        payload = {"groupId": gid, "content": "hey", "mentions": mentions}
        ack = await a.call("send_message", payload)
        assert ack["ok"] is False, mentions
        assert ack["error"]["code"] == "VALIDATION_ERROR"
        locs = [e["loc"] for e in ack["error"]["details"]["errors"]]
        assert loc in locs, (mentions, locs)
        assert "user_dave" not in str(ack["error"]["message"])
        status, body = await server.request("POST", "/api/messages", a.token, payload)
        assert status == 400, body
        assert body["error"]["code"] == "VALIDATION_ERROR"
    assert await db.messages.count_documents({}) == 0
    assert await db.mentions.count_documents({}) == 0


async def test_rest_send_takes_mentions_and_self_mentions_do_not_count(
    server: ChatServer,
) -> None:
    gid, a, b, _c = await trio(server)
    status, body = await server.request(
        "POST",
        "/api/messages",
        a.token,
        {"groupId": gid, "content": "all hands", "mentions": ["user_alice", "user_carol"]},
    )
    assert status == 201, body
    assert body["message"]["mentions"] == ["user_alice", "user_carol"]
    await a.expect_none("mention", within=0.2)
    assert (await summary(server, a.token, gid))["unreadMentions"] == 0
    status, body = await server.request("GET", "/api/me/mentions", a.token)
    assert body["mentions"] == []
    status, body = await server.request("GET", "/api/me/mentions", b.token)
    assert body["mentions"] == []


async def test_mention_listing_pages_newest_first_and_skips_groups_left(
    server: ChatServer,
) -> None:
    gid, a, b, _c = await trio(server)
    other = await server.group(a.token, "other", memberIds=["user_bob"])
    ids = []
    for i in range(5):
        ack = await a.call(
            "send_message",
            {"groupId": gid if i % 2 == 0 else other, "content": f"m{i}", "mentions": ["user_bob"]},
        )
        ids.append(ack["message"]["id"])
    status, body = await server.request("GET", "/api/me/mentions?limit=2", b.token)
    assert status == 200, body
    assert [m["message"]["content"] for m in body["mentions"]] == ["m4", "m3"]
    assert body["mentions"][1]["groupId"] == other
    assert body["hasMore"] is True
    cursor = body["nextCursor"]
    status, body = await server.request(
        "GET", f"/api/v1/me/mentions?limit=2&before={cursor}", b.token
    )
    assert [m["message"]["content"] for m in body["mentions"]] == ["m2", "m1"]
    status, body = await server.request(
        "GET", f"/api/me/mentions?before={body['nextCursor']}", b.token
    )
    assert [m["message"]["content"] for m in body["mentions"]] == ["m0"]
    assert body["hasMore"] is False
    assert body["nextCursor"] is None

    # A deleted message is listed as deleted (its place in the list stays).
    assert (await a.call("delete_message", {"messageId": ids[4]}))["ok"]
    status, body = await server.request("GET", "/api/me/mentions?limit=1", b.token)
    assert body["mentions"][0]["message"]["isDeleted"] is True
    assert body["mentions"][0]["message"]["content"] == ""

    # After leaving a group, its mentions are no longer listed.
    status, _ = await server.request("POST", f"/api/groups/{other}/leave", b.token)
    assert status == 200
    status, body = await server.request("GET", "/api/me/mentions", b.token)
    assert [m["message"]["id"] for m in body["mentions"]] == [ids[4], ids[2], ids[0]]


async def test_mention_listing_validates_its_query(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    for query in ("limit=0", "limit=101", "before=nope", "cursor=x"):
        status, body = await server.request("GET", f"/api/me/mentions?{query}", alice)
        assert status == 400, (query, body)
        assert body["error"]["code"] == "VALIDATION_ERROR"
    status, body = await server.request("GET", "/api/me/mentions")
    assert status == 401
