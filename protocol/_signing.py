"""Signing and verifying messages, with crypto's errors mapped once, here.

Theory of operation: alert messages carry a ``doorwatch.crypto``
``SignedEnvelope`` whose signature crypto checks (``verify_envelope``). Other
node-signed messages (``SIGNED_BY``) carry ``signature`` over the canonical
encoding of the message without that field, under the purpose ``msg-<type>``
(dots become hyphens), so a signature made for one message type never
verifies as another. The signer is the peer id in the field ``SIGNED_BY``
names; the peer id inlines the public key, so no key lookup is needed to
check the signature (membership is a separate check, against certificates).
"""

from __future__ import annotations

from typing import TypeVar

from doorwatch.crypto import (
    CryptoError,
    InvalidAlertId,
    NodeIdentity,
    canonical_pack,
    peer_id_to_public_key,
    verify,
    verify_envelope,
)
from doorwatch.protocol._errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from doorwatch.protocol._messages import (
    SIGNED_BY,
    AlertPublish,
    AlertUpdate,
    Annotation,
    BanningAppeal,
    BanningCarrier,
    BanningNomination,
    BanningOutcome,
    Dispute,
    Message,
    PresenceRecord,
    ReportCounts,
    ReviewRecord,
    Withdrawal,
)

M = TypeVar("M", bound=Message)
NodeSigned = (
    Annotation
    | Dispute
    | ReviewRecord
    | PresenceRecord
    | BanningNomination
    | BanningAppeal
    | BanningOutcome
    | BanningCarrier
    | ReportCounts
)


def purpose_for(message_type: str) -> str:
    """The signature purpose of a node-signed message type, e.g. ``msg-alert-annotate``."""
    return "msg-" + message_type.replace(".", "-").replace("_", "-")


def signed_payload(message: Message) -> bytes:
    """The canonical bytes a node signature covers: every field but ``signature``."""
    return canonical_pack(message.model_dump(exclude={"signature"}))


def _signer_field(message: Message) -> str:
    field = SIGNED_BY.get(message.type)
    if field is None:
        raise LocalProtocolError(f"{message.type} is not a node-signed message type")
    return field


def sign_message(message: M, identity: NodeIdentity) -> M:
    """A copy of ``message`` with ``signature`` set by ``identity`` (who must be its signer)."""
    field = _signer_field(message)
    if getattr(message, field) != identity.peer_id:
        raise LocalProtocolError(f"{message.type}: the signing identity is not the '{field}'")
    signature = identity.sign(purpose_for(message.type), signed_payload(message))
    return type(message).model_validate(
        {**message.model_dump(), "signature": signature}, strict=True
    )


def verify_message(message: Message) -> None:
    """Check the signature of a node-signed or alert message; raise RemoteProtocolError."""
    try:
        if isinstance(message, AlertPublish | AlertUpdate | Withdrawal):
            try:
                verify_envelope(message.envelope)
            except InvalidAlertId as exc:
                raise RemoteProtocolError(
                    f"{message.type}: alert_id is not derived from the originator's key "
                    "and alert_salt",
                    ErrorCode.WRONG_ORIGINATOR,
                ) from exc
            return
        field = _signer_field(message)
        if not isinstance(message, NodeSigned):
            raise LocalProtocolError(f"{message.type} has no signature field")
        public_key = peer_id_to_public_key(getattr(message, field))
        verify(purpose_for(message.type), public_key, signed_payload(message), message.signature)
    except CryptoError as exc:
        raise RemoteProtocolError(
            f"{message.type}: the signature does not verify", ErrorCode.BAD_SIGNATURE
        ) from exc
