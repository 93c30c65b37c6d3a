"""A Clock the test moves: no sleeping to reach a deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2030, 1, 15, 9, 0, tzinfo=UTC)


class FakeClock:
    """The Clock port (services/ports.py), still until the test moves it.

    `advance` moves the wall clock and the monotonic one together; `set` moves the wall
    clock alone (as a time correction would) and never the monotonic one."""

    def __init__(self, start: datetime = START, monotonic: float = 1000.0) -> None:
        self._wall = start
        self._mono = monotonic

    def now(self) -> datetime:
        # Whole milliseconds, as SystemClock (what MongoDB keeps).
        return self._wall.replace(microsecond=self._wall.microsecond // 1000 * 1000)

    def monotonic(self) -> float:
        return self._mono

    def timestamp(self) -> float:
        """now() as epoch seconds, the unit of presence and typing deadlines."""
        return self.now().timestamp()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward; use set() for the wall clock")
        self._wall += timedelta(seconds=seconds)
        self._mono += seconds

    def set(self, when: datetime) -> None:
        self._wall = when
