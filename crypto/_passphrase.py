"""Secrets sealed under a passphrase: Argon2id, then XChaCha20-Poly1305.

A ``PassphraseSealed`` is the key-derivation cost (Argon2id opslimit and
memlimit), a random 16-byte salt, a random 24-byte nonce and the
XChaCha20-Poly1305 ciphertext of the secret under
``Argon2id(passphrase, salt, cost)``, with the caller's associated data (a
purpose prefix and a context, so that a sealed secret of one kind cannot be
passed off as another). The cost travels with the sealed secret, so it can
be raised later without breaking old ones; ``open_with_passphrase`` refuses a
cost above the caller's ceiling, so a tampered file cannot make the reader
allocate gigabytes.

Used for the node's storage key at rest (``storage.key``) and for an exported
network authority key. The passphrase is NFC-normalised UTF-8 (as staff
passwords are) unless the caller asks for the text as given (the authority
key files of format 1 were sealed that way).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import nacl.pwhash
import nacl.utils

from doorwatch.crypto._domain import RandomBytes
from doorwatch.crypto._errors import InvalidEncoding, WrongPassphrase

SALT_BYTES: int = nacl.pwhash.argon2id.SALTBYTES
NONCE_BYTES: int = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_KEY_BYTES: int = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES


@dataclass(frozen=True)
class KdfCost:
    """Argon2id's work: ``opslimit`` passes over ``memlimit`` bytes."""

    opslimit: int
    memlimit: int


# libsodium's MODERATE limits (3 passes over 256 MiB, under a second on a small PC):
# paid once at each start of the daemon, and by every guess of a thief.
STORAGE_KEY_COST = KdfCost(
    nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE
)
# libsodium's minimum (1 pass over 8 KiB): for tests only, never for a venue's node.
TEST_ONLY_COST = KdfCost(nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)
# The most a reader will pay for a sealed secret it is given (SENSITIVE: 4 passes, 1 GiB).
MAX_COST = KdfCost(nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE, nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE)


@dataclass(frozen=True)
class PassphraseSealed:
    cost: KdfCost
    salt: bytes
    nonce: bytes
    ciphertext: bytes

    def __repr__(self) -> str:
        return f"PassphraseSealed(cost={self.cost}, <{len(self.ciphertext)} bytes>)"


def _passphrase_bytes(passphrase: object, normalise: bool) -> bytes:
    if not isinstance(passphrase, str) or not passphrase:
        raise InvalidEncoding("passphrase: must be non-empty text")
    try:
        text = unicodedata.normalize("NFC", passphrase) if normalise else passphrase
        return text.encode("utf-8")
    except UnicodeError:
        raise InvalidEncoding("passphrase: must be valid Unicode text") from None


def passphrase_key(passphrase: str, salt: bytes, cost: KdfCost, *, normalise: bool = True) -> bytes:
    """The 32-byte Argon2id key of ``passphrase`` (slow on purpose: ``cost``)."""
    if len(salt) != SALT_BYTES:
        raise InvalidEncoding(f"passphrase salt: exactly {SALT_BYTES} bytes")
    key: bytes = nacl.pwhash.argon2id.kdf(
        _KEY_BYTES,
        _passphrase_bytes(passphrase, normalise),
        salt,
        opslimit=cost.opslimit,
        memlimit=cost.memlimit,
    )
    return key


def seal_with_passphrase(
    secret: bytes,
    passphrase: str,
    *,
    associated_data: bytes,
    cost: KdfCost = STORAGE_KEY_COST,
    normalise: bool = True,
    random_bytes: RandomBytes = nacl.utils.random,
) -> PassphraseSealed:
    """``secret`` sealed under ``passphrase`` (a fresh salt and nonce every time)."""
    _check_cost(cost, MAX_COST)
    salt, nonce = random_bytes(SALT_BYTES), random_bytes(NONCE_BYTES)
    key = passphrase_key(passphrase, salt, cost, normalise=normalise)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        secret, associated_data, nonce, key
    )
    return PassphraseSealed(cost, salt, nonce, ciphertext)


def open_with_passphrase(
    sealed: PassphraseSealed,
    passphrase: str,
    *,
    associated_data: bytes,
    max_cost: KdfCost = MAX_COST,
    normalise: bool = True,
) -> bytes:
    """The secret, or ``WrongPassphrase`` (wrong passphrase, other associated data or
    altered bytes: indistinguishable by design); ``InvalidEncoding`` for a cost outside
    ``max_cost`` or a malformed salt or nonce."""
    _check_cost(sealed.cost, max_cost)
    if len(sealed.nonce) != NONCE_BYTES:
        raise InvalidEncoding(f"passphrase-sealed nonce: exactly {NONCE_BYTES} bytes")
    key = passphrase_key(passphrase, sealed.salt, sealed.cost, normalise=normalise)
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed.ciphertext, associated_data, sealed.nonce, key
        )
    except nacl.exceptions.CryptoError:
        raise WrongPassphrase() from None


def _check_cost(cost: KdfCost, ceiling: KdfCost) -> None:
    ops, mem = cost.opslimit, cost.memlimit
    if (
        not isinstance(ops, int)
        or not isinstance(mem, int)
        or not TEST_ONLY_COST.opslimit <= ops <= ceiling.opslimit
        or not TEST_ONLY_COST.memlimit <= mem <= ceiling.memlimit
    ):
        raise InvalidEncoding(
            "passphrase key derivation: opslimit and memlimit out of range "
            f"({TEST_ONLY_COST.opslimit}..{ceiling.opslimit}, "
            f"{TEST_ONLY_COST.memlimit}..{ceiling.memlimit})"
        )
