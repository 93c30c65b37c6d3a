"""The services wired over in-memory fakes and a FakeClock: no server, no database.

Presence, typing and rate limits use their memory adapters (the ports' real in-process
implementations); repositories are the fakes of tests/helpers/fakes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import pytest

from safechat.adapters.presence.memory import MemoryPresence, MemoryTyping
from safechat.adapters.ratelimit.memory import MemoryRateLimiter
from safechat.services.encryption import Encryptor
from safechat.services.groups.service import GroupService
from safechat.services.messages.group_commit import GroupCommit
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.messages.service import MessageService
from safechat.services.ports import Limit
from safechat.services.presence import PresenceService
from safechat.services.users import UserService
from tests.helpers.fakes import (
    FakeAuditRepository,
    FakeClock,
    FakeGroupRepository,
    FakeMessageRepository,
    FakeReadStateRepository,
    FakeUserRepository,
    RecordingNotifier,
)

KEYS = f"k1:{base64.b64encode(bytes([7]) * 32).decode()}"
PRESENCE_TTL = 60.0
# Generous: the tests that are about the creation limit pass their own.
CREATE_LIMIT = Limit("group_create", rate=1000.0, burst=1000)


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    group_repo: FakeGroupRepository = field(default_factory=FakeGroupRepository)
    message_repo: FakeMessageRepository = field(default_factory=FakeMessageRepository)
    read_state: FakeReadStateRepository = field(default_factory=FakeReadStateRepository)
    user_repo: FakeUserRepository = field(default_factory=FakeUserRepository)
    audit: FakeAuditRepository = field(default_factory=FakeAuditRepository)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    presence_store: MemoryPresence = field(default_factory=lambda: MemoryPresence(PRESENCE_TTL))
    typing_store: MemoryTyping = field(default_factory=MemoryTyping)
    encryptor: Encryptor = field(default_factory=lambda: Encryptor.from_spec(KEYS))

    def __post_init__(self) -> None:
        self.limiter = MemoryRateLimiter(self.clock)
        self.renderer = MessageRenderer(self.encryptor)
        self.users = UserService(self.user_repo, self.clock)  # type: ignore[arg-type]
        self.groups = self.group_service()

    def group_service(self, create_limit: Limit = CREATE_LIMIT) -> GroupService:
        return GroupService(
            self.group_repo,  # type: ignore[arg-type]
            self.message_repo,  # type: ignore[arg-type]
            self.read_state,  # type: ignore[arg-type]
            self.audit,  # type: ignore[arg-type]
            self.users,
            self.presence_store,
            self.renderer,
            self.notifier,
            self.clock,
            self.limiter,
            create_limit,
        )

    def message_service(self, **options: Any) -> MessageService:
        # Built as the wiring builds it (safechat/wiring.py).
        return MessageService(
            self.groups,
            self.group_repo,  # type: ignore[arg-type]
            self.message_repo,  # type: ignore[arg-type]
            self.read_state,  # type: ignore[arg-type]
            self.users,
            self.encryptor,
            self.renderer,
            self.notifier,
            self.clock,
            commit=GroupCommit(
                self.group_repo,  # type: ignore[arg-type]
                self.message_repo,  # type: ignore[arg-type]
                self.read_state,  # type: ignore[arg-type]
                self.clock,
                prepare=self.users.warm,
            ),
            **options,
        )

    def presence_service(self, **options: Any) -> PresenceService:
        return PresenceService(
            self.presence_store,
            self.typing_store,
            self.groups,
            self.users,
            self.notifier,
            self.clock,
            **options,
        )


@pytest.fixture
def world() -> World:
    return World()
