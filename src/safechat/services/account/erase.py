"""DELETE /api/me: erases the caller's account on this deployment (protocol §8).

In this order, each step idempotent so a failed erasure can simply be asked again:
the user's sockets are disconnected (on every node); their reactions are withdrawn and
their messages deleted as `delete_message` deletes them (content, edit history and
embedding gone, `message_deleted` to the room); each membership ends (an owner hands
the group to the oldest admin, else the oldest member, else the group is deleted);
uploads are removed with their stored objects; read marks, connection records and the
user record go; one audit event without content stays. Signing in again creates a new,
empty user.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from bson import ObjectId

from safechat.errors import ChatError
from safechat.events import Event, MessageDeleted
from safechat.models.group import Group, Member, Role
from safechat.repositories.audit import AuditRepository
from safechat.repositories.blocks import BlockRepository
from safechat.repositories.groups import GroupRepository
from safechat.repositories.media import MediaRepository
from safechat.repositories.messages import MessageRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.repositories.sessions import SessionRepository
from safechat.services.account.export import PAGE, reactions_of
from safechat.services.groups.service import GroupService
from safechat.services.messages.service import MessageService
from safechat.services.ports import Clock, MediaStore, MessageHooks, Notifier
from safechat.services.users import UserService
from safechat.services.webhooks.events import WebhookEvents, message_change

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class Erased:
    """What an erasure removed (the response and the audit event: counts only)."""

    messages_deleted: int = 0
    reactions_removed: int = 0
    groups_left: int = 0
    groups_handed_over: int = 0
    groups_deleted: int = 0
    uploads_removed: int = 0

    def wire(self) -> dict[str, int]:
        return {
            "messagesDeleted": self.messages_deleted,
            "reactionsRemoved": self.reactions_removed,
            "groupsLeft": self.groups_left,
            "groupsHandedOver": self.groups_handed_over,
            "groupsDeleted": self.groups_deleted,
            "uploadsRemoved": self.uploads_removed,
        }


def successor(group: Group, leaving: str) -> Member | None:
    """Who owns the group after `leaving`: the oldest admin, else the oldest member."""
    others = [m for m in group.members if m.user_id != leaving]
    admins = [m for m in others if m.role is Role.ADMIN]
    pool = admins or others
    return min(pool, key=lambda m: (m.joined_at, m.user_id)) if pool else None


@dataclass(frozen=True, slots=True)
class EraseDeps:
    users: UserService
    groups: GroupService
    messages: MessageService
    group_repo: GroupRepository
    message_repo: MessageRepository
    read_state: ReadStateRepository
    media: MediaRepository
    store: MediaStore
    sessions: SessionRepository
    audit: AuditRepository
    notifier: Notifier
    clock: Clock
    hooks: MessageHooks | None = None
    webhooks: WebhookEvents | None = None
    blocks: BlockRepository | None = None


class AccountEraser:
    def __init__(self, deps: EraseDeps) -> None:
        self._d = deps

    async def erase(self, user_id: str) -> dict[str, int]:
        d = self._d
        await d.users.me(user_id)  # UserNotFound (404) when there is nothing to erase
        erased = Erased()
        await d.notifier.disconnect_user(user_id)
        groups = await d.group_repo.for_member(user_id)
        await self._withdraw_reactions(user_id, groups, erased)
        await self._delete_messages(user_id, erased)
        for group in groups:
            await self._end_membership(user_id, group, erased)
        await self._remove_uploads(user_id, erased)
        await d.read_state.delete_user(user_id)  # mutes live there too
        if d.blocks is not None:  # the blocks they made; others' blocks of them stay theirs
            await d.blocks.delete_by(user_id)
        await d.sessions.delete_user(user_id)
        await d.users.erase(user_id)
        counts = erased.wire()
        await d.audit.record("account.erased", user_id, d.clock.now(), details=counts)
        log.info("account_erased", **counts)
        return counts

    async def _withdraw_reactions(self, user_id: str, groups: list[Group], erased: Erased) -> None:
        ids = [g.id for g in groups]
        found = [r async for r in reactions_of(self._d.message_repo, user_id, ids)]
        for message_id, _, emoji in found:
            try:
                # As the user would (toggle off): the room sees the reaction go.
                await self._d.messages.react(user_id, message_id, emoji)
                erased.reactions_removed += 1
            except ChatError:
                continue  # the message went meanwhile: nothing left to withdraw

    async def _delete_messages(self, user_id: str, erased: Erased) -> None:
        d = self._d
        after: ObjectId | None = None
        while True:
            page = await d.message_repo.by_sender(user_id, after, PAGE)
            for message in page:
                if await d.message_repo.soft_delete(message.id, user_id, d.clock.now()) is None:
                    continue  # deleted meanwhile
                if d.hooks is not None:
                    await d.hooks.on_deleted(message.id)
                if d.webhooks is not None:
                    gid = str(message.group_id)
                    await d.webhooks.record(
                        "message.deleted", message_change(message, gid, user_id)
                    )
                event: MessageDeleted = {
                    "messageId": str(message.id),
                    "groupId": str(message.group_id),
                    "deletedBy": user_id,
                }
                await d.notifier.to_group(str(message.group_id), Event.MESSAGE_DELETED, event)
                erased.messages_deleted += 1
            if len(page) < PAGE:
                return
            after = page[-1].id

    async def _end_membership(self, user_id: str, group: Group, erased: Erased) -> None:
        d = self._d
        try:
            if group.is_direct:  # cannot be left otherwise; the other person keeps it
                await d.groups.leave_direct_for_erasure(user_id, group)
                erased.groups_left += 1
                return
            if group.owner_id == user_id:
                heir = successor(group, user_id)
                if heir is None:
                    await d.groups.delete(user_id, group.gid)
                    erased.groups_deleted += 1
                    return
                await d.groups.transfer(user_id, group.gid, heir.user_id)
                erased.groups_handed_over += 1
            await d.groups.leave(user_id, group.gid)
            erased.groups_left += 1
        except ChatError as exc:
            # Changed meanwhile (deleted, membership moved): the rest goes on; asking
            # again finishes what is left.
            log.warning("account_erase_group_skipped", group_id=group.gid, code=exc.code)

    async def _remove_uploads(self, user_id: str, erased: Erased) -> None:
        d = self._d
        after: ObjectId | None = None
        while True:
            page = await d.media.by_owner(user_id, after, PAGE)
            for media in page:
                await d.store.delete(media.keys())
                erased.uploads_removed += await d.media.remove(media.id)
            if len(page) < PAGE:
                return
            after = page[-1].id
