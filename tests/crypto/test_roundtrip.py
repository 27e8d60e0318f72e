"""Hypothesis round trips: every wire model survives to_bytes/from_bytes and still verifies."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.crypto import (
    AuthorityKey,
    Certificate,
    InviteToken,
    JoinRequest,
    NodeIdentity,
    RevocationList,
    join_request,
    verify_certificate,
    verify_revocation_list,
)

AUTHORITY = AuthorityKey.from_seed(hashlib.sha256(b"rt-authority").digest())
NODE = NodeIdentity.from_seed(hashlib.sha256(b"rt-node").digest())

groups = st.lists(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True), max_size=5)
venues = st.text(min_size=1, max_size=40)
times = st.integers(0, 2**40)


@settings(max_examples=40, deadline=None)
@given(
    venues,
    groups,
    st.booleans(),
    st.from_regex(r"[A-Z]{2}(-[A-Z]{3})?", fullmatch=True),
    times,
    st.integers(1, 2**30),
    st.integers(0, 2**62),
)
def test_certificate_round_trip(
    venue: str, gs: list[str], committee: bool, juris: str, start: int, span: int, serial: int
) -> None:
    cert = AUTHORITY.issue_certificate(
        venue=venue,
        peer_id=NODE.peer_id,
        groups=gs,
        committee=committee,
        jurisdiction=juris,
        valid_from=start,
        valid_until=start + span,
        agreement_version="v1",
        serial=serial,
    )
    again = Certificate.from_bytes(cert.to_bytes())
    assert again == cert
    assert list(again.groups) == sorted(set(gs))
    verify_certificate(
        again,
        authority_public_key=AUTHORITY.public_key,
        network_id=AUTHORITY.network_id,
        now=start,
        revocations=None,
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**62), times, st.lists(st.integers(0, 2**62), max_size=20))
def test_revocation_list_round_trip(serial: int, issued: int, serials: list[int]) -> None:
    rl = AUTHORITY.revoke(
        serial=serial, issued_at=issued, peer_ids=[NODE.peer_id], certificate_serials=serials
    )
    again = RevocationList.from_bytes(rl.to_bytes())
    assert again == rl
    verify_revocation_list(
        again, authority_public_key=AUTHORITY.public_key, network_id=AUTHORITY.network_id
    )
    assert list(again.revoked_certificate_serials) == sorted(set(serials))


@settings(max_examples=30, deadline=None)
@given(
    venues,
    groups,
    st.integers(1, 2**40),
    st.lists(st.text(min_size=1, max_size=60), max_size=4),
    st.binary(min_size=16, max_size=16),
)
def test_invite_and_join_round_trip(
    venue: str, gs: list[str], expires: int, addrs: list[str], token_id: bytes
) -> None:
    tok = AUTHORITY.issue_invite(
        venue=venue,
        groups=gs,
        bootstrap_addrs=addrs,
        expires_at=expires,
        random_bytes=lambda n: token_id[:n],
    )
    assert InviteToken.decode(tok.encode()) == tok
    req = JoinRequest.from_bytes(join_request(tok, NODE, now=expires - 1).to_bytes())
    cert = AUTHORITY.accept_join(
        req,
        now=expires - 1,
        used=set(),
        valid_until=expires + 100,
        jurisdiction="GB",
        agreement_version="1",
        serial=1,
    )
    assert (cert.venue, cert.peer_id) == (venue, NODE.peer_id)
