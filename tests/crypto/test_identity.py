from __future__ import annotations

from collections.abc import Callable

import nacl.bindings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from libp2p.crypto.ed25519 import Ed25519PrivateKey
from libp2p.peer.id import ID

from doorwatch.crypto import (
    BadSignature,
    InvalidKey,
    InvalidPeerId,
    InvalidPurpose,
    InvalidShortId,
    NodeIdentity,
    peer_id_from_public_key,
    peer_id_to_public_key,
    short_id,
    verify,
    verify_short_id,
    x25519_public_from_ed25519,
)

Random = Callable[[str], Callable[[int], bytes]]
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
seeds = st.binary(min_size=32, max_size=32)


@settings(max_examples=25, deadline=None)
@given(seeds)
def test_peer_id_matches_py_libp2p(seed: bytes) -> None:
    ours = NodeIdentity.from_seed(seed)
    theirs = Ed25519PrivateKey.new(seed)
    assert bytes(theirs.get_public_key().to_bytes()) == ours.public_key
    libp2p_id = ID.from_pubkey(theirs.get_public_key())
    assert ours.peer_id == libp2p_id.to_base58()
    assert ours.peer_id.startswith("12D3KooW")
    extracted = libp2p_id.extract_public_key()
    assert extracted is not None
    assert peer_id_to_public_key(ours.peer_id) == extracted.to_bytes()


@settings(max_examples=25, deadline=None)
@given(seeds)
def test_seed_round_trip_and_peer_id_round_trip(seed: bytes) -> None:
    ident = NodeIdentity.from_seed(seed)
    assert ident.to_seed() == seed
    assert NodeIdentity.from_seed(ident.to_seed()).public_key == ident.public_key
    assert peer_id_to_public_key(ident.peer_id) == ident.public_key
    assert peer_id_from_public_key(ident.public_key) == ident.peer_id


def test_generate_uses_injected_randomness(make_random: Random) -> None:
    a = NodeIdentity.generate(make_random("x"))
    b = NodeIdentity.generate(make_random("x"))
    c = NodeIdentity.generate(make_random("y"))
    assert a.public_key == b.public_key != c.public_key


def test_x25519_keys_are_a_pair(alice: NodeIdentity) -> None:
    assert nacl.bindings.crypto_scalarmult_base(alice.x25519_private_key) == alice.x25519_public_key
    assert x25519_public_from_ed25519(alice.public_key) == alice.x25519_public_key


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "12D3KooW",
        "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",  # sha2-256 peer id (RSA-style)
        "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeS0",  # '0' is not base58
        "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSBB",  # too long
        "1112D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB",  # leading zero bytes
    ],
)
def test_peer_id_to_public_key_rejects(bad: str) -> None:
    with pytest.raises(InvalidPeerId):
        peer_id_to_public_key(bad)


def test_sign_verify_and_domain_separation(alice: NodeIdentity, bob: NodeIdentity) -> None:
    sig = alice.sign("segment", b"message")
    verify("segment", alice.public_key, b"message", sig)
    with pytest.raises(BadSignature):
        verify("certificate", alice.public_key, b"message", sig)
    with pytest.raises(BadSignature):
        verify("segment", bob.public_key, b"message", sig)
    with pytest.raises(BadSignature):
        verify("segment", alice.public_key, b"messagf", sig)
    with pytest.raises(BadSignature):
        verify("segment", alice.public_key, b"message", sig[:-1])
    with pytest.raises(InvalidKey):
        verify("segment", alice.public_key[:31], b"message", sig)


@pytest.mark.parametrize("bad", ["", "Segment", "a:b", "x" * 33, "seg ment", "é"])
def test_bad_purposes_are_rejected(alice: NodeIdentity, bad: str) -> None:
    with pytest.raises(InvalidPurpose):
        alice.sign(bad, b"m")


def test_bad_seed_is_rejected() -> None:
    with pytest.raises(InvalidKey, match="seed"):
        NodeIdentity.from_seed(b"short")


def test_repr_shows_no_secret(alice: NodeIdentity) -> None:
    assert alice.to_seed().hex() not in repr(alice)


def test_short_id_format(alice: NodeIdentity) -> None:
    sid = alice.short_id
    groups = sid.split("-")
    assert [len(g) for g in groups] == [5, 5, 5, 5]
    assert all(ch in CROCKFORD for g in groups for ch in g)
    assert verify_short_id(sid) == sid
    assert verify_short_id(sid.lower().replace("-", " ")) == sid
    assert short_id(alice.public_key) == sid


@settings(max_examples=60, deadline=None)
@given(seeds, st.data())
def test_short_id_catches_every_single_substitution(seed: bytes, data: st.DataObject) -> None:
    compact = NodeIdentity.from_seed(seed).short_id.replace("-", "")
    pos = data.draw(st.integers(0, len(compact) - 1))
    replacement = data.draw(st.sampled_from([c for c in CROCKFORD if c != compact[pos]]))
    typo = compact[:pos] + replacement + compact[pos + 1 :]
    with pytest.raises(InvalidShortId):
        verify_short_id(typo)


@settings(max_examples=60, deadline=None)
@given(seeds)
def test_short_id_catches_every_adjacent_transposition(seed: bytes) -> None:
    compact = NodeIdentity.from_seed(seed).short_id.replace("-", "")
    for pos in range(len(compact) - 1):
        if compact[pos] == compact[pos + 1]:
            continue
        swapped = compact[:pos] + compact[pos + 1] + compact[pos] + compact[pos + 2 :]
        with pytest.raises(InvalidShortId):
            verify_short_id(swapped)


def test_short_id_exhaustive_over_one_id(alice: NodeIdentity) -> None:
    compact = alice.short_id.replace("-", "")
    for pos in range(len(compact)):
        for ch in CROCKFORD:
            if ch == compact[pos]:
                continue
            with pytest.raises(InvalidShortId):
                verify_short_id(compact[:pos] + ch + compact[pos + 1 :])


@pytest.mark.parametrize("bad", ["", "ABCDE-FGHJK", "UUUUU-UUUUU-UUUUU-UUUUU", "*" * 20])
def test_short_id_rejects_garbage(bad: str) -> None:
    with pytest.raises(InvalidShortId):
        verify_short_id(bad)


def test_short_id_reads_confusable_letters(alice: NodeIdentity) -> None:
    sid = alice.short_id
    spoken = sid.replace("0", "O").replace("1", "I")
    assert verify_short_id(spoken) == sid
