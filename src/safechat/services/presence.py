"""Presence and typing rules: who is online, with which status, and who is typing.

Typing is answered from memory and the shared TypingStore: the socket's room
membership stands in for a database membership check (see typing_start).
Timing logic takes `now` so tests drive it without sleeping: `tick(now, local)` is the
body of the presence loop (scheduled by services/tasks.py Background).
"""

from __future__ import annotations

from typing import Any

import structlog

from safechat.events import (
    Event,
    UserOffline,
    UserOnline,
    UserStatusChanged,
    UserStoppedTyping,
    UserTyping,
)
from safechat.models.common import iso
from safechat.services.connections import LiveSocket
from safechat.services.groups.service import GroupService
from safechat.services.ports import Clock, Notifier, PresenceStore, TypingStore
from safechat.services.users import UserService

log = structlog.get_logger("safechat.presence")

TYPING_SECONDS = 5.0
HEARTBEAT_SECONDS = 20.0  # a third of the default presence TTL (60 s)


class PresenceService:
    def __init__(
        self,
        store: PresenceStore,
        typing: TypingStore,
        groups: GroupService,
        users: UserService,
        notifier: Notifier,
        clock: Clock,
        *,
        typing_seconds: float = TYPING_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self._store = store
        self._typing = typing
        self._groups = groups
        self._users = users
        self._notify = notifier
        self._clock = clock
        self._typing_seconds = typing_seconds
        self._heartbeat_every = heartbeat_seconds
        self._next_beat = 0.0

    def _now(self) -> float:
        return self._clock.now().timestamp()

    # --- online / offline ---------------------------------------------------

    async def announce_online(
        self, live: LiveSocket, summary: dict[str, Any], group_ids: list[str]
    ) -> None:
        """`summary`: the user's, from the connect's read (a socket keeps no copy: it would
        cost every idle connection ~0.4 KiB, and would go stale)."""
        event: UserOnline = {"userId": live.user_id, "user": summary, "status": "online"}
        # Once per socket, however many of these groups it shares with the user (§7).
        await self._notify.to_groups(group_ids, Event.USER_ONLINE, event, skip_sid=live.sid)

    async def announce_offline(self, user_id: str, group_ids: list[str]) -> None:
        event: UserOffline = {"userId": user_id, "lastSeen": iso(self._clock.now())}
        await self._notify.to_groups(group_ids, Event.USER_OFFLINE, event)

    async def socket_closed(self, live: LiveSocket) -> None:
        """Every typing state of the socket ends with it (never a stuck indicator)."""
        for gid in live.typing_in():
            await self._stop_typing(gid, live.user_id, skip_sid=live.sid)
        live.typing = None

    async def change_status(self, live: LiveSocket, status: str) -> dict[str, Any]:
        await self._store.set_status(live.user_id, status)
        now = self._clock.now()
        event: UserStatusChanged = {"userId": live.user_id, "status": status, "lastSeen": iso(now)}
        groups = await self._groups.room_ids_for(live.user_id)
        await self._notify.to_groups(
            groups, Event.USER_STATUS_CHANGED, event, also_user=live.user_id
        )
        return dict(event)

    async def online_users(self, user_id: str, group_id: str | None) -> list[dict[str, Any]]:
        """Online users of one group, or of every group the caller shares (never all)."""
        if group_id is not None:
            group = await self._groups.require_member(group_id, user_id)
            candidates = [m.user_id for m in group.members]
        else:
            candidates = await self._groups.co_members(user_id)
        now = self._now()
        online = sorted(await self._store.online(candidates, now))
        statuses = await self._store.statuses(online)
        profiles = await self._users.summaries(online)
        out = []
        for uid in online:
            sessions = list((await self._store.sessions(uid, now)).values())
            latest = max(sessions, key=lambda s: s.get("lastActivity", 0), default={})
            out.append(
                {
                    "userId": uid,
                    "user": profiles[uid],
                    "status": statuses.get(uid, "online"),
                    "lastActivity": latest.get("lastActivityAt"),
                    "deviceType": latest.get("deviceType", "web"),
                }
            )
        return out

    # --- typing -------------------------------------------------------------

    def _in_room(self, live: LiveSocket, group_id: str, in_room: bool | None) -> bool:
        # Sockets are in a group's room exactly while their user is a member (rooms
        # follow membership changes), so typing needs no database read per event.
        return self._notify.in_group_room(live.sid, group_id) if in_room is None else in_room

    async def typing_start(
        self, live: LiveSocket, group_id: str, *, in_room: bool | None = None
    ) -> None:
        """`in_room` None: asks the Notifier whether the socket is in the group's room."""
        if not self._in_room(live, group_id, in_room):
            await self._groups.require_member(group_id, live.user_id)
        live.started_typing(group_id)
        deadline = self._now() + self._typing_seconds
        if await self._typing.start(group_id, live.user_id, deadline):
            summary = await self._users.summary(live.user_id)  # a per-node cache
            event: UserTyping = {"groupId": group_id, "userId": live.user_id, "user": summary}
            await self._notify.to_group(group_id, Event.USER_TYPING, event, skip_sid=live.sid)

    async def typing_stop(
        self, live: LiveSocket, group_id: str, *, in_room: bool | None = None
    ) -> None:
        if not live.is_typing(group_id) and not self._in_room(live, group_id, in_room):
            await self._groups.require_member(group_id, live.user_id)
        live.stopped_typing(group_id)
        await self._stop_typing(group_id, live.user_id, skip_sid=live.sid)

    async def _stop_typing(self, group_id: str, user_id: str, *, skip_sid: str | None) -> None:
        if await self._typing.stop(group_id, user_id):
            event: UserStoppedTyping = {"groupId": group_id, "userId": user_id}
            await self._notify.to_group(
                group_id, Event.USER_STOPPED_TYPING, event, skip_sid=skip_sid
            )

    async def typing_due(self, now: float, local: list[LiveSocket]) -> int:
        """Auto-stops typing past its deadline; each stop is announced by one node."""
        due = await self._typing.due(now)
        for gid, uid in due:
            for live in local:
                if live.user_id == uid:
                    live.stopped_typing(gid)
            stopped: UserStoppedTyping = {"groupId": gid, "userId": uid}
            await self._notify.to_group(gid, Event.USER_STOPPED_TYPING, stopped)
        return len(due)

    # --- heartbeat ----------------------------------------------------------

    async def tick(self, now: float, local: list[LiveSocket]) -> None:
        """One round of the presence loop: auto-stops typing past its deadline, and every
        `heartbeat_seconds` renews this node's sockets and expires dead nodes' ones."""
        await self.typing_due(now, local)
        if now >= self._next_beat:
            self._next_beat = now + self._heartbeat_every
            await self.heartbeat(local, now)

    async def heartbeat(self, local: list[LiveSocket], now: float) -> list[str]:
        """Renews this node's sockets, then announces users whose node died."""
        await self._store.heartbeat([(s.user_id, s.sid, s.presence_info()) for s in local], now)
        gone = await self._store.expired_users(now)
        for uid in gone:
            log.info("presence_expired", user_id=uid)
            await self._users.touch_last_seen(uid)
            await self.announce_offline(uid, await self._groups.room_ids_for(uid))
        return gone

    async def purge_node(self, node_id: str) -> list[str]:
        """At startup: this node's sockets from a previous run are gone."""
        gone = await self._store.purge_node(node_id, self._now())
        for uid in gone:
            await self.announce_offline(uid, await self._groups.room_ids_for(uid))
        return gone
