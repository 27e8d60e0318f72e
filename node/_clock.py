"""Wall-clock time for the node, injectable so tests and the demo can move it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final, Protocol

DEMO_CLOCK_ENV: Final = "DOORWATCH_DEMO_CLOCK"
"""Set to 1, the daemon runs on an ``OffsetClock`` that ``clock.advance`` moves (the demo)."""


class Clock(Protocol):
    def now(self) -> int:
        """Seconds since the Unix epoch, UTC."""
        ...


class SystemClock:
    def now(self) -> int:
        return int(time.time())


@dataclass
class ManualClock:
    """A clock that only moves when told to (tests)."""

    current: int

    def now(self) -> int:
        return self.current

    def advance(self, seconds: int) -> None:
        self.current += seconds


@dataclass
class OffsetClock:
    """The system clock plus an offset that can be moved forward at run time.

    The demo's daemons run on one (``DOORWATCH_DEMO_CLOCK=1``, see
    ``_clock_api``), so that alerts can be seen to expire without waiting
    for weeks. It only ever moves forward: a node's retention and its
    replicas assume that time does not run backwards.
    """

    offset: int = 0

    def now(self) -> int:
        return int(time.time()) + self.offset

    def advance(self, seconds: int) -> None:
        if seconds < 0:
            raise ValueError("seconds: the clock only moves forward")
        self.offset += seconds
