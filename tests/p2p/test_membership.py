"""Certificate-based admission, alone and at the gate of real hosts."""

from __future__ import annotations

import pytest
import trio

from doorwatch.crypto import (
    AuthorityKey,
    Certificate,
    CertificateBadSignature,
    NodeIdentity,
    WrongNetwork,
)
from doorwatch.node._clock import ManualClock
from doorwatch.node._p2p_errors import PeerUnreachable
from doorwatch.node._p2p_host import P2PHost
from doorwatch.node._p2p_membership import NetworkMembership, admit_any, jurisdiction_permitted

from .conftest import Libp2pErrors

T0 = 1_750_000_000
DAY = 86_400


def _issue(
    authority: AuthorityKey, identity: NodeIdentity, *, serial: int, jurisdiction: str = "GB-ENG"
) -> Certificate:
    return authority.issue_certificate(
        venue=f"Venue {serial}",
        peer_id=identity.peer_id,
        groups=["all"],
        committee=False,
        jurisdiction=jurisdiction,
        valid_from=T0,
        valid_until=T0 + 30 * DAY,
        agreement_version="1",
        serial=serial,
    )


def _membership(
    authority: AuthorityKey, clock: ManualClock, permitted: set[str] | None = None
) -> NetworkMembership:
    return NetworkMembership(
        authority_public_key=authority.public_key,
        network_id=authority.network_id,
        clock=clock,
        permitted_jurisdictions=permitted,
    )


def test_admission_follows_certificate_rules() -> None:
    authority = AuthorityKey.generate()
    clock = ManualClock(T0 - 10)
    members = _membership(authority, clock, {"GB"})
    venue, abroad, outsider = (
        NodeIdentity.generate(),
        NodeIdentity.generate(),
        NodeIdentity.generate(),
    )
    members.add_certificate(_issue(authority, venue, serial=1))
    members.add_certificate(_issue(authority, abroad, serial=2, jurisdiction="FR"))
    assert members.admit(outsider.peer_id) == "no certificate"
    assert members.admit(venue.peer_id) == "certificate not yet valid"
    clock.advance(10)
    assert members.admit(venue.peer_id) is None
    assert members.admit(abroad.peer_id) == "jurisdiction not permitted"
    assert members.members() == [venue.peer_id]
    members.set_revocations(authority.revoke(serial=1, issued_at=T0, peer_ids=[venue.peer_id]))
    assert members.admit(venue.peer_id) == "certificate revoked"
    members.set_revocations(authority.revoke(serial=2, issued_at=T0))
    assert members.admit(venue.peer_id) is None
    clock.advance(30 * DAY)
    assert members.admit(venue.peer_id) == "certificate expired"


def test_foreign_or_forged_certificates_are_not_installed() -> None:
    authority, other = AuthorityKey.generate(), AuthorityKey.generate()
    members = _membership(authority, ManualClock(T0))
    venue = NodeIdentity.generate()
    with pytest.raises(WrongNetwork):
        members.add_certificate(_issue(other, venue, serial=1))
    forged = _issue(authority, venue, serial=1).model_copy(update={"serial": 9})
    with pytest.raises(CertificateBadSignature):
        members.add_certificate(forged)
    assert members.admit(venue.peer_id) == "no certificate"


def test_admit_any_and_jurisdiction_prefixes() -> None:
    a, b = AuthorityKey.generate(), AuthorityKey.generate()
    clock = ManualClock(T0)
    net_a, net_b = _membership(a, clock), _membership(b, clock)
    venue = NodeIdentity.generate()
    net_b.add_certificate(_issue(b, venue, serial=1))
    assert admit_any([net_a, net_b])(venue.peer_id) is None
    assert admit_any([net_a])(venue.peer_id) == "no certificate"
    assert jurisdiction_permitted("GB-ENG", {"GB"})
    assert jurisdiction_permitted("GB-ENG", {"GB-ENG"})
    assert not jurisdiction_permitted("GB-SCT", {"GB-ENG"})


async def test_revocation_list_disconnects_and_refuses(libp2p_errors: Libp2pErrors) -> None:
    authority = AuthorityKey.generate()
    clock = ManualClock(T0)
    a, b = NodeIdentity.generate(), NodeIdentity.generate()
    views = [_membership(authority, clock) for _ in range(2)]
    for view in views:
        for serial, identity in enumerate((a, b), start=1):
            view.add_certificate(_issue(authority, identity, serial=serial))
    ha = P2PHost(a, admit=admit_any([views[0]]))
    hb = P2PHost(b, admit=admit_any([views[1]]))
    with trio.fail_after(20):
        async with ha, hb:
            await hb.connect(a.peer_id, ha.listen_addrs)
            assert ha.connected_peers() == [b.peer_id]
            views[0].set_revocations(authority.revoke(serial=1, issued_at=T0, peer_ids=[b.peer_id]))
            assert await ha.reevaluate() == [b.peer_id]
            hb.unblock(a.peer_id)
            with pytest.raises(PeerUnreachable):
                await hb.connect(a.peer_id, ha.listen_addrs)
            assert ha.gate.status().refused_by_reason["certificate revoked"] >= 2
