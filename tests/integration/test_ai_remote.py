"""The same AI flows with OPENAI_BASE_URL pointing at the OpenAI-compatible
test server: LangGraph and the real openai / langchain-openai clients run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from safechat.container import BACKGROUND, SERVICES
from safechat.repositories.embeddings import decode_vector
from tests.helpers.ai_server import REPLIES, FakeOpenAI, fake_openai
from tests.helpers.support import ChatServer, pair, start_server

Factory = Callable[..., Awaitable[ChatServer]]


@pytest.fixture
async def remote() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai() as server:
        yield server


@pytest.fixture
async def make_server(mongo_uri: str, tmp_path: Path, remote: FakeOpenAI) -> AsyncIterator[Factory]:
    started: list[ChatServer] = []

    async def make(**overrides: Any) -> ChatServer:
        srv = await start_server(
            mongo_uri=mongo_uri,
            db_name=f"t_remote_{len(started)}_{time.monotonic_ns()}",
            data_dir=tmp_path / f"data{len(started)}",
            openai_base_url=remote.url,
            openai_api_key="sk-test",
            ai_timeout_seconds=2.0,
            moderation_timeout_seconds=0.3,
            **overrides,
        )
        started.append(srv)
        return srv

    yield make
    for srv in started:
        await srv.stop()


async def test_smart_replies_go_through_the_remote_model(
    make_server: Factory, remote: FakeOpenAI
) -> None:
    server = await make_server()
    gid, a, b = await pair(server)
    remote.extra_reply = "remote-bad reply"  # moderation must drop this one
    ack = await a.call("send_message", {"groupId": gid, "content": "Lunch tomorrow?"})
    assert ack["ok"] is True
    await server.app[SERVICES].ai.tasks.idle()
    assert remote.paths() == ["moderations", "embeddings"]  # send: moderation, then embedding

    ack = await b.call("request_smart_replies", {"groupId": gid})
    done = await b.wait_for("smart_replies_complete")
    assert done["requestId"] == ack["requestId"]
    assert done["suggestions"] == REPLIES
    assert done["provider"] == "openai"
    # Graph order: retrieve (embed the question), generate (chat), moderate the replies.
    assert remote.paths()[2:] == ["embeddings", "chat", "moderations"]
    chat = remote.requests[3][1]
    assert chat["response_format"]["type"] == "json_schema"
    assert "Alice: Lunch tomorrow?" in chat["messages"][-1]["content"]
    assert remote.requests[4][1]["input"][-1] == "remote-bad reply"

    status, body = await server.request("GET", f"/api/messages/group/{gid}/search?q=lunch", a.token)
    assert status == 200
    assert body["hits"][0]["message"]["content"] == "Lunch tomorrow?"
    stored = await server.app[SERVICES].database.db.message_embeddings.find_one({})
    assert stored is not None
    assert stored["model"] == "text-embedding-3-small"
    # Exact search keeps vectors as float32 bytes (a quarter of a BSON array of doubles).
    assert isinstance(stored["vector"], bytes)
    assert len(decode_vector(stored["vector"])) == 32

    status, body = await server.request(
        "POST", "/api/ai/moderate-content", a.token, {"content": "a badword here"}
    )
    assert body["flagged"] is True
    assert body["provider"] == "openai"


async def test_remote_flags_and_blocks_on_send(make_server: Factory, remote: FakeOpenAI) -> None:
    server = await make_server(moderation_mode="block")
    gid, a, _ = await pair(server)
    ack = await a.call("send_message", {"groupId": gid, "content": "this is a badword"})
    assert ack["error"]["code"] == "CONTENT_REJECTED"
    assert ack["error"]["details"] == {"categories": ["harassment"]}


async def test_failures_fall_back_to_offline_or_report_ai_unavailable(
    make_server: Factory, remote: FakeOpenAI
) -> None:
    lenient = await make_server()
    strict = await make_server(ai_fallback_offline=False)
    remote.mode = "fail"
    for server, fallback in [(lenient, True), (strict, False)]:
        gid, a, b = await pair(server)
        # The send still works: moderation falls back to the offline word lists.
        ack = await a.call("send_message", {"groupId": gid, "content": "you idiot, lunch?"})
        assert ack["ok"] is True
        assert ack["message"]["moderation"]["categories"] == ["harassment"]
        ack = await b.call("request_smart_replies", {"groupId": gid})
        if fallback:
            done = await b.wait_for("smart_replies_complete")
            assert done["provider"] == "offline"
            assert len(done["suggestions"]) == 3
        else:
            err = await b.wait_for("ai_error")
            assert err["code"] == "AI_UNAVAILABLE"
            assert err["requestId"] == ack["requestId"]
            status, body = await server.request(
                "POST", "/api/ai/smart-replies", b.token, {"groupId": gid}
            )
            assert status == 503
            assert body["error"]["code"] == "AI_UNAVAILABLE"
        # Search needs the remote embeddings: no fallback into another vector space.
        status, body = await server.request(
            "POST", "/api/ai/search", a.token, {"groupId": gid, "query": "x"}
        )
        assert status == 503
        assert body["error"]["code"] == "AI_UNAVAILABLE"


async def test_slow_moderation_times_out_to_the_configured_default(
    make_server: Factory, remote: FakeOpenAI
) -> None:
    offline = await make_server()
    reject = await make_server(moderation_fallback="reject")
    allow = await make_server(moderation_fallback="allow")
    remote.mode = "slow"
    for server, expect in [(offline, "flagged"), (reject, "rejected"), (allow, "clean")]:
        gid, a, _ = await pair(server)
        started = time.perf_counter()
        ack = await a.call("send_message", {"groupId": gid, "content": "you idiot"})
        assert time.perf_counter() - started < 2.0  # moderation timeout is 0.3 s
        if expect == "rejected":
            assert ack["error"]["code"] == "CONTENT_REJECTED"
            assert ack["error"]["details"] == {"reason": "moderation_unavailable"}
        elif expect == "flagged":
            assert ack["message"]["moderation"]["flagged"] is True
        else:
            assert "moderation" not in ack["message"]


async def test_ai_disabled_group_sends_nothing_to_the_provider(
    make_server: Factory, remote: FakeOpenAI
) -> None:
    server = await make_server()
    gid, a, b = await pair(server)
    status, _ = await server.request("PATCH", f"/api/groups/{gid}", a.token, {"aiEnabled": False})
    assert status == 200
    remote.requests.clear()
    ack = await a.call("send_message", {"groupId": gid, "content": "secret plans, you idiot"})
    assert ack["message"]["moderation"]["flagged"] is True  # local word lists
    ack = await a.call("edit_message", {"messageId": ack["message"]["id"], "content": "secret"})
    assert ack["ok"] is True
    assert (await b.call("request_smart_replies", {"groupId": gid}))["error"]["code"] == (
        "ACCESS_DENIED"
    )
    for path, body in [
        ("/api/ai/search", {"groupId": gid, "query": "secret"}),
        ("/api/ai/summarize", {"groupId": gid}),
        ("/api/ai/typing-suggestions", {"groupId": gid, "partialText": "sec"}),
    ]:
        status, _ = await server.request("POST", path, b.token, body)
        assert status == 403
    await server.app[SERVICES].ai.tasks.idle()
    assert remote.requests == []


async def test_newer_typing_request_cancels_the_older(
    make_server: Factory, remote: FakeOpenAI
) -> None:
    server = await make_server()
    gid, a, _ = await pair(server)
    remote.mode = "slow"
    remote.delay = 0.5
    first = await a.call("request_typing_suggestions", {"groupId": gid, "partialText": "see"})
    second = await a.call("request_typing_suggestions", {"groupId": gid, "partialText": "see yo"})
    got = await a.wait_for("typing_suggestion", timeout=5)
    assert got["requestId"] == second["requestId"] != first["requestId"]
    assert got["suggestion"] == " from the remote model"
    assert got["text"] == "see yo from the remote model"
    await a.expect_none("typing_suggestion", within=0.6)
    await a.expect_none("ai_error", within=0)


async def test_shutdown_cancels_pending_ai_work(make_server: Factory, remote: FakeOpenAI) -> None:
    server = await make_server()
    gid, _, b = await pair(server)
    remote.mode = "slow"
    remote.delay = 30
    await b.call("request_smart_replies", {"groupId": gid})
    tasks = server.app[SERVICES].ai.tasks
    await asyncio.sleep(0.1)
    assert len(tasks) == 1
    started = time.perf_counter()
    await server.app[BACKGROUND].close()  # what the app's cleanup does first
    assert time.perf_counter() - started < 1.0
    assert len(tasks) == 0
