"""Socket lifecycle rules that need no server: device type, token expiry, the socket cap."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from safechat.adapters.presence.memory import MemoryPresence
from safechat.errors import RateLimited
from safechat.models.user import User
from safechat.services.auth import Claims
from safechat.services.connections import ConnectionService, LiveSocket, device_type, expired


@pytest.mark.parametrize(
    ("user_agent", "kind"),
    [
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
            "Chrome/124.0 Mobile Safari/537.36",
            "mobile",
        ),
        ("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36", "mobile"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15", "mobile"),
        ("Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15", "mobile"),
        ("okhttp/4.12 MOBILE", "mobile"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/537.36 "
            "SafeChatDesktop/1.2.0 Chrome/122.0 Electron/29.1.0 Safari/537.36",
            "desktop",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "Chrome/124.0 Safari/537.36",
            "web",
        ),
        ("python-socketio/5.x", "web"),
        ("", "web"),
        (None, "web"),
    ],
)
def test_device_type(user_agent: str | None, kind: str) -> None:
    assert device_type(user_agent) == kind


def test_mobile_wins_over_electron() -> None:
    assert device_type("Electron/29 Android Mobile") == "mobile"


def live(sid: str, expires_at: float | None) -> LiveSocket:
    return LiveSocket(
        sid=sid,
        user_id=f"user_{sid}",
        session_id=f"ses_{sid}",
        expires_at=expires_at,
        device_type="web",
        connected_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


def test_expired_respects_grace() -> None:
    exp = 1_000.0
    sockets = [live("a", exp)]
    assert expired(sockets, now=exp - 10, grace_seconds=60) == []  # still valid
    assert expired(sockets, now=exp + 30, grace_seconds=60) == []  # inside grace
    assert expired(sockets, now=exp + 60, grace_seconds=60) == []  # at the edge
    assert expired(sockets, now=exp + 60.5, grace_seconds=60) == sockets  # past grace


def test_expired_without_grace() -> None:
    sockets = [live("a", 500.0)]
    assert expired(sockets, now=500.0, grace_seconds=0) == []
    assert expired(sockets, now=500.001, grace_seconds=0) == sockets


def test_sockets_without_exp_never_expire() -> None:
    assert expired([live("a", None)], now=10**12, grace_seconds=0) == []


def test_expired_picks_only_the_stale_ones() -> None:
    a, b, c, d = live("a", 100.0), live("b", 1_000.0), live("c", None), live("d", 150.0)
    assert expired([a, b, c, d], now=200.0, grace_seconds=60) == [a]
    assert expired([a, b, c, d], now=211.0, grace_seconds=60) == [a, d]
    assert expired([], now=200.0, grace_seconds=60) == []


# --- the per-user socket cap, reserved in the presence store --------------------


class _Clock:
    def now(self) -> datetime:
        return datetime(2024, 1, 1, tzinfo=UTC)


class _Users:
    def __init__(self) -> None:
        self.fail = False

    async def upsert_from_claims(self, claims: Claims) -> User:
        if self.fail:
            raise RuntimeError("database away")
        return User(user_id=claims.sub)

    async def seen(self, seen: list[tuple[str, datetime]]) -> None:
        pass


class _Groups:
    async def room_ids_for(self, user_id: str) -> list[str]:
        return []

    async def member_groups(self, user_id: str) -> list[Any]:
        return []


class _Sessions:
    def __init__(self) -> None:
        self.open: set[str] = set()

    async def start(self, session_id: str, user_id: str, **_: Any) -> None:
        self.open.add(session_id)

    async def end(self, session_id: str, now: datetime) -> None:
        self.open.discard(session_id)


class _Notifier:
    async def enter_rooms(self, sid: str, user_id: str, group_ids: list[str]) -> None:
        pass


def service(users: _Users, presence: MemoryPresence, sessions: _Sessions) -> ConnectionService:
    return ConnectionService(
        cast(Any, None),
        cast(Any, users),
        cast(Any, _Groups()),
        presence,
        cast(Any, sessions),
        _Clock(),
        "node-1",
        notifier=cast(Any, _Notifier()),
        max_sockets_per_user=2,
    )


async def test_a_failed_open_gives_its_slot_back() -> None:
    users, presence, sessions = _Users(), MemoryPresence(30.0), _Sessions()
    conns = service(users, presence, sessions)
    now = _Clock().now().timestamp()
    claims = Claims(sub="user_a", exp=None)
    await conns.open("s1", claims, user_agent=None, ip=None)
    users.fail = True
    with pytest.raises(RuntimeError):
        await conns.open("s2", claims, user_agent=None, ip=None)
    assert set(await presence.sessions("user_a", now)) == {"s1"}
    users.fail = False
    await conns.open("s3", claims, user_agent=None, ip=None)
    with pytest.raises(RateLimited):
        await conns.open("s4", claims, user_agent=None, ip=None)
    assert set(await presence.sessions("user_a", now)) == {"s1", "s3"}
    assert len(sessions.open) == 2
    assert [s.sid for s in conns.live()] == ["s1", "s3"]


def test_presence_info_and_typing_state_of_a_socket() -> None:
    socket = live("a", None)
    info = socket.presence_info()
    assert info["connectedAt"] == info["lastActivityAt"] == "2024-01-01T00:00:00.000Z"
    assert info["lastActivity"] == datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    # Heartbeats share the one string rather than making new ones per socket.
    assert socket.presence_info()["connectedAt"] is info["connectedAt"]
    socket.touch(datetime(2024, 1, 1, 0, 5, tzinfo=UTC))
    later = socket.presence_info()
    assert later["connectedAt"] == "2024-01-01T00:00:00.000Z"
    assert later["lastActivityAt"] == "2024-01-01T00:05:00.000Z"

    assert socket.typing is None  # no set on an idle socket
    socket.started_typing("g1")
    socket.started_typing("g0")
    assert socket.is_typing("g1")
    assert socket.typing_in() == ["g0", "g1"]
    socket.stopped_typing("g0")
    socket.stopped_typing("g1")
    socket.stopped_typing("g1")
    assert socket.typing is None
    assert not socket.is_typing("g1")
