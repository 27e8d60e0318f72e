"""Who hears when one of the disclosure ladder's limits or alarms is reached.

When a rate limit is reached, or an alarm threshold (a run of "not the same
person" answers), the node writes a ``disclosure.limit_reached`` or
``disclosure.alarm`` audit entry (rule, side, peer id, alert id: nothing
personal) and tells the super administrator by email (``Notifier``), at most
once a day per rule and peer, so that a guessing member cannot flood the
mailbox, while every refusal stays in the audit log. Both venues hear of it:
the originator from its own limits, the requester from its own budget and
from the originator's refusals.
"""

from __future__ import annotations

from typing import Final

from doorwatch.node import _audit
from doorwatch.node._notify import SecurityNotice
from doorwatch.node._venue import Venue

LIMIT_REACHED: Final = "disclosure.limit_reached"
ALARM: Final = "disclosure.alarm"
ACTIONS: Final = (LIMIT_REACHED, ALARM)
_RENOTIFY_S: Final = 86_400


class Reporter:
    """Audits and notifies the limits and alarms of one side of the ladder."""

    def __init__(self, venue: Venue, side: str) -> None:
        self.venue = venue
        self.side = side
        self._told: dict[tuple[str, str, str], int] = {}

    async def report(
        self,
        action: str,
        rule: str,
        *,
        peer_id: str,
        alert_id: str | None,
        actor: str,
    ) -> None:
        """Audit that ``rule`` was reached with ``peer_id`` and tell the super administrator."""
        v = self.venue
        now = v.clock.now()
        await v.store.run(
            _audit.record,
            at=now,
            actor=actor,
            action=action,
            alert_id=alert_id,
            peer_id=peer_id,
            detail={"side": self.side, "rule": rule},
        )
        key = (action, rule, peer_id)
        if now - self._told.get(key, -_RENOTIFY_S) < _RENOTIFY_S:
            return
        self._told[key] = now
        if len(self._told) > 4096:
            self._told = {k: t for k, t in self._told.items() if now - t < _RENOTIFY_S}
        v.notifier.notify(
            SecurityNotice(
                action=action,
                rule=rule,
                side=self.side,
                peer_id=peer_id,
                alert_id=alert_id,
                at=now,
            )
        )
