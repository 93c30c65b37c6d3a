"""Pins (docs/protocol.md, "Mentions, threads and pins"): owners and admins pin, at most
50 per group (atomically), re-pinning is idempotent, the room hears each change and
`GET /api/groups/:id/pins` lists them."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

from bson import ObjectId

from safechat.container import SERVICES
from safechat.models.group import Group, Member, Role
from safechat.services.messages.pins import may_pin
from tests.helpers.support import ChatServer, EventClient


async def world(server: ChatServer) -> tuple[str, EventClient, EventClient, EventClient]:
    """Alice owns the group, Carol is an admin, Bob a member."""
    alice = await server.user("user_alice")
    await server.user("user_bob")
    await server.user("user_carol")
    gid = await server.group(alice, memberIds=["user_bob"])
    status, body = await server.request(
        "POST", f"/api/groups/{gid}/members", alice, {"userId": "user_carol", "role": "admin"}
    )
    assert status == 201, body
    return (
        gid,
        await server.client(alice),
        await server.client("user_bob"),
        await server.client("user_carol"),
    )


async def send(client: EventClient, gid: str, text: str) -> str:
    ack = await client.call("send_message", {"groupId": gid, "content": text})
    assert ack["ok"], ack
    return str(ack["message"]["id"])


async def test_pin_and_unpin_are_announced_and_listed(server: ChatServer) -> None:
    gid, a, b, c = await world(server)
    first = await send(b, gid, "first")
    second = await send(b, gid, "second")

    ack = await c.call("pin_message", {"messageId": first})
    assert ack["ok"], ack
    assert ack["messageId"] == first
    assert ack["groupId"] == gid
    assert ack["pinnedBy"] == "user_carol"
    assert ack["alreadyPinned"] is False
    for client in (a, b, c):
        heard = await client.wait_for("message_pinned")
        assert heard == {k: ack[k] for k in ("messageId", "groupId", "pinnedBy", "pinnedAt")}
    assert (await a.call("pin_message", {"messageId": second}))["ok"]
    await b.wait_for("message_pinned")

    status, body = await server.request("GET", f"/api/groups/{gid}/pins", b.token)
    assert status == 200, body
    assert [p["message"]["id"] for p in body["pins"]] == [second, first]
    assert [p["pinnedBy"] for p in body["pins"]] == ["user_alice", "user_carol"]
    assert body["pins"][1]["message"]["content"] == "first"

    # Re-pinning keeps the first pin and announces nothing.
    again = await a.call("pin_message", {"messageId": first})
    assert again["ok"]
    assert again["alreadyPinned"] is True
    assert again["pinnedBy"] == "user_carol"
    assert again["pinnedAt"] == ack["pinnedAt"]
    await b.expect_none("message_pinned", within=0.2)

    ack = await a.call("unpin_message", {"messageId": first})
    assert ack == {"ok": True, "messageId": first, "groupId": gid, "wasPinned": True}
    assert await b.wait_for("message_unpinned") == {"messageId": first, "groupId": gid}
    ack = await a.call("unpin_message", {"messageId": first})
    assert ack["wasPinned"] is False
    await b.expect_none("message_unpinned", within=0.2)
    status, body = await server.request("GET", f"/api/v1/groups/{gid}/pins", a.token)
    assert [p["message"]["id"] for p in body["pins"]] == [second]


async def test_deleting_a_pinned_message_unpins_it_and_deleted_ones_cannot_be_pinned(
    server: ChatServer,
) -> None:
    gid, a, b, _c = await world(server)
    mid = await send(b, gid, "soon gone")
    keep = await send(b, gid, "stays")
    assert (await a.call("pin_message", {"messageId": mid}))["ok"]
    assert (await a.call("pin_message", {"messageId": keep}))["ok"]
    b.drain("message_pinned")
    assert (await b.call("delete_message", {"messageId": mid}))["ok"]
    assert (await b.wait_for("message_deleted"))["messageId"] == mid
    assert await b.wait_for("message_unpinned") == {"messageId": mid, "groupId": gid}
    _status, body = await server.request("GET", f"/api/groups/{gid}/pins", a.token)
    assert [p["message"]["id"] for p in body["pins"]] == [keep]
    ack = await a.call("pin_message", {"messageId": mid})
    assert ack["error"]["code"] == "MESSAGE_NOT_FOUND"
    assert (await a.call("unpin_message", {"messageId": mid}))["wasPinned"] is False
    # Deleting a message that was never pinned announces no unpin.
    other = await send(b, gid, "unpinned")
    assert (await b.call("delete_message", {"messageId": other}))["ok"]
    await b.expect_none("message_unpinned", within=0.2)


async def test_at_most_50_pins_even_when_pinned_concurrently(server: ChatServer) -> None:
    gid, a, b, c = await world(server)
    ids = [await send(b, gid, f"m{i}") for i in range(60)]
    acks = await asyncio.gather(
        *((a if i % 2 else c).call("pin_message", {"messageId": mid}) for i, mid in enumerate(ids))
    )
    pinned = [x for x in acks if x["ok"]]
    refused = [x for x in acks if not x["ok"]]
    assert len(pinned) == 50
    assert len(refused) == 10
    for x in refused:
        assert x["error"]["code"] == "CONFLICT"
        assert x["error"]["details"] == {"maxPins": 50}
    doc = await server.app[SERVICES].database.db.pins.find_one({"_id": ObjectId(gid)})
    assert doc is not None
    assert len(doc["pins"]) == 50
    _status, body = await server.request("GET", f"/api/groups/{gid}/pins", b.token)
    assert len(body["pins"]) == 50
    # Unpinning frees a slot; a pinned message re-pinned at the cap is still idempotent.
    kept = pinned[0]["messageId"]
    assert (await a.call("pin_message", {"messageId": kept}))["alreadyPinned"] is True
    assert (await a.call("unpin_message", {"messageId": kept}))["ok"]
    other = next(i for i in ids if i not in {p["messageId"] for p in pinned})
    assert (await a.call("pin_message", {"messageId": other}))["ok"]


def _group() -> Group:
    now = datetime.now(UTC)
    members = [Member("u_owner", Role.OWNER, now), Member("u_member", Role.MEMBER, now)]
    return Group(ObjectId(), "g", None, True, True, "u_owner", members, 0, now, now)


def test_the_pin_rule_reads_the_groups_type() -> None:
    """Owner/admin in groups; either person in a direct conversation (the group's
    `kind`, as stored documents with `type: 'direct'` load)."""

    group = _group()
    assert may_pin(group, "u_owner")
    assert not may_pin(group, "u_member")
    assert not may_pin(group, "u_stranger")
    direct = dataclasses.replace(group, kind="direct")
    assert may_pin(direct, "u_member")
    assert not may_pin(direct, "u_stranger")


async def test_either_person_pins_in_a_direct_conversation(server: ChatServer) -> None:
    """Through the real server: a direct conversation loaded from the database lets both
    people pin and unpin (neither is owner or admin there)."""
    alice = await server.user("user_alice")
    bob = await server.user("user_bob")
    status, body = await server.request("POST", "/api/dms", alice, {"userId": "user_bob"})
    assert status == 201, body
    dm = body["group"]["id"]
    a, b = await server.client(alice), await server.client(bob)
    mid = await send(a, dm, "pin me")
    ack = await b.call("pin_message", {"messageId": mid})
    assert ack["ok"], ack
    assert ack["pinnedBy"] == "user_bob"
    assert (await a.wait_for("message_pinned"))["messageId"] == mid
    assert (await a.call("unpin_message", {"messageId": mid}))["wasPinned"] is True
    assert (await b.wait_for("message_unpinned"))["messageId"] == mid
