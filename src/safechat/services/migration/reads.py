"""readBy lists become read state: each member's mark is the highest seq they read.

SafeChat counts unread as lastSeq - lastReadSeq, and a sender has read their own
messages. `readByThrough` (repositories/read_state.py) is the highest seq up to which
every message has the member in readBy or is theirs, so later marks start from there."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class ReadMarks:
    members: frozenset[str]
    last_read: dict[str, int] = field(default_factory=dict)
    at: dict[str, datetime] = field(default_factory=dict)
    through: dict[str, int] = field(default_factory=dict)
    _gapless: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._gapless = set(self.members)
        self.through = dict.fromkeys(self.members, 0)

    def add(self, seq: int, readers: dict[str, datetime]) -> None:
        for uid, at in readers.items():
            if uid in self.members:
                self.last_read[uid] = max(self.last_read.get(uid, 0), seq)
                self.at[uid] = max(self.at.get(uid, at), at)
        for uid in list(self._gapless):
            if uid in readers:
                self.through[uid] = seq
            else:
                self._gapless.discard(uid)

    def marks(self) -> dict[str, dict[str, Any]]:
        return {
            uid: {
                "lastReadSeq": seq,
                "readByThrough": self.through.get(uid, 0),
                "updatedAt": self.at[uid],
            }
            for uid, seq in self.last_read.items()
        }
