"""Secrets sealed under a passphrase (crypto/_passphrase.py): round trip, wrong
passphrase, other associated data, altered bytes, cost limits, NFC normalisation."""

from __future__ import annotations

import dataclasses

import nacl.bindings
import nacl.pwhash
import pytest

from doorwatch.crypto import (
    MAX_COST,
    STORAGE_KEY_COST,
    TEST_ONLY_COST,
    DecryptionFailed,
    InvalidEncoding,
    KdfCost,
    PassphraseSealed,
    WrongPassphrase,
    open_with_passphrase,
    purpose_prefix,
    seal_with_passphrase,
)
from doorwatch.crypto._passphrase import NONCE_BYTES, SALT_BYTES

SECRET = b"k" * 32
AD = purpose_prefix("storage-key") + b"12D3KooWpeer"


def sealed(
    passphrase: str = "a long enough passphrase", *, normalise: bool = True
) -> PassphraseSealed:
    return seal_with_passphrase(
        SECRET, passphrase, associated_data=AD, cost=TEST_ONLY_COST, normalise=normalise
    )


def test_round_trip_and_fresh_salt_and_nonce() -> None:
    a, b = sealed(), sealed()
    assert open_with_passphrase(a, "a long enough passphrase", associated_data=AD) == SECRET
    assert a.salt != b.salt
    assert a.nonce != b.nonce
    assert a.ciphertext != b.ciphertext
    assert SECRET not in a.ciphertext
    assert "k" * 32 not in repr(a)


def test_wrong_passphrase_other_context_or_altered_bytes_do_not_open() -> None:
    s = sealed()
    with pytest.raises(WrongPassphrase):
        open_with_passphrase(s, "another passphrase", associated_data=AD)
    with pytest.raises(WrongPassphrase):
        open_with_passphrase(s, "a long enough passphrase", associated_data=AD + b"x")
    assert issubclass(WrongPassphrase, DecryptionFailed)
    for field in ("salt", "nonce", "ciphertext"):
        value = getattr(s, field)
        altered = dataclasses.replace(s, **{field: bytes([value[0] ^ 1]) + value[1:]})
        with pytest.raises(WrongPassphrase):
            open_with_passphrase(altered, "a long enough passphrase", associated_data=AD)
    more = dataclasses.replace(s, cost=KdfCost(2, TEST_ONLY_COST.memlimit))
    with pytest.raises(WrongPassphrase):
        open_with_passphrase(more, "a long enough passphrase", associated_data=AD)


def test_costs_outside_the_limits_are_refused_before_any_work() -> None:
    s = sealed()
    for cost in (
        KdfCost(0, TEST_ONLY_COST.memlimit),
        KdfCost(1, 1024),
        KdfCost(MAX_COST.opslimit + 1, TEST_ONLY_COST.memlimit),
        KdfCost(1, MAX_COST.memlimit * 2),
    ):
        with pytest.raises(InvalidEncoding, match="out of range"):
            open_with_passphrase(
                dataclasses.replace(s, cost=cost),
                "a long enough passphrase",
                associated_data=AD,
            )
    with pytest.raises(InvalidEncoding, match="out of range"):
        open_with_passphrase(
            s, "a long enough passphrase", associated_data=AD, max_cost=KdfCost(1, 4096)
        )
    assert TEST_ONLY_COST.opslimit < STORAGE_KEY_COST.opslimit <= MAX_COST.opslimit
    assert TEST_ONLY_COST.memlimit < STORAGE_KEY_COST.memlimit <= MAX_COST.memlimit


def test_the_passphrase_is_nfc_normalised_unless_asked_not_to() -> None:
    composed, decomposed = "caf\u00e9 passphrase", "cafe\u0301 passphrase"
    s = sealed(composed)
    assert open_with_passphrase(s, decomposed, associated_data=AD) == SECRET
    raw = sealed(composed, normalise=False)
    with pytest.raises(WrongPassphrase):
        open_with_passphrase(raw, decomposed, associated_data=AD, normalise=False)
    with pytest.raises(InvalidEncoding):
        sealed("")
    with pytest.raises(InvalidEncoding):
        sealed("lone \udc80 surrogate")


def test_opens_what_the_authority_key_export_of_format_1_sealed() -> None:
    """Exported authority key files already on USB sticks: Argon2id of the passphrase as
    typed (3 passes over 64 MiB), XChaCha20-Poly1305 with the network id as associated
    data, built here with libsodium directly as that exporter did."""
    passphrase, network_id = "cafe\u0301 town pubwatch", b"abcdefghjkmnpqrs"
    salt, nonce = b"s" * SALT_BYTES, b"n" * NONCE_BYTES
    cost = KdfCost(
        nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
    )
    key = nacl.pwhash.argon2id.kdf(
        32, passphrase.encode(), salt, opslimit=cost.opslimit, memlimit=cost.memlimit
    )
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        SECRET, network_id, nonce, key
    )
    old = PassphraseSealed(cost, salt, nonce, ciphertext)
    assert (
        open_with_passphrase(old, passphrase, associated_data=network_id, normalise=False) == SECRET
    )
    again = seal_with_passphrase(
        SECRET, passphrase, associated_data=network_id, cost=cost, normalise=False,
        random_bytes=lambda n: salt if n == SALT_BYTES else nonce,
    )  # fmt: skip
    assert again == old
