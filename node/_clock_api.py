"""`clock.advance`: moving a demonstration node's clock forward.

`doorwatch demo` shows alerts expiring, which takes weeks of real time, so
its daemons run on an ``OffsetClock`` that this method moves forward. A node
whose clock can be moved is not fit for service (expiry, retention, review
dates, sessions and certificates all follow that clock), hence:

- the clock is controllable only when the daemon starts with the environment
  variable ``DOORWATCH_DEMO_CLOCK=1``, and the daemon then logs a warning;
- without it the method is not registered at all (``method_not_found``) and
  is not part of the published API schema;
- only a super administrator may call it, every advance is audited
  (``clock.advanced``), and the clock only moves forward.

After moving the clock the node runs its retention pass at once (own alerts'
expiry and deletion, then the received records' purge), as the schedulers
would within a minute; their work is idempotent, so running it here as well
is safe. Moving the clock ends every session older than its 12 hours: log in
again.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final

from pydantic import Field

from doorwatch.node import _audit
from doorwatch.node._api_models import MAX_TIMESTAMP, Params, Result
from doorwatch.node._api_server import Dispatcher, MethodSpec, Session
from doorwatch.node._clock import DEMO_CLOCK_ENV, OffsetClock
from doorwatch.node._errors import InvalidParams
from doorwatch.node._purge import purge_once
from doorwatch.node._roles import Role
from doorwatch.node._store import AsyncStore

if TYPE_CHECKING:
    from doorwatch.node._alert_gossip import AlertReplication
    from doorwatch.node._venue import Venue

__all__ = ["ADVANCE", "DEMO_CLOCK_ENV", "ClockApi", "demo_clock_requested", "retention_pass"]

MAX_ADVANCE_S: Final = 10 * 366 * 86400


def demo_clock_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the daemon is asked to run on a controllable clock."""
    return environ.get(DEMO_CLOCK_ENV, "").strip() == "1"


class AdvanceParams(Params):
    seconds: int = Field(ge=1, le=MAX_ADVANCE_S, description="How far to move the clock forward")


class AdvanceResult(Result):
    now: int = Field(description="The node's clock after the move, Unix seconds")


ADVANCE = MethodSpec(
    "clock.advance",
    AdvanceParams,
    AdvanceResult,
    role=Role.SUPER_ADMINISTRATOR,
    summary="Move a demonstration node's clock forward (only with DOORWATCH_DEMO_CLOCK=1).",
)


class ClockApi:
    def __init__(
        self,
        clock: OffsetClock,
        *,
        store: AsyncStore,
        after_advance: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.clock = clock
        self.store = store
        self.after_advance = after_advance

    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.add(ADVANCE.bind(self.advance))

    async def advance(self, session: Session, p: AdvanceParams) -> AdvanceResult:
        before = self.clock.now()
        if before + p.seconds > MAX_TIMESTAMP:
            raise InvalidParams("seconds: the clock would pass the year 9999")
        self.clock.advance(p.seconds)
        now = self.clock.now()
        await self.store.run(
            _audit.record,
            at=now,
            actor=session.username or "?",
            action="clock.advanced",
            detail={"seconds": p.seconds, "from": before},
        )
        if self.after_advance is not None:
            await self.after_advance()
        return AdvanceResult(now=now)


async def retention_pass(venue: Venue, replication: AlertReplication) -> None:
    """What the schedulers would do at the new time: expire and purge, here and received."""
    await purge_once(
        venue.store,
        venue.engine,
        now=venue.clock.now(),
        visit_retention_days=venue.config.visit_retention_days,
        database=venue.database,
        on_change=venue.alert_changed,
    )
    await replication.purge()
