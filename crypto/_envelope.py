"""Signed, encrypted alert envelopes.

Theory of operation: the header (network, group, epoch, alert id, version,
originator peer id, timestamps, kind) travels in clear so any member can
route, order and verify it. The payload is encrypted with XChaCha20-Poly1305
under the group key of (network, group, epoch) with a random 24-byte nonce
(hedged with the key, header and plaintext, so a member's broken random source
cannot repeat it for two different payloads) and associated data
``"doorwatch:segment:v1\\0" || canonical(header)``, so a ciphertext cannot be
moved under another header. The originator then signs
(purpose ``segment``) the canonical map {header, nonce, ciphertext}, so any
member, even one without the group key, can check who sent it and that
nothing was altered, and the signature commits to the ciphertext.

Alert ids are bound to their originator: ``alert_id`` is the first 16 bytes
of BLAKE2b("doorwatch:alert-id:v1\\0" || originator public key || alert_salt)
with a random 16-byte ``alert_salt`` in the header, and ``verify_envelope``
checks it. So no member can sign an envelope carrying another member's alert
id (it would need a second preimage), and a forged envelope cannot make
replicas refuse the real alert as having the wrong originator.

Tombstones (kind ``tombstone``) carry no payload: the nonce and ciphertext
are empty and only the signed header matters. Any other kind must carry a
24-byte nonce and a ciphertext.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Self

import nacl.bindings
import nacl.exceptions
import nacl.utils
from pydantic import Field, StrictBytes, StrictStr, model_validator

from doorwatch.crypto._canonical import canonical_pack
from doorwatch.crypto._domain import Purpose, RandomBytes, digest, hedged_nonce, purpose_prefix
from doorwatch.crypto._errors import (
    BadSignature,
    DecryptionFailed,
    InvalidAlertId,
    InvalidEncoding,
    InvalidKey,
)
from doorwatch.crypto._groupkey import GroupKey
from doorwatch.crypto._identity import NodeIdentity, peer_id_to_public_key, verify
from doorwatch.crypto._wire import (
    Bytes16,
    Bytes64,
    Counter,
    GroupName,
    NetworkId,
    PeerIdStr,
    Time,
    WireModel,
)

KIND_SEGMENTS = "segments"
KIND_UPDATE = "update"
KIND_TOMBSTONE = "tombstone"
MAX_CIPHERTEXT = 1 << 20
NONCE_SIZE = 24

Kind = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")]


class EnvelopeHeader(WireModel):
    """The clear, signed part of an envelope."""

    network_id: NetworkId
    group: GroupName
    epoch: Counter
    alert_id: Bytes16
    alert_salt: Bytes16
    version: Counter
    originator: PeerIdStr
    created_at: Time
    expires_at: Time
    kind: Kind


class SignedEnvelope(WireModel):
    """An envelope as gossiped: header, nonce, ciphertext and the originator's signature."""

    header: EnvelopeHeader
    nonce: Annotated[StrictBytes, Field(max_length=NONCE_SIZE)]
    ciphertext: Annotated[StrictBytes, Field(max_length=MAX_CIPHERTEXT)]
    signature: Bytes64

    @model_validator(mode="after")
    def _payload_matches_kind(self) -> Self:
        if self.header.kind == KIND_TOMBSTONE:
            if self.nonce or self.ciphertext:
                raise ValueError("a tombstone has an empty nonce and ciphertext")
        elif len(self.nonce) != NONCE_SIZE or len(self.ciphertext) < 16:
            raise ValueError("nonce must be 24 bytes and ciphertext at least 16 bytes")
        return self

    def signed_bytes(self) -> bytes:
        return self._body("signature")

    @property
    def is_tombstone(self) -> bool:
        return self.header.kind == KIND_TOMBSTONE


def derive_alert_id(originator: str, alert_salt: bytes) -> bytes:
    """The alert id an originator (peer id) gets for a 16-byte ``alert_salt``."""
    if not isinstance(alert_salt, bytes) or len(alert_salt) != 16:
        raise InvalidEncoding("alert_salt: exactly 16 bytes")
    public_key = peer_id_to_public_key(originator)
    return digest(Purpose.ALERT_ID, public_key + alert_salt)[:16]


def new_alert_id(
    originator: str, random_bytes: RandomBytes = nacl.utils.random
) -> tuple[bytes, bytes]:
    """A fresh ``(alert_id, alert_salt)`` for an alert created by ``originator`` (peer id)."""
    salt = random_bytes(16)
    return derive_alert_id(originator, salt), salt


def check_alert_id(header: EnvelopeHeader) -> None:
    """Raise InvalidAlertId unless ``header.alert_id`` derives from its originator and salt."""
    expected = derive_alert_id(header.originator, header.alert_salt)
    if not hmac.compare_digest(expected, header.alert_id):
        raise InvalidAlertId()


def _aad(header: EnvelopeHeader) -> bytes:
    return purpose_prefix(Purpose.SEGMENT) + header.to_bytes()


def _matches(header: EnvelopeHeader, group_key: GroupKey) -> bool:
    return (group_key.network_id, group_key.group, group_key.epoch) == (
        header.network_id,
        header.group,
        header.epoch,
    )


def _sign(header: EnvelopeHeader, nonce: bytes, ciphertext: bytes, signer: NodeIdentity) -> bytes:
    if signer.peer_id != header.originator:
        raise InvalidKey("signer: the signing identity is not the header's originator")
    body = canonical_pack({"header": header.model_dump(), "nonce": nonce, "ciphertext": ciphertext})
    return signer.sign(Purpose.SEGMENT, body)


def seal_envelope(
    header: EnvelopeHeader,
    plaintext: bytes,
    group_key: GroupKey,
    signer: NodeIdentity,
    random_bytes: RandomBytes = nacl.utils.random,
) -> SignedEnvelope:
    """Encrypt ``plaintext`` to the group key and sign the envelope as its originator."""
    if header.kind == KIND_TOMBSTONE:
        raise InvalidEncoding("header.kind: a tombstone has no payload; use sign_tombstone")
    if not _matches(header, group_key):
        raise InvalidKey("group_key: not the key of the header's network, group and epoch")
    aad = _aad(header)
    nonce = hedged_nonce(group_key.key, random_bytes, aad, plaintext)
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, aad, nonce, group_key.key
    )
    return SignedEnvelope(
        header=header, nonce=nonce, ciphertext=ct, signature=_sign(header, nonce, ct, signer)
    )


def sign_tombstone(header: EnvelopeHeader, signer: NodeIdentity) -> SignedEnvelope:
    """A signed withdrawal: header only (kind must be ``tombstone``)."""
    if header.kind != KIND_TOMBSTONE:
        raise InvalidEncoding("header.kind: a tombstone's kind must be 'tombstone'")
    return SignedEnvelope(
        header=header, nonce=b"", ciphertext=b"", signature=_sign(header, b"", b"", signer)
    )


def verify_envelope(envelope: SignedEnvelope, originator_public_key: bytes | None = None) -> None:
    """Check the alert id's derivation and the originator's signature.

    Raises InvalidAlertId (a BadSignature) if ``alert_id`` is not derived from
    the originator's key and ``alert_salt``, BadSignature if the signature does
    not verify. The key defaults to the one inlined in ``header.originator``; a
    key given must be that peer id's key.
    """
    inlined = peer_id_to_public_key(envelope.header.originator)
    if originator_public_key is not None and not hmac.compare_digest(
        inlined, originator_public_key
    ):
        raise BadSignature("the key given is not the header's originator's")
    check_alert_id(envelope.header)
    verify(Purpose.SEGMENT, inlined, envelope.signed_bytes(), envelope.signature)


def open_envelope(envelope: SignedEnvelope, group_key: GroupKey) -> bytes:
    """Verify the originator's signature, then decrypt the payload.

    Raises BadSignature or DecryptionFailed. The signature is checked here too
    because the AEAD alone authenticates only the group: any member holding
    the group key could encrypt its own payload under another member's header.
    """
    if envelope.is_tombstone:
        raise DecryptionFailed("a tombstone has no payload to decrypt")
    if not _matches(envelope.header, group_key):
        raise DecryptionFailed(
            "the group key is not the one for this envelope's network, group and epoch"
        )
    verify_envelope(envelope)
    try:
        return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            envelope.ciphertext, _aad(envelope.header), envelope.nonce, group_key.key
        )
    except nacl.exceptions.CryptoError as exc:
        raise DecryptionFailed() from exc
