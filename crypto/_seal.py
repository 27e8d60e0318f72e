"""Sealed delivery: data sealed to one recipient node, authenticated as coming
from one sender node, bound to a purpose (``photo``, ``details``,
``groupkey``...).

Theory of operation (an ephemeral-static plus static-static X25519 exchange,
as in Noise's "X"/"K" patterns): the sender draws an ephemeral X25519 key e
and computes dh1 = X25519(e, R) and dh2 = X25519(S, R), where S and R are the
sender's and recipient's X25519 keys (derived from their Ed25519 identities).
The AEAD key is BLAKE2b keyed with dh1 || dh2 over the seal purpose prefix,
the caller's purpose prefix and the three public keys. Only the recipient can
compute dh1 (confidentiality); only the sender or the recipient can compute
dh2, so a box that opens came from the sender (authentication; deniable, not
transferable to third parties). The key is fresh for every box (fresh e), so
the XChaCha20-Poly1305 nonce is fixed at zero.

Because the nonce is fixed, a repeated e would be a repeated keystream. So e
is hedged: e = BLAKE2b(key = S's private key, "doorwatch:seal-ephemeral:v1" ||
32 random bytes || R || purpose || BLAKE2b(plaintext)). With a good random
source this is just a random key; with a broken one (a test stub, a cloned
VM) e still differs for every different plaintext, recipient and purpose, and
stays unknown to anyone without the sender's key. Recipients cannot tell, and
need not: the format is unchanged.

Format: ``0x01 || e_pub (32) || ciphertext (plaintext + 16-byte tag)``.
"""

from __future__ import annotations

import hashlib

import nacl.bindings
import nacl.exceptions
import nacl.utils

from doorwatch.crypto._domain import Purpose, RandomBytes, derive, purpose_prefix
from doorwatch.crypto._errors import DecryptionFailed, InvalidKey
from doorwatch.crypto._identity import NodeIdentity, x25519_public_from_ed25519

SEAL_VERSION = 1
_NONCE = bytes(24)
SEAL_OVERHEAD = 1 + 32 + 16


def _dh(private: bytes, public: bytes) -> bytes:
    try:
        return nacl.bindings.crypto_scalarmult(private, public)
    except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError, ValueError) as exc:
        raise InvalidKey("an X25519 public key is of low order or malformed") from exc


def _key(purpose: str, dh1: bytes, dh2: bytes, e_pub: bytes, s_pub: bytes, r_pub: bytes) -> bytes:
    return derive(dh1 + dh2, Purpose.SEAL, purpose_prefix(purpose) + e_pub + s_pub + r_pub)


def seal_to(
    recipient_x25519_public: bytes,
    data: bytes,
    sender: NodeIdentity,
    purpose: str,
    random_bytes: RandomBytes = nacl.utils.random,
) -> bytes:
    """Seal ``data`` to the recipient, authenticated as from ``sender``, for ``purpose``."""
    aad = purpose_prefix(purpose)
    if not isinstance(recipient_x25519_public, bytes) or len(recipient_x25519_public) != 32:
        raise InvalidKey("recipient_x25519_public: an X25519 public key is exactly 32 bytes")
    s_priv = sender.x25519_private_key
    e_priv = derive(
        s_priv,
        Purpose.SEAL_EPHEMERAL,
        random_bytes(32)
        + recipient_x25519_public
        + aad
        + hashlib.blake2b(data, digest_size=32).digest(),
    )
    e_pub = nacl.bindings.crypto_scalarmult_base(e_priv)
    s_pub = sender.x25519_public_key
    dh1 = _dh(e_priv, recipient_x25519_public)
    dh2 = _dh(s_priv, recipient_x25519_public)
    key = _key(purpose, dh1, dh2, e_pub, s_pub, recipient_x25519_public)
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(data, aad, _NONCE, key)
    return bytes([SEAL_VERSION]) + e_pub + ct


def unseal(sealed: bytes, recipient: NodeIdentity, sender_public_key: bytes, purpose: str) -> bytes:
    """Open a box from :func:`seal_to`; ``sender_public_key`` is the sender's Ed25519 key.

    Raises DecryptionFailed if the box was not sealed by that sender to this
    recipient for this purpose, or was altered.
    """
    aad = purpose_prefix(purpose)
    if not isinstance(sealed, bytes) or len(sealed) < SEAL_OVERHEAD or sealed[0] != SEAL_VERSION:
        raise DecryptionFailed("the sealed box is truncated or of an unknown version")
    e_pub, ct = sealed[1:33], sealed[33:]
    s_pub = x25519_public_from_ed25519(sender_public_key)
    r_priv = recipient.x25519_private_key
    try:
        dh1 = _dh(r_priv, e_pub)
    except InvalidKey as exc:
        raise DecryptionFailed("the sealed box's ephemeral key is not valid") from exc
    dh2 = _dh(r_priv, s_pub)
    key = _key(purpose, dh1, dh2, e_pub, s_pub, recipient.x25519_public_key)
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, aad, _NONCE, key)
    except nacl.exceptions.CryptoError as exc:
        raise DecryptionFailed() from exc
