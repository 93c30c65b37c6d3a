"""Group commit: concurrent sends to one group share one durable write (design.md §4).

Sends to a group queue up while that group's previous batch is being written; the
next batch takes everything queued, in arrival order: its seqs come from the SeqAllocator
(services/messages/seqs.py: an atomic `$inc` of `lastSeq` by N whose filter is also the
membership check of every sender, or, where this node is the database's only writer,
in memory with the check against a per-node membership cache), then one unordered
`insert_many`, then at once, when the batch has any, the mentioned users' mention seqs,
the mentions' insert and one `$inc` per thread parent (batch_extras.py). The senders'
read marks (and the local allocator's `lastSeq`) are written behind, coalesced on a
tick. Each send is answered only after its own insert returned, so nothing is
acknowledged before it is durable. Under light load a batch is one message and nothing
waits for a timer.

Reused tempIds are found without a query in the common case: this node remembers its
recent sends (repeats.py), and the unique (senderId, clientMessageId) index refuses the others at
insert, whose seq then gets a placeholder (**decision**: a retry this node does not
remember costs a deleted placeholder in history rather than a lookup on every send;
the embedded database cannot use that partial index, so such a lookup scans).

Guarantees kept from the one-at-a-time path: seqs follow arrival order on this node;
a reused tempId (earlier, or twice in one batch) gives back the stored message; a seq
whose message could not be stored is filled with a deleted placeholder, so seqs have
no gaps; one failing message does not fail the others in its batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog
from bson import ObjectId

from safechat.errors import (
    AccessDenied,
    ChatError,
    Conflict,
    GroupNotFound,
    ServiceUnavailable,
)
from safechat.models.message import StoredMessage
from safechat.repositories.groups import GroupRepository
from safechat.repositories.mentions import MentionRepository
from safechat.repositories.messages import MessageRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.repositories.threads import ThreadRepository
from safechat.services.messages.batch_extras import BatchExtras
from safechat.services.messages.drafts import Draft, Pending, Stored, new_message, placeholder
from safechat.services.messages.inserts import SharedInserts
from safechat.services.messages.repeats import RecentSends, merge_repeats
from safechat.services.messages.seqs import AtomicSeqs
from safechat.services.ports import Clock, SeqAllocator

__all__ = ["Draft", "GroupCommit", "Stored"]

log = structlog.get_logger(__name__)

MAX_BATCH = 256
# A sender refused by the atomic check is re-checked alone; membership can change
# again meanwhile, so the admission is retried a few times before giving up.
ADMIT_ATTEMPTS = 3
# Without a deadline a batch can take one database timeout per step (seq reservation,
# insert, placeholders) when the database dies halfway: past a client's ack timeout.
DEFAULT_DEADLINE_SECONDS = 7.5


class GroupCommit:
    """Built once per app by the wiring and shared by every send path; `close()` at
    shutdown cancels its writers (their sends fail with SERVICE_UNAVAILABLE)."""

    def __init__(
        self,
        group_repo: GroupRepository,
        messages: MessageRepository,
        read_state: ReadStateRepository,
        clock: Clock,
        *,
        prepare: Callable[[list[str]], Awaitable[None]] | None = None,
        mentions: MentionRepository | None = None,
        threads: ThreadRepository | None = None,
        max_batch: int = MAX_BATCH,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        webhooks: bool = False,
        seqs: SeqAllocator | None = None,
        marks_behind: bool = False,
        linger_seconds: float = 0.0,
    ) -> None:
        """`prepare(sender_ids)` runs after a batch is stored and before any of its sends
        resumes, so that they can go on to their announcement without waiting again.

        Every send is answered within `deadline_seconds` of its arrival: a batch still
        writing by then is abandoned and its sends get SERVICE_UNAVAILABLE (a retry with
        the same tempId finds what was stored; a reserved seq may stay a gap).

        `seqs` defaults to the atomic reservation (services/messages/seqs.py);
        `marks_behind` writes the senders' read marks after the answer, coalesced
        (ReadStateRepository.advance_behind), instead of before it; `linger_seconds`:
        inserts.py."""
        self._group_repo = group_repo
        self._seqs: SeqAllocator = seqs or AtomicSeqs(group_repo)
        self._messages = messages
        self._extras = BatchExtras(read_state, mentions, threads, marks_behind=marks_behind)
        self._clock = clock
        self._prepare = prepare
        self._max_batch = max_batch
        self._deadline = deadline_seconds
        self._webhooks = webhooks
        self._queues: dict[ObjectId, deque[Pending]] = {}
        self._writers: set[asyncio.Task[None]] = set()
        self._recent = RecentSends(messages)
        self._inserts = SharedInserts(messages, clock, linger_seconds=linger_seconds)
        self._closed = False

    def arrival(self) -> float:
        """The moment a send starts, for `store`'s deadline (this commit's clock)."""
        return self._clock.monotonic()

    async def store(self, draft: Draft, *, arrived: float | None = None) -> Stored:
        """Stores the message durably (or finds its earlier copy); raises ChatError.

        The deadline counts from `arrived` (`arrival()` when the send started, so that
        the reads that prepared the draft count too), else from now."""
        if self._closed:
            raise ServiceUnavailable("The server is shutting down")
        started = self._clock.monotonic() if arrived is None else arrived
        pending = Pending(draft, asyncio.get_running_loop().create_future(), started)
        queue = self._queues.get(draft.group_id)
        if queue is None:
            # No writer for this group yet: start one; it drains the queue, then leaves.
            queue = self._queues[draft.group_id] = deque()
            task = asyncio.create_task(self._drain(draft.group_id, queue))
            self._writers.add(task)
            task.add_done_callback(self._writers.discard)
        queue.append(pending)
        return await pending.future

    async def close(self) -> None:
        """Cancels the writers and waits for them; later sends are refused."""
        self._closed = True
        writers = list(self._writers)
        for task in writers:
            task.cancel()
        for task in writers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._inserts.close()

    async def _drain(self, group_id: ObjectId, queue: deque[Pending]) -> None:
        try:
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), self._max_batch))]
                now = self._clock.monotonic()
                # A send whose deadline has passed (it waited for reads, or in the queue)
                # is refused before anything is written for it: no seq spent.
                late = [p for p in batch if p.arrived + self._deadline <= now]
                for p in late:
                    p.fail(ServiceUnavailable("The database is not answering; please retry"))
                batch = [p for p in batch if not p.future.done()]
                if not batch:
                    continue
                left = min(p.arrived for p in batch) + self._deadline - now
                try:
                    async with asyncio.timeout(max(0.0, left)):
                        await self._write(group_id, batch)
                except BaseException as exc:
                    if isinstance(exc, TimeoutError):
                        # Overload, not a bug: a stack per batch would only add to the load.
                        log.warning("send_batch_timed_out", group_id=str(group_id), size=len(batch))
                    else:
                        log.exception("send_batch_failed", group_id=str(group_id), size=len(batch))
                    failure = exc if isinstance(exc, ChatError) else ServiceUnavailable()
                    if not isinstance(exc, ChatError):
                        # The database just failed (or timed out): the sends queued behind
                        # this batch would only wait for the same, so they fail now too and
                        # none waits out a second database timeout.
                        batch.extend(queue)
                        queue.clear()
                    for p in batch:
                        p.fail(failure)
                    if not isinstance(exc, Exception):
                        raise
        finally:
            del self._queues[group_id]
            for p in queue:  # only when cancelled (shutdown)
                p.fail(ServiceUnavailable("The server is shutting down"))

    # --- one batch ---------------------------------------------------------------

    async def _write(self, group_id: ObjectId, batch: list[Pending]) -> None:
        live = merge_repeats(batch)
        earlier = await self._recent.earlier(live)
        fresh = [p for p in live if p.draft.key not in earlier]
        now = self._clock.now()
        fresh, last_seq = await self._admit(group_id, live, fresh, now)
        for p in live:
            if p.future.done():  # refused by the membership check
                continue
            if (key := p.draft.key) is not None and key in earlier:
                p.succeed(earlier[key], duplicate=True)
        if not fresh:
            return
        messages = [
            new_message(p.draft, seq, now, hook=self._webhooks)
            for p, seq in zip(fresh, range(last_seq - len(fresh) + 1, last_seq + 1), strict=True)
        ]
        stored = await self._insert(fresh, messages, now)
        await self._stored(group_id, last_seq, now)
        # Read marks, mentions and thread counts: one wait, never failing a send.
        threads = await self._extras.write(group_id, stored, now)
        if self._prepare is not None:
            try:
                await self._prepare(list(dict.fromkeys(m.sender_id for m in stored)))
            except Exception:  # an optimisation only; the messages are stored
                log.warning("send_batch_prepare_failed", exc_info=True)
        stored_ids = {m.id for m in stored}
        for p, m in zip(fresh, messages, strict=True):
            if m.id in stored_ids:
                self._recent.remember(m)
                p.succeed(m, duplicate=False, thread=threads.get(m.id))

    async def _admit(
        self, group_id: ObjectId, live: list[Pending], fresh: list[Pending], now: datetime
    ) -> tuple[list[Pending], int]:
        """Reserve seqs for `fresh` while every sender in the batch is a member.

        When the atomic check refuses, the group is read once to tell who is not a member
        (or that the group is gone); their sends fail, the others try again.
        """
        for _ in range(ADMIT_ATTEMPTS):
            senders = list(dict.fromkeys(p.draft.sender_id for p in live if not p.future.done()))
            fresh = [p for p in fresh if not p.future.done()]
            if not senders:
                return [], 0
            if fresh:
                last = await self._seqs.reserve(group_id, len(fresh), now, senders)
                if last is not None:
                    return fresh, last
            elif await self._seqs.may_send(group_id, senders):
                return [], 0
            group = await self._group_repo.get(group_id)
            if group is None:  # the group is gone
                for p in live:
                    p.fail(GroupNotFound())
                return [], 0
            for p in live:
                if group.member(p.draft.sender_id) is None:
                    p.fail(AccessDenied("You are not a member of this group"))
                elif not group.may_send(p.draft.sender_id):  # blocked in a direct one (§8)
                    p.fail(AccessDenied("You cannot send messages in this conversation"))
        for p in live:
            p.fail(AccessDenied("Group membership changed while sending; please retry"))
        return [], 0

    async def _stored(self, group_id: ObjectId, last_seq: int, now: datetime) -> None:
        """The allocator's own write for the batch, if it has one; never fails a send
        (the messages are what is durable: a reload finds the seqs stored above)."""
        try:
            await self._seqs.stored(group_id, last_seq, now)
        except Exception:
            log.warning("send_batch_last_seq_failed", group_id=str(group_id), exc_info=True)

    async def _insert(
        self, fresh: list[Pending], messages: list[StoredMessage], now: datetime
    ) -> list[StoredMessage]:
        """Inserts the batch; fills the seqs of messages that were not stored."""
        try:
            failed = await self._inserts.insert_batch(messages)
        except Exception:
            log.warning("send_batch_insert_failed", size=len(messages), exc_info=True)
            failed = dict.fromkeys(range(len(messages)), False)
        if not failed:
            return messages
        await self._fill(fresh, messages, failed, now)
        return [m for i, m in enumerate(messages) if i not in failed]

    async def _fill(
        self,
        fresh: list[Pending],
        messages: list[StoredMessage],
        failed: dict[int, bool],
        now: datetime,
    ) -> None:
        placeholders = [placeholder(messages[i], now) for i in failed]
        try:
            # A placeholder refused for its seq means the message itself was stored
            # after all (the write failed only in its reply): then a retry finds it.
            await self._messages.insert_batch(placeholders)
        except Exception as exc:  # the database is failing; the gaps stay, sync tolerates them
            for i in failed:
                fresh[i].fail(ServiceUnavailable("Could not store the message; please retry"))
            log.warning("seq_gap_left", seqs=[messages[i].seq for i in failed], error=str(exc))
            return
        reused = [k for i, dup in failed.items() if dup and (k := fresh[i].draft.key)]
        # The same tempId raced in meanwhile (another group, or another node).
        found = await self._messages.by_client_ids(reused) if reused else {}
        for i, dup in failed.items():
            key = fresh[i].draft.key
            if dup and key in found:
                self._recent.remember(found[key])
                fresh[i].succeed(found[key], duplicate=True)
            elif dup:
                # Not a tempId repeat: the other unique key, one upload in one message.
                fresh[i].fail(
                    Conflict("That upload was already sent in another message")
                    if fresh[i].draft.media is not None
                    else Conflict("A conflicting message was stored at the same time")
                )
            else:
                fresh[i].fail(ServiceUnavailable("Could not store the message; please retry"))
