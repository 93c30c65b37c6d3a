"""What a user sees of groups: summaries (unread count, last message), discovery,
one group's view, its members and who of them is online."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from safechat.errors import AccessDenied
from safechat.models.group import DiscoverQuery, Group
from safechat.repositories.groups import GroupRepository
from safechat.repositories.messages import MessageRepository
from safechat.repositories.read_state import ReadStateRepository, UserGroupState
from safechat.services.groups.access import GroupAccess
from safechat.services.groups.latest import SharedLatest
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.ports import Clock, PresenceStore
from safechat.services.users import UserService


class GroupViews:
    def __init__(
        self,
        access: GroupAccess,
        groups: GroupRepository,
        messages: MessageRepository,
        read_state: ReadStateRepository,
        users: UserService,
        presence: PresenceStore,
        renderer: MessageRenderer,
        clock: Clock,
    ) -> None:
        self._access = access
        self._groups = groups
        self._messages = messages
        self._read_state = read_state
        self._users = users
        self._presence = presence
        self._renderer = renderer
        self._clock = clock
        self._shared_latest = SharedLatest(messages, clock)

    async def summaries(
        self, user_id: str, groups: list[Group], *, shared: bool = False
    ) -> list[dict[str, Any]]:
        """`shared`: newest messages from the connects' shared reads (groups/latest.py)."""
        ids = [g.id for g in groups]
        if not ids:
            return []
        states = await self._read_state.states_for_user(user_id, ids)
        source = self._shared_latest if shared else self._messages
        latest = await source.latest({g.id: g.last_seq for g in groups})
        peer_ids = {g.gid: p for g in groups if (p := g.peer_of(user_id)) is not None}
        peers: dict[str, dict[str, Any]] = {}
        if peer_ids:  # display data: the per-node summary cache (reconnects read no more)
            await self._users.warm(peer_ids.values())
            peers = {p: await self._users.summary(p) for p in set(peer_ids.values())}
        now = self._clock.now()
        out = []
        for g in groups:
            last = latest.get(g.gid)
            state = states.get(g.gid, UserGroupState())
            mark, mentions, mute = state.mark, state.unread_mentions, state.mute
            peer = peer_ids.get(g.gid)
            out.append(
                g.summary(
                    user_id,
                    unread_count=max(0, g.last_seq - mark),
                    unread_mentions=mentions,
                    last_message=self._renderer.render(last) if last else None,
                    muted=mute is not None and mute.at(now),
                    muted_until=mute.until if mute else None,
                    peer=peers[peer] if peer is not None else None,
                )
            )
        return out

    async def mine(self, user_id: str) -> list[dict[str, Any]]:
        return await self.summaries(user_id, await self._groups.for_member(user_id))

    async def summary(self, user_id: str, group: Group) -> dict[str, Any]:
        return (await self.summaries(user_id, [group]))[0]

    async def discover(self, query: DiscoverQuery) -> dict[str, Any]:
        cursor = ObjectId(query.cursor) if query.cursor else None
        found = await self._groups.discover(query.limit + 1, cursor, query.q)
        page = found[: query.limit]
        has_more = len(found) > query.limit
        return {
            "groups": [g.public_view() for g in page],
            "hasMore": has_more,
            "nextCursor": page[-1].gid if has_more and page else None,
        }

    async def view(self, user_id: str, group_id: str) -> dict[str, Any]:
        group = await self._access.get_active(group_id)
        if group.member(user_id) is None:
            if group.is_private:
                raise AccessDenied("You are not a member of this group")
            return group.public_view()
        view = await self.summary(user_id, group)
        view["members"] = [m.to_wire() for m in group.members]
        return view

    async def members(self, user_id: str, group_id: str) -> list[dict[str, Any]]:
        group = await self._access.require_member(group_id, user_id)
        ids = [m.user_id for m in group.members]
        profiles = await self._users.summaries(ids)
        online = await self._presence.online(ids, self._clock.now().timestamp())
        return [
            {**m.to_wire(), "user": profiles[m.user_id], "isOnline": m.user_id in online}
            for m in group.members
        ]

    async def online_members(self, group: Group) -> list[dict[str, Any]]:
        ids = [m.user_id for m in group.members]
        online = await self._presence.online(ids, self._clock.now().timestamp())
        present = [u for u in ids if u in online]
        profiles = await self._users.summaries(present)
        statuses = await self._presence.statuses(present)
        return [{**profiles[u], "status": statuses.get(u, "online")} for u in present]
