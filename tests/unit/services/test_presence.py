"""PresenceService over the memory stores and a FakeClock: online/offline announcements,
statuses, and typing start, stop and auto-stop, with time moved by the test (no sleeping).
"""

from __future__ import annotations

from typing import Any

import pytest

from safechat.adapters.presence.memory import MemoryTyping
from safechat.errors import ChatError, ErrorCode
from safechat.models.common import iso
from safechat.models.group import Group
from safechat.services.connections import LiveSocket
from safechat.services.presence import PresenceService
from tests.helpers.fakes import Sent
from tests.unit.services.conftest import PRESENCE_TTL, World

TYPING = 5.0


class Room:
    """Alice and Bob share a group; Eve is in none of theirs."""

    def __init__(self, world: World) -> None:
        self.w = world
        for uid in ("alice", "bob", "eve"):
            world.user_repo.seed(uid, firstName=uid.title())
        self.group: Group = world.group_repo.seed("alice", "bob")
        self.gid = self.group.gid
        self.service: PresenceService = world.presence_service(typing_seconds=TYPING)
        self.alice = self.socket("alice")
        self.bob = self.socket("bob")
        # The stored profiles: typing events take the sender's summary from them.
        self.profiles = {
            user: world.user_repo.seed(user, firstName=user.title()).summary()
            for user in ("alice", "bob")
        }

    def socket(self, user: str, sid: str | None = None) -> LiveSocket:
        return LiveSocket(
            sid=sid or f"sid-{user}",
            user_id=user,
            session_id=f"ses-{user}",
            expires_at=None,
            device_type="web",
            connected_at=self.w.clock.now(),
            node_id="n1",
        )

    async def connect(self, live: LiveSocket) -> None:
        await self.w.presence_store.add(
            live.user_id, live.sid, live.presence_info(), self.w.clock.timestamp()
        )

    async def due(self, *local: LiveSocket, service: PresenceService | None = None) -> int:
        """One round of the auto-stop, at the fake clock's time."""
        return await (service or self.service).typing_due(self.w.clock.timestamp(), list(local))

    def sent(self, event: str) -> list[Sent]:
        return self.w.notifier.events(event)


@pytest.fixture
def room(world: World) -> Room:
    return Room(world)


async def refused(call: Any) -> ErrorCode:
    with pytest.raises(ChatError) as info:
        await call
    return info.value.code


# --- online / offline ---------------------------------------------------------------------


async def test_online_and_offline_are_announced_once_to_all_groups(room: Room) -> None:
    other = room.w.group_repo.seed("alice", name="other")
    await room.service.announce_online(room.alice, room.profiles["alice"], [room.gid, other.gid])
    online = room.sent("user_online")
    # One emit to the union of the rooms: a socket sharing both groups gets it once.
    assert [(s.to, s.target, s.skip_sid) for s in online] == [
        ("groups", f"{room.gid},{other.gid}", "sid-alice"),
    ]
    assert online[0].data == {"userId": "alice", "user": room.profiles["alice"], "status": "online"}
    room.w.clock.advance(42)
    await room.service.announce_offline("alice", [room.gid])
    (offline,) = room.sent("user_offline")
    assert offline.data == {"userId": "alice", "lastSeen": iso(room.w.clock.now())}


async def test_a_status_change_reaches_the_groups_and_the_users_other_devices(
    room: Room,
) -> None:
    await room.connect(room.alice)
    event = await room.service.change_status(room.alice, "away")
    assert event["status"] == "away"
    assert [(s.to, s.target) for s in room.sent("user_status_changed")] == [
        ("groups", f"{room.gid},user:alice"),
    ]
    users = await room.service.online_users("bob", room.gid)
    assert [(u["userId"], u["status"]) for u in users] == [("alice", "away")]


async def test_online_users_are_scoped_and_expire_without_a_heartbeat(room: Room) -> None:
    await room.connect(room.alice)
    await room.connect(room.bob)
    await room.connect(room.socket("eve"))
    assert [u["userId"] for u in await room.service.online_users("bob", room.gid)] == [
        "alice",
        "bob",
    ]
    assert [u["userId"] for u in await room.service.online_users("bob", None)] == [
        "alice",
        "bob",
    ]  # never Eve: she shares no group with Bob
    assert await refused(room.service.online_users("eve", room.gid)) is ErrorCode.ACCESS_DENIED
    room.w.clock.advance(PRESENCE_TTL + 1)
    assert await room.service.online_users("bob", room.gid) == []


async def test_a_dead_nodes_users_are_announced_offline_by_the_heartbeat(room: Room) -> None:
    await room.connect(room.alice)  # on a node that then died
    await room.connect(room.bob)
    room.w.clock.advance(PRESENCE_TTL - 1)
    assert await room.service.heartbeat([room.bob], room.w.clock.timestamp()) == []
    room.w.clock.advance(2)  # Alice's entry is past its TTL; Bob's was renewed
    gone = await room.service.heartbeat([room.bob], room.w.clock.timestamp())
    assert gone == ["alice"]
    (offline,) = room.sent("user_offline")
    assert (offline.target, offline.data["userId"]) == (room.gid, "alice")
    assert room.w.user_repo.docs["alice"]["lastSeen"] == room.w.clock.now()
    # Announced once.
    assert await room.service.heartbeat([room.bob], room.w.clock.timestamp()) == []


# --- typing -------------------------------------------------------------------------------


async def test_typing_start_is_announced_once_and_stop_once(room: Room) -> None:
    await room.service.typing_start(room.alice, room.gid, in_room=True)
    await room.service.typing_start(room.alice, room.gid, in_room=True)
    (typing,) = room.sent("user_typing")
    assert (typing.target, typing.skip_sid) == (room.gid, "sid-alice")
    assert typing.data == {"groupId": room.gid, "userId": "alice", "user": room.profiles["alice"]}
    assert room.alice.typing_in() == [room.gid]
    await room.service.typing_stop(room.alice, room.gid, in_room=True)
    await room.service.typing_stop(room.alice, room.gid, in_room=True)
    (stopped,) = room.sent("user_stopped_typing")
    assert stopped.data == {"groupId": room.gid, "userId": "alice"}
    assert room.alice.typing_in() == []


async def test_typing_outside_the_live_room_checks_membership(room: Room) -> None:
    eve = room.socket("eve")
    code = await refused(room.service.typing_start(eve, room.gid, in_room=False))
    assert code is ErrorCode.ACCESS_DENIED
    unknown = "0" * 24
    assert await refused(room.service.typing_start(eve, unknown, in_room=False)) is (
        ErrorCode.GROUP_NOT_FOUND
    )
    assert room.w.notifier.sent == []
    # In the room the socket's membership stands in for a database read.
    reads = room.w.group_repo.count("get")
    await room.service.typing_start(room.alice, room.gid, in_room=True)
    assert room.w.group_repo.count("get") == reads
    await room.service.typing_start(room.bob, room.gid, in_room=False)
    assert room.w.group_repo.count("get") == reads + 1
    assert len(room.sent("user_typing")) == 2


async def test_typing_stops_by_itself_at_its_deadline(room: Room) -> None:
    await room.service.typing_start(room.alice, room.gid, in_room=True)
    room.w.clock.advance(TYPING - 0.1)
    assert await room.due(room.alice, room.bob) == 0
    assert room.sent("user_stopped_typing") == []
    room.w.clock.advance(0.1)  # exactly at the deadline
    assert await room.due(room.alice, room.bob) == 1
    (stopped,) = room.sent("user_stopped_typing")
    assert (stopped.to, stopped.target, stopped.skip_sid) == ("group", room.gid, None)
    assert stopped.data == {"groupId": room.gid, "userId": "alice"}
    assert room.alice.typing_in() == []  # the local socket forgets it too
    # Announced once; a later start is announced again.
    room.w.clock.advance(60)
    assert await room.due(room.alice) == 0
    await room.service.typing_start(room.alice, room.gid, in_room=True)
    assert len(room.sent("user_typing")) == 2


async def test_a_repeated_start_pushes_the_deadline_back(room: Room) -> None:
    await room.service.typing_start(room.alice, room.gid, in_room=True)
    room.w.clock.advance(3)
    await room.service.typing_start(room.alice, room.gid, in_room=True)  # still typing
    room.w.clock.advance(3)  # past the first deadline, not the second
    assert await room.due(room.alice) == 0
    room.w.clock.advance(2)
    assert await room.due(room.alice) == 1
    assert len(room.sent("user_typing")) == 1


async def test_an_explicit_stop_leaves_nothing_for_the_auto_stop(room: Room) -> None:
    await room.service.typing_start(room.alice, room.gid, in_room=True)
    await room.service.typing_stop(room.alice, room.gid, in_room=True)
    room.w.clock.advance(TYPING * 2)
    assert await room.due(room.alice) == 0
    assert len(room.sent("user_stopped_typing")) == 1


async def test_each_auto_stop_is_announced_by_one_node(world: World) -> None:
    room = Room(world)
    shared = world.typing_store  # what Redis is to several nodes
    assert isinstance(shared, MemoryTyping)
    other_node = world.presence_service(typing_seconds=TYPING)
    await room.service.typing_start(room.alice, room.gid, in_room=True)
    await other_node.typing_start(room.bob, room.gid, in_room=True)
    room.w.clock.advance(TYPING)
    assert await room.due(room.bob, service=other_node) == 2
    assert await room.due(room.alice) == 0
    stops = room.sent("user_stopped_typing")
    assert sorted(s.data["userId"] for s in stops) == ["alice", "bob"]
    assert room.bob.typing_in() == []


async def test_a_closed_socket_stops_all_its_typing(room: Room) -> None:
    other = room.w.group_repo.seed("alice", "bob", name="other")
    await room.service.typing_start(room.alice, room.gid, in_room=True)
    await room.service.typing_start(room.alice, other.gid, in_room=True)
    await room.service.socket_closed(room.alice)
    stops = room.sent("user_stopped_typing")
    assert sorted(s.target for s in stops) == sorted([room.gid, other.gid])
    assert {s.skip_sid for s in stops} == {"sid-alice"}
    assert room.alice.typing_in() == []
    room.w.clock.advance(TYPING)
    assert await room.due(room.alice) == 0
