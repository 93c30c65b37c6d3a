"""Socket lifecycle rules: who is connected, sessions, rooms, token expiry.

`enforce_expiry(now, disconnect)` is the body of the token-expiry loop (scheduled by
services/tasks.py Background); the socket itself is ended by the edge's `disconnect`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import structlog

from safechat.errors import (
    AccessDenied,
    AuthError,
    PresenceFull,
    RateLimited,
    ServiceUnavailable,
    TokenExpired,
)
from safechat.events import AuthenticationSuccess, Event, GroupJoined, GroupLeft
from safechat.models.common import iso
from safechat.models.group import Group
from safechat.models.user import User
from safechat.repositories.sessions import SessionRepository
from safechat.services.auth import Claims, TokenVerifier
from safechat.services.groups.service import GroupService
from safechat.services.ports import Clock, Notifier, PresenceStore
from safechat.services.session_records import Device, SessionRecords
from safechat.services.users import UserService

log = structlog.get_logger("safechat.connections")


def device_type(user_agent: str | None) -> str:
    """mobile / desktop / web, from the User-Agent (docs/protocol.md §4, presence)."""
    ua = (user_agent or "").lower()
    if any(word in ua for word in ("mobile", "android", "iphone", "ipad")):
        return "mobile"
    if "electron" in ua:
        return "desktop"
    return "web"


@dataclass(slots=True)
class LiveSocket:
    sid: str
    user_id: str
    session_id: str
    expires_at: float | None
    device_type: str
    connected_at: datetime
    node_id: str = ""
    # Groups this socket said it is typing in (cleared on disconnect). None while there
    # are none: an empty set is 216 bytes on every idle connection.
    typing: set[str] | None = None
    last_activity: datetime | None = None
    # connected_at as the wire's string, made once: every heartbeat hands presence a new
    # info dict, and the string is shared by all of them (and by lastActivityAt while
    # the socket has done nothing) instead of two new ones per socket each time.
    connected_iso: str = field(default="", repr=False)
    # Device.key of the connect: its session record may be resumed by the same device.
    resume_key: int = 0

    def __post_init__(self) -> None:
        self.connected_iso = iso(self.connected_at) or ""  # never None for a datetime

    def touch(self, now: datetime) -> None:
        self.last_activity = now

    def typing_in(self) -> list[str]:
        return sorted(self.typing) if self.typing else []

    def is_typing(self, group_id: str) -> bool:
        return self.typing is not None and group_id in self.typing

    def started_typing(self, group_id: str) -> None:
        if self.typing is None:
            self.typing = set()
        self.typing.add(group_id)

    def stopped_typing(self, group_id: str) -> None:
        if self.typing is not None:
            self.typing.discard(group_id)
            if not self.typing:
                self.typing = None

    def presence_info(self) -> dict[str, Any]:
        active = self.last_activity or self.connected_at
        return {
            "node": self.node_id,
            "deviceType": self.device_type,
            "connectedAt": self.connected_iso,
            "lastActivity": active.timestamp(),
            "lastActivityAt": self.connected_iso if self.last_activity is None else iso(active),
        }


def expired(sockets: list[LiveSocket], now: float, grace_seconds: float) -> list[LiveSocket]:
    """Sockets whose token expired more than `grace_seconds` ago without a reauth."""
    return [s for s in sockets if s.expires_at is not None and now > s.expires_at + grace_seconds]


# Tells the client its token expired and ends the socket (the Socket.IO edge does it).
Disconnect = Callable[[LiveSocket], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Opened:
    """A connect's result: what the welcome sends comes from these reads, not new ones."""

    socket: LiveSocket
    user: User
    groups: list[Group]
    first_session: bool

    @property
    def group_ids(self) -> list[str]:
        return [g.gid for g in self.groups]


class ConnectionService:
    def __init__(
        self,
        verifier: TokenVerifier,
        users: UserService,
        groups: GroupService,
        presence: PresenceStore,
        sessions: SessionRepository,
        clock: Clock,
        node_id: str,
        *,
        notifier: Notifier,
        max_sockets_per_user: int = 20,
        reauth_grace_seconds: float = 1800.0,
        session_resume_seconds: float = 0.0,
        open_deadline_seconds: float | None = None,
    ) -> None:
        """`open_deadline_seconds`: one deadline for a connect's reads and writes, so that
        a database that stops answering refuses it within a client's timeout, however
        many database steps each wait out their own."""
        self._open_deadline = open_deadline_seconds
        self._verifier = verifier
        self._users = users
        self._groups = groups
        self._presence = presence
        self.sessions = SessionRecords(
            sessions, clock, node_id, seen=self._seen, resume_seconds=session_resume_seconds
        )
        self._clock = clock
        self._notify = notifier
        self.node_id = node_id
        self._max_sockets = max_sockets_per_user
        self._grace = reauth_grace_seconds
        self._live: dict[str, LiveSocket] = {}

    async def _seen(self, seen: list[tuple[str, datetime]]) -> None:
        await self._users.seen(seen)

    async def verify(self, token: object) -> Claims:
        return await self._verifier.verify(token)

    async def open(
        self, sid: str, claims: Claims, *, user_agent: str | None, ip: str | None
    ) -> Opened:
        """Reads the user and their groups once; writes only a changed profile and a
        session record no parked one continues (services/session_records.py)."""
        now = self._clock.now()
        kind = device_type(user_agent)
        device = Device(claims.sub, claims.session, kind, user_agent, ip)
        live = LiveSocket(
            sid=sid,
            user_id=claims.sub,
            session_id="",
            expires_at=claims.exp,
            device_type=kind,
            connected_at=now,
            node_id=self.node_id,
            resume_key=device.key,
        )
        # Reserve the slot first: counting and inserting in one step of the store
        # (shared by the nodes) is what keeps concurrent connects under the cap.
        try:
            first = await self._presence.add(
                claims.sub, sid, live.presence_info(), now.timestamp(), self._max_sockets
            )
        except PresenceFull:
            raise RateLimited(
                "connections",
                1.0,
                f"Too many connections for this user (at most {self._max_sockets})",
            ) from None
        try:
            async with asyncio.timeout(self._open_deadline):
                user, groups = await _both(
                    self._users.upsert_from_claims(claims), self._groups.member_groups(claims.sub)
                )
                live.session_id, _ = await self.sessions.open(device, now)
            await self._notify.enter_rooms(sid, claims.sub, [g.gid for g in groups])
        except TimeoutError:
            await self._release(live)
            raise ServiceUnavailable("The database is unavailable; please retry") from None
        except BaseException:
            await self._release(live)
            raise
        self._live[sid] = live
        return Opened(live, user, groups, first)

    async def _release(self, live: LiveSocket) -> None:
        """Gives back the slot (and session) of a connect that did not complete."""
        now = self._clock.now()
        try:
            await self._presence.remove(live.user_id, live.sid, now.timestamp())
            if live.session_id:
                await self.sessions.closed(
                    live.session_id, live.resume_key, now, user_id=live.user_id, last=False
                )
        except Exception:
            log.exception("connect_release_failed", sid=live.sid)

    async def send_identity(
        self, live: LiveSocket, opened: Opened | None = None
    ) -> AuthenticationSuccess:
        """`authentication_success` and `user_groups` to the socket: after connect from
        what the connect read (`opened`), on `authenticate` read again."""
        user = opened.user if opened is not None else await self._users.me(live.user_id)
        body: AuthenticationSuccess = {"user": user.profile(), "sessionId": live.session_id}
        await self._notify.to_socket(live.sid, Event.AUTHENTICATION_SUCCESS, body)
        if opened is not None:
            groups = await self._groups.summaries(live.user_id, opened.groups, shared=True)
        else:
            groups = await self._groups.mine(live.user_id)
        await self._notify.to_socket(live.sid, Event.USER_GROUPS, groups)
        return body

    async def join_room(self, live: LiveSocket, group_id: str) -> GroupJoined:
        """The socket joins a group's live room again (members only)."""
        group = await self._groups.require_member(group_id, live.user_id)
        await self._notify.join(live.sid, group.gid)
        return {
            "groupId": group.gid,
            "group": await self._groups.summary(live.user_id, group),
            "onlineMembers": await self._groups.online_members(group),
        }

    async def leave_room(self, live: LiveSocket, group_id: str) -> GroupLeft:
        """Leaves the live room only; membership stays (REST /leave ends membership)."""
        await self._notify.leave(live.sid, group_id)
        return {"groupId": group_id}

    async def announce_expired(self, live: LiveSocket) -> None:
        """`auth_expired` to a socket about to be disconnected for its stale token."""
        error = TokenExpired("Session token expired; reconnect with a fresh token")
        await self._notify.to_socket(live.sid, Event.AUTH_EXPIRED, error.to_dict())

    def get(self, sid: str) -> LiveSocket | None:
        return self._live.get(sid)

    def live(self) -> list[LiveSocket]:
        return list(self._live.values())

    async def reauth(self, sid: str, token: object) -> LiveSocket:
        live = self._live.get(sid)
        if live is None:
            raise AuthError("Not authenticated")
        claims = await self._verifier.verify(token)
        if claims.sub != live.user_id:
            raise AccessDenied("reauth must be for the same user")
        live.expires_at = claims.exp
        return live

    async def enforce_expiry(self, now: float, disconnect: Disconnect) -> int:
        """Ends the sockets whose token expired more than the grace period before `now`
        without a reauth; returns how many."""
        stale = expired(self.live(), now, self._grace)
        for live in stale:
            log.info("token_expired_disconnect", sid=live.sid, user_id=live.user_id)
            await disconnect(live)
        return len(stale)

    async def close(self, sid: str) -> tuple[LiveSocket, bool] | None:
        """Forget a socket; returns it and whether it was the user's last one."""
        live = self._live.pop(sid, None)
        if live is None:
            return None
        now = self._clock.now()
        last = await self._presence.remove(live.user_id, sid, now.timestamp())
        # The record ends, and a last socket's lastSeen is written, now or after the
        # resume window (not at all if the same device reconnects in time).
        await self.sessions.closed(
            live.session_id, live.resume_key, now, user_id=live.user_id, last=last
        )
        return live, last

    async def cleanup_stale(self) -> int:
        """Close sessions this node left open when it last stopped uncleanly."""
        return await self.sessions.end_node()


A = TypeVar("A")
B = TypeVar("B")


async def _both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Two independent reads at once; if one fails, the other is awaited before raising."""
    a, b = await asyncio.gather(first, second, return_exceptions=True)
    if isinstance(a, BaseException):
        raise a
    if isinstance(b, BaseException):
        raise b
    return a, b
