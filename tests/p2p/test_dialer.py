"""The dialer keeps members connected, on real loopback hosts."""

from __future__ import annotations

import random

import trio

from doorwatch.node._clock import ManualClock
from doorwatch.node._p2p_dialer import Dialer
from doorwatch.node._p2p_host import P2PHost

from .conftest import Membership


async def _until(predicate: object) -> None:
    assert callable(predicate)
    while not predicate():
        await trio.sleep(0.05)


async def test_dialer_connects_and_reconnects_after_restart(membership: Membership) -> None:
    a, b = membership.new_member(), membership.new_member()
    clock = ManualClock(1_700_000_000)
    host_a = P2PHost(a, admit=membership.admit)
    dialer = Dialer(host_a, base_delay=0.2, max_delay=1.0, clock=clock, rng=random.Random(5))
    with trio.fail_after(40):
        async with host_a:
            host_b = P2PHost(b, admit=membership.admit)
            async with host_b:
                addr = host_b.listen_addrs
                dialer.set_peers({b.peer_id: addr, a.peer_id: host_a.listen_addrs})
                await _until(lambda: dialer.links()[0].connected)
                assert host_a.is_connected(b.peer_id)
                assert dialer.last_seen() == {b.peer_id: 1_700_000_000}
            # b is gone; a notices and starts failing dials
            clock.advance(60)
            await _until(lambda: not host_a.is_connected(b.peer_id))
            await _until(lambda: dialer.links()[0].failures >= 2)
            assert dialer.last_seen() == {b.peer_id: 1_700_000_000}
            # same identity, same port: a reconnects on its own
            async with P2PHost(b, admit=membership.admit, listen=addr) as host_b2:
                assert host_b2.listen_addrs == addr
                await _until(lambda: host_a.is_connected(b.peer_id))
                await _until(lambda: dialer.last_seen()[b.peer_id] == 1_700_000_060)
                (link,) = dialer.links()
                assert link.connected
                assert link.failures == 0


async def test_dialer_does_not_dial_refused_peers(membership: Membership) -> None:
    a, b = membership.new_member(), membership.new_member()
    host_a = P2PHost(a, admit=membership.admit)
    dialer = Dialer(host_a, base_delay=0.1, max_delay=0.5)
    with trio.fail_after(20):
        async with host_a, P2PHost(b, admit=membership.admit) as host_b:
            membership.revoked.add(b.peer_id)
            dialer.set_peers({b.peer_id: host_b.listen_addrs})
            await trio.sleep(0.6)
            assert dialer.dials == 0
            assert not host_a.is_connected(b.peer_id)
            membership.revoked.discard(b.peer_id)
            dialer.set_peers({b.peer_id: [*host_b.listen_addrs, "/ip4/127.0.0.1/tcp/9"]})
            await _until(lambda: host_a.is_connected(b.peer_id))
