"""Property-based fuzzing of every socket event and every JSON REST body, from the models.

Payloads are drawn from each pydantic model's JSON schema (so many are valid or nearly
valid and reach the services), mixed with garbage: wrong types, huge numbers, NULs,
lone surrogates, deep nesting, long strings, operators, missing and extra fields. Every
answer must be a coded refusal or a success: an ack `{ok: false, error: {code}}` with a
protocol code, or a 4xx `{success: false, error: {code}}`; never INTERNAL_ERROR or a 5xx.
About 3800 cases per run (under a minute) against one real server, which then still serves.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from safechat.errors import ErrorCode
from safechat.models.ai import (
    ModerateBody,
    RateSuggestion,
    SearchBody,
    SmartRepliesRequest,
    SummarizeBody,
    TypingSuggestionsRequest,
)
from safechat.models.group import (
    AddMember,
    ChangeRole,
    CreateGroup,
    GroupRef,
    TransferOwnership,
    UpdateGroup,
)
from safechat.models.media import PresignRequest
from safechat.models.message import (
    DeleteMessage,
    EditMessage,
    EditMessageBody,
    MarkMessageRead,
    MarkMessagesRead,
    ReactMessage,
    SendMessage,
    SyncRequest,
)
from safechat.models.presence import ChangeStatus, OnlineUsersQuery, TypingEvent
from safechat.models.threads import PinMessage
from safechat.models.user import Reauth, UpdateMe
from tests.helpers.support import ChatServer, EventClient, start_server

CODES = {c.value for c in ErrorCode} - {"INTERNAL_ERROR", "SERVICE_UNAVAILABLE"}
SOCKET_CASES = 150  # per event: 21 events
REST_CASES = 60  # per route: 16 routes

EVENTS: dict[str, type[BaseModel] | None] = {
    "send_message": SendMessage,
    "edit_message": EditMessage,
    "delete_message": DeleteMessage,
    "react_message": ReactMessage,
    "mark_message_read": MarkMessageRead,
    "mark_messages_read": MarkMessagesRead,
    "sync": SyncRequest,
    "join_group": GroupRef,
    "leave_group": GroupRef,
    "get_group_members": GroupRef,
    "typing_start": TypingEvent,
    "typing_stop": TypingEvent,
    "get_online_users": OnlineUsersQuery,
    "change_status": ChangeStatus,
    "request_smart_replies": SmartRepliesRequest,
    "request_typing_suggestions": TypingSuggestionsRequest,
    "rate_ai_suggestion": RateSuggestion,
    "reauth": Reauth,
    "pin_message": PinMessage,
    "unpin_message": PinMessage,
    "authenticate": None,  # payload ignored
    # Names no handler has: `*` (python-socketio's catch-all name) and an unknown one.
    "*": None,
    "no_such_event": None,
}

# A payload each event accepts; most fuzz cases change one or two of its fields, so that
# they pass the cross-field rules and reach the services.
BASES: dict[str, dict[str, Any]] = {
    "send_message": {"groupId": "{gid}", "content": "hi"},
    "edit_message": {"messageId": "{mid}", "content": "edited"},
    "delete_message": {"messageId": "{mid}", "groupId": "{gid}"},
    "react_message": {"messageId": "{mid}", "emoji": "👍"},
    "mark_message_read": {"messageId": "{mid}", "groupId": "{gid}"},
    "mark_messages_read": {"groupId": "{gid}", "upToSeq": 1},
    "sync": {"groupId": "{gid}", "afterSeq": 0},
    "join_group": {"groupId": "{gid}"},
    "leave_group": {"groupId": "{gid}"},
    "get_group_members": {"groupId": "{gid}"},
    "typing_start": {"groupId": "{gid}"},
    "typing_stop": {"groupId": "{gid}"},
    "get_online_users": {"groupId": "{gid}"},
    "change_status": {"status": "away"},
    "request_smart_replies": {"groupId": "{gid}"},
    "request_typing_suggestions": {"groupId": "{gid}", "partialText": "hel"},
    "rate_ai_suggestion": {"requestId": "r1", "rating": "positive"},
    "reauth": {"token": "{token}"},
    "pin_message": {"messageId": "{mid}"},
    "unpin_message": {"messageId": "{mid}"},
    "authenticate": {},
    "*": {},
    "no_such_event": {},
    "POST /api/groups": {"name": "g"},
    "PATCH /api/groups/{spare}": {"name": "n"},
    "POST /api/groups/{spare}/members": {"userId": "user_bob"},
    "PATCH /api/groups/{spare}/members/user_bob": {"role": "admin"},
    "POST /api/groups/{spare}/transfer-ownership": {"userId": "user_bob"},
    "PATCH /api/me": {"firstName": "Al"},
    "POST /api/messages": {"groupId": "{gid}", "content": "hi"},
    "PATCH /api/messages/{mid}": {"content": "edited"},
    "POST /api/messages/read": {"groupId": "{gid}", "upToSeq": 1},
    "POST /api/media/presign": {
        "groupId": "{gid}",
        "filename": "a.png",
        "mimeType": "image/png",
        "size": 100,
    },
    "POST /api/ai/smart-replies": {"groupId": "{gid}"},
    "POST /api/ai/typing-suggestions": {"groupId": "{gid}", "partialText": "hel"},
    "POST /api/ai/moderate-content": {"content": "hi"},
    "POST /api/ai/summarize": {"groupId": "{gid}"},
    "POST /api/ai/search": {"groupId": "{gid}", "query": "hi"},
    "POST /api/ai/feedback": {"requestId": "r1", "rating": "positive"},
}

# (method, path, body model); {gid}/{mid}/{other} are filled in. The group routes act
# on a group of their own, so that a fuzzed ownership transfer cannot end the others.
ROUTES: list[tuple[str, str, type[BaseModel]]] = [
    ("POST", "/api/groups", CreateGroup),
    ("PATCH", "/api/groups/{spare}", UpdateGroup),
    ("POST", "/api/groups/{spare}/members", AddMember),
    ("PATCH", "/api/groups/{spare}/members/user_bob", ChangeRole),
    ("POST", "/api/groups/{spare}/transfer-ownership", TransferOwnership),
    ("PATCH", "/api/me", UpdateMe),
    ("POST", "/api/messages", SendMessage),
    ("PATCH", "/api/messages/{mid}", EditMessageBody),
    ("POST", "/api/messages/read", MarkMessagesRead),
    ("POST", "/api/media/presign", PresignRequest),
    ("POST", "/api/ai/smart-replies", SmartRepliesRequest),
    ("POST", "/api/ai/typing-suggestions", TypingSuggestionsRequest),
    ("POST", "/api/ai/moderate-content", ModerateBody),
    ("POST", "/api/ai/summarize", SummarizeBody),
    ("POST", "/api/ai/search", SearchBody),
    ("POST", "/api/ai/feedback", RateSuggestion),
]

# --- strategies -------------------------------------------------------------------

# Emoji keys: real emoji (so some toggles succeed) and anything else (refused).
EMOJI = st.sampled_from(["👍", "❤️", "😂", "🎉", "a", "🙂" * 8, "__proto__", "a\x00", "$x"])
TEXT = st.text(max_size=40)
ODD_TEXT = st.sampled_from(
    ["", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "$gt", "__proto__", "a.b", "‮gnp",
     "😀" * 50, "x" * 5000, "\n\t ", "null", "{}", "ObjectId('0')"]
)  # fmt: skip
NUMBERS = st.sampled_from([0, -1, 1, 2**31, 2**63, 2**64 + 1, 10**30, -(10**30), 1e20, 0.5, -0.0])
SHALLOW = st.none() | st.booleans() | st.integers(-5, 5) | NUMBERS | TEXT | ODD_TEXT


def nested(depth: int) -> Any:
    value: Any = "deep"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


GARBAGE = st.one_of(
    SHALLOW,
    st.lists(SHALLOW, max_size=4),
    st.dictionaries(TEXT, SHALLOW, max_size=3),
    st.sampled_from([{"$ne": None}, {"$where": "1"}, [[]], nested(40), nested(200)]),
)


@dataclass(frozen=True)
class Ids:
    gid: str
    mid: str
    spare: str
    token: str


def id_values(ids: Ids, name: str = "") -> st.SearchStrategy[str]:
    """Mostly the real id a field names (so the call reaches the service), else others."""
    real = ids.mid if name.startswith(("message", "reply")) else ids.gid
    other = st.sampled_from(
        [ids.gid, ids.mid, ids.spare, ids.gid.upper(), "0" * 24, uuid.uuid4().hex[:24]]
    ) | st.text(alphabet="0123456789abcdefXYZ", min_size=23, max_size=25)
    return st.one_of(st.just(real), st.just(real), other)


def from_schema(schema: dict[str, Any], defs: dict[str, Any], name: str, ids: Ids) -> Any:
    """A strategy for one JSON-schema node (the subset pydantic emits for our models)."""
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].split("/")[-1]], defs, name, ids)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, defs, name, ids) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        lo = schema.get("minimum", -(2**63))
        hi = schema.get("maximum", 2**64)
        return st.integers(lo - 1, hi + 1) | st.sampled_from([lo, hi])
    if kind == "number":
        return st.floats(schema.get("minimum", -1e6), schema.get("maximum", 1e6))
    if kind == "array":
        item = from_schema(schema.get("items", {}), defs, name, ids)
        hi = schema.get("maxItems", 5)
        return st.lists(item, max_size=min(hi + 1, 8)) | st.lists(
            item, min_size=hi, max_size=hi + 1
        )
    if kind == "object":
        value = from_schema(schema.get("additionalProperties", {}), defs, name, ids)
        return st.dictionaries(id_values(ids), value, max_size=3)
    if kind == "string":
        if name == "emoji":
            return EMOJI | st.text(max_size=8)
        if name.endswith(("Id", "Ids", "To")) and name not in {"tempId", "requestId"}:
            return id_values(ids, name)
        if name == "token":
            return st.sampled_from([ids.token, ids.token[:-2], "a.b.c"]) | TEXT
        lo, hi = schema.get("minLength", 0), schema.get("maxLength", 200)
        alphabet = st.characters()
        return st.text(alphabet, min_size=lo, max_size=min(hi, 60)) | st.text(
            alphabet, min_size=max(hi - 1, 0), max_size=hi + 1
        )
    return GARBAGE


@st.composite
def payloads(draw: st.DrawFn, model: type[BaseModel] | None, ids: Ids, base: str) -> Any:
    """One in ten: any JSON at all; else a valid payload with one or two fields changed
    (drawn from the schema, garbage, or removed) or fields drawn from the schema alone."""
    mode = draw(st.integers(0, 9))
    if model is None or mode == 0:
        return draw(GARBAGE)
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    props: dict[str, Any] = schema.get("properties", {})
    if mode <= 6:
        out = fill(BASES[base], ids)
        changes = draw(st.sampled_from([1, 1, 2]))  # mostly one field, so the rest stays valid
        for name in draw(st.lists(st.sampled_from(sorted(props)), min_size=1, max_size=changes)):
            roll = draw(st.integers(0, 9))
            if roll == 0:
                out.pop(name, None)
            elif roll <= 2:
                out[name] = draw(GARBAGE)
            else:
                out[name] = draw(from_schema(props[name], defs, name, ids))
    else:
        required = set(schema.get("required", []))
        out = {}
        for name, prop in props.items():
            roll = draw(st.integers(0, 19))
            if roll < (1 if name in required else 8):
                continue  # missing
            if roll >= 18:
                out[name] = draw(GARBAGE)
            else:
                out[name] = draw(from_schema(prop, defs, name, ids))
    if draw(st.integers(0, 9)) == 0:
        out[draw(st.sampled_from(["extra", "senderId", "__proto__", "$set", ""]))] = "x"
    return out


def fill(template: dict[str, Any], ids: Ids) -> dict[str, Any]:
    values = {"{gid}": ids.gid, "{mid}": ids.mid, "{spare}": ids.spare, "{token}": ids.token}
    return {k: values.get(v, v) if isinstance(v, str) else v for k, v in template.items()}


def fuzz(cases: int) -> settings:
    return settings(
        max_examples=cases,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )


# --- the server -------------------------------------------------------------------


@dataclass
class Target:
    server: ChatServer
    alice: str
    ids: Ids
    a: EventClient
    b: EventClient


@pytest_asyncio.fixture(scope="module")
async def target(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Target]:
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    # AI requests are limited to 20/min per user by default; the fuzzer makes hundreds.
    srv = await start_server(
        mongo_uri=mongo_uri, db_name="fuzz", data_dir=data_dir, rate_ai_per_minute=1_000_000
    )
    try:
        alice = await srv.user("user_alice", first_name="Alice")
        await srv.user("user_bob", first_name="Bob")
        gid = await srv.group(alice, "room", memberIds=["user_bob"])
        spare = await srv.group(alice, "spare", memberIds=["user_bob"])
        a = await srv.client(alice)
        b = await srv.client("user_bob")
        ack = await a.call("send_message", {"groupId": gid, "content": "first"})
        assert ack["ok"] is True, ack
        yield Target(srv, alice, Ids(gid, ack["message"]["id"], spare, alice), a, b)
    finally:
        await srv.stop()


@pytest.mark.parametrize("event", list(EVENTS))
@fuzz(SOCKET_CASES)
@given(data=st.data())
async def test_fuzzed_socket_events_get_coded_answers(
    target: Target, event: str, data: st.DataObject
) -> None:
    payload = data.draw(payloads(EVENTS[event], target.ids, event), label="payload")
    ack = await target.a.call(event, payload, timeout=10)
    assert isinstance(ack, dict), ack
    if ack.get("ok") is not True:
        assert ack["ok"] is False, ack
        assert set(ack) == {"ok", "error"}, ack
        assert ack["error"]["code"] in CODES, (event, payload, ack)
    assert "Traceback" not in json.dumps(ack)
    assert target.a.sio.connected


@pytest.mark.parametrize(
    ("method", "path", "model"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
@fuzz(REST_CASES)
@given(data=st.data())
async def test_fuzzed_rest_bodies_get_coded_answers(
    target: Target, method: str, path: str, model: type[BaseModel], data: st.DataObject
) -> None:
    ids = target.ids
    payload = data.draw(payloads(model, ids, f"{method} {path}"), label="body")
    url = path.replace("{mid}", ids.mid).replace("{spare}", ids.spare)
    raw = json.dumps(payload)  # surrogates are escaped (\ud800), as a JS client sends them
    headers = {"Authorization": f"Bearer {target.alice}", "Content-Type": "application/json"}
    srv = target.server
    async with srv.http.request(method, srv.url + url, data=raw, headers=headers) as resp:
        text = await resp.text()
        status = resp.status
    assert status < 500, (method, url, payload, text[:500])
    body = json.loads(text)
    if status >= 400:
        assert body["success"] is False, body
        assert body["error"]["code"] in CODES, (method, url, payload, body)
    else:
        assert body["success"] is True, body
    assert "Traceback" not in text


async def test_the_fuzzed_server_still_serves(target: Target) -> None:
    """Runs last in this module: after all that, a normal exchange still works."""
    t = target
    text = f"still fine {uuid.uuid4().hex[:6]}"
    t.b.drain("new_message")
    ack = await t.a.call("send_message", {"groupId": t.ids.gid, "content": text})
    assert ack["ok"] is True, ack
    assert (await t.b.wait_for("new_message"))["message"]["content"] == text
    status, body = await t.server.request("GET", f"/api/messages/group/{t.ids.gid}", t.alice)
    assert status == 200, body
