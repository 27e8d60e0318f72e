"""What this node knows about an alert it received (never the subject's identity).

The network half fills ``Venue.received`` from the replica store: at
start-up, and on every stored, updated, suspended or withdrawn alert. The
door half reads it to know whom to ask, and under which network, when a
scan matches a received alert's segments.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReceivedAlert:
    alert_id: str  # hex, as used as the set id in the scan engine's index
    network_id: str
    group: str
    epoch: int
    originator: str  # peer id of the originating venue
    originating_venue: str  # the venue name on the originator's certificate
    version: int
    category: str
    harm: float
    created_at: int
    expires_at: int
