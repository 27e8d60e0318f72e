"""Domain separation: every signature, MAC and derived key starts with
``b"doorwatch:<purpose>:v1\\x00"``. Purposes are 1-32 characters of a-z, 0-9
and '-', so no prefix is a prefix of another and the NUL ends it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from enum import StrEnum

from doorwatch.crypto._errors import InvalidPurpose

RandomBytes = Callable[[int], bytes]
"""Source of key material and nonces: ``random_bytes(n)`` returns n random bytes."""

_PURPOSE = re.compile(r"[a-z0-9-]{1,32}")


class Purpose(StrEnum):
    """The purposes doorwatch.crypto itself uses. Callers may sign under others."""

    SEGMENT = "segment"  # envelope signatures (every envelope kind)
    CERTIFICATE = "certificate"
    REVOCATION = "revocation"
    GROUPKEY = "groupkey"
    INVITE = "invite"
    JOIN = "join"
    STORAGE = "storage"
    STORAGE_KEY = "storage-key"  # the storage key sealed under the node's passphrase
    NODE_KEY = "node-key"  # the node identity seed sealed under the storage key
    PET = "pet"
    PET_COMMIT = "pet-commit"  # the originator's commitment to its evaluated value
    ALERT_ID = "alert-id"  # alert_id = H(originator key, alert_salt)
    SEAL = "seal"
    SEAL_EPHEMERAL = "seal-ephemeral"  # the hedged ephemeral key of a sealed box
    NONCE = "nonce"  # hedged AEAD nonces
    NETWORK = "network"
    POLICY = "network-policy"  # the authority's signed network policy
    SELECTION_KEY = "selection-key"  # the network's selection key, from the authority seed
    SELECTION = "segment-selection"  # the seed of one subject's segment selection
    SHORTID = "shortid"
    NOTICE_VOTER = "notice-voter"  # a committee member's voting pseudonym, from the authority seed
    NOTICE_VOTE = "notice-vote"  # a committee vote on a banning notice, signed by the pseudonym
    NOTICE_NOMINATOR = "notice-nominator"  # a nominator's proof of its own voting pseudonym
    NOTICE_CASE = "notice-case"  # a notice's case (summary, grounds) sealed to the committee


def purpose_prefix(purpose: str) -> bytes:
    """``b"doorwatch:<purpose>:v1\\0"``; raises InvalidPurpose for a malformed purpose."""
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise InvalidPurpose()
    return b"doorwatch:" + purpose.encode("ascii") + b":v1\x00"


def derive(key: bytes, purpose: str, data: bytes = b"", size: int = 32) -> bytes:
    """Keyed BLAKE2b of ``purpose prefix || data`` (a PRF / KDF / MAC)."""
    return hashlib.blake2b(purpose_prefix(purpose) + data, key=key, digest_size=size).digest()


def hedged_nonce(key: bytes, random_bytes: RandomBytes, aad: bytes, plaintext: bytes) -> bytes:
    """A 24-byte AEAD nonce from fresh randomness, hedged with the key and the message.

    With a good random source it is random. With a stuck or repeating one
    (a test stub left in, a cloned VM) it still differs for every different
    (associated data, plaintext) under the key, so a nonce never repeats for
    two different messages; the worst case is that equal messages encrypt
    equally. Decryption does not care how the nonce was chosen.
    """
    h = hashlib.blake2b(key=key, digest_size=24)
    h.update(purpose_prefix(Purpose.NONCE))
    h.update(random_bytes(24))
    h.update(len(aad).to_bytes(8, "big"))
    h.update(aad)
    h.update(plaintext)
    return h.digest()


def digest(purpose: str, data: bytes, size: int = 32) -> bytes:
    """Unkeyed BLAKE2b of ``purpose prefix || data``."""
    return hashlib.blake2b(purpose_prefix(purpose) + data, digest_size=size).digest()
