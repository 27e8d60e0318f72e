"""Secrets sealed under a passphrase (crypto/_passphrase.py): round trip, wrong
passphrase, other associated data, altered bytes, cost limits, NFC normalisation."""

from __future__ import annotations

import dataclasses

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
