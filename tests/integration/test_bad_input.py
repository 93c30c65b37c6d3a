"""Bad input gets a clear error, and nothing is lost (protocol sections 2 and 6).

Malformed payloads of every shape, over Socket.IO and REST, get a well-formed
error with the protocol code, never echo the offending value, never a stack
trace, and never disturb the server or any other client.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safechat.container import SERVICES
from safechat.errors import ErrorCode
from tests.helpers.support import ChatServer, EventClient, fill_template, module_server

# A value that must never come back in an error (it could be someone's message text).
MARK = "SECRET-MARKER-9f2c"
OID_LIKE_BUT_NOT = "zz" * 12  # 24 characters, not hex
CODES = {c.value for c in ErrorCode}


@dataclass
class Stage:
    """Alice owns a group with Bob, and has one message in it."""

    server: ChatServer
    alice: str
    gid: str
    mid: str
    a: EventClient
    b: EventClient

    def fill(self, template: Any) -> Any:
        return fill_template(template, {"gid": self.gid, "mid": self.mid})


async def make_stage(server: ChatServer) -> Stage:
    alice = await server.user("user_alice", first_name="Alice")
    await server.user("user_bob", first_name="Bob")
    gid = await server.group(alice, "room", memberIds=["user_bob"])
    a = await server.client(alice)
    b = await server.client("user_bob")
    ack = await a.call("send_message", {"groupId": gid, "content": "first"})
    assert ack["ok"] is True, ack
    await b.wait_for("new_message")
    return Stage(server, alice, gid, ack["message"]["id"], a, b)


@pytest_asyncio.fixture(scope="module")
async def stage(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stage]:
    """One server for the socket tables, so the last test can prove it still works."""
    async with module_server(mongo_uri, tmp_path_factory.mktemp("bad_input") / "data") as srv:
        yield await make_stage(srv)


async def roundtrip_works(sender: EventClient, receiver: EventClient, gid: str) -> None:
    """A normal message still goes through, and the other member hears it."""
    text = f"still fine {uuid.uuid4().hex[:6]}"
    receiver.drain("new_message")
    ack = await sender.call("send_message", {"groupId": gid, "content": text})
    assert ack["ok"] is True, ack
    seen = await receiver.wait_for("new_message")
    assert seen["message"]["content"] == text


def assert_error_ack(ack: Any, code: str) -> dict[str, Any]:
    assert isinstance(ack, dict), ack
    assert ack["ok"] is False, ack
    assert set(ack) == {"ok", "error"}
    error = ack["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert set(error) <= {"code", "message", "details"}
    return dict(error)


def assert_error_event(payload: Any, code: str) -> None:
    assert isinstance(payload, dict)
    assert payload["code"] == code
    assert isinstance(payload["message"], str)
    assert payload["message"]
    assert isinstance(payload["timestamp"], str)
    assert payload["timestamp"].endswith("Z")


def assert_no_echo(*blobs: Any) -> None:
    for blob in blobs:
        text = json.dumps(blob, ensure_ascii=False)
        assert MARK not in text, text
        assert "Traceback" not in text


# --- Socket.IO: every client event, every bad shape ----------------------------

CHANNELS = {
    "send_message": "message_error",
    "edit_message": "message_error",
    "delete_message": "message_error",
    "react_message": "message_error",
    "mark_message_read": "message_error",
    "mark_messages_read": "message_error",
    "sync": "message_error",
    "join_group": "group_error",
    "leave_group": "group_error",
    "get_group_members": "group_error",
    "reauth": "error",
    "pin_message": "message_error",
    "unpin_message": "message_error",
}

# A payload each event would accept; "+unknown field" adds one to it.
VALID: dict[str, dict[str, Any]] = {
    "send_message": {"groupId": "{gid}", "content": "hello"},
    "edit_message": {"messageId": "{mid}", "content": "edited"},
    "delete_message": {"messageId": "{mid}"},
    "react_message": {"messageId": "{mid}", "emoji": "👍"},
    "mark_message_read": {"messageId": "{mid}", "groupId": "{gid}"},
    "mark_messages_read": {"groupId": "{gid}", "upToSeq": 1},
    "sync": {"groupId": "{gid}", "afterSeq": 0},
    "join_group": {"groupId": "{gid}"},
    "leave_group": {"groupId": "{gid}"},
    "get_group_members": {"groupId": "{gid}"},
    "reauth": {"token": "{token}"},
    "pin_message": {"messageId": "{mid}"},
    "unpin_message": {"messageId": "{mid}"},
}

# Shapes that are wrong for every event. A tuple is sent as several arguments.
SHAPES: list[tuple[str, Any]] = [
    ("list", [MARK]),
    ("list of object", [{"groupId": "{gid}"}]),
    ("string", MARK),
    ("number", 31337),
    ("float", 2.5),
    ("boolean", True),
    ("null", (None,)),
    ("no payload", None),
    ("empty object", {}),
    ("two arguments", ({"groupId": "{gid}"}, {"groupId": "{gid}"})),
    ("three arguments", (MARK, 1, None)),
]

V = "VALIDATION_ERROR"
TOO_LONG = "MESSAGE_TOO_LONG"

SPECIFIC: dict[str, list[tuple[str, Any, str]]] = {
    "send_message": [
        ("missing groupId", {"content": MARK}, V),
        ("groupId not an ObjectId", {"groupId": MARK, "content": "x"}, V),
        ("groupId 24 non-hex", {"groupId": OID_LIKE_BUT_NOT, "content": "x"}, V),
        ("groupId 23 hex", {"groupId": "a" * 23, "content": "x"}, V),
        ("groupId 25 hex", {"groupId": "a" * 25, "content": "x"}, V),
        ("groupId number", {"groupId": 5, "content": "x"}, V),
        ("groupId operator", {"groupId": {"$ne": None}, "content": "x"}, V),
        ("groupId list", {"groupId": ["{gid}"], "content": "x"}, V),
        ("content missing", {"groupId": "{gid}"}, V),
        ("content blank", {"groupId": "{gid}", "content": "   \n\t "}, V),
        ("content number", {"groupId": "{gid}", "content": 42}, V),
        ("content null", {"groupId": "{gid}", "content": None}, V),
        ("content list", {"groupId": "{gid}", "content": [MARK]}, V),
        ("content object", {"groupId": "{gid}", "content": {"text": MARK}}, V),
        ("content deeply nested", {"groupId": "{gid}", "content": [[[[[[[[[[MARK]]]]]]]]]]}, V),
        ("type system", {"groupId": "{gid}", "content": MARK, "type": "system"}, V),
        ("type unknown", {"groupId": "{gid}", "content": "x", "type": MARK}, V),
        ("type number", {"groupId": "{gid}", "content": "x", "type": 1}, V),
        ("image without media", {"groupId": "{gid}", "content": "x", "type": "image"}, V),
        ("tempId empty", {"groupId": "{gid}", "content": "x", "tempId": ""}, V),
        ("tempId too long", {"groupId": "{gid}", "content": "x", "tempId": MARK * 10}, V),
        ("tempId number", {"groupId": "{gid}", "content": "x", "tempId": 7}, V),
        ("replyTo not an ObjectId", {"groupId": "{gid}", "content": "x", "replyTo": MARK}, V),
        ("mediaId not an ObjectId", {"groupId": "{gid}", "content": "x", "mediaId": MARK}, V),
        ("content 4001 chars", {"groupId": "{gid}", "content": MARK + "x" * 4001}, TOO_LONG),
        ("content 4001 emoji", {"groupId": "{gid}", "content": "🙂" * 4001}, TOO_LONG),
        ("content 60 KB", {"groupId": "{gid}", "content": MARK + "y" * 60_000}, TOO_LONG),
        ("mentions a string", {"groupId": "{gid}", "content": "x", "mentions": MARK}, V),
        ("mentions object", {"groupId": "{gid}", "content": "x", "mentions": {MARK: 1}}, V),
        ("mention number", {"groupId": "{gid}", "content": "x", "mentions": [5]}, V),
        ("mention empty", {"groupId": "{gid}", "content": "x", "mentions": [""]}, V),
        ("mention operator", {"groupId": "{gid}", "content": "x", "mentions": [{"$ne": 1}]}, V),
        ("mention not a member", {"groupId": "{gid}", "content": "x", "mentions": [MARK]}, V),
        ("mentions repeated", {"groupId": "{gid}", "content": "x", "mentions": [MARK, MARK]}, V),
        (
            "51 mentions",
            {"groupId": "{gid}", "content": "x", "mentions": [f"{MARK}{i}" for i in range(51)]},
            V,
        ),
    ],
    "pin_message": [
        ("missing messageId", {}, V),
        ("messageId not an ObjectId", {"messageId": MARK}, V),
        ("messageId operator", {"messageId": {"$gt": ""}}, V),
        ("messageId number", {"messageId": 7}, V),
    ],
    "unpin_message": [
        ("missing messageId", {}, V),
        ("messageId not an ObjectId", {"messageId": MARK}, V),
        ("messageId list", {"messageId": ["{mid}"]}, V),
    ],
    "edit_message": [
        ("missing content", {"messageId": "{mid}"}, V),
        ("missing messageId", {"content": MARK}, V),
        ("messageId not an ObjectId", {"messageId": MARK, "content": "x"}, V),
        ("messageId number", {"messageId": 12, "content": "x"}, V),
        ("content number", {"messageId": "{mid}", "content": 5}, V),
        ("content list", {"messageId": "{mid}", "content": [MARK]}, V),
        ("content empty", {"messageId": "{mid}", "content": "  "}, V),
        ("content 4001 chars", {"messageId": "{mid}", "content": MARK + "x" * 4001}, TOO_LONG),
    ],
    "delete_message": [
        ("messageId not an ObjectId", {"messageId": MARK}, V),
        ("messageId operator", {"messageId": {"$gt": ""}}, V),
        ("groupId not an ObjectId", {"messageId": "{mid}", "groupId": MARK}, V),
        ("groupId number", {"messageId": "{mid}", "groupId": 5}, V),
    ],
    "react_message": [
        ("missing emoji", {"messageId": "{mid}"}, V),
        ("emoji empty", {"messageId": "{mid}", "emoji": ""}, V),
        ("emoji blank", {"messageId": "{mid}", "emoji": "   "}, V),
        ("emoji with a dot", {"messageId": "{mid}", "emoji": "a.b"}, V),
        ("emoji operator", {"messageId": "{mid}", "emoji": "$set"}, V),
        ("emoji too long", {"messageId": "{mid}", "emoji": MARK * 3}, V),
        ("emoji number", {"messageId": "{mid}", "emoji": 1}, V),
        ("emoji list", {"messageId": "{mid}", "emoji": [MARK]}, V),
        ("messageId not an ObjectId", {"messageId": MARK, "emoji": "👍"}, V),
    ],
    "mark_message_read": [
        ("missing groupId", {"messageId": "{mid}"}, V),
        ("missing messageId", {"groupId": "{gid}"}, V),
        ("groupId not an ObjectId", {"messageId": "{mid}", "groupId": MARK}, V),
        ("messageId number", {"messageId": 5, "groupId": "{gid}"}, V),
    ],
    "mark_messages_read": [
        ("neither ids nor seq", {"groupId": "{gid}"}, V),
        ("both ids and seq", {"groupId": "{gid}", "messageIds": ["{mid}"], "upToSeq": 1}, V),
        ("empty ids", {"groupId": "{gid}", "messageIds": []}, V),
        ("101 ids", {"groupId": "{gid}", "messageIds": ["{mid}"] * 101}, V),
        ("id not an ObjectId", {"groupId": "{gid}", "messageIds": [MARK]}, V),
        ("ids a string", {"groupId": "{gid}", "messageIds": MARK}, V),
        ("upToSeq negative", {"groupId": "{gid}", "upToSeq": -1}, V),
        ("upToSeq string", {"groupId": "{gid}", "upToSeq": "1"}, V),
        ("upToSeq float", {"groupId": "{gid}", "upToSeq": 1.5}, V),
        ("upToSeq boolean", {"groupId": "{gid}", "upToSeq": True}, V),
        ("missing groupId", {"upToSeq": 1}, V),
    ],
    "sync": [
        ("groupId without afterSeq", {"groupId": "{gid}"}, V),
        ("afterSeq without groupId", {"afterSeq": 0}, V),
        ("afterSeq negative", {"groupId": "{gid}", "afterSeq": -1}, V),
        ("afterSeq string", {"groupId": "{gid}", "afterSeq": "0"}, V),
        ("limit zero", {"groupId": "{gid}", "afterSeq": 0, "limit": 0}, V),
        ("limit 201", {"groupId": "{gid}", "afterSeq": 0, "limit": 201}, V),
        ("limit string", {"groupId": "{gid}", "afterSeq": 0, "limit": "10"}, V),
        ("groups empty", {"groups": {}}, V),
        ("groups bad key", {"groups": {MARK: 0}}, V),
        ("groups negative seq", {"groups": {"{gid}": -1}}, V),
        ("groups string seq", {"groups": {"{gid}": "0"}}, V),
        ("groups a list", {"groups": ["{gid}"]}, V),
        ("groups and groupId", {"groups": {"{gid}": 0}, "groupId": "{gid}", "afterSeq": 0}, V),
        ("groups and afterSeq", {"groups": {"{gid}": 0}, "afterSeq": 0}, V),
        ("groupId not an ObjectId", {"groupId": MARK, "afterSeq": 0}, V),
    ],
    "join_group": [
        ("groupId not an ObjectId", {"groupId": MARK}, V),
        ("groupId number", {"groupId": 5}, V),
        ("groupId null", {"groupId": None}, V),
        ("groupId operator", {"groupId": {"$gt": ""}}, V),
    ],
    "leave_group": [
        ("groupId not an ObjectId", {"groupId": MARK}, V),
        ("groupId list", {"groupId": ["{gid}"]}, V),
    ],
    "get_group_members": [
        ("groupId not an ObjectId", {"groupId": MARK}, V),
        ("groupId 24 non-hex", {"groupId": OID_LIKE_BUT_NOT}, V),
    ],
    "reauth": [
        ("token number", {"token": 5}, V),
        ("token list", {"token": [MARK]}, V),
        ("token null", {"token": None}, V),
        ("token garbage", {"token": MARK}, "INVALID_TOKEN"),
    ],
}


def _cases() -> list[Any]:
    out = []
    for event in CHANNELS:
        for label, payload in SHAPES:
            out.append(pytest.param(event, payload, V, id=f"{event}: {label}"))
        bad = {**VALID[event], "extra": MARK}
        out.append(pytest.param(event, bad, V, id=f"{event}: unknown field"))
        for label, payload, code in SPECIFIC[event]:
            out.append(pytest.param(event, payload, code, id=f"{event}: {label}"))
    return out


@pytest.mark.parametrize(("event", "payload", "code"), _cases())
async def test_bad_socket_payload_gets_an_error_ack_and_event(
    stage: Stage, event: str, payload: Any, code: str
) -> None:
    s = stage
    s.a.drain(CHANNELS[event])
    before = await s.server.app[SERVICES].database.db.messages.find().sort("_id").to_list()
    filled = s.fill(payload)
    if isinstance(filled, dict) and filled.get("token") == "{token}":
        filled["token"] = s.alice

    ack = await s.a.call(event, filled)

    error = assert_error_ack(ack, code)
    channel_event = await s.a.wait_for(CHANNELS[event])
    assert_error_event(channel_event, code)
    assert {k: v for k, v in channel_event.items() if k != "timestamp"} == error
    assert_no_echo(ack, channel_event)
    if code == V and "details" in error:
        for item in error["details"]["errors"]:
            assert set(item) == {"loc", "msg", "type"}
    after = await s.server.app[SERVICES].database.db.messages.find().sort("_id").to_list()
    assert after == before, "a refused event changed stored messages"
    assert s.a.sio.connected


UNKNOWN_EVENTS = [
    "no_such_event",
    "SEND_MESSAGE",
    "send_message ",
    "__proto__",
    "connect_error",
    "x" * 300,
]


@pytest.mark.parametrize("name", UNKNOWN_EVENTS, ids=[n[:20] for n in UNKNOWN_EVENTS])
async def test_unknown_event_gets_error_with_validation_error(stage: Stage, name: str) -> None:
    s = stage
    s.a.drain("error")
    ack = await s.a.call(name, {"groupId": s.gid, "content": MARK})
    error = assert_error_ack(ack, V)
    assert len(error["details"]["event"]) <= 64
    assert_error_event(await s.a.wait_for("error"), V)
    assert_no_echo(ack)
    # Without an ack callback the error event still arrives.
    await s.a.sio.emit(name, MARK)
    assert_error_event(await s.a.wait_for("error"), V)


RAW_PACKETS = [
    '42["send_message"',  # truncated JSON
    "42not json at all",
    "42[]",
    "42{}",
    '42"send_message"',
    "42[123]",
    "42[null]",
    '42[{"event":"send_message"}]',
    '421["send_message",' + "[" * 5000 + "]" * 5000 + "]",  # deeper than json can parse
    "4",
    "49",
    "2",
    "9zzz",
]


async def test_malformed_socket_packets_do_not_break_the_connection(stage: Stage) -> None:
    """Packets python-socketio cannot even decode are dropped; the socket keeps working."""
    s = stage
    for raw in RAW_PACKETS:
        await s.a.sio.eio.send(raw)
    await asyncio.sleep(0.2)
    assert s.a.sio.connected
    await roundtrip_works(s.a, s.b, s.gid)
    await roundtrip_works(s.b, s.a, s.gid)


async def test_forged_reserved_events_are_unknown_events(stage: Stage) -> None:
    """`connect`/`disconnect` are handshake events, never client events."""
    s = stage
    for name in ("connect", "disconnect"):
        s.a.drain("error")
        ack = await s.a.call(name, {"HTTP_AUTHORIZATION": "Bearer " + MARK})
        assert_error_ack(ack, V)
        assert_error_event(await s.a.wait_for("error"), V)
    await s.b.expect_none("user_offline", within=0.1)
    await roundtrip_works(s.a, s.b, s.gid)


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(["groupId", "content", "type", "tempId", "replyTo", "mediaId", "senderId"])


@st.composite
def send_payloads(draw: st.DrawFn) -> Any:
    """Arbitrary JSON; objects of real field names with arbitrary values; and valid
    sends with a field or two changed (so some succeed)."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(JSONISH)
    values = JSONISH | st.sampled_from(["{gid}", "{mid}", "hi", "text", "image"]) | st.text()
    changed = draw(st.dictionaries(FIELDS, values, max_size=5 if choice == 1 else 1))
    if choice == 1:
        return changed
    return {"groupId": "{gid}", "content": "hi", **changed}


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(payload=send_payloads())
async def test_arbitrary_send_message_payloads_get_well_formed_acks(
    stage: Stage, payload: Any
) -> None:
    s = stage
    ack = await s.a.call("send_message", s.fill(payload), timeout=5)
    assert isinstance(ack, dict), ack
    if ack["ok"] is True:
        assert set(ack) == {"ok", "message", "duplicate"}
        assert ack["message"]["groupId"] == s.gid
        assert ack["message"]["senderId"] == "user_alice"
        if not ack["duplicate"]:
            assert ack["message"]["content"] == s.fill(payload)["content"].strip()
    else:
        assert set(ack) == {"ok", "error"}
        assert ack["error"]["code"] in CODES
        assert ack["error"]["code"] != "INTERNAL_ERROR", ack
        assert isinstance(ack["error"]["message"], str)
    assert "Traceback" not in json.dumps(ack)
    assert s.a.sio.connected


async def test_after_all_that_other_clients_are_unaffected(stage: Stage) -> None:
    """Runs last in this module: the same server still serves everyone normally."""
    s = stage
    carol = await s.server.user("user_carol")
    status, body = await s.server.request(
        "POST", f"/api/groups/{s.gid}/members", s.alice, {"userId": "user_carol"}
    )
    assert status == 201, body
    c = await s.server.client(carol)
    await roundtrip_works(s.b, c, s.gid)
    await roundtrip_works(c, s.b, s.gid)
    await roundtrip_works(s.a, c, s.gid)
    assert s.a.sio.connected
    assert s.b.sio.connected
    # History is intact and gap-free despite everything thrown at the group.
    status, body = await s.server.request("GET", f"/api/messages/group/{s.gid}?limit=100", carol)
    assert status == 200
    seqs = [m["seq"] for m in body["messages"]]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


# --- frames over the 64 KB limit ----------------------------------------------


async def _wait_disconnected(c: EventClient, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while c.sio.connected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert not c.sio.connected, "the server kept a connection that sent an oversize frame"


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_oversize_frame_drops_only_that_connection(
    server: ChatServer, transport: str
) -> None:
    s = await make_stage(server)
    big = EventClient(server.url, s.alice)
    server.clients.append(big)
    await big.connect(transports=[transport])
    await big.wait_for("user_groups")
    assert server.settings.max_frame_bytes == 64 * 1024

    # Just under the limit: an ordinary MESSAGE_TOO_LONG, the connection stays.
    ack = await big.call("send_message", {"groupId": s.gid, "content": "x" * 60_000})
    assert_error_ack(ack, TOO_LONG)
    assert big.sio.connected

    # Over the limit: the server drops this connection, no handler runs.
    sid = big.sio.get_sid()
    assert sid is not None
    assert server.app[SERVICES].connections.get(sid) is not None
    await big.sio.emit("send_message", {"groupId": s.gid, "content": "x" * 70_000})
    await _wait_disconnected(big)
    await s.b.expect_none("new_message", within=0.1)
    assert server.app[SERVICES].connections.get(sid) is None

    # Everyone else carries on; Alice's other socket still works, and she can reconnect.
    assert s.a.sio.connected
    assert s.b.sio.connected
    await roundtrip_works(s.a, s.b, s.gid)
    await roundtrip_works(s.b, s.a, s.gid)
    again = await server.client(s.alice)
    await roundtrip_works(again, s.b, s.gid)


# --- REST ---------------------------------------------------------------------


def assert_rest_error(status: int, body: Any, want_status: int, code: str) -> None:
    assert status == want_status, body
    assert isinstance(body, dict), body
    assert body["success"] is False
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert set(body["error"]) <= {"code", "message", "details"}
    assert_no_echo(body)


async def raw_request(
    server: ChatServer, method: str, path: str, token: str | None, data: Any, **headers: str
) -> tuple[int, Any, str]:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with server.http.request(method, server.url + path, data=data, headers=headers) as resp:
        text = await resp.text()
        assert resp.content_type == "application/json", text[:200]
        assert "Traceback" not in text
        return resp.status, json.loads(text), text


BODY_ROUTES = [
    ("POST", "/api/messages"),
    ("POST", "/api/messages/read"),
    ("PATCH", "/api/messages/{mid}"),
    ("POST", "/api/groups"),
    ("PATCH", "/api/groups/{gid}"),
    ("POST", "/api/groups/{gid}/members"),
    ("PATCH", "/api/groups/{gid}/members/user_bob"),
    ("POST", "/api/groups/{gid}/transfer-ownership"),
    ("PATCH", "/api/me"),
    ("POST", "/api/v1/messages"),
]

BAD_BODIES: list[tuple[str, bytes, int, str]] = [
    ("invalid JSON", b'{"content": "' + MARK.encode() + b'"', 400, V),
    ("not JSON at all", MARK.encode(), 400, V),
    ("JSON array", b'[{"content": "x"}]', 400, V),
    ("JSON string", json.dumps(MARK).encode(), 400, V),
    ("JSON number", b"5", 400, V),
    ("JSON null", b"null", 400, V),
    ("invalid UTF-8", b'{"content": "\xff\xfe"}', 400, V),
    ("nested too deeply", b"[" * 100_000 + b"]" * 100_000, 400, V),
    ("unknown field", json.dumps({"extra": MARK}).encode(), 400, V),
    (
        "over 1 MB",
        json.dumps({"content": MARK + "x" * (1024 * 1024)}).encode(),
        413,
        "PAYLOAD_TOO_LARGE",
    ),
]


@pytest.mark.parametrize(
    ("label", "data", "status", "code"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
async def test_bad_rest_bodies_get_a_clear_error(
    server: ChatServer, label: str, data: bytes, status: int, code: str
) -> None:
    s = await make_stage(server)
    db = server.app[SERVICES].database.db
    before = (await db.messages.count_documents({}), await db.groups.find().to_list())
    for method, path in BODY_ROUTES:
        got, body, _ = await raw_request(
            server, method, s.fill(path), s.alice, data, **{"Content-Type": "application/json"}
        )
        assert_rest_error(got, body, status, code)
    assert (await db.messages.count_documents({}), await db.groups.find().to_list()) == before


async def test_oversize_rest_body_without_content_length_is_413(server: ChatServer) -> None:
    s = await make_stage(server)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"groupId": "' + s.gid.encode() + b'", "content": "'
        for _ in range(20):
            yield b"x" * 64 * 1024
        yield b'"}'

    status, body, _ = await raw_request(server, "POST", "/api/messages", s.alice, chunks())
    assert_rest_error(status, body, 413, "PAYLOAD_TOO_LARGE")
    assert await server.app[SERVICES].database.db.messages.count_documents({}) == 1


async def test_streamed_rest_body_under_the_limit_is_read_whole(server: ChatServer) -> None:
    """A chunked body arrives in pieces; the server must wait for all of them."""
    s = await make_stage(server)
    text = "z" * 3000

    async def chunks() -> AsyncIterator[bytes]:
        payload = json.dumps({"groupId": s.gid, "content": text, "tempId": "chunked"}).encode()
        for i in range(0, len(payload), 500):
            yield payload[i : i + 500]
            await asyncio.sleep(0.01)

    status, body, _ = await raw_request(server, "POST", "/api/messages", s.alice, chunks())
    assert status == 201, body
    assert body["message"]["content"] == text
    assert (await s.b.wait_for("new_message"))["message"]["content"] == text


WRONG_TYPES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/api/messages", {"groupId": "{gid}", "content": 5}),
    ("POST", "/api/messages", {"groupId": 5, "content": "x"}),
    ("POST", "/api/messages", {"groupId": "{gid}", "content": MARK, "type": "system"}),
    ("POST", "/api/messages", {"groupId": "{gid}"}),
    ("POST", "/api/messages", {"groupId": "{gid}", "content": "  "}),
    ("POST", "/api/messages/read", {"groupId": "{gid}", "upToSeq": "3"}),
    ("POST", "/api/messages/read", {"groupId": "{gid}", "messageIds": [MARK]}),
    ("POST", "/api/messages/read", {"groupId": "{gid}"}),
    ("PATCH", "/api/messages/{mid}", {"content": [MARK]}),
    ("POST", "/api/groups", {"name": 5}),
    ("POST", "/api/groups", {"name": ""}),
    ("POST", "/api/groups", {"name": "x", "isPrivate": "yes"}),
    ("POST", "/api/groups", {"name": "x", "memberIds": MARK}),
    ("POST", "/api/groups", {"name": "x", "memberIds": [5]}),
    ("POST", "/api/groups", {"name": MARK * 10}),
    ("PATCH", "/api/groups/{gid}", {"isPrivate": 1}),
    ("PATCH", "/api/groups/{gid}", {}),
    ("POST", "/api/groups/{gid}/members", {"userId": 5}),
    ("POST", "/api/groups/{gid}/members", {"userId": "user_bob", "role": "owner"}),
    ("PATCH", "/api/groups/{gid}/members/user_bob", {"role": MARK}),
    ("POST", "/api/groups/{gid}/transfer-ownership", {"userId": None}),
    ("PATCH", "/api/me", {"username": MARK + "!"}),
    ("PATCH", "/api/me", {"firstName": 5}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    WRONG_TYPES,
    ids=[f"{m} {p} {i}" for i, (m, p, _b) in enumerate(WRONG_TYPES)],
)
async def test_wrong_rest_field_types_are_400(
    server: ChatServer, method: str, path: str, body: dict[str, Any]
) -> None:
    s = await make_stage(server)
    db = server.app[SERVICES].database.db
    before = (await db.messages.find().to_list(), await db.groups.find().to_list())
    status, data = await server.request(method, s.fill(path), s.alice, s.fill(body))
    assert_rest_error(status, data, 400, V)
    assert (await db.messages.find().to_list(), await db.groups.find().to_list()) == before


BAD_IDS = [MARK, OID_LIKE_BUT_NOT, "a" * 23, "a" * 25, "%24ne", "null", "..%2F..%2Fetc"]
ID_ROUTES = [
    ("GET", "/api/groups/{id}", None),
    ("PATCH", "/api/groups/{id}", {"name": "x"}),
    ("DELETE", "/api/groups/{id}", None),
    ("POST", "/api/groups/{id}/join", None),
    ("POST", "/api/groups/{id}/leave", None),
    ("GET", "/api/groups/{id}/members", None),
    ("POST", "/api/groups/{id}/members", {"userId": "user_bob"}),
    ("PATCH", "/api/groups/{id}/members/user_bob", {"role": "admin"}),
    ("DELETE", "/api/groups/{id}/members/user_bob", None),
    ("POST", "/api/groups/{id}/transfer-ownership", {"userId": "user_bob"}),
    ("GET", "/api/messages/group/{id}", None),
    ("PATCH", "/api/messages/{id}", {"content": "x"}),
    ("GET", "/api/messages/{id}/history", None),
    ("DELETE", "/api/messages/{id}", None),
    ("GET", "/api/v1/groups/{id}", None),
]


@pytest.mark.parametrize("bad_id", BAD_IDS)
async def test_non_object_id_path_ids_are_400(server: ChatServer, bad_id: str) -> None:
    alice = await server.user("user_alice")
    for method, path, body in ID_ROUTES:
        url = path.replace("{id}", bad_id)
        status, data = await server.request(method, url, alice, body)
        assert status in (400, 404), (method, url, data)
        assert data["success"] is False
        assert data["error"]["code"] in (V, "NOT_FOUND"), (method, url, data)
        assert_no_echo(data)
        if "/" not in bad_id and "%2F" not in bad_id:
            assert (status, data["error"]["code"]) == (400, V), (method, url, data)


async def test_unknown_routes_and_methods_are_json_errors(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    for path, token in [
        ("/api/nope", alice),
        ("/api/v1/nope", alice),
        ("/api/groups/discover/extra/bits", alice),
        ("/nope", None),
        ("/api", None),
    ]:
        status, body, _ = await raw_request(server, "GET", path, token, None)
        assert_rest_error(status, body, 404, "NOT_FOUND")
    status, body, _ = await raw_request(server, "PUT", "/api/groups", alice, b"{}")
    assert status == 405
    assert body["success"] is False
    assert body["error"]["code"] == "NOT_FOUND"


BAD_QUERIES = [
    "limit=abc",
    "limit=0",
    "limit=-1",
    "limit=1000",
    "limit=101",
    "limit=1.5",
    f"limit={MARK}",
    f"before={MARK}",
    "after=123",
    "beforeSeq=-1",
    "afterSeq=abc",
    "before={mid}&afterSeq=1",
    "beforeSeq=1&afterSeq=1",
]


@pytest.mark.parametrize("query", BAD_QUERIES)
async def test_bad_history_query_params_are_400(server: ChatServer, query: str) -> None:
    s = await make_stage(server)
    status, body = await server.request(
        "GET", f"/api/messages/group/{s.gid}?{s.fill(query)}", s.alice
    )
    assert_rest_error(status, body, 400, V)


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "limit=1000", f"cursor={MARK}"])
async def test_bad_discover_query_params_are_400(server: ChatServer, query: str) -> None:
    alice = await server.user("user_alice")
    status, body = await server.request("GET", f"/api/groups/discover?{query}", alice)
    assert_rest_error(status, body, 400, V)


async def test_rest_still_serves_normally_after_bad_input(server: ChatServer) -> None:
    s = await make_stage(server)
    for data in (b"[" * 50_000, b"{", b"x" * (2 * 1024 * 1024)):
        status, _, _ = await raw_request(server, "POST", "/api/messages", s.alice, data)
        assert status in (400, 413)
    status, body = await server.request(
        "POST", "/api/messages", s.alice, {"groupId": s.gid, "content": "after the storm"}
    )
    assert status == 201, body
    assert (await s.b.wait_for("new_message"))["message"]["content"] == "after the storm"
    status, body = await server.request("GET", f"/api/messages/group/{s.gid}?limit=1", s.alice)
    assert status == 200
    assert body["messages"][0]["content"] == "after the storm"
    assert body["hasMore"] is True
