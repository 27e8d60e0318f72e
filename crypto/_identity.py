"""Node identities: an Ed25519 key per venue node, its libp2p peer id, its
short id for reading over the phone, and purpose-bound signatures.

The peer id is libp2p's: base58btc of the identity multihash (code 0x00) of
the protobuf ``PublicKey{Type: Ed25519 (1), Data: <32 bytes>}``, i.e. of the
bytes ``00 24 08 01 12 20 || public key``. So the same key serves libp2p and
Doorwatch, and a peer id carries its own public key.

The short id is 19 Crockford base32 characters (95 bits) of
BLAKE2b("doorwatch:shortid:v1" || public key) plus one GF(32) check
character, shown as four groups of five: ``7K3QD-X9M2A-PTW4R-HB6NE``.
"""

from __future__ import annotations

import functools

import nacl.bindings
import nacl.exceptions
import nacl.signing
import nacl.utils

from doorwatch.crypto._domain import Purpose, RandomBytes, digest, purpose_prefix
from doorwatch.crypto._errors import (
    BadSignature,
    InvalidEncoding,
    InvalidKey,
    InvalidPeerId,
    InvalidShortId,
)
from doorwatch.crypto._text import (
    CROCKFORD,
    b32encode,
    b32values,
    b58decode,
    b58encode,
    check_value,
)

PUBLIC_KEY_SIZE = 32
SEED_SIZE = 32
SIGNATURE_SIZE = 64
_PEER_ID_PREFIX = bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])
_SHORT_DATA_CHARS = 19
_SHORT_GROUP = 5


def _check_public_key(public_key: bytes, field: str = "public_key") -> bytes:
    if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_KEY_SIZE:
        raise InvalidKey(f"{field}: an Ed25519 public key is exactly 32 bytes")
    return public_key


def peer_id_from_public_key(public_key: bytes) -> str:
    """The libp2p peer id (``12D3KooW...``) of an Ed25519 public key."""
    return _peer_id_from_public_key(_check_public_key(public_key))


@functools.lru_cache(maxsize=4096)
def _peer_id_from_public_key(public_key: bytes) -> str:
    return b58encode(_PEER_ID_PREFIX + public_key)


def peer_id_to_public_key(peer_id: str) -> bytes:
    """The Ed25519 public key inlined in a libp2p identity-multihash peer id."""
    if not isinstance(peer_id, str) or not 40 <= len(peer_id) <= 60:
        raise InvalidPeerId()
    return _peer_id_to_public_key(peer_id)


@functools.lru_cache(maxsize=4096)
def _peer_id_to_public_key(peer_id: str) -> bytes:
    try:
        raw = b58decode(peer_id)
    except InvalidEncoding as exc:
        raise InvalidPeerId() from exc
    if len(raw) != len(_PEER_ID_PREFIX) + PUBLIC_KEY_SIZE or not raw.startswith(_PEER_ID_PREFIX):
        raise InvalidPeerId()
    public_key = raw[len(_PEER_ID_PREFIX) :]
    if b58encode(raw) != peer_id:
        raise InvalidPeerId()
    return public_key


def x25519_public_from_ed25519(public_key: bytes) -> bytes:
    """The X25519 (Curve25519) public key corresponding to an Ed25519 public key."""
    _check_public_key(public_key)
    try:
        return nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(public_key)
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise InvalidKey("public_key: not a valid Ed25519 point") from exc


def short_id(public_key: bytes) -> str:
    """The human-checkable short id of a node key (see the module docstring)."""
    h = digest(Purpose.SHORTID, _check_public_key(public_key))
    data = b32encode(h)[:_SHORT_DATA_CHARS]
    check = CROCKFORD[check_value(b32values(data))]
    text = data + check
    return "-".join(text[i : i + _SHORT_GROUP] for i in range(0, len(text), _SHORT_GROUP))


def verify_short_id(text: str) -> str:
    """Check a typed short id; return it in display form or raise InvalidShortId.

    Case, spaces and hyphens are ignored; O reads as 0 and I/L as 1.
    """
    if not isinstance(text, str):
        raise InvalidShortId()
    compact = "".join(ch for ch in text if ch not in " -")
    if len(compact) != _SHORT_DATA_CHARS + 1:
        raise InvalidShortId("the short id must have 20 characters (four groups of five)")
    try:
        values = b32values(compact)
    except InvalidEncoding as exc:
        raise InvalidShortId(
            "the short id has a character outside 0-9 and A-Z (without U)"
        ) from exc
    if check_value(values[:-1]) != values[-1]:
        raise InvalidShortId()
    norm = "".join(CROCKFORD[v] for v in values)
    return "-".join(norm[i : i + _SHORT_GROUP] for i in range(0, len(norm), _SHORT_GROUP))


def verify(purpose: str, public_key: bytes, message: bytes, signature: bytes) -> None:
    """Check an Ed25519 signature made with :meth:`NodeIdentity.sign`; raise BadSignature."""
    prefix = purpose_prefix(purpose)
    _check_public_key(public_key)
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise BadSignature("signature: an Ed25519 signature is exactly 64 bytes")
    try:
        nacl.signing.VerifyKey(public_key).verify(prefix + message, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError) as exc:
        raise BadSignature() from exc


class SigningKey:
    """An Ed25519 key pair; the common base of node identities and authority keys."""

    __slots__ = ("_key",)

    def __init__(self, key: nacl.signing.SigningKey) -> None:
        self._key = key

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
            raise InvalidKey("seed: an Ed25519 seed is exactly 32 bytes")
        return cls(nacl.signing.SigningKey(seed))

    @classmethod
    def generate(cls, random_bytes: RandomBytes = nacl.utils.random) -> SigningKey:
        return cls.from_seed(random_bytes(SEED_SIZE))

    def to_seed(self) -> bytes:
        """The 32-byte secret seed (store it in a 0600 file)."""
        return bytes(self._key)

    @property
    def public_key(self) -> bytes:
        return bytes(self._key.verify_key)

    def sign(self, purpose: str, message: bytes) -> bytes:
        """A 64-byte Ed25519 signature over ``purpose prefix || message``."""
        return self._key.sign(purpose_prefix(purpose) + message).signature

    def __repr__(self) -> str:
        return f"{type(self).__name__}(public_key={self.public_key.hex()})"


class NodeIdentity(SigningKey):
    """A venue node's Ed25519 identity (the same key is its libp2p identity)."""

    __slots__ = ()

    @classmethod
    def from_seed(cls, seed: bytes) -> NodeIdentity:
        if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
            raise InvalidKey("seed: an Ed25519 seed is exactly 32 bytes")
        return cls(nacl.signing.SigningKey(seed))

    @classmethod
    def generate(cls, random_bytes: RandomBytes = nacl.utils.random) -> NodeIdentity:
        return cls.from_seed(random_bytes(SEED_SIZE))

    @property
    def peer_id(self) -> str:
        return peer_id_from_public_key(self.public_key)

    @property
    def short_id(self) -> str:
        return short_id(self.public_key)

    @property
    def x25519_public_key(self) -> bytes:
        return bytes(self._key.verify_key.to_curve25519_public_key())

    @property
    def x25519_private_key(self) -> bytes:
        return bytes(self._key.to_curve25519_private_key())
