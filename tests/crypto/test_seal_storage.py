from __future__ import annotations

from collections.abc import Callable

import nacl.bindings
import nacl.pwhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.crypto import (
    DecryptionFailed,
    InvalidEncoding,
    InvalidKey,
    InvalidPurpose,
    NodeIdentity,
    StorageKey,
    hash_password,
    seal_to,
    unseal,
    verify_password,
)

Random = Callable[[str], Callable[[int], bytes]]


def test_seal_round_trip(alice: NodeIdentity, bob: NodeIdentity) -> None:
    photo = b"\xff\xd8" + bytes(5000)
    sealed = seal_to(bob.x25519_public_key, photo, alice, "photo")
    assert unseal(sealed, bob, alice.public_key, "photo") == photo
    assert len(sealed) == len(photo) + 49


def test_seal_is_bound_to_recipient_sender_and_purpose(
    alice: NodeIdentity, bob: NodeIdentity, carol: NodeIdentity
) -> None:
    sealed = seal_to(bob.x25519_public_key, b"details", alice, "details")
    with pytest.raises(DecryptionFailed):
        unseal(sealed, carol, alice.public_key, "details")
    with pytest.raises(DecryptionFailed):
        unseal(sealed, bob, carol.public_key, "details")
    with pytest.raises(DecryptionFailed):
        unseal(sealed, bob, alice.public_key, "photo")


def test_seal_uses_fresh_randomness(
    alice: NodeIdentity, bob: NodeIdentity, make_random: Random
) -> None:
    a = seal_to(bob.x25519_public_key, b"x", alice, "photo", make_random("1"))
    b = seal_to(bob.x25519_public_key, b"x", alice, "photo", make_random("1"))
    c = seal_to(bob.x25519_public_key, b"x", alice, "photo", make_random("2"))
    assert a == b != c


def test_every_flipped_byte_of_a_sealed_box_fails(alice: NodeIdentity, bob: NodeIdentity) -> None:
    sealed = seal_to(bob.x25519_public_key, b"the details of the alert", alice, "details")
    for i in range(len(sealed)):
        tampered = sealed[:i] + bytes([sealed[i] ^ 0x01]) + sealed[i + 1 :]
        with pytest.raises(DecryptionFailed):
            unseal(tampered, bob, alice.public_key, "details")
    for cut in range(1, len(sealed)):
        with pytest.raises(DecryptionFailed):
            unseal(sealed[:cut], bob, alice.public_key, "details")


def test_seal_rejects_low_order_recipient_keys(alice: NodeIdentity) -> None:
    with pytest.raises(InvalidKey):
        seal_to(bytes(32), b"x", alice, "photo")
    with pytest.raises(InvalidKey):
        seal_to(b"short", b"x", alice, "photo")


def test_unseal_rejects_a_low_order_ephemeral_key(alice: NodeIdentity, bob: NodeIdentity) -> None:
    sealed = seal_to(bob.x25519_public_key, b"x", alice, "photo")
    evil = sealed[:1] + bytes(32) + sealed[33:]
    with pytest.raises(DecryptionFailed):
        unseal(evil, bob, alice.public_key, "photo")


def test_bad_purpose(alice: NodeIdentity, bob: NodeIdentity) -> None:
    with pytest.raises(InvalidPurpose):
        seal_to(bob.x25519_public_key, b"x", alice, "Photo!")


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=4096))
def test_seal_property(data: bytes) -> None:
    a = NodeIdentity.from_seed(b"a" * 32)
    b = NodeIdentity.from_seed(b"b" * 32)
    assert unseal(seal_to(b.x25519_public_key, data, a, "photo"), b, a.public_key, "photo") == data


# -- storage -------------------------------------------------------------------------------


def test_storage_round_trip_and_binding(make_random: Random) -> None:
    key = StorageKey.generate(make_random("storage"))
    blob = key.encrypt("photo", b"jpeg bytes", make_random("n"), context=b"alert-1")
    assert key.decrypt("photo", blob, context=b"alert-1") == b"jpeg bytes"
    with pytest.raises(DecryptionFailed):
        key.decrypt("details", blob, context=b"alert-1")
    with pytest.raises(DecryptionFailed):
        key.decrypt("photo", blob, context=b"alert-2")
    with pytest.raises(DecryptionFailed):
        StorageKey.generate(make_random("other")).decrypt("photo", blob, context=b"alert-1")
    assert StorageKey.from_bytes(key.to_bytes()).decrypt("photo", blob, context=b"alert-1")


def test_storage_tamper_and_truncation() -> None:
    key = StorageKey(b"s" * 32)
    blob = key.encrypt("details", b"reason: theft")
    for i in range(len(blob)):
        tampered = blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1 :]
        with pytest.raises(DecryptionFailed):
            key.decrypt("details", tampered)
    for cut in range(len(blob)):
        with pytest.raises(DecryptionFailed):
            key.decrypt("details", blob[:cut])


def test_storage_key_validation_and_repr() -> None:
    with pytest.raises(InvalidKey):
        StorageKey(b"short")
    key = StorageKey(b"s" * 32)
    assert "s" * 32 not in repr(key)


def test_derived_keys_are_independent() -> None:
    key = StorageKey(b"s" * 32)
    assert key.derive_key("pet") == StorageKey(b"s" * 32).derive_key("pet")
    assert key.derive_key("pet") != key.derive_key("audit")
    assert len(key.derive_key("pet")) == 32


# -- passwords -----------------------------------------------------------------------------

FAST = {
    "opslimit": nacl.pwhash.argon2id.OPSLIMIT_MIN,
    "memlimit": nacl.pwhash.argon2id.MEMLIMIT_MIN,
}


def test_password_hash_and_verify() -> None:
    stored = hash_password("correct horse battery staple", **FAST)
    assert stored.startswith("$argon2id$")
    assert "correct" not in stored
    assert verify_password(stored, "correct horse battery staple")
    assert not verify_password(stored, "correct horse battery stapler")
    assert not verify_password(stored, "")
    assert hash_password("pw", **FAST) != hash_password("pw", **FAST)  # salted


def test_password_default_limits_are_interactive() -> None:
    stored = hash_password("pässwörd")
    assert f"m={nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE // 1024}," in stored
    assert f"t={nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE}," in stored
    assert verify_password(stored, "pässwörd")


@pytest.mark.parametrize("bad", ["", "plaintext", "$2b$12$bcrypt", "$argon2id$v=19$garbage"])
def test_malformed_stored_hash(bad: str) -> None:
    with pytest.raises(InvalidEncoding):
        verify_password(bad, "pw")


def test_password_unicode_forms_are_the_same_password() -> None:
    # "é" typed as one code point (NFC, most keyboards) or as e + combining accent (NFD,
    # some input methods and macOS text fields) is the same password to the person typing.
    composed, decomposed = "caf\u00e9-p\u00e4ss", "cafe\u0301-pa\u0308ss"
    stored = hash_password(composed, **FAST)
    assert verify_password(stored, decomposed)
    assert verify_password(hash_password(decomposed, **FAST), composed)
    assert not verify_password(stored, "cafe-pass")


@pytest.mark.parametrize("bad", [b"pw", None, 123, "\ud800 lone surrogate"])
def test_password_that_is_not_text_is_a_typed_error(bad: object) -> None:
    stored = hash_password("pw", **FAST)
    with pytest.raises(InvalidEncoding, match="password"):
        verify_password(stored, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidEncoding, match="password"):
        hash_password(bad, **FAST)  # type: ignore[arg-type]


def test_seal_with_a_stuck_random_source_does_not_reuse_a_keystream(
    alice: NodeIdentity, bob: NodeIdentity
) -> None:
    # The nonce is fixed at zero, so the box key must differ whenever the plaintext does,
    # even if the injected random source is broken (a test stub left in production, a
    # VM snapshot). Otherwise two boxes XOR to the XOR of their plaintexts.
    def stuck(n: int) -> bytes:
        return bytes(n)

    one, two = b"details: first alert text", b"details: other alert text"
    box1 = seal_to(bob.x25519_public_key, one, alice, "details", stuck)
    box2 = seal_to(bob.x25519_public_key, two, alice, "details", stuck)
    assert box1[1:33] != box2[1:33]  # different ephemeral keys
    ct1, ct2 = box1[33:-16], box2[33:-16]
    xor_ct = bytes(a ^ b for a, b in zip(ct1, ct2, strict=True))
    xor_pt = bytes(a ^ b for a, b in zip(one, two, strict=True))
    assert xor_ct != xor_pt
    assert unseal(box1, bob, alice.public_key, "details") == one
    assert unseal(box2, bob, alice.public_key, "details") == two
    # The ephemeral key is not the stuck bytes themselves (anyone could compute X25519(e, R)).
    assert box1[1:33] != nacl.bindings.crypto_scalarmult_base(bytes(32))


def test_storage_with_a_stuck_random_source_does_not_reuse_a_nonce() -> None:
    # Every blob is under the same sub-key, so a repeated nonce would be a repeated
    # keystream (and a Poly1305 key reused: forgeable). The nonce must differ whenever
    # the plaintext or its binding does, even if the random source is stuck.
    def stuck(n: int) -> bytes:
        return bytes(n)

    key = StorageKey(b"s" * 32)
    blobs = [
        key.encrypt("details", b"reason: theft", stuck, context=b"alert-1"),
        key.encrypt("details", b"reason: fight", stuck, context=b"alert-1"),
        key.encrypt("details", b"reason: theft", stuck, context=b"alert-2"),
        key.encrypt("photo", b"reason: theft", stuck, context=b"alert-1"),
    ]
    nonces = {blob[1:25] for blob in blobs}
    assert len(nonces) == len(blobs)
    assert bytes(24) not in nonces
    assert key.decrypt("details", blobs[1], context=b"alert-1") == b"reason: fight"
