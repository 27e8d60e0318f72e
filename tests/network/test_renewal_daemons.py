"""Certificates are renewed by the network's hub before they expire, with real daemons
whose clocks are moved forward (the demo clock, ``clock.advance``)."""

from __future__ import annotations

import pytest

from doorwatch.node._clock import DEMO_CLOCK_ENV
from doorwatch.node._network_admin import CERTIFICATE_DAYS, RENEW_WITHIN_DAYS

from .conftest import Nodes
from .test_alert_gossip import call, network
from .test_network_daemons import connected_venues, members, status, wait_for

DAY = 86400


def test_members_certificates_are_renewed_within_30_days_of_expiry(
    nodes: Nodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DEMO_CLOCK_ENV, "1")
    a, b = network(nodes, ("a", "The Crown"), ("b", "The Swan"))
    first = members(b)["The Swan"]["valid_until"]

    # Within 30 days of expiry: the hub renews at B's next sync, B picks it up.
    skip = (CERTIFICATE_DAYS - RENEW_WITHIN_DAYS + 5) * DAY
    now = 0
    for node in (a, b):
        now = call(node, "clock.advance", seconds=skip)["now"]
    wait_for(
        "B holds its renewed certificate",
        lambda: members(b)["The Swan"]["valid_until"] >= now + (CERTIFICATE_DAYS - 1) * DAY,
    )
    wait_for(
        "B holds the hub's renewed certificate",
        lambda: members(b)["The Crown"]["valid_until"] >= now + (CERTIFICATE_DAYS - 1) * DAY,
    )
    renewed = members(b)["The Swan"]["valid_until"]
    assert renewed > first
    assert members(a)["The Swan"]["valid_until"] == renewed

    # Past the first certificates' end, the two are still members of each other.
    for node in (a, b):
        call(node, "clock.advance", seconds=40 * DAY)
    # Each admits the other now (the gate's rule, on the moved clock), and they stay linked.
    for node, other in ((a, "The Swan"), (b, "The Crown")):
        (peer,) = [p for p in status(node)["peers"] if p["venue"] == other]
        assert peer["refused"] is None
    wait_for("B stays connected to A", lambda: connected_venues(b) == {"The Crown"})
