"""PyMongo command monitoring for tests that count what reaches the database."""

from __future__ import annotations

from pymongo import monitoring


class CommandStarts(monitoring.CommandListener):
    """A listener that only looks at commands as they start (`started`)."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        raise NotImplementedError

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None
