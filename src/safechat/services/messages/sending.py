"""Sending: validate -> durable write (batched per group, group_commit.py) -> announce.

Drafts are checked here (text, reply, media, moderation) and stored by the shared
GroupCommit; the group hears `new_message`, the sender `message_sent`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from safechat.errors import ValidationFailed
from safechat.events import Event, Mention, MessageSent, NewMessage, ThreadUpdated
from safechat.models.common import iso
from safechat.models.group import Group
from safechat.models.message import SendMessage, StoredMessage
from safechat.services.encryption import Encryptor
from safechat.services.groups.service import GroupService
from safechat.services.media.service import MediaService
from safechat.services.messages.checks import MessageChecks
from safechat.services.messages.drafts import ThreadState
from safechat.services.messages.group_commit import Draft, GroupCommit
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.ports import Notifier
from safechat.services.users import UserService


@dataclass(frozen=True, slots=True)
class SendResult:
    message: dict[str, Any]
    duplicate: bool


class MessageSending:
    def __init__(
        self,
        checks: MessageChecks,
        groups: GroupService,
        users: UserService,
        encryptor: Encryptor,
        renderer: MessageRenderer,
        notifier: Notifier,
        commit: GroupCommit,
        media: MediaService | None,
    ) -> None:
        self._checks = checks
        self._groups = groups
        self._users = users
        self._enc = encryptor
        self._renderer = renderer
        self._notify = notifier
        self._commit = commit  # shared, built by the wiring (safechat/wiring.py)
        self._media = media

    async def send(
        self, user_id: str, body: SendMessage, *, origin_sid: str | None = None
    ) -> SendResult:
        """validate -> durable write (batched per group) -> announce.

        The sender gets `message_sent {message, tempId}` (repeats too, so a client
        resolves its tempId either way): the sending socket (`origin_sid`), or for a
        REST send, which no socket made, every socket of the sender."""
        # No waiting between the event's arrival and its place in the group's queue (for
        # plain messages, with local moderation), so a sender's concurrent sends keep their
        # order; and none between the write and the emit (the batch warmed the sender's
        # summary), so new_message events leave this node in seq order.
        # One deadline for the whole send: a group read that waited out a database
        # timeout leaves the write only the rest of it (answered within a client's 10 s).
        arrived = self._commit.arrival()
        draft, group = await self._draft(user_id, body)
        stored = await self._commit.store(draft, arrived=arrived)
        if stored.duplicate:
            result = self._duplicate(stored.message, body)
            await self._sent(user_id, origin_sid, result.message, body.tempId)
            return result
        message = stored.message
        if draft.media is not None and self._media is not None:
            await self._media.attached(draft.media["mediaId"], message.id)
        wire = self._renderer.render_known(message, draft.text)
        event: NewMessage = {"message": wire, "sender": await self._users.summary(user_id)}
        await self._notify.to_group(wire["groupId"], Event.NEW_MESSAGE, event, skip_sid=origin_sid)
        await self._announce_extras(message, wire, stored.thread)
        self._checks.stored(group, message, draft.text)
        own = dict(wire)
        if body.tempId is not None:
            own["tempId"] = body.tempId
        await self._sent(user_id, origin_sid, own, body.tempId)
        return SendResult(own, duplicate=False)

    async def _announce_extras(
        self, message: StoredMessage, wire: dict[str, Any], thread: ThreadState | None
    ) -> None:
        """`mention` to each mentioned user but the sender; `thread_updated` to the room
        once per parent and batch (this send carries it when it was the batch's last reply)."""
        gid = wire["groupId"]
        for user in message.mentions:
            if user != message.sender_id:
                mention: Mention = {"message": wire, "groupId": gid}
                await self._notify.to_user(user, Event.MENTION, mention)
        if thread is not None:
            update: ThreadUpdated = {
                "messageId": str(thread.parent_id),
                "groupId": gid,
                "replyCount": thread.reply_count,
                "lastReplyAt": iso(thread.last_reply_at),
            }
            await self._notify.to_group(gid, Event.THREAD_UPDATED, update)

    async def _sent(
        self, user_id: str, origin_sid: str | None, own: dict[str, Any], temp_id: str | None
    ) -> None:
        event: MessageSent = {"message": own, "tempId": temp_id}
        if origin_sid is not None:
            await self._notify.to_socket(origin_sid, Event.MESSAGE_SENT, event)
        else:
            await self._notify.to_user(user_id, Event.MESSAGE_SENT, event)

    async def _draft(self, user_id: str, body: SendMessage) -> tuple[Draft, Group | None]:
        """Everything checked before the write, and the group when a check needed it.

        Membership is checked by the write itself (atomically with the seq reservation),
        except where a step needs the group first: a reply (only members may look up the
        replied-to message), media (the upload must be the sender's, to this group) and
        moderation by a remote provider (only if the group allows AI), and mentions (each
        must be a member)."""
        text = self._checks.check_text(body.content, required=body.type == "text")
        if body.type == "text" and body.mediaId is not None:
            raise ValidationFailed("mediaId goes with type 'image' or 'file'")
        if body.type != "text" and body.mediaId is None:
            raise ValidationFailed("Media messages need the mediaId of an upload")
        group_id = ObjectId(body.groupId)
        gid = str(group_id)
        needs_group = (
            body.replyTo is not None
            or bool(body.mentions)
            or body.type != "text"
            or (self._checks.hooks is not None and self._checks.hooks.needs_group)
        )
        group = await self._groups.require_member(gid, user_id) if needs_group else None
        mentions = list(body.mentions or [])
        if group is not None and mentions:
            check_mentions(group, mentions)
        reply_to = None
        if body.replyTo is not None:
            await self._checks.message_in_group(body.replyTo, gid)
            reply_to = ObjectId(body.replyTo)
        media = None
        if body.type != "text":
            if self._media is None:
                raise ValidationFailed("Media uploads are not enabled")
            assert body.mediaId is not None
            media = await self._media.for_message(user_id, gid, body.type, body.mediaId)
        moderation = await self._checks.screen(group, text)
        draft = Draft(
            sender_id=user_id,
            group_id=group_id,
            content=self._enc.encrypt(text, gid),
            text=text,
            type=body.type,
            temp_id=body.tempId,
            reply_to=reply_to,
            media=media,
            moderation=moderation,
            mentions=mentions,
        )
        return draft, group

    def _duplicate(self, existing: StoredMessage, body: SendMessage) -> SendResult:
        if str(existing.group_id) != str(ObjectId(body.groupId)):
            raise ValidationFailed("tempId was already used for another group")
        return SendResult(self._renderer.render(existing, temp_id=body.tempId), duplicate=True)


def check_mentions(group: Group, mentions: list[str]) -> None:
    """Every mentioned user must be a current member (checked when the message is
    drafted: someone removed while it is being written is still named in it)."""
    outside = [i for i, user in enumerate(mentions) if group.member(user) is None]
    if outside:
        raise ValidationFailed(
            "Only members of the group can be mentioned",
            details={
                "errors": [
                    {"loc": f"mentions.{i}", "msg": "not a member", "type": "value_error"}
                    for i in outside[:20]
                ]
            },
        )
