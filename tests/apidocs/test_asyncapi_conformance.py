"""Real acks and events match the AsyncAPI document, strictly: every client event is
sent to a real server, and every ack and every event the clients receive is validated
against the document's schema with unknown fields refused, so a field the server sends
but the document does not describe fails here."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from safechat.contract.asyncapi import asyncapi_document
from safechat.contract.socket_events import CLIENT_EVENTS
from tests.helpers.media import png_bytes, upload
from tests.helpers.support import ChatServer, EventClient, pair


def _strict(schema: Any) -> Any:
    """The schema with `additionalProperties: false` on every object that lists its
    properties and says nothing about others."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


class Contract:
    def __init__(self) -> None:
        doc = asyncapi_document()
        self.components = _strict(doc["components"])
        self.acks = {
            op_name: op["reply"]["messages"][0]["$ref"].rsplit("/", 1)[-1]
            for op_name, op in doc["operations"].items()
            if op["action"] == "receive"
        }
        self.checked: set[str] = set()

    def check(self, message: str, data: Any) -> None:
        schema = {
            "$ref": f"#/components/messages/{message}/payload",
            "components": self.components,
        }
        errors = [
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in Draft202012Validator(schema).iter_errors(data)
        ]
        assert not errors, f"{message} does not match the document: {errors[:5]}\n{data}"
        self.checked.add(message)

    async def call(self, client: EventClient, event: str, data: Any = None) -> Any:
        if data is not None and event in self.acks:
            self.check(event, data)  # the document accepts what the server accepts
        ack = await client.call(event, data)
        self.check(self.acks[event], ack)
        return ack

    async def refused(self, client: EventClient, event: str, data: Any) -> None:
        ack = await client.call(event, data)
        self.check(self.acks[event], ack)
        assert ack["ok"] is False, ack

    async def wait(self, client: EventClient, event: str) -> Any:
        data = await client.wait_for(event)
        self.check(event, data)
        return data

    def received(self, *clients: EventClient) -> None:
        for client in clients:
            for event, queue in client.events.items():
                while not queue.empty():
                    self.check(event, queue.get_nowait())


async def test_every_ack_and_event_matches_the_document(server: ChatServer) -> None:
    c = Contract()
    gid, a, b = await pair(server)
    await c.call(a, "authenticate", {})
    await c.call(a, "reauth", {"token": a.token})
    await c.call(a, "join_group", {"groupId": gid})
    await c.call(a, "get_group_members", {"groupId": gid})
    await c.call(a, "typing_start", {"groupId": gid})
    await c.wait(b, "user_typing")
    await c.call(a, "typing_stop", {"groupId": gid})
    await c.wait(b, "user_stopped_typing")
    sent = await c.call(a, "send_message", {"groupId": gid, "content": "hi", "tempId": "t1"})
    mid = sent["message"]["id"]
    await c.wait(b, "new_message")
    reply = await c.call(b, "send_message", {"groupId": gid, "content": "yo", "replyTo": mid})
    await c.call(a, "edit_message", {"messageId": mid, "content": "hello"})
    await c.call(b, "react_message", {"messageId": mid, "emoji": "👍"})
    await c.call(b, "mark_message_read", {"messageId": mid, "groupId": gid})
    await c.call(a, "mark_messages_read", {"groupId": gid, "messageIds": [reply["message"]["id"]]})
    await c.call(b, "mark_messages_read", {"groupId": gid, "upToSeq": 2})
    await c.call(b, "sync", {"groupId": gid, "afterSeq": 1})
    await c.call(b, "sync", {"groups": {gid: 0}, "limit": 5})
    await c.call(a, "get_online_users", {"groupId": gid})
    await c.call(a, "get_online_users")
    await c.call(a, "change_status", {"status": "away"})
    await c.wait(b, "user_status_changed")

    # A media message: its `media` object is part of the Message shape.
    status, up = await upload(
        server, a.token, gid, png_bytes(), filename="p.png", content_type="image/png"
    )
    assert status == 201, up
    media = {"groupId": gid, "type": "image", "mediaId": up["media"]["id"]}
    assert (await c.call(a, "send_message", media))["message"]["media"]["thumbnailUrl"]

    ai = await c.call(b, "request_smart_replies", {"groupId": gid})
    await c.wait(b, "smart_replies_complete")
    await c.call(b, "request_typing_suggestions", {"groupId": gid, "partialText": "hel"})
    await c.wait(b, "typing_suggestion")
    await c.call(b, "rate_ai_suggestion", {"requestId": ai["requestId"], "rating": "positive"})
    mention = {"groupId": gid, "content": "@bob", "mentions": ["user_bob"]}
    await c.call(a, "send_message", mention)
    await c.wait(b, "mention")
    await c.call(a, "pin_message", {"messageId": mid})
    await c.wait(b, "message_pinned")
    await c.call(a, "unpin_message", {"messageId": mid})
    await c.wait(b, "message_unpinned")
    await c.call(a, "delete_message", {"messageId": mid})
    await c.wait(b, "message_deleted")
    await c.call(a, "leave_group", {"groupId": gid})

    # Refusals: the error ack and each error channel.
    await c.refused(a, "send_message", {"groupId": gid, "content": ""})
    await c.refused(a, "join_group", {"groupId": "0" * 24})
    await c.refused(a, "request_smart_replies", {"groupId": "0" * 24})
    await c.refused(a, "change_status", {"status": "asleep"})
    assert (await a.call("no_such_event"))["ok"] is False

    await c.call(a, "join_group", {"groupId": gid})
    # Membership changes over REST reach the sockets as events.
    cc = await server.client(await server.user("user_carol"))
    members = f"/api/groups/{gid}/members"
    status, _ = await server.request("POST", members, a.token, {"userId": "user_carol"})
    assert status == 201
    await c.wait(cc, "group_added")
    status, _ = await server.request("PATCH", f"/api/groups/{gid}", a.token, {"name": "renamed"})
    assert status == 200
    await c.wait(cc, "group_updated")
    status, _ = await server.request("DELETE", f"{members}/user_carol", a.token)
    assert status == 200
    await c.wait(cc, "group_removed")
    await b.close()
    await c.wait(a, "user_offline")

    c.received(a, cc)
    # Everything but auth_expired (covered by the connection tests) was seen for real.
    every = set(c.components["messages"])
    unseen = every - c.checked - {"auth_expired"}
    assert unseen == set(), f"not exercised: {sorted(unseen)}"
    assert {e.name for e in CLIENT_EVENTS} <= c.checked
