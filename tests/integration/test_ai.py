"""AI features with nothing configured (offline provider) through a real server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from safechat.container import SERVICES
from tests.helpers.support import ChatServer, EventClient, pair, start_server


async def settle(server: ChatServer) -> None:
    """Waits for background AI work (embeddings) to finish."""
    await server.app[SERVICES].ai.tasks.idle()


async def embeddings_count(server: ChatServer) -> int:
    return await server.app[SERVICES].database.db.message_embeddings.count_documents({})


async def send(client: EventClient, gid: str, content: str) -> dict[str, Any]:
    ack = await client.call("send_message", {"groupId": gid, "content": content})
    assert ack["ok"] is True, ack
    return dict(ack["message"])


async def test_smart_replies_after_lunch_question_with_nothing_configured(
    server: ChatServer,
) -> None:
    gid, a, b = await pair(server)
    await send(a, gid, "Are we still on for lunch tomorrow?")
    started = time.perf_counter()
    ack = await b.call("request_smart_replies", {"groupId": gid})
    assert ack["ok"] is True
    assert ack["requestId"]
    done = await b.wait_for("smart_replies_complete", timeout=1.0)
    assert time.perf_counter() - started < 1.0
    assert done["requestId"] == ack["requestId"]
    assert done["groupId"] == gid
    replies = done["suggestions"]
    assert len(replies) == 3
    assert len(set(replies)) == 3
    assert "Yes, still on!" in replies
    assert done["provider"] == "offline"
    assert 0 < done["confidence"] <= 1
    assert done["processingTime"] >= 0
    await a.expect_none("smart_replies_complete", within=0.05)

    # Given content instead of history, and by messageId.
    ack = await b.call("request_smart_replies", {"groupId": gid, "messageContent": "thanks!!"})
    assert (await b.wait_for("smart_replies_complete"))["suggestions"][0] == "You're welcome!"
    status, body = await server.request(
        "POST", "/api/ai/smart-replies", b.token, {"groupId": gid, "messageContent": "hello"}
    )
    assert status == 200
    assert body["suggestions"][0] == "Hey! 👋"
    assert body["requestId"]


async def test_typing_suggestions_from_the_groups_phrases(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    for text in ["let's grab lunch on friday", "let's grab lunch soon"]:
        await send(a, gid, text)
    ack = await b.call("request_typing_suggestions", {"groupId": gid, "partialText": "let's grab "})
    assert ack["ok"] is True
    got = await b.wait_for("typing_suggestion")
    assert got["requestId"] == ack["requestId"]
    assert got["suggestion"].startswith("lunch")
    assert got["text"].startswith("let's grab lunch")
    # cursorPosition: only the text before the cursor is completed.
    status, body = await server.request(
        "POST",
        "/api/ai/typing-suggestions",
        b.token,
        {"groupId": gid, "partialText": "let's grab XXXX", "cursorPosition": 11},
    )
    assert status == 200
    assert body["suggestion"].startswith("lunch")


async def test_feedback_is_stored_and_counted_for_admins(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    await send(a, gid, "hi")
    ack = await b.call("request_smart_replies", {"groupId": gid})
    await b.wait_for("smart_replies_complete")
    rid = ack["requestId"]
    rated = await b.call(
        "rate_ai_suggestion", {"requestId": rid, "suggestion": "Hey! 👋", "rating": "positive"}
    )
    assert rated == {"ok": True}
    rated = await b.call("rate_ai_suggestion", {"requestId": rid, "rating": "negative"})
    assert rated["ok"] is True
    # Someone else's request, or an unknown one, cannot be rated.
    bad = await a.call("rate_ai_suggestion", {"requestId": rid, "rating": "positive"})
    assert bad["error"]["code"] == "VALIDATION_ERROR"
    assert (await a.wait_for("ai_error"))["code"] == "VALIDATION_ERROR"
    bad = await b.call("rate_ai_suggestion", {"requestId": rid, "rating": "meh"})
    assert bad["error"]["code"] == "VALIDATION_ERROR"

    status, body = await server.request("GET", f"/api/ai/feedback/summary?groupId={gid}", a.token)
    assert status == 200
    assert body["totals"] == {"positive": 1, "negative": 1}
    assert body["byKind"] == {"smart_replies": {"positive": 1, "negative": 1}}
    status, body = await server.request("GET", f"/api/ai/feedback/summary?groupId={gid}", b.token)
    assert status == 403
    assert body["error"]["code"] == "ACCESS_DENIED"


async def test_flag_mode_stores_the_verdict_and_delivers(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    msg = await send(a, gid, "you are an 1d10t")
    assert msg["moderation"] == {"flagged": True, "categories": ["harassment"]}
    seen = await b.wait_for("new_message")
    assert seen["message"]["moderation"]["flagged"] is True
    clean = await send(a, gid, "sorry, I did not mean it")
    assert "moderation" not in clean
    edited = await a.call("edit_message", {"messageId": clean["id"], "content": "f u c k"})
    assert edited["message"]["moderation"]["categories"] == ["profanity"]
    edited = await a.call("edit_message", {"messageId": clean["id"], "content": "all good"})
    assert "moderation" not in edited["message"]
    status, body = await server.request(
        "POST", "/api/ai/moderate-content", a.token, {"content": "go kill yourself"}
    )
    assert status == 200
    assert body["flagged"] is True
    assert "self-harm" in body["categories"]
    assert body["scores"]["self-harm"] >= 0.5
    assert body["provider"] == "offline"


@pytest.fixture
async def blocking(mongo_uri: str, db_name: str, tmp_path: Path) -> AsyncIterator[ChatServer]:
    srv = await start_server(
        mongo_uri=mongo_uri,
        db_name=db_name,
        data_dir=tmp_path / "data",
        moderation_mode="block",
        rate_ai_per_minute=2,
    )
    try:
        yield srv
    finally:
        await srv.stop()


async def test_block_mode_refuses_send_and_edit(blocking: ChatServer) -> None:
    gid, a, b = await pair(blocking)
    ack = await a.call("send_message", {"groupId": gid, "content": "you m0r0n"})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "CONTENT_REJECTED"
    assert ack["error"]["details"] == {"categories": ["harassment"]}
    await b.expect_none("new_message", within=0.1)
    ok = await send(a, gid, "hello")
    ack = await a.call("edit_message", {"messageId": ok["id"], "content": "sh1t"})
    assert ack["error"]["code"] == "CONTENT_REJECTED"
    status, body = await blocking.request(
        "POST", "/api/messages", a.token, {"groupId": gid, "content": "f*ck"}
    )
    assert status == 422
    assert body["error"]["code"] == "CONTENT_REJECTED"
    status, body = await blocking.request("GET", f"/api/messages/group/{gid}", a.token)
    assert [m["content"] for m in body["messages"]] == ["hello"]


async def test_ai_requests_are_rate_limited_per_user(blocking: ChatServer) -> None:
    gid, a, b = await pair(blocking)
    for _ in range(2):
        assert (await b.call("request_smart_replies", {"groupId": gid}))["ok"] is True
    ack = await b.call("request_smart_replies", {"groupId": gid})
    assert ack["error"]["code"] == "RATE_LIMITED"
    assert ack["error"]["details"]["retryAfterMs"] > 0
    # Another user has a bucket of their own.
    assert (await a.call("request_smart_replies", {"groupId": gid}))["ok"] is True


async def test_semantic_search_members_only_without_deleted(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    lunch = await send(a, gid, "Are we still on for lunch tomorrow?")
    await send(b, gid, "The quarterly tax report is overdue")
    gone = await send(a, gid, "lunch at the noodle place tomorrow")
    await settle(server)
    assert await embeddings_count(server) == 3
    assert (await a.call("delete_message", {"messageId": gone["id"]}))["ok"] is True

    status, body = await server.request(
        "GET", f"/api/messages/group/{gid}/search?q=lunch%20tomorrow&limit=5", b.token
    )
    assert status == 200, body
    ids = [h["message"]["id"] for h in body["hits"]]
    assert ids[0] == lunch["id"]
    assert gone["id"] not in ids
    assert body["hits"][0]["message"]["content"] == "Are we still on for lunch tomorrow?"
    assert body["hits"][0]["score"] > 0.3
    status, body = await server.request(
        "POST", "/api/ai/search", a.token, {"groupId": gid, "query": "tax report", "limit": 1}
    )
    assert status == 200
    assert len(body["hits"]) == 1
    assert body["hits"][0]["message"]["content"].startswith("The quarterly tax")

    outsider = await server.user("user_eve")
    for method, path, json in [
        ("GET", f"/api/messages/group/{gid}/search?q=lunch", None),
        ("POST", "/api/ai/search", {"groupId": gid, "query": "lunch"}),
        ("POST", "/api/ai/smart-replies", {"groupId": gid}),
        ("POST", "/api/ai/summarize", {"groupId": gid}),
    ]:
        status, body = await server.request(method, path, outsider, json)
        assert (status, body["error"]["code"]) == (403, "ACCESS_DENIED"), path
    eve = await server.client(outsider)
    ack = await eve.call("request_smart_replies", {"groupId": gid})
    assert ack["error"]["code"] == "ACCESS_DENIED"
    assert (await eve.wait_for("ai_error"))["code"] == "ACCESS_DENIED"
    status, body = await server.request("GET", f"/api/messages/group/{gid}/search", a.token)
    assert status == 400
    assert body["error"]["code"] == "VALIDATION_ERROR"


async def test_summarize_a_time_range(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    await send(a, gid, "Lunch on Friday at the noodle place?")
    await send(b, gid, "Friday lunch works, the noodle place is great")
    status, body = await server.request("POST", "/api/ai/summarize", a.token, {"groupId": gid})
    assert status == 200, body
    assert body["messageCount"] == 2
    assert "Alice" in body["summary"]
    assert "noodle" in body["topics"]
    status, body = await server.request(
        "POST", "/api/ai/summarize", a.token, {"groupId": gid, "since": "2999-01-01T00:00:00Z"}
    )
    assert status == 200
    assert body["messageCount"] == 0
    status, body = await server.request(
        "POST", "/api/ai/summarize", a.token, {"groupId": gid, "since": "yesterday"}
    )
    assert status == 400


async def test_ai_disabled_group(server: ChatServer) -> None:
    gid, a, b = await pair(server)
    status, body = await server.request(
        "PATCH", f"/api/groups/{gid}", b.token, {"aiEnabled": False}
    )
    assert status == 403
    status, body = await server.request(
        "PATCH", f"/api/groups/{gid}", a.token, {"aiEnabled": False}
    )
    assert status == 200
    assert body["group"]["aiEnabled"] is False
    assert (await b.wait_for("group_updated"))["group"]["aiEnabled"] is False
    status, body = await server.request("GET", f"/api/groups/{gid}", b.token)
    assert body["group"]["aiEnabled"] is False

    # Moderation still works, with the local word lists; no embeddings are made.
    msg = await send(a, gid, "you idiot")
    assert msg["moderation"]["flagged"] is True
    await settle(server)
    assert await embeddings_count(server) == 0
    ack = await b.call("request_smart_replies", {"groupId": gid})
    assert ack["error"]["code"] == "ACCESS_DENIED"
    ack = await b.call("request_typing_suggestions", {"groupId": gid, "partialText": "hi"})
    assert ack["error"]["code"] == "ACCESS_DENIED"
    status, _ = await server.request("GET", f"/api/messages/group/{gid}/search?q=idiot", a.token)
    assert status == 403

    status, body = await server.request("PATCH", f"/api/groups/{gid}", a.token, {"aiEnabled": True})
    assert body["group"]["aiEnabled"] is True
    await send(a, gid, "back on")
    await settle(server)
    assert await embeddings_count(server) == 1


async def test_bad_ai_payloads(server: ChatServer) -> None:
    gid, a, _ = await pair(server)
    for event, payload in [
        ("request_smart_replies", {"groupId": "nope"}),
        ("request_smart_replies", {"groupId": gid, "extra": 1}),
        ("request_typing_suggestions", {"groupId": gid}),
        ("request_typing_suggestions", {"groupId": gid, "partialText": 5}),
        ("rate_ai_suggestion", {"requestId": "", "rating": "positive"}),
        ("request_smart_replies", None),
    ]:
        ack = await a.call(event, payload)
        assert ack["error"]["code"] == "VALIDATION_ERROR", (event, payload)
    assert len(a.drain("ai_error")) == 6
    ack = await a.call("request_smart_replies", {"groupId": gid, "messageId": "0" * 24})
    assert ack["ok"] is True
    err = await a.wait_for("ai_error")
    assert err["code"] == "VALIDATION_ERROR"
    assert err["requestId"] == ack["requestId"]
