"""At-rest encryption under the node's storage key, and staff password hashes.

A blob is ``0x01 || nonce (24) || XChaCha20-Poly1305 ciphertext`` under a
sub-key BLAKE2b(storage key, "doorwatch:storage:v1"), with associated data
``"doorwatch:<purpose>:v1\\0" || context``. Binding the purpose (``photo``,
``details``, ``identity``...) and a context (e.g. the alert id) means a blob
copied to another column or row of the database does not decrypt. The nonce
is random, hedged with the sub-key, the associated data and the plaintext
(``hedged_nonce``), so a broken random source cannot repeat it for two
different blobs.

Password hashes are Argon2id strings (PHC format, salt and limits included)
of the NFC-normalised UTF-8 password, the storage side of the agreement's
unique-staff-login requirement.
"""

from __future__ import annotations

import re
import unicodedata

import nacl.bindings
import nacl.exceptions
import nacl.pwhash
import nacl.utils

from doorwatch.crypto._domain import (
    Purpose,
    RandomBytes,
    derive,
    hedged_nonce,
    purpose_prefix,
)
from doorwatch.crypto._errors import DecryptionFailed, InvalidEncoding, InvalidKey

STORAGE_VERSION = 1
_NONCE = 24
STORAGE_OVERHEAD = 1 + _NONCE + 16

PASSWORD_OPSLIMIT_INTERACTIVE: int = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
PASSWORD_MEMLIMIT_INTERACTIVE: int = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
PASSWORD_OPSLIMIT_MODERATE: int = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
PASSWORD_MEMLIMIT_MODERATE: int = nacl.pwhash.argon2id.MEMLIMIT_MODERATE


_ARGON2ID = re.compile(
    r"\$argon2id\$v=19\$m=\d{1,10},t=\d{1,10},p=\d{1,3}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}"
)


class StorageKey:
    """The node's 32-byte at-rest key (kept by the node in a 0600 file)."""

    __slots__ = ("_key", "_subkey")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != 32:
            raise InvalidKey("storage key: exactly 32 bytes")
        self._key = key
        self._subkey = derive(key, Purpose.STORAGE)

    @classmethod
    def generate(cls, random_bytes: RandomBytes = nacl.utils.random) -> StorageKey:
        return cls(random_bytes(32))

    @classmethod
    def from_bytes(cls, key: bytes) -> StorageKey:
        return cls(key)

    def to_bytes(self) -> bytes:
        return self._key

    def derive_key(self, purpose: str) -> bytes:
        """An independent 32-byte secret for another use (e.g. the PET node secret)."""
        return derive(self._key, "derive", purpose_prefix(purpose))

    def encrypt(
        self,
        purpose: str,
        plaintext: bytes,
        random_bytes: RandomBytes = nacl.utils.random,
        *,
        context: bytes = b"",
    ) -> bytes:
        aad = purpose_prefix(purpose) + context
        nonce = hedged_nonce(self._subkey, random_bytes, aad, plaintext)
        ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, aad, nonce, self._subkey
        )
        return bytes([STORAGE_VERSION]) + nonce + ct

    def decrypt(self, purpose: str, blob: bytes, *, context: bytes = b"") -> bytes:
        aad = purpose_prefix(purpose) + context
        if not isinstance(blob, bytes) or len(blob) < STORAGE_OVERHEAD:
            raise DecryptionFailed("the stored blob is truncated")
        if blob[0] != STORAGE_VERSION:
            raise DecryptionFailed("the stored blob has an unknown format version")
        try:
            return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
                blob[1 + _NONCE :], aad, blob[1 : 1 + _NONCE], self._subkey
            )
        except nacl.exceptions.CryptoError as exc:
            raise DecryptionFailed() from exc

    def __repr__(self) -> str:
        return "StorageKey(<secret>)"


def _password_bytes(password: object) -> bytes:
    # NFC first: the same typed password may arrive composed or decomposed (macOS,
    # some input methods), and it must hash the same (RFC 8265's OpaqueString rule).
    if not isinstance(password, str):
        raise InvalidEncoding("password: must be text")
    try:
        return unicodedata.normalize("NFC", password).encode("utf-8")
    except UnicodeError as exc:
        raise InvalidEncoding("password: must be valid Unicode text (no lone surrogates)") from exc


def hash_password(
    password: str,
    *,
    opslimit: int = PASSWORD_OPSLIMIT_INTERACTIVE,
    memlimit: int = PASSWORD_MEMLIMIT_INTERACTIVE,
) -> str:
    """An Argon2id hash string of ``password`` (NFC-normalised; random salt; limits stored)."""
    hashed: bytes = nacl.pwhash.argon2id.str(_password_bytes(password), opslimit, memlimit)
    return hashed.decode("ascii")


def verify_password(stored: str, password: str) -> bool:
    """True if ``password`` matches the stored Argon2id hash; InvalidEncoding if malformed."""
    if not isinstance(stored, str) or not _ARGON2ID.fullmatch(stored):
        raise InvalidEncoding("stored password hash: not an Argon2id hash string")
    candidate = _password_bytes(password)
    try:
        return bool(nacl.pwhash.argon2id.verify(stored.encode("ascii"), candidate))
    except nacl.exceptions.InvalidkeyError:
        return False
    except (nacl.exceptions.CryptoError, ValueError) as exc:
        raise InvalidEncoding("stored password hash: malformed Argon2id hash string") from exc
