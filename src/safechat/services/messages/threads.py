"""Reading threads and mentions back: a parent's replies, a user's mentions."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from safechat.errors import MessageNotFound
from safechat.models.threads import MentionsQuery, RepliesQuery
from safechat.repositories.groups import GroupRepository
from safechat.repositories.mentions import MentionRepository
from safechat.repositories.messages import MessageRepository
from safechat.repositories.threads import ThreadRepository
from safechat.services.messages.checks import MessageChecks
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.ports import Clock

# Mentions of groups the user has left are skipped; a page reads a few more than it
# shows so that such skips rarely cost a second read.
OVERFETCH = 2


class MessageThreads:
    def __init__(
        self,
        checks: MessageChecks,
        group_repo: GroupRepository,
        messages: MessageRepository,
        threads: ThreadRepository,
        mentions: MentionRepository,
        renderer: MessageRenderer,
        clock: Clock,
    ) -> None:
        self._checks = checks
        self._group_repo = group_repo
        self._messages = messages
        self._threads = threads
        self._mentions = mentions
        self._renderer = renderer
        self._clock = clock

    async def replies(self, user_id: str, message_id: str, q: RepliesQuery) -> dict[str, Any]:
        """A thread, oldest first. Non-members get MESSAGE_NOT_FOUND (as for any message
        id of a group they are not in)."""
        group, parent = await self._checks.member_message(user_id, message_id)
        after_seq = 0
        if q.after is not None:
            after = await self._checks.message_in_group(q.after, group.gid)
            if after.reply_to != parent.id:
                raise MessageNotFound("That message is not a reply in this thread")
            after_seq = after.seq
        found = await self._threads.replies(parent.id, after_seq, q.limit + 1)
        has_more = len(found) > q.limit
        found = found[: q.limit]
        return {
            "messages": self._renderer.render_many(found),
            "hasMore": has_more,
            "nextCursor": str(found[-1].id) if has_more and found else None,
        }

    async def mentions(self, user_id: str, q: MentionsQuery) -> dict[str, Any]:
        """The user's mentions, newest first, in groups they are still a member of;
        deleted messages are shown deleted (as in history), so a page never shrinks."""
        member_of = set(await self._group_repo.ids_for_member(user_id))
        before = ObjectId(q.before) if q.before is not None else None
        picked: list[dict[str, Any]] = []
        exhausted = False
        while len(picked) <= q.limit and not exhausted:
            want = (q.limit + 1 - len(picked)) * OVERFETCH
            page = await self._mentions.newest(user_id, before, want, self._clock.now())
            exhausted = len(page) < want
            if page:
                before = page[-1]["messageId"]
            picked += [e for e in page if str(e["groupId"]) in member_of]
        has_more = len(picked) > q.limit
        picked = picked[: q.limit]
        stored = await self._messages.get_many([e["messageId"] for e in picked])
        out = [
            {"message": self._renderer.render(stored[e["messageId"]]), "groupId": str(e["groupId"])}
            for e in picked
            if e["messageId"] in stored
        ]
        return {
            "mentions": out,
            "hasMore": has_more,
            "nextCursor": str(picked[-1]["messageId"]) if has_more and picked else None,
        }
