"""The two SeqAllocators (services/ports.py), chosen by the wiring.

`AtomicSeqs`: one `findAndModify` per batch, `$inc lastSeq` filtered by the membership
of every sender: atomic in the database, so right with any number of nodes and any other
writer. Used with `MONGODB_URI`.

`LocalSeqs`: for a node that is its database's only writer (the embedded database is
this server's own child). A group's counter is loaded once from `groups.lastSeq` (and the
messages stored above it, in case the process died before its `lastSeq` write), then
advanced in memory; after a batch's insert, `stored` records it for this node's reads of
the group (repositories/group_writes.py), and `flush` (a background tick, and the
shutdown) writes every group's with one `$max` each in one round trip. Who may send comes from
a per-node cache of the group's members, dropped around every membership write this node
makes (repositories/group_writes.py), which are all the membership writes there are: a
member removed before a send arrives is refused, as by the atomic path.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from bson import ObjectId

from safechat.errors import ServiceUnavailable
from safechat.repositories.group_writes import GroupWrites
from safechat.repositories.groups import GroupRepository
from safechat.repositories.messages import MessageRepository

# Groups whose senders are kept; the least recently used are reloaded when needed.
MEMBERSHIP_CACHE = 4096
# Loads overlapped by a membership write of the same group are not used; give up after.
LOAD_ATTEMPTS = 5


class AtomicSeqs:
    def __init__(self, groups: GroupRepository) -> None:
        self._groups = groups

    async def reserve(
        self, group_id: ObjectId, count: int, now: datetime, senders: Sequence[str]
    ) -> int | None:
        return await self._groups.reserve_seqs(group_id, count, now, members=senders)

    async def may_send(self, group_id: ObjectId, senders: Sequence[str]) -> bool:
        return await self._groups.has_members(group_id, senders)

    async def stored(self, group_id: ObjectId, last_seq: int, now: datetime) -> None:
        return None  # the reservation itself was the durable write


class LocalSeqs:
    def __init__(
        self,
        groups: GroupRepository,
        messages: MessageRepository,
        writes: GroupWrites,
        *,
        capacity: int = MEMBERSHIP_CACHE,
    ) -> None:
        self._groups = groups
        self._messages = messages
        self._writes = writes
        self._capacity = capacity
        # group -> who may send (members not in sendBlocked), least recently used first.
        self._senders: OrderedDict[ObjectId, frozenset[str]] = OrderedDict()
        # group -> last seq handed out. Never dropped: this node is the only writer, and
        # a batch abandoned mid-write may still land, so a reload could hand seqs out twice.
        self._last: dict[ObjectId, int] = {}
        writes.subscribe(self._changed)

    async def reserve(
        self, group_id: ObjectId, count: int, now: datetime, senders: Sequence[str]
    ) -> int | None:
        if not await self.may_send(group_id, senders):
            return None
        # No await between the check and the advance: a membership write cannot interleave.
        last = self._last[group_id] + count
        self._last[group_id] = last
        return last

    async def may_send(self, group_id: ObjectId, senders: Sequence[str]) -> bool:
        allowed = self._senders.get(group_id)
        if allowed is None:
            allowed = await self._load(group_id)
            if allowed is None:
                return False
        else:
            self._senders.move_to_end(group_id)
        return all(s in allowed for s in senders)

    async def stored(self, group_id: ObjectId, last_seq: int, now: datetime) -> None:
        # Written by `flush`, coalesced; this node's group reads see it at once.
        unwritten = self._writes.unwritten_seqs
        if last_seq > unwritten.get(group_id, (0, now))[0]:
            unwritten[group_id] = (last_seq, now)

    async def flush(self) -> None:
        """Writes the groups' `lastSeq`s handed out since the last flush (a background
        tick and the shutdown). Losing them in a crash loses nothing: a reload also
        reads the seqs stored above `lastSeq`."""
        unwritten = self._writes.unwritten_seqs
        if not unwritten:
            return
        taken = dict(unwritten)
        await self._groups.advance_seqs(taken)
        for gid, value in taken.items():
            if unwritten.get(gid) == value:  # not advanced again meanwhile
                del unwritten[gid]

    async def _load(self, group_id: ObjectId) -> frozenset[str] | None:
        """Who may send in the group (None: it is gone), cached unless a membership
        write of this group started or ended meanwhile."""
        for _ in range(LOAD_ATTEMPTS):
            before = self._writes.generation(group_id)
            group = await self._groups.get(group_id)
            if group is None:
                return None
            if group_id not in self._last:
                above = await self._messages.highest_seq_after(group_id, group.last_seq)
                self._last.setdefault(group_id, max(group.last_seq, above))
            if self._writes.generation(group_id) != before:
                continue
            allowed = frozenset(m.user_id for m in group.members) - group.send_blocked
            self._senders[group_id] = allowed
            while len(self._senders) > self._capacity:
                self._senders.popitem(last=False)
            return allowed
        raise ServiceUnavailable("Group membership keeps changing; please retry")

    def _changed(self, group_id: ObjectId | None) -> None:
        if group_id is None:
            self._senders.clear()
        else:
            self._senders.pop(group_id, None)
