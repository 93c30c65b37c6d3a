"""AsyncAPI 3.0 of the Socket.IO events, generated from the event models (protocol §7).

Client events come from contract/socket_events.py (payload model, ack reply), server
events from events.py (`Event`, `PAYLOADS`); every schema is pydantic's JSON Schema of
those types, so the document cannot drift from what the server validates and sends.
Operations are from the server's side: it `receive`s client events (with the ack as the
operation's reply) and `send`s server events.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from safechat import __version__
from safechat.contract.server_events import SERVER_EVENTS
from safechat.contract.socket_events import CLIENT_EVENTS, ClientEvent
from safechat.events import PAYLOADS, Event
from safechat.models.acks import AckError

REF = "#/components/schemas/{model}"
DESCRIPTION = """\
SafeChat's real-time API: Socket.IO v5 (Engine.IO 4) on `/socket.io/`, default
namespace, JSON payloads only. Authenticate in the handshake with `auth: {token}`
(or `?token=`, or `Authorization: Bearer`); a refused handshake fires `connect_error`
with `err.data = {code, message, timestamp}`.

Every client event takes one payload object and an optional ack callback, answered
with exactly one object: `{ok: true, ...result}` or `{ok: false, error: {code,
message, details?}}`; a refusal also goes to the event's error channel (`error`,
`message_error`, `group_error` or `ai_error`). For `VALIDATION_ERROR` from a model
check, `details` is `{errors: [{loc, msg, type}]}`. See docs/protocol.md.
"""
TAGS = {
    "connection": "Handshake identity, token renewal and error channels.",
    "messages": "Sending, editing, reactions, read receipts and catch-up.",
    "groups": "Live rooms and group membership changes.",
    "presence": "Online state, status and typing.",
    "ai": "Smart replies, typing suggestions and their ratings.",
}


class _Schemas(GenerateJsonSchema):
    """pydantic's JSON Schema without a title on every field (noise in the
    reference, and json-schema-to-typescript would name a type after each)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _schemas(
    inputs: list[tuple[str, JsonSchemaMode, Any]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One JSON Schema per key, sharing one set of definitions."""
    adapters = [(key, mode, TypeAdapter(tp)) for key, mode, tp in inputs]
    by_key, defs = TypeAdapter.json_schemas(adapters, ref_template=REF, schema_generator=_Schemas)
    return {key: schema for (key, _mode), schema in by_key.items()}, defs.get("$defs", {})


def _message(name: str, title: str, summary: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": "application/json",
        "payload": payload,
    }


def _channel(name: str, messages: list[str]) -> dict[str, Any]:
    refs = {m: {"$ref": f"#/components/messages/{m}"} for m in messages}
    return {"address": name, "messages": refs}


def _msg_ref(channel: str, message: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{channel}/messages/{message}"}


def _client_operation(event: ClientEvent) -> dict[str, Any]:
    emits = ", ".join(f"`{e.value}`" for e in event.emits)
    description = f"Refusals also go to `{event.channel.value}`."
    if emits:
        description += f" The server also sends {emits}."
    return {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{event.name}"},
        "summary": event.summary,
        "description": description,
        "tags": [{"name": event.tag}],
        "messages": [_msg_ref(event.name, event.name)],
        "reply": {
            "channel": {"$ref": f"#/channels/{event.name}"},
            "messages": [_msg_ref(event.name, f"{event.name}.ack")],
        },
    }


def _server_operation(event: Event, summary: str, tag: str) -> dict[str, Any]:
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{event.value}"},
        "summary": summary,
        "tags": [{"name": tag}],
        "messages": [_msg_ref(event.value, event.value)],
    }


def _payload(event: ClientEvent) -> tuple[JsonSchemaMode, Any]:
    return ("validation", event.payload) if event.payload else ("validation", Any)


def base_document() -> dict[str, Any]:
    """The document without its server entry's host: a constant of the code (no
    settings, no data), built once per app (~40 ms) by the route (routes/docs.py)."""
    inputs: list[tuple[str, JsonSchemaMode, Any]] = []
    for client in CLIENT_EVENTS:
        mode, tp = _payload(client)
        inputs.append((client.name, mode, tp))
        inputs.append((f"{client.name}.ack", "serialization", client.ack | AckError))
    for event in Event:
        inputs.append((event.value, "serialization", PAYLOADS[event]))
    schemas, defs = _schemas(inputs)

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for client in CLIENT_EVENTS:
        ack = f"{client.name}.ack"
        payload = schemas[client.name]
        if client.payload is None:
            payload = {"description": "Ignored: send nothing or {}."}
        messages[client.name] = _message(client.name, client.name, client.summary, payload)
        messages[ack] = _message(
            ack,
            f"{client.name} ack",
            "`{ok: true, ...result}`, or `{ok: false, error}` when refused.",
            schemas[ack],
        )
        channels[client.name] = _channel(client.name, [client.name, ack])
        operations[client.name] = _client_operation(client)
    for event in Event:
        # A new event without its entry still gets documented (tests/apidocs ask for one).
        summary, tag = SERVER_EVENTS.get(event, (f"The `{event.value}` event.", "connection"))
        messages[event.value] = _message(event.value, event.value, summary, schemas[event.value])
        channels[event.value] = _channel(event.value, [event.value])
        operations[event.value] = _server_operation(event, summary, tag)

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "SafeChat Socket.IO API",
            "version": __version__,
            "description": DESCRIPTION,
            "license": {"name": "MIT", "url": "https://opensource.org/license/mit"},
            "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        },
        "defaultContentType": "application/json",
        "servers": {
            "safechat": {
                "host": "localhost:3001",
                "protocol": "ws",
                "pathname": "/socket.io/",
                "description": "Socket.IO v5; the host is the one serving this document.",
                "security": [{"$ref": "#/components/securitySchemes/bearer"}],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": defs,
            "messages": messages,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An RS256 JWT in the handshake's `auth: {token}`.",
                }
            },
        },
    }


def asyncapi_document(
    host: str | None = None,
    protocol: Literal["ws", "wss"] = "ws",
    *,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The document; `host`/`protocol` name the server that serves it (default
    localhost:3001, what the committed copy in clients/typescript/contract says);
    `base`: a `base_document()` built earlier."""
    doc = copy.deepcopy(base if base is not None else base_document())
    server = {**doc["servers"]["safechat"], "protocol": protocol}
    if host is not None:
        server["host"] = host
    return {**doc, "servers": {"safechat": server}}
