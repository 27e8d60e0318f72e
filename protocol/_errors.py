"""The typed errors of doorwatch.protocol.

Two sides, as in h11 and httpcore: ``LocalProtocolError`` means *we* tried to
do something the protocol forbids (a bug or a misuse in this node), and
``RemoteProtocolError`` means the *peer* sent something we refuse. Both carry
a user-facing message naming the field and the rule at fault (never a value:
values may be personal data) and a machine-readable ``code`` the node counts
and puts in refusal messages. Foreign exceptions (msgpack, pydantic, crypto)
are mapped to these once, at the decode or verify boundary.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Why a message or a request was refused; stable strings for logs, counters and the wire."""

    MALFORMED = "malformed"
    OVERSIZE = "oversize"
    TOO_DEEP = "too_deep"
    UNKNOWN_VERSION = "unknown_version"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_FIELD = "unknown_field"
    BAD_SIGNATURE = "bad_signature"
    NOT_MEMBER = "not_member"
    WRONG_ORIGINATOR = "wrong_originator"
    REPLAY = "replay"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    LIFETIME_EXCEEDED = "lifetime_exceeded"
    FUTURE_DATE = "future_date"
    INACTIVE = "inactive"
    UNKNOWN_ALERT = "unknown_alert"
    RATE_LIMITED = "rate_limited"
    OUT_OF_ORDER = "out_of_order"
    NOT_CONFIRMED = "not_confirmed"
    WRONG_SESSION = "wrong_session"
    WRONG_NETWORK = "wrong_network"
    BAD_PROOF = "bad_proof"
    WEAK_PROOF = "weak_proof"
    NOT_KEY_MANAGER = "not_key_manager"
    STALE_EPOCH = "stale_epoch"


class ProtocolError(Exception):
    """Base class of every error doorwatch.protocol raises."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.MALFORMED) -> None:
        self.message = message
        self.code = code
        super().__init__(message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code.value!r})"


class LocalProtocolError(ProtocolError):
    """This node tried to send or do something the protocol forbids."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something this node refuses: bad bytes, a bad signature, a forbidden step."""
