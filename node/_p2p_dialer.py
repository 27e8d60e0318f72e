"""Keeps this node connected to the members it should be connected to.

Theory of operation. The node tells the dialer which peers to keep (peer id
-> multiaddrs; from certificates, invite bootstrap addresses and gossiped
presence records) and updates the set whenever it changes. Every ``tick``
the dialer looks at each peer: connected -> its last-seen time is now and
its failure count resets; not connected and due -> one dial (never two at
once for a peer): add its addresses to the peerstore, lift py-libp2p's 60 s
negative dial cache (``Swarm.unblock_peer``; without it a peer that was down
once is not redialed for a minute), dial. A failure schedules the next
attempt after ``min(max_delay, base_delay * 2**failures)`` scaled by a random
factor in [0.5, 1.5) (jitter, so a restarted hub is not hit by everyone at
once). Peers the membership gate refuses are not dialed.

py-libp2p's own AutoConnector is disabled by ``P2PHost``; this is the only
thing that dials on its own.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog
import trio

from doorwatch.node._clock import Clock, SystemClock
from doorwatch.node._p2p_host import P2PHost, parse_multiaddr

log = structlog.get_logger("doorwatch.p2p.dialer")


@dataclass
class _Peer:
    addrs: tuple[str, ...]
    connected: bool = False
    last_seen: int | None = None
    failures: int = 0
    next_attempt: float = 0.0  # trio clock
    dialing: bool = False
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class PeerLink:
    """What ``node.status`` shows about one wanted peer."""

    peer_id: str
    connected: bool
    last_seen: int | None  # Unix seconds, UTC; None if never seen
    failures: int
    last_error: str | None
    addrs: tuple[str, ...] = field(default=())


class Dialer:
    """Connection keeper for one ``P2PHost``; create it before the host starts."""

    def __init__(
        self,
        host: P2PHost,
        *,
        base_delay: float = 0.5,
        max_delay: float = 60.0,
        tick: float = 1.0,
        dial_timeout: float = 10.0,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._host = host
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.tick = tick
        self.dial_timeout = dial_timeout
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self._peers: dict[str, _Peer] = {}
        self._wake = trio.Event()
        self.dials = 0
        host.add_task(self._run)

    # -- the wanted set ----------------------------------------------------------

    def set_peers(self, peers: Mapping[str, Sequence[str]]) -> None:
        """Replace the wanted set (peer id -> multiaddrs). Our own id is ignored."""
        for peer_id, addrs in peers.items():
            for a in addrs:
                parse_multiaddr(a, "addrs")
            if peer_id == self._host.peer_id:
                continue
            known = self._peers.get(peer_id)
            if known is None:
                self._peers[peer_id] = _Peer(tuple(addrs))
            elif tuple(addrs) != known.addrs:
                known.addrs = tuple(addrs)
                known.next_attempt = 0.0  # new addresses: try them now
        for gone in set(self._peers) - set(peers):
            del self._peers[gone]
        self._wake.set()

    def update_peer(self, peer_id: str, addrs: Sequence[str]) -> None:
        """Add a peer or change its addresses (e.g. from a presence record)."""
        wanted = {p: s.addrs for p, s in self._peers.items()}
        wanted[peer_id] = tuple(addrs)
        self.set_peers(wanted)

    def remove_peer(self, peer_id: str) -> None:
        self._peers.pop(peer_id, None)

    def links(self) -> list[PeerLink]:
        return [
            PeerLink(p, s.connected, s.last_seen, s.failures, s.last_error, s.addrs)
            for p, s in sorted(self._peers.items())
        ]

    def last_seen(self) -> dict[str, int | None]:
        return {p: s.last_seen for p, s in self._peers.items()}

    # -- the loop --------------------------------------------------------------------

    def _delay(self, failures: int) -> float:
        delay = min(self.max_delay, self.base_delay * 2 ** min(failures, 30))
        return float(delay * (0.5 + self._rng.random()))

    async def _run(self) -> None:
        async with trio.open_nursery() as nursery:
            while True:
                now = trio.current_time()
                for peer_id, state in list(self._peers.items()):
                    state.connected = self._host.is_connected(peer_id)
                    if state.connected:
                        state.last_seen = self._clock.now()
                        state.failures = 0
                        state.last_error = None
                        continue
                    if state.dialing or now < state.next_attempt:
                        continue
                    if self._host.gate.reason_to_refuse(peer_id) is not None:
                        state.next_attempt = now + self.max_delay
                        continue
                    state.dialing = True
                    nursery.start_soon(self._dial, peer_id, state)
                self._wake = trio.Event()
                with trio.move_on_after(self.tick):
                    await self._wake.wait()

    async def _dial(self, peer_id: str, state: _Peer) -> None:
        self.dials += 1
        try:
            self._host.add_addrs(peer_id, state.addrs)
            self._host.unblock(peer_id)
            with trio.fail_after(self.dial_timeout):
                await self._host.connect(peer_id)
        except Exception as exc:  # P2PError, TooSlowError, or a libp2p bug: never fatal
            state.failures += 1
            state.last_error = type(exc).__name__
            state.next_attempt = trio.current_time() + self._delay(state.failures)
            log.debug("dial failed", peer_id=peer_id, failures=state.failures, error=str(exc))
        else:
            state.connected = True
            state.failures = 0
            state.last_error = None
            state.last_seen = self._clock.now()
            log.info("connected", peer_id=peer_id)
        finally:
            state.dialing = False
