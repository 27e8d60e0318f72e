"""The signed network policy and the network's selection key (issue 14)."""

from __future__ import annotations

import hashlib

import pytest

from doorwatch.crypto import (
    AuthorityKey,
    CryptoError,
    DecryptionFailed,
    InvalidEncoding,
    InvalidKey,
    NetworkPolicy,
    NodeIdentity,
    PolicyError,
    StalePolicy,
    accept_policy,
    open_selection_key,
    purpose_prefix,
    seal_selection_key,
    selection_seed,
    x25519_public_from_ed25519,
)


def test_a_policy_verifies_and_only_a_higher_serial_replaces_it(authority: AuthorityKey) -> None:
    first = authority.sign_policy(serial=1, issued_at=100, anonymity_floor=50)
    held = accept_policy(
        first, None, authority_public_key=authority.public_key, network_id=authority.network_id
    )
    assert held.anonymity_floor == 50
    second = authority.sign_policy(serial=2, issued_at=200, anonymity_floor=200)
    assert (
        accept_policy(
            second,
            held,
            authority_public_key=authority.public_key,
            network_id=authority.network_id,
        )
        == second
    )
    with pytest.raises(StalePolicy):  # a replay of the old policy (a rollback)
        accept_policy(
            first,
            second,
            authority_public_key=authority.public_key,
            network_id=authority.network_id,
        )


def test_an_altered_or_foreign_policy_is_refused(authority: AuthorityKey) -> None:
    policy = authority.sign_policy(serial=1, issued_at=100, anonymity_floor=50)
    lowered = policy.model_copy(update={"anonymity_floor": 2})
    with pytest.raises(PolicyError, match="signature"):
        accept_policy(
            lowered,
            None,
            authority_public_key=authority.public_key,
            network_id=authority.network_id,
        )
    other = AuthorityKey.generate()
    forged = other.sign_policy(serial=9, issued_at=100, anonymity_floor=2)
    with pytest.raises(PolicyError, match="network_id"):
        accept_policy(
            forged, None, authority_public_key=authority.public_key, network_id=authority.network_id
        )
    with pytest.raises(PolicyError, match="signature"):
        accept_policy(
            forged.model_copy(update={"network_id": authority.network_id}),
            None,
            authority_public_key=authority.public_key,
            network_id=authority.network_id,
        )


def test_a_policy_floor_out_of_range_is_not_signed(authority: AuthorityKey) -> None:
    for floor in (0, 1, 10_000_000):
        with pytest.raises(InvalidEncoding, match="anonymity_floor"):
            authority.sign_policy(serial=1, issued_at=0, anonymity_floor=floor)


def test_a_policy_round_trips_and_rejects_unknown_fields(authority: AuthorityKey) -> None:
    policy = authority.sign_policy(serial=3, issued_at=100, anonymity_floor=75)
    assert NetworkPolicy.from_bytes(policy.to_bytes()) == policy
    with pytest.raises(InvalidEncoding):
        NetworkPolicy.from_dict({**policy.model_dump(), "quorum": 3})


def test_the_selection_key_is_fixed_by_the_authority_and_network(authority: AuthorityKey) -> None:
    key = authority.selection_key()
    assert len(key) == 32
    assert AuthorityKey.from_seed(authority.to_seed()).selection_key() == key
    assert AuthorityKey.generate().selection_key() != key
    expected = hashlib.blake2b(
        purpose_prefix("selection-key") + authority.network_id.encode(),
        key=authority.to_seed(),
        digest_size=32,
    ).digest()
    assert key == expected


def test_the_selection_seed_is_a_keyed_prf_of_the_identity(authority: AuthorityKey) -> None:
    key = authority.selection_key()
    identity = b"JOPDAN\x1fPENBEPTONNALE\x1f2004-03-09"
    seed = selection_seed(key, identity)
    assert (
        seed
        == hashlib.blake2b(
            purpose_prefix("segment-selection") + identity, key=key, digest_size=32
        ).digest()
    )
    assert selection_seed(key, identity + b"x") != seed
    assert selection_seed(AuthorityKey.generate().selection_key(), identity) != seed
    with pytest.raises(InvalidKey):
        selection_seed(key[:16], identity)


def test_the_selection_key_is_sealed_to_one_member_of_one_network(
    authority: AuthorityKey,
) -> None:
    hub, member, outsider = (
        NodeIdentity.generate(),
        NodeIdentity.generate(),
        NodeIdentity.generate(),
    )
    key = authority.selection_key()
    sealed = seal_selection_key(
        authority.network_id, key, x25519_public_from_ed25519(member.public_key), hub
    )
    assert key not in sealed
    assert open_selection_key(sealed, member, hub.public_key, authority.network_id) == key
    with pytest.raises(DecryptionFailed):
        open_selection_key(sealed, outsider, hub.public_key, authority.network_id)
    with pytest.raises(DecryptionFailed):  # not from the claimed sender
        open_selection_key(sealed, member, outsider.public_key, authority.network_id)
    with pytest.raises(InvalidEncoding, match="another network"):
        open_selection_key(sealed, member, hub.public_key, AuthorityKey.generate().network_id)
    with pytest.raises(CryptoError):
        seal_selection_key(authority.network_id, key[:31], member.public_key, hub)
