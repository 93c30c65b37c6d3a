"""Progress of a long operator command on stderr: a tqdm bar on a terminal, plain lines
(at most one per `every` items and stage) when stderr is a file or a pipe."""

from __future__ import annotations

import sys
from typing import IO, Any

from tqdm import tqdm


class BarProgress:
    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._bar: tqdm[Any] | None = None

    def stage(self, name: str, total: int) -> None:
        self.close()
        self._bar = tqdm(total=total, desc=name, unit="", file=self._stream, dynamic_ncols=True)

    def advance(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class LineProgress:
    def __init__(self, stream: IO[str], every: int = 1) -> None:
        self._stream = stream
        self._every = max(1, every)
        self._name = ""
        self._total = 0
        self._done = 0
        self._shown = 0

    def stage(self, name: str, total: int) -> None:
        self.close()
        self._name, self._total, self._done, self._shown = name, total, 0, 0
        self._line()

    def advance(self, count: int) -> None:
        self._done += count
        if self._done - self._shown >= self._every:
            self._line()

    def close(self) -> None:
        if self._name and self._shown != self._done:
            self._line()
        self._name = ""

    def _line(self) -> None:
        self._shown = self._done
        print(f"progress: {self._name} {self._done}/{self._total}", file=self._stream, flush=True)


def stderr_progress(every: int) -> BarProgress | LineProgress:
    return BarProgress(sys.stderr) if sys.stderr.isatty() else LineProgress(sys.stderr, every)
