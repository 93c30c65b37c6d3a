"""Reading messages back: history pages (by cursor or seq) and the catch-up sync
after a reconnect. Nothing here writes."""

from __future__ import annotations

from typing import Any

from safechat.models.message import HistoryQuery, StoredMessage
from safechat.repositories.messages import MessageRepository
from safechat.services.groups.service import GroupService
from safechat.services.messages.checks import MessageChecks
from safechat.services.messages.rendering import MessageRenderer


class MessageHistory:
    def __init__(
        self,
        checks: MessageChecks,
        groups: GroupService,
        messages: MessageRepository,
        renderer: MessageRenderer,
    ) -> None:
        self._checks = checks
        self._groups = groups
        self._messages = messages
        self._renderer = renderer

    async def history(self, user_id: str, group_id: str, q: HistoryQuery) -> dict[str, Any]:
        group = await self._groups.require_member(group_id, user_id)
        before_seq, after_seq = q.beforeSeq, q.afterSeq
        if q.before is not None:
            before_seq = (await self._checks.message_in_group(q.before, group.gid)).seq
        if q.after is not None:
            after_seq = (await self._checks.message_in_group(q.after, group.gid)).seq
        found = await self._messages.page(
            group.id,
            q.limit + 1,
            last_seq=group.last_seq,
            before_seq=before_seq,
            after_seq=after_seq,
        )
        has_more = len(found) > q.limit
        if has_more:
            # Backwards pages drop the oldest extra one; forward pages the newest.
            found = found[:-1] if after_seq is not None else found[1:]
        cursor_msg = None
        if has_more and found:
            cursor_msg = found[-1] if after_seq is not None else found[0]
        return {
            "messages": self._renderer.render_many(found),
            "hasMore": has_more,
            "nextCursor": str(cursor_msg.id) if cursor_msg else None,
        }

    async def sync(self, user_id: str, targets: dict[str, int], limit: int) -> dict[str, Any]:
        """Catch-up after a reconnect: every message after `afterSeq` in seq order,
        plus earlier messages changed (edited, deleted, reacted) since the client's
        newest known message was created."""
        results: dict[str, Any] = {}
        for group_id, after_seq in targets.items():
            group = await self._groups.require_member(group_id, user_id)
            found = await self._messages.page(
                group.id, limit + 1, last_seq=group.last_seq, after_seq=after_seq
            )
            has_more = len(found) > limit
            updated: list[StoredMessage] = []
            if after_seq > 0:
                anchor = await self._messages.by_seq(group.id, after_seq)
                if anchor is not None:
                    updated = await self._messages.updated_since(
                        group.id, after_seq, anchor.created_at, limit
                    )
            results[group.gid] = {
                "messages": self._renderer.render_many(found[:limit]),
                "updated": self._renderer.render_many(updated),
                "hasMore": has_more,
                "lastSeq": group.last_seq,
            }
        return results
