"""Wall-clock time for the node, injectable so tests and the demo can move it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Seconds since the Unix epoch, UTC."""
        ...


class SystemClock:
    def now(self) -> int:
        return int(time.time())


@dataclass
class ManualClock:
    """A clock that only moves when told to (tests, and the demo's fast-forward)."""

    current: int

    def now(self) -> int:
        return self.current

    def advance(self, seconds: int) -> None:
        self.current += seconds


@dataclass
class OffsetClock:
    """The system clock plus an offset that can be moved forward at run time."""

    offset: int = 0

    def now(self) -> int:
        return int(time.time()) + self.offset
