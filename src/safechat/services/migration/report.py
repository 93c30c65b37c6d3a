"""Counts per collection and per outcome, and which outcomes mean something was skipped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# Outcomes that leave something of the source out of SafeChat: the command exits 1.
SKIPPED = frozenset({"invalid", "orphaned", "conflict", "changed_in_safechat"})
ORDER = ("users", "groups", "messages", "content", "media", "read_state")


@dataclass(slots=True)
class MigrationReport:
    dry_run: bool = False
    counts: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, collection: str, outcome: str, count: int = 1) -> None:
        if count:
            self.counts.setdefault(collection, Counter())[outcome] += count

    def get(self, collection: str, outcome: str) -> int:
        return self.counts.get(collection, Counter())[outcome]

    @property
    def skipped(self) -> int:
        return sum(n for c in self.counts.values() for o, n in c.items() if o in SKIPPED)

    def lines(self) -> list[str]:
        names = [n for n in ORDER if n in self.counts] + sorted(set(self.counts) - set(ORDER))
        out = [
            f"{name}: " + ", ".join(f"{o} {n}" for o, n in sorted(self.counts[name].items()))
            for name in names
        ]
        verb = "dry run, nothing written" if self.dry_run else "migration"
        if self.skipped:
            out.append(f"{verb}: INCOMPLETE, {self.skipped} skipped (see the warnings above)")
        else:
            out.append(f"{verb}: complete, nothing skipped")
        return out
