"""Host construction and the membership gate, on real loopback hosts."""

from __future__ import annotations

import pytest
import trio

from doorwatch.crypto import NodeIdentity
from doorwatch.node._p2p_errors import InvalidAddress, PeerRefused, PeerUnreachable
from doorwatch.node._p2p_host import ListenFailed, P2PHost
from doorwatch.node._p2p_streams import RequestResponse

from .conftest import Libp2pErrors, Membership

ECHO = "/doorwatch/test-echo/1.0.0"


async def _echo(peer_id: str, payload: bytes) -> bytes:
    return payload


def _host(identity: NodeIdentity, membership: Membership) -> tuple[P2PHost, RequestResponse]:
    host = P2PHost(identity, admit=membership.admit)
    rr = RequestResponse(host)
    rr.register(ECHO, _echo)
    return host, rr


async def test_host_identity_and_listen_addrs(membership: Membership) -> None:
    identity = membership.new_member()
    with trio.fail_after(10):
        async with P2PHost(identity, admit=membership.admit) as host:
            assert host.peer_id == identity.peer_id
            assert host.libp2p.get_id().to_base58() == identity.peer_id
            (addr,) = host.listen_addrs
            assert addr.startswith("/ip4/127.0.0.1/tcp/")
            assert not addr.endswith("/tcp/0")


def test_bad_listen_address_is_a_typed_error(membership: Membership) -> None:
    with pytest.raises(InvalidAddress, match="listen"):
        P2PHost(NodeIdentity.generate(), admit=membership.admit, listen=["/ip4/127.0.0.1/udp/1"])


async def test_an_address_the_host_cannot_listen_on_is_a_typed_error(
    membership: Membership,
) -> None:
    # 203.0.113.0/24 is reserved for documentation: no machine has it.
    host = P2PHost(
        membership.new_member(), admit=membership.admit, listen=["/ip4/203.0.113.9/tcp/4001"]
    )
    with trio.fail_after(10), pytest.raises(ListenFailed) as info:
        async with host:
            pass
    assert str(info.value) == (
        "listen: cannot listen on /ip4/203.0.113.9/tcp/4001: Cannot assign requested address"
        " (this machine has no such address)"
    )
    assert not host.running


async def test_member_can_open_a_stream(membership: Membership) -> None:
    a, b = membership.new_member(), membership.new_member()
    ha, _ = _host(a, membership)
    hb, rb = _host(b, membership)
    with trio.fail_after(15):
        async with ha, hb:
            await hb.connect(a.peer_id, ha.listen_addrs)
            assert await rb.request(a.peer_id, ECHO, b"ping", timeout=5) == b"ping"
            assert ha.gate.status().admitted >= 1


async def test_outsider_is_refused_inbound(
    membership: Membership, libp2p_errors: Libp2pErrors
) -> None:
    member = membership.new_member()
    outsider = NodeIdentity.generate()
    outsiders_view = Membership()  # the outsider itself would admit anybody we tell it to
    outsiders_view.members.add(member.peer_id)
    hm, _ = _host(member, membership)
    ho, ro = _host(outsider, outsiders_view)
    with trio.fail_after(15):
        async with hm, ho:
            with pytest.raises(PeerUnreachable):
                await ho.connect(member.peer_id, hm.listen_addrs)
            ho.unblock(member.peer_id)
            with pytest.raises(PeerUnreachable):
                await ro.request(member.peer_id, ECHO, b"hi", timeout=3)
            assert hm.gate.status().refused_by_reason == {"no certificate": 2}
            assert outsider.peer_id not in hm.connected_peers()


async def test_member_refuses_to_dial_an_outsider(membership: Membership) -> None:
    member = membership.new_member()
    outsider = NodeIdentity.generate()
    open_view = Membership()
    open_view.members.add(member.peer_id)
    hm, rm = _host(member, membership)
    ho, _ = _host(outsider, open_view)
    with trio.fail_after(15):
        async with hm, ho:
            with pytest.raises(PeerRefused, match="no certificate"):
                await hm.connect(outsider.peer_id, ho.listen_addrs)
            hm.add_addrs(outsider.peer_id, ho.listen_addrs)
            with pytest.raises(PeerRefused):
                await rm.request(outsider.peer_id, ECHO, b"hi", timeout=3)
            assert ho.connected_peers() == []


async def test_revoked_member_is_disconnected(membership: Membership) -> None:
    a, b = membership.new_member(), membership.new_member()
    ha, _ = _host(a, membership)
    hb, rb = _host(b, membership)
    with trio.fail_after(20):
        async with ha, hb:
            await hb.connect(a.peer_id, ha.listen_addrs)
            assert await rb.request(a.peer_id, ECHO, b"1", timeout=5) == b"1"
            membership.revoked.add(b.peer_id)
            assert await ha.reevaluate() == [b.peer_id]
            assert b.peer_id not in ha.connected_peers()
            with pytest.raises(PeerUnreachable):
                await rb.request(a.peer_id, ECHO, b"2", timeout=3)
            assert ha.gate.status().refused_by_reason.get("certificate revoked", 0) >= 1


async def test_a_host_keeps_accepting_connections_after_hundreds_have_come_and_gone(
    membership: Membership,
) -> None:
    # py-libp2p's own inbound limiter never frees a slot while the host runs: with
    # its defaults the 251st inbound connection of a daemon's life was refused.
    a, b = membership.new_member(), membership.new_member()
    ha, _ = _host(a, membership)
    hb, rb = _host(b, membership)
    with trio.fail_after(240):
        async with ha, hb:
            for i in range(260):
                await hb.connect(a.peer_id, ha.listen_addrs)
                assert await rb.request(a.peer_id, ECHO, b"%d" % i, timeout=10) == b"%d" % i
                await hb.drop(a.peer_id)
