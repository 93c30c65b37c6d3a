"""/api/asyncapi.json: served publicly, valid for the official AsyncAPI parser, and
complete: every event the server handles or emits is in it, with the models' schemas."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter

from safechat.container import SIO
from safechat.contract.asyncapi import asyncapi_document
from safechat.contract.server_events import SERVER_EVENTS
from safechat.contract.socket_events import CLIENT_EVENTS
from safechat.events import PAYLOADS, Event
from tests.e2e.test_js_client import run
from tests.helpers.support import ChatServer, require_node, start_server

HERE = Path(__file__).resolve().parent
PARSER_PKG = HERE / "node_modules" / "@asyncapi" / "parser"
# Registered by the connection handlers for the handshake itself, not client events.
LIFECYCLE = {"connect", "disconnect"}


def _operations(doc: dict[str, object], action: str) -> set[str]:
    ops = doc["operations"]
    assert isinstance(ops, dict)
    return {name for name, op in ops.items() if op["action"] == action}


async def test_document_is_public_and_names_the_serving_host(server: ChatServer) -> None:
    status, doc = await server.request("GET", "/api/asyncapi.json")  # no token
    assert status == 200
    assert doc["asyncapi"] == "3.0.0"
    assert doc["servers"]["safechat"]["host"] == f"127.0.0.1:{server.settings.port}"


async def test_behind_a_proxy_the_server_entry_is_the_public_url(
    mongo_uri: str, db_name: str, tmp_path: Path
) -> None:
    srv = await start_server(
        mongo_uri=mongo_uri,
        db_name=db_name,
        data_dir=tmp_path / "data",
        public_url="https://chat.example.com",
    )
    try:
        status, doc = await srv.request("GET", "/api/asyncapi.json")
    finally:
        await srv.stop()
    assert status == 200
    server = doc["servers"]["safechat"]
    assert (server["protocol"], server["host"], server["pathname"]) == (
        "wss",
        "chat.example.com",
        "/socket.io/",
    )


async def test_every_handled_event_is_a_documented_client_operation(server: ChatServer) -> None:
    """The handlers registered on the real server's Socket.IO instance, both ways."""
    handled = set(server.app[SIO].handlers["/"]) - LIFECYCLE
    status, doc = await server.request("GET", "/api/asyncapi.json")
    assert status == 200
    received = _operations(doc, "receive")
    assert handled - received == set(), "handled but missing from the AsyncAPI document"
    assert received - handled == set(), "documented but not handled by the server"
    assert {e.name for e in CLIENT_EVENTS} == received


def test_every_server_event_is_a_documented_send_operation() -> None:
    """`Event` is every name the server emits (tests/unit/test_events.py holds src to it)."""
    doc = asyncapi_document()
    assert _operations(doc, "send") == {e.value for e in Event}
    assert set(SERVER_EVENTS) == set(Event), "summaries: contract/server_events.py"
    for event in Event:
        payload = doc["components"]["messages"][event.value]["payload"]
        if "$ref" in payload:
            payload = doc["components"]["schemas"][payload["$ref"].rsplit("/", 1)[-1]]
        expected = TypeAdapter(PAYLOADS[event]).json_schema(
            mode="serialization", ref_template="#/components/schemas/{model}"
        )
        # Same shape as the model's own schema (titles aside), definitions shared.
        assert _strip(payload) == _strip({k: v for k, v in expected.items() if k != "$defs"})


def test_client_operations_carry_payload_ack_and_error_ack() -> None:
    doc = asyncapi_document()
    schemas = doc["components"]["schemas"]
    for event in CLIENT_EVENTS:
        op = doc["operations"][event.name]
        assert op["messages"] == [{"$ref": f"#/channels/{event.name}/messages/{event.name}"}]
        reply = op["reply"]["messages"][0]["$ref"].rsplit("/", 1)[-1]
        ack = doc["components"]["messages"][reply]["payload"]
        refs = {branch["$ref"].rsplit("/", 1)[-1] for branch in ack["anyOf"]}
        assert "AckError" in refs, event.name
        for name in refs - {"AckError"}:
            assert schemas[name]["properties"]["ok"] == {"const": True, "type": "boolean"}
        if event.payload is not None:
            payload = doc["components"]["messages"][event.name]["payload"]
            assert payload == {"$ref": f"#/components/schemas/{event.payload.__name__}"}
            fields = set(schemas[event.payload.__name__]["properties"])
            assert fields == set(event.payload.model_fields), event.name
    error = schemas["AckError"]
    assert error["properties"]["ok"] == {"const": False, "type": "boolean"}
    body = schemas["ErrorBody"]
    assert body["required"] == ["code", "message"]
    assert "VALIDATION_ERROR" in body["properties"]["code"]["enum"]


def test_object_ids_carry_their_pattern() -> None:
    schemas = asyncapi_document()["components"]["schemas"]
    assert schemas["GroupRef"]["properties"]["groupId"]["pattern"] == "^[0-9a-fA-F]{24}$"


async def test_the_asyncapi_parser_accepts_the_document(tmp_path: Path) -> None:
    node = require_node(PARSER_PKG, "apidocs-deps")
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(asyncapi_document()))
    code, out, err = await run(
        node, str(HERE / "validate_asyncapi.mjs"), str(path), env={}, cwd=HERE, timeout=60
    )
    assert out.strip(), f"validate_asyncapi.mjs printed nothing (exit {code}): {err}"
    result = json.loads(out.strip().splitlines()[-1])
    assert code == 0, result["errors"]
    assert result["ok"], result["errors"]
    assert result["warnings"] == []
    expected = {f"receive {e.name}" for e in CLIENT_EVENTS} | {f"send {e.value}" for e in Event}
    assert set(result["operations"]) == expected


def _strip(schema: object) -> object:
    if isinstance(schema, dict):
        return {k: _strip(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_strip(v) for v in schema]
    return schema
