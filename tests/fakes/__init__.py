"""In-memory fakes for unit tests of the services: a Clock the test moves, repositories
with the real ones' filters, unique indexes and atomic steps, and a recording Notifier.

Only what the services call is implemented; tests/unit/services/test_fakes.py keeps each
fake's methods in step with the real repository's signatures.
"""

from tests.fakes.clock import START, FakeClock
from tests.fakes.faults import Gate, InjectedFailure
from tests.fakes.groups import FakeGroupRepository
from tests.fakes.messages import FakeMessageRepository
from tests.fakes.notifier import RecordingNotifier, Sent
from tests.fakes.people import FakeAuditRepository, FakeReadStateRepository, FakeUserRepository

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
