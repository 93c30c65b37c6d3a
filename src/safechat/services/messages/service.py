"""MessageService: durable, ordered, idempotent sends; edits, deletes, reactions, reads,
history and sync. The one entry to messages for the edges.

It builds the focused parts and hands each call to its home: sending (sending.py, with
the batched writes of group_commit.py), changes to stored messages (changes.py), read
receipts (receipts.py), history and sync (history.py), threads and mentions
(threads.py), pins (pins.py); the checks they share and the AI steps around writes are in
checks.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safechat.models.message import HistoryQuery, MarkMessagesRead, SendMessage
from safechat.models.threads import MentionsQuery, RepliesQuery
from safechat.repositories.groups import GroupRepository
from safechat.repositories.mentions import MentionRepository
from safechat.repositories.messages import MessageRepository
from safechat.repositories.pins import PinRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.repositories.threads import ThreadRepository
from safechat.services.encryption import Encryptor
from safechat.services.groups.service import GroupService
from safechat.services.media.service import MediaService
from safechat.services.messages.changes import MessageChanges
from safechat.services.messages.checks import MessageChecks
from safechat.services.messages.group_commit import GroupCommit
from safechat.services.messages.history import MessageHistory
from safechat.services.messages.pins import MessagePins
from safechat.services.messages.receipts import MessageReceipts
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.messages.sending import MessageSending, SendResult
from safechat.services.messages.threads import MessageThreads
from safechat.services.ports import Clock, MessageHooks, Notifier
from safechat.services.users import UserService
from safechat.services.webhooks.events import WebhookEvents


class MessageService:
    def __init__(
        self,
        groups: GroupService,
        group_repo: GroupRepository,
        messages: MessageRepository,
        read_state: ReadStateRepository,
        users: UserService,
        encryptor: Encryptor,
        renderer: MessageRenderer,
        notifier: Notifier,
        clock: Clock,
        *,
        commit: GroupCommit,
        max_chars: int = 4000,
        max_reactions: int = 50,
        hooks: MessageHooks | None = None,
        media: MediaService | None = None,
        extras: ConversationRepos | None = None,
        webhooks: WebhookEvents | None = None,
    ) -> None:
        checks = MessageChecks(groups, group_repo, messages, max_chars=max_chars, hooks=hooks)
        self._sending = MessageSending(
            checks, groups, users, encryptor, renderer, notifier, commit, media
        )
        self._changes = MessageChanges(
            checks,
            messages,
            encryptor,
            renderer,
            notifier,
            clock,
            max_reactions=max_reactions,
            webhooks=webhooks,
        )
        self._receipts = MessageReceipts(checks, groups, messages, read_state, notifier, clock)
        self._history = MessageHistory(checks, groups, messages, renderer)
        # Threads, mentions and pins (built by the wiring; absent in some unit tests).
        self._threads: MessageThreads | None = None
        self._pins: MessagePins | None = None
        if extras is not None:
            self._threads = MessageThreads(
                checks, group_repo, messages, extras.threads, extras.mentions, renderer, clock
            )
            self._pins = MessagePins(
                checks, groups, messages, extras.pins, renderer, notifier, clock
            )

    # --- send (sending.py) ----------------------------------------------------

    async def send(
        self, user_id: str, body: SendMessage, *, origin_sid: str | None = None
    ) -> SendResult:
        return await self._sending.send(user_id, body, origin_sid=origin_sid)

    # --- edit / delete / react (changes.py) -----------------------------------

    async def edit(self, user_id: str, message_id: str, content: str) -> dict[str, Any]:
        return await self._changes.edit(user_id, message_id, content)

    async def history_of(self, user_id: str, message_id: str) -> list[dict[str, Any]]:
        return await self._changes.history_of(user_id, message_id)

    async def delete(
        self, user_id: str, message_id: str, group_id: str | None = None
    ) -> dict[str, Any]:
        deleted = await self._changes.delete(user_id, message_id, group_id)
        if self._pins is not None:  # a deleted message leaves the pins (after its event)
            await self._pins.drop_deleted(deleted["groupId"], deleted["messageId"])
        return deleted

    async def react(self, user_id: str, message_id: str, emoji: str) -> dict[str, Any]:
        return await self._changes.react(user_id, message_id, emoji)

    # --- reads (receipts.py) --------------------------------------------------

    async def mark_read(self, user_id: str, message_id: str, group_id: str) -> dict[str, Any]:
        return await self._receipts.mark_read(user_id, message_id, group_id)

    async def mark_many_read(self, user_id: str, body: MarkMessagesRead) -> dict[str, Any]:
        return await self._receipts.mark_many_read(user_id, body)

    # --- history and sync (history.py) ----------------------------------------

    async def history(self, user_id: str, group_id: str, q: HistoryQuery) -> dict[str, Any]:
        return await self._history.history(user_id, group_id, q)

    async def sync(self, user_id: str, targets: dict[str, int], limit: int) -> dict[str, Any]:
        return await self._history.sync(user_id, targets, limit)

    # --- threads, mentions, pins (threads.py, pins.py) --------------------------

    def _conversation(self) -> tuple[MessageThreads, MessagePins]:
        assert self._threads is not None, "built without extras"
        assert self._pins is not None, "built without extras"
        return self._threads, self._pins

    async def replies(self, user_id: str, message_id: str, q: RepliesQuery) -> dict[str, Any]:
        return await self._conversation()[0].replies(user_id, message_id, q)

    async def mentions(self, user_id: str, q: MentionsQuery) -> dict[str, Any]:
        return await self._conversation()[0].mentions(user_id, q)

    async def pin(self, user_id: str, message_id: str) -> dict[str, Any]:
        return await self._conversation()[1].pin(user_id, message_id)

    async def unpin(self, user_id: str, message_id: str) -> dict[str, Any]:
        return await self._conversation()[1].unpin(user_id, message_id)

    async def pins(self, user_id: str, group_id: str) -> dict[str, Any]:
        return await self._conversation()[1].list(user_id, group_id)


@dataclass(frozen=True, slots=True)
class ConversationRepos:
    """The stores of threads, mentions and pins."""

    mentions: MentionRepository
    threads: ThreadRepository
    pins: PinRepository
