"""PresenceStore contract: the same answers from memory and from Redis."""

from __future__ import annotations

import asyncio

import pytest

from safechat.errors import PresenceFull
from tests.contract.conftest import TTL, Stores


async def test_first_and_last_socket(stores: Stores) -> None:
    p, now = stores.presence, stores.clock.now
    assert await p.add("alice", "s1", {"node": "n1", "deviceType": "web"}, now) is True
    assert await p.add("alice", "s2", {"node": "n1", "deviceType": "mobile"}, now) is False
    assert await p.online(["alice", "bob"], now) == {"alice"}
    assert set(await p.sessions("alice", now)) == {"s1", "s2"}
    assert (await p.sessions("alice", now))["s2"]["deviceType"] == "mobile"
    assert await p.remove("alice", "s1", now) is False
    assert await p.online(["alice"], now) == {"alice"}
    assert await p.remove("alice", "s2", now) is True
    assert await p.online(["alice"], now) == set()
    assert await p.sessions("alice", now) == {}


async def test_removing_an_unknown_socket_changes_nothing(stores: Stores) -> None:
    p, now = stores.presence, stores.clock.now
    assert await p.remove("nobody", "sx", now) is False
    await p.add("alice", "s1", {}, now)
    assert await p.remove("alice", "other", now) is False
    assert await p.online(["alice"], now) == {"alice"}


async def test_sockets_expire_without_heartbeat(stores: Stores) -> None:
    p, now = stores.presence, stores.clock.now
    await p.add("alice", "s1", {"node": "dead"}, now)
    await p.add("bob", "s2", {"node": "alive"}, now)
    later = now + TTL * 0.6
    await p.heartbeat([("bob", "s2", {"node": "alive"})], later)
    after = now + TTL + 1
    assert await p.online(["alice", "bob"], after) == {"bob"}
    assert await p.sessions("alice", after) == {}
    assert await p.expired_users(after) == ["alice"]
    # Announced once only, whichever node asks next.
    assert await stores.other_presence.expired_users(after) == []
    # A new socket after expiry is a first socket again.
    assert await p.add("alice", "s3", {}, after) is True


async def test_expired_users_is_claimed_by_one_node(stores: Stores) -> None:
    now = stores.clock.now
    for i in range(20):
        await stores.presence.add(f"u{i}", f"s{i}", {}, now)
    after = now + TTL + 1
    mine, theirs = await asyncio.gather(
        stores.presence.expired_users(after), stores.other_presence.expired_users(after)
    )
    assert sorted(mine + theirs) == sorted(f"u{i}" for i in range(20))
    assert not set(mine) & set(theirs)


async def test_heartbeat_recreates_lost_entries(stores: Stores) -> None:
    p, now = stores.presence, stores.clock.now
    await p.heartbeat([("carol", "s9", {"node": "n1", "lastActivity": 5})], now)
    assert await p.online(["carol"], now) == {"carol"}
    assert (await p.sessions("carol", now))["s9"]["lastActivity"] == 5


async def test_status_is_kept_while_online_and_dropped_after(stores: Stores) -> None:
    p, now = stores.presence, stores.clock.now
    await p.add("alice", "s1", {}, now)
    await p.set_status("alice", "away")
    assert await p.statuses(["alice", "bob"]) == {"alice": "away"}
    assert await stores.other_presence.statuses(["alice"]) == {"alice": "away"}
    await p.remove("alice", "s1", now)
    assert await p.statuses(["alice"]) == {}


async def test_purge_node_drops_only_that_nodes_sockets(stores: Stores) -> None:
    p, now = stores.presence, stores.clock.now
    await p.add("alice", "a1", {"node": "crashed"}, now)
    await p.add("bob", "b1", {"node": "crashed"}, now)
    await p.add("bob", "b2", {"node": "healthy"}, now)
    gone = await stores.other_presence.purge_node("crashed", now)
    assert gone == ["alice"]
    assert await p.online(["alice", "bob"], now) == {"bob"}
    assert set(await p.sessions("bob", now)) == {"b2"}


async def test_nodes_share_state(stores: Stores) -> None:
    now = stores.clock.now
    assert await stores.presence.add("alice", "s1", {"node": "A"}, now) is True
    assert await stores.other_presence.add("alice", "s2", {"node": "B"}, now) is False
    assert await stores.other_presence.online(["alice"], now) == {"alice"}
    assert await stores.presence.remove("alice", "s1", now) is False
    assert await stores.other_presence.remove("alice", "s2", now) is True


async def test_add_with_a_limit_refuses_past_it_atomically(stores: Stores) -> None:
    """Concurrent adds from two nodes: exactly `limit` recorded, the rest refused."""
    now, limit = stores.clock.now, 5

    async def add(i: int) -> bool:
        store = stores.presence if i % 2 else stores.other_presence
        try:
            await store.add("alice", f"s{i}", {"node": "A" if i % 2 else "B"}, now, limit)
        except PresenceFull as exc:
            limits.append(exc.limit)
            return False
        return True

    limits: list[int] = []
    accepted = await asyncio.gather(*(add(i) for i in range(40)))
    assert limits == [limit] * (40 - limit)
    assert sum(accepted) == limit
    live = await stores.presence.sessions("alice", now)
    assert set(live) == {f"s{i}" for i, ok in enumerate(accepted) if ok}
    assert await stores.other_presence.sessions("alice", now) == live
    # A refused add recorded nothing, also not in the node's local view.
    refused = accepted.index(False)
    assert await stores.presence.remove("alice", f"s{refused}", now) is False
    # Re-adding a live socket is no new socket; a freed slot can be taken again.
    kept = f"s{accepted.index(True)}"
    assert await stores.presence.add("alice", kept, {}, now, limit) is False
    await stores.presence.remove("alice", kept, now)
    assert await stores.other_presence.add("alice", "late", {}, now, limit) is False
    with pytest.raises(PresenceFull):
        await stores.presence.add("alice", "later", {}, now, limit)
    # Expired sockets do not count; nor do other users'.
    assert await stores.presence.add("bob", "b1", {}, now, 1) is True
    after = now + TTL + 1
    assert await stores.presence.add("alice", "fresh", {}, after, limit) is True
