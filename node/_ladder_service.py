"""Wiring the disclosure ladder into a running node: both ends, one call."""

from __future__ import annotations

from dataclasses import dataclass

import trio

from doorwatch.crypto import NodeIdentity
from doorwatch.node._ladder_originator import LadderOriginator
from doorwatch.node._ladder_requester import LadderRequester
from doorwatch.node._network import NetworkService
from doorwatch.node._venue import Venue
from doorwatch.protocol import RateLimits, RequesterLimits


@dataclass(frozen=True)
class Ladder:
    originator: LadderOriginator
    requester: LadderRequester


async def start_ladder(
    nursery: trio.Nursery,
    *,
    venue: Venue,
    network: NetworkService,
    identity: NodeIdentity,
    limits: RateLimits | None = None,
    requester_limits: RequesterLimits | None = None,
) -> Ladder:
    """Serve ``/doorwatch/disclose/1`` for this venue's alerts and run the requester side.

    The handler is registered on every (re)build of the network service, and
    at once if its host is already built (a stream handler can be added to a
    running host). ``venue.ladder`` is set, so that ``scan.submit``,
    ``match.photo`` and ``match.confirm`` use the network for received alerts.
    """
    originator = LadderOriginator(venue=venue, network=network, identity=identity, limits=limits)
    requester = LadderRequester(
        venue=venue, network=network, identity=identity, limits=requester_limits
    )
    # Counters committed before this start count again: a restart resets no limit.
    await originator.load()
    await requester.load()
    network.extend(originator.install)
    if network.rr is not None:
        originator.install(network)
    await nursery.start(requester.run)
    venue.ladder = requester
    return Ladder(originator, requester)
