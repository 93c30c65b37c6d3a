"""Issue 9: values that decode as JSON but cannot be stored, reaction keys and their cap,
and the per-user limit on creating groups.

Huge integers overflow BSON's int64 and lone surrogates cannot be UTF-8 encoded (for BSON
or for encryption): both must be refused as VALIDATION_ERROR, never a 500/INTERNAL_ERROR.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from safechat.container import SERVICES
from safechat.errors import AuthError
from tests.helpers.support import ChatServer, module_server, refusal, start_server
from tests.integration.test_bad_input import Stage, assert_error_ack, make_stage

V = "VALIDATION_ERROR"
MAX_SAFE_INT = 2**53 - 1  # the bound the models enforce (JavaScript's safe integers)
HUGE = [10**20, 2**63, MAX_SAFE_INT + 1]
LONE = "\ud800"


@pytest_asyncio.fixture(scope="module")
async def stage(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stage]:
    async with module_server(mongo_uri, tmp_path_factory.mktemp("hardening") / "data") as srv:
        yield await make_stage(srv)


async def raw_json(
    server: ChatServer, method: str, path: str, token: str, body: dict[str, Any]
) -> tuple[int, Any]:
    """`json.dumps` escapes a lone surrogate as \\ud800, which any JSON parser accepts."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data = json.dumps(body).encode()
    async with server.http.request(method, server.url + path, data=data, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


def assert_rest_validation(status: int, body: Any) -> None:
    assert status == 400, body
    assert body["success"] is False
    assert body["error"]["code"] == V, body


# --- integers beyond what BSON and JavaScript hold --------------------------------


@pytest.mark.parametrize("seq", HUGE)
@pytest.mark.parametrize("cursor", ["beforeSeq", "afterSeq"])
async def test_history_with_a_huge_seq_cursor_is_400(stage: Stage, cursor: str, seq: int) -> None:
    status, body = await stage.server.request(
        "GET", f"/api/messages/group/{stage.gid}?{cursor}={seq}", stage.alice
    )
    assert_rest_validation(status, body)


async def test_history_at_the_largest_safe_seq_is_fine(stage: Stage) -> None:
    status, body = await stage.server.request(
        "GET", f"/api/messages/group/{stage.gid}?afterSeq={MAX_SAFE_INT}", stage.alice
    )
    assert status == 200, body
    assert body["messages"] == []


@pytest.mark.parametrize("seq", HUGE)
async def test_sync_with_a_huge_seq_is_a_validation_error(stage: Stage, seq: int) -> None:
    s = stage
    for payload in (
        {"groupId": s.gid, "afterSeq": seq},
        {"groups": {s.gid: seq}},
        {"groupId": s.gid, "afterSeq": 0, "limit": seq},
    ):
        assert_error_ack(await s.a.call("sync", payload), V)
    ack = await s.a.call("mark_messages_read", {"groupId": s.gid, "upToSeq": seq})
    assert_error_ack(ack, V)
    ack = await s.a.call(
        "request_typing_suggestions", {"groupId": s.gid, "partialText": "a", "cursorPosition": seq}
    )
    assert_error_ack(ack, V)
    status, body = await raw_json(
        s.server, "POST", "/api/messages/read", s.alice, {"groupId": s.gid, "upToSeq": seq}
    )
    assert_rest_validation(status, body)
    status, body = await raw_json(
        s.server,
        "POST",
        "/api/media/presign",
        s.alice,
        {"groupId": s.gid, "filename": "a.png", "mimeType": "image/png", "size": seq},
    )
    assert status in (400, 413), body
    assert body["error"]["code"] in (V, "PAYLOAD_TOO_LARGE"), body
    ok = await s.a.call("sync", {"groupId": s.gid, "afterSeq": MAX_SAFE_INT})
    assert ok["ok"] is True, ok


# --- text that cannot be encoded: lone surrogates, NUL -------------------------------


@pytest.mark.parametrize("bad", [LONE, "ok \udfff", "a\x00b"], ids=["high", "low", "nul"])
async def test_unencodable_message_text_is_a_validation_error(stage: Stage, bad: str) -> None:
    s = stage
    db = s.server.app[SERVICES].database.db
    before = await db.messages.find().sort("_id").to_list()

    ack = await s.a.call("send_message", {"groupId": s.gid, "content": bad})
    assert_error_ack(ack, V)
    ack = await s.a.call("edit_message", {"messageId": s.mid, "content": bad})
    assert_error_ack(ack, V)
    status, body = await raw_json(
        s.server, "POST", "/api/messages", s.alice, {"groupId": s.gid, "content": bad}
    )
    assert_rest_validation(status, body)
    status, body = await raw_json(
        s.server, "PATCH", f"/api/messages/{s.mid}", s.alice, {"content": bad}
    )
    assert_rest_validation(status, body)
    ack = await s.a.call("send_message", {"groupId": s.gid, "content": "x", "tempId": bad})
    assert_error_ack(ack, V)

    assert await db.messages.find().sort("_id").to_list() == before


# Every other text field a client sends, over REST and the socket.
REST_TEXT: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/api/groups", {"name": "{bad}"}),
    ("POST", "/api/groups", {"name": "ok", "description": "{bad}"}),
    ("POST", "/api/groups", {"name": "ok", "memberIds": ["{bad}"]}),
    ("PATCH", "/api/groups/{gid}", {"name": "{bad}"}),
    ("PATCH", "/api/groups/{gid}", {"description": "{bad}"}),
    ("POST", "/api/groups/{gid}/members", {"userId": "{bad}"}),
    ("POST", "/api/groups/{gid}/transfer-ownership", {"userId": "{bad}"}),
    ("PATCH", "/api/me", {"firstName": "{bad}"}),
    ("PATCH", "/api/me", {"lastName": "{bad}"}),
    ("POST", "/api/ai/moderate-content", {"content": "{bad}"}),
    ("POST", "/api/ai/search", {"groupId": "{gid}", "query": "{bad}"}),
    ("POST", "/api/ai/summarize", {"groupId": "{gid}", "since": "{bad}"}),
    ("POST", "/api/ai/typing-suggestions", {"groupId": "{gid}", "partialText": "{bad}"}),
    ("POST", "/api/ai/feedback", {"requestId": "r1", "rating": "positive", "feedback": "{bad}"}),
    (
        "POST",
        "/api/media/presign",
        {"groupId": "{gid}", "filename": "{bad}", "mimeType": "image/png", "size": 10},
    ),
    (
        "POST",
        "/api/media/presign",
        {"groupId": "{gid}", "filename": "a.png", "mimeType": "{bad}", "size": 10},
    ),
]


def _fill(template: Any, values: dict[str, str]) -> Any:
    if isinstance(template, str):
        for key, value in values.items():
            template = template.replace("{" + key + "}", value)
        return template
    if isinstance(template, dict):
        return {_fill(k, values): _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


@pytest.mark.parametrize("bad", [LONE, "x\x00"], ids=["surrogate", "nul"])
@pytest.mark.parametrize(
    ("method", "path", "body"), REST_TEXT, ids=[f"{m} {p} {sorted(b)}" for m, p, b in REST_TEXT]
)
async def test_unencodable_text_in_any_rest_body_is_400(
    stage: Stage, method: str, path: str, body: dict[str, Any], bad: str
) -> None:
    values = {"gid": stage.gid, "mid": stage.mid, "bad": bad}
    status, data = await raw_json(
        stage.server, method, _fill(path, values), stage.alice, _fill(body, values)
    )
    assert_rest_validation(status, data)


SOCKET_TEXT: list[tuple[str, dict[str, Any]]] = [
    ("request_typing_suggestions", {"groupId": "{gid}", "partialText": "{bad}"}),
    ("request_smart_replies", {"groupId": "{gid}", "messageContent": "{bad}"}),
    ("rate_ai_suggestion", {"requestId": "{bad}", "rating": "positive"}),
    ("rate_ai_suggestion", {"requestId": "r1", "rating": "positive", "feedback": "{bad}"}),
    ("rate_ai_suggestion", {"requestId": "r1", "rating": "positive", "suggestion": "{bad}"}),
    ("reauth", {"token": "{bad}"}),
    ("sync", {"groups": {"{bad}": 0}}),
    ("send_message", {"groupId": "{gid}", "content": "x", "{bad}": 1}),
]


@pytest.mark.parametrize("bad", [LONE, "x\x00"], ids=["surrogate", "nul"])
@pytest.mark.parametrize(
    ("event", "payload"), SOCKET_TEXT, ids=[f"{e} {sorted(p)}" for e, p in SOCKET_TEXT]
)
async def test_unencodable_text_in_any_socket_event_is_a_validation_error(
    stage: Stage, event: str, payload: dict[str, Any], bad: str
) -> None:
    values = {"gid": stage.gid, "mid": stage.mid, "bad": bad}
    ack = await stage.a.call(event, _fill(payload, values))
    assert_error_ack(ack, V)
    assert stage.a.sio.connected


async def test_unencodable_tokens_are_refused_as_invalid(stage: Stage) -> None:
    """The token is text too: PyJWT encodes it to UTF-8 before anything else."""
    s = stage
    status, body = await s.server.request(
        "GET",
        "/api/me",
        None,
        headers={
            "Authorization": f"Bearer a{LONE}.b.c".encode("utf-8", "surrogatepass").decode(
                "latin-1"
            )
        },
    )
    assert status == 401, body
    assert body["error"]["code"] in ("INVALID_TOKEN", "AUTHENTICATION_FAILED"), body
    verifier = s.server.app[SERVICES].verifier
    with pytest.raises(AuthError) as caught:
        await verifier.verify(f"a{LONE}.b.c")
    assert caught.value.code == "INVALID_TOKEN"
    refused = await refusal(s.server, auth={"token": f"a{LONE}.b.c"})
    assert refused["data"]["code"] == "INVALID_TOKEN", refused


# --- reactions: what a key may be, and how many a message may have ---------------------

GOOD_EMOJI = ["👍", "❤️", "❤", "👨‍👩‍👧", "👍🏽", "🇫🇷", "1️⃣", "🫠"]
BAD_EMOJI = [
    "\x00",
    "👍\x00",
    LONE,
    "__proto__",
    "constructor",
    "toString",
    "+1",
    "a",
    "👍👍",
    "👍 ",
    "\u200d",
    "\ufe0f",
    "\u202e",
    "$👍",
    "👍.",
]


@pytest.mark.parametrize("emoji", BAD_EMOJI, ids=[repr(e) for e in BAD_EMOJI])
async def test_reaction_key_that_is_not_one_emoji_is_refused(stage: Stage, emoji: str) -> None:
    db = stage.server.app[SERVICES].database.db
    before = await db.messages.find_one({"_id": {"$exists": True}}, sort=[("_id", 1)])
    ack = await stage.a.call("react_message", {"messageId": stage.mid, "emoji": emoji})
    assert_error_ack(ack, V)
    assert await db.messages.find_one({"_id": {"$exists": True}}, sort=[("_id", 1)]) == before


@pytest.mark.parametrize("emoji", GOOD_EMOJI)
async def test_reaction_with_one_emoji_is_accepted(stage: Stage, emoji: str) -> None:
    for action in ("added", "removed"):
        ack = await stage.b.call("react_message", {"messageId": stage.mid, "emoji": emoji})
        assert ack["ok"] is True, ack
        assert ack["action"] == action


CAP_EMOJI = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆"]


@pytest_asyncio.fixture
async def capped(mongo_uri: str, db_name: str, tmp_path: Any) -> AsyncIterator[Stage]:
    srv = await start_server(
        mongo_uri=mongo_uri,
        db_name=db_name,
        data_dir=tmp_path / "data",
        max_reactions_per_message=3,
    )
    try:
        yield await make_stage(srv)
    finally:
        await srv.stop()


async def test_distinct_reactions_per_message_are_capped(capped: Stage) -> None:
    s = capped
    for emoji in CAP_EMOJI[:3]:
        ack = await s.a.call("react_message", {"messageId": s.mid, "emoji": emoji})
        assert ack["ok"] is True, ack
    s.b.drain("message_reaction")

    error = assert_error_ack(
        await s.a.call("react_message", {"messageId": s.mid, "emoji": CAP_EMOJI[3]}), "CONFLICT"
    )
    assert error["details"]["maxReactions"] == 3
    await s.b.expect_none("message_reaction", within=0.1)

    # Joining an existing reaction is not a new key; the cap does not stop it.
    ack = await s.b.call("react_message", {"messageId": s.mid, "emoji": CAP_EMOJI[0]})
    assert ack["ok"] is True, ack
    assert sorted(ack["reactions"][CAP_EMOJI[0]]) == ["user_alice", "user_bob"]

    # A key nobody holds any more frees its slot (and leaves the stored map).
    ack = await s.a.call("react_message", {"messageId": s.mid, "emoji": CAP_EMOJI[1]})
    assert ack["action"] == "removed"
    db = s.server.app[SERVICES].database.db
    from bson import ObjectId

    stored = await db.messages.find_one({"_id": ObjectId(s.mid)})
    assert stored is not None
    assert CAP_EMOJI[1] not in stored["reactions"]
    ack = await s.a.call("react_message", {"messageId": s.mid, "emoji": CAP_EMOJI[3]})
    assert ack["ok"] is True, ack
    assert len(ack["reactions"]) == 3


async def test_reaction_cap_holds_under_concurrent_toggles(capped: Stage) -> None:
    """The cap is part of the database update, so concurrent new keys cannot overshoot it."""
    s = capped
    clients = [s.a, s.b]
    acks = await asyncio.gather(
        *(
            clients[i % 2].call("react_message", {"messageId": s.mid, "emoji": emoji})
            for i, emoji in enumerate(CAP_EMOJI)
        )
    )
    accepted = [a for a in acks if a["ok"]]
    refused = [a for a in acks if not a["ok"]]
    assert len(accepted) == 3, acks
    assert {a["error"]["code"] for a in refused} == {"CONFLICT"}
    db = s.server.app[SERVICES].database.db
    from bson import ObjectId

    stored = await db.messages.find_one({"_id": ObjectId(s.mid)})
    assert stored is not None
    assert len([k for k, v in stored["reactions"].items() if v]) == 3


# --- creating groups -------------------------------------------------------------------


async def test_group_creation_is_rate_limited_per_user(
    mongo_uri: str, db_name: str, tmp_path: Any
) -> None:
    srv = await start_server(
        mongo_uri=mongo_uri,
        db_name=db_name,
        data_dir=tmp_path / "data",
        rate_group_create_per_minute=2,
        rate_group_create_burst=3,
    )
    try:
        alice = await srv.user("user_alice")
        bob = await srv.user("user_bob")
        for i, prefix in enumerate(["/api", "/api/v1", "/api"]):
            status, body = await srv.request("POST", f"{prefix}/groups", alice, {"name": f"g{i}"})
            assert status == 201, body
        for prefix in ("/api", "/api/v1"):
            async with srv.http.post(
                f"{srv.url}{prefix}/groups",
                json={"name": "one too many"},
                headers={"Authorization": f"Bearer {alice}"},
            ) as resp:
                body = await resp.json()
                assert resp.status == 429, body
                assert body["error"]["code"] == "RATE_LIMITED"
                assert body["error"]["details"]["limit"] == "group_create"
                # 2 per minute: the next token is about 30 s away.
                assert 25_000 <= body["error"]["details"]["retryAfterMs"] <= 30_000
                assert int(resp.headers["Retry-After"]) >= 25
        db = srv.app[SERVICES].database.db
        assert await db.groups.count_documents({"ownerId": "user_alice"}) == 3
        # Per user: Bob is not slowed by Alice.
        status, body = await srv.request("POST", "/api/groups", bob, {"name": "bob's"})
        assert status == 201, body
    finally:
        await srv.stop()


# --- text outside the models: multipart part headers ------------------------------------


def _multipart(gid: str, filename: bytes, caption: bytes | None = None) -> tuple[bytes, str]:
    from tests.helpers.media import png_bytes

    boundary = "h9boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="groupId"\r\n\r\n{gid}\r\n']
    body = "".join(parts).encode()
    if caption is not None:
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="caption"\r\n\r\n'.encode()
        body += caption + b"\r\n"
    body += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
    body += filename + b'"\r\nContent-Type: image/png\r\n\r\n' + png_bytes(8, 8)
    body += f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    ("path", "filename", "caption"),
    [
        ("/api/media/chat/upload", b"a\xed\xa0\x80.png", None),  # UTF-8 of a surrogate
        ("/api/media/chat/upload", b"a\xff\xfe.png", None),  # not UTF-8 at all
        ("/api/media/chat/send", b"a\xff.png", b"hi"),
        ("/api/media/chat/send", b"a.png", b"nul \x00 caption"),
        ("/api/media/chat/send", b"a.png", b"\xed\xa0\x80"),
    ],
)
async def test_unencodable_multipart_text_is_400(
    stage: Stage, path: str, filename: bytes, caption: bytes | None
) -> None:
    """aiohttp decodes part headers with surrogateescape: invalid UTF-8 in a filename
    arrives as lone surrogates, which must not reach the database."""
    s = stage
    db = s.server.app[SERVICES].database.db
    before = (await db.media.count_documents({}), await db.messages.count_documents({}))
    body, content_type = _multipart(s.gid, filename, caption)
    headers = {"Authorization": f"Bearer {s.alice}", "Content-Type": content_type}
    async with s.server.http.post(s.server.url + path, data=body, headers=headers) as resp:
        data = await resp.json(content_type=None)
        assert_rest_validation(resp.status, data)
    after = (await db.media.count_documents({}), await db.messages.count_documents({}))
    assert after == before
