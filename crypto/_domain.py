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
    PET = "pet"
    SEAL = "seal"
    NETWORK = "network"
    SHORTID = "shortid"


def purpose_prefix(purpose: str) -> bytes:
    """``b"doorwatch:<purpose>:v1\\0"``; raises InvalidPurpose for a malformed purpose."""
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise InvalidPurpose()
    return b"doorwatch:" + purpose.encode("ascii") + b":v1\x00"


def derive(key: bytes, purpose: str, data: bytes = b"", size: int = 32) -> bytes:
    """Keyed BLAKE2b of ``purpose prefix || data`` (a PRF / KDF / MAC)."""
    return hashlib.blake2b(purpose_prefix(purpose) + data, key=key, digest_size=size).digest()


def digest(purpose: str, data: bytes, size: int = 32) -> bytes:
    """Unkeyed BLAKE2b of ``purpose prefix || data``."""
    return hashlib.blake2b(purpose_prefix(purpose) + data, digest_size=size).digest()
