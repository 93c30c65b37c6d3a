"""In-memory fakes for unit tests of the services: a Clock the test moves, repositories
with the real ones' filters, unique indexes and atomic steps, and a recording Notifier.

Only what the services call is implemented; tests/unit/services/test_fakes.py keeps each
fake's methods in step with the real repository's signatures.
"""

from tests.helpers.fakes.clock import START, FakeClock
from tests.helpers.fakes.faults import Gate, InjectedFailure
from tests.helpers.fakes.groups import FakeGroupRepository
from tests.helpers.fakes.messages import FakeMessageRepository
from tests.helpers.fakes.notifier import RecordingNotifier, Sent
from tests.helpers.fakes.people import (
    FakeAuditRepository,
    FakeReadStateRepository,
    FakeUserRepository,
)

__all__ = [
    "START",
    "FakeAuditRepository",
    "FakeClock",
    "FakeGroupRepository",
    "FakeMessageRepository",
    "FakeReadStateRepository",
    "FakeUserRepository",
    "Gate",
    "InjectedFailure",
    "RecordingNotifier",
    "Sent",
]
