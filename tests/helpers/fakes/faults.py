"""What every fake repository shares: a call log, injected failures, and gates that
hold a call until the test lets it go (to make sends queue behind a batch in flight)."""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@dataclass
class Gate:
    """Holds the next call of one method: `reached` is set when the call arrives, and
    the call goes on once `open()` is called."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def open(self) -> None:
        self.released.set()


class InjectedFailure(RuntimeError):
    """The failure a fake raises when a test asks for one without naming it."""


class Faults:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._before: dict[str, list[BaseException]] = defaultdict(list)
        self._after: dict[str, list[BaseException]] = defaultdict(list)
        self._gates: dict[str, list[Gate]] = defaultdict(list)

    def fail_next(
        self, method: str, exc: BaseException | None = None, *, after: bool = False
    ) -> None:
        """The next call of `method` raises `exc`; with `after`, once it took effect
        (the write was applied, its reply was lost)."""
        queue = self._after if after else self._before
        queue[method].append(exc or InjectedFailure(f"injected failure in {method}"))

    def hold_next(self, method: str) -> Gate:
        gate = Gate()
        self._gates[method].append(gate)
        return gate

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    def args_of(self, method: str) -> list[tuple[Any, ...]]:
        return [args for name, args in self.calls if name == method]

    async def _enter(self, method: str, args: tuple[Any, ...]) -> None:
        self.calls.append((method, args))
        if self._gates[method]:
            gate = self._gates[method].pop(0)
            gate.reached.set()
            await gate.released.wait()
        if self._before[method]:
            raise self._before[method].pop(0)

    def _leave(self, method: str) -> None:
        if self._after[method]:
            raise self._after[method].pop(0)


def faulty(fn: F) -> F:
    """Logs the call, honours gates and injected failures around the fake's method."""

    @functools.wraps(fn)
    async def wrapper(self: Faults, *args: Any, **kwargs: Any) -> Any:
        await self._enter(fn.__name__, (*args, *kwargs.values()))
        result = await fn(self, *args, **kwargs)
        self._leave(fn.__name__)
        return result

    return wrapper  # type: ignore[return-value]
