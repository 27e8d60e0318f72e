"""What both ends of the disclosure ladder share: the protocol id, the PET labels and the audit.

The identity check compares a few combinations of normalised full fields
(``pet_values``). Both ends compute them with the same function from the
segments package's match keys, so an OCR fold or a name particle normalises
identically at the originator (from the stored subject) and at the requester
(from the scan). Empty values are left out on both sides: two empty document
numbers must never count as equal.

Audit entries of the ladder (``record_audit``) carry the alert id, the peer
id, the step, the outcome, the request id, refusal codes and label *names*;
never a value.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Final

from doorwatch.node import _audit, _disclosure_hits
from doorwatch.protocol import AuditEvent, Hit
from doorwatch.segments import Identity, identity_keys

DISCLOSE_PROTOCOL: Final = "/doorwatch/disclose/1"
MAX_DISCLOSE_REQUEST: Final = 64 * 1024
MAX_DISCLOSE_RESPONSE: Final = 1 << 20  # a 600 KiB photo, sealed, plus framing

LABEL_SURNAME_DOB: Final = "surname-dob"
LABEL_GIVEN_DOB: Final = "given-dob"
LABEL_DOCUMENT: Final = "document"
# Only these release the subject's photo. A given name and a date of birth are
# shared by far too many people (every "Jordan" born that day) to hand a
# member the subject's face on their strength; that label only tells the door
# the customer resembles the subject.
PHOTO_LABELS: Final = frozenset({LABEL_SURNAME_DOB, LABEL_DOCUMENT})


def pet_values(identity: Identity) -> dict[str, str]:
    """The identity check's label -> normalised value (only non-empty combinations)."""
    keys = identity_keys(identity)
    values: dict[str, str] = {}
    dob = keys.date_of_birth.isoformat() if keys.date_of_birth is not None else ""
    surname = keys.surnames[0] if keys.surnames else ""
    if surname and dob:
        values[LABEL_SURNAME_DOB] = f"{surname}|{dob}"
    if keys.given_name and dob:
        values[LABEL_GIVEN_DOB] = f"{keys.given_name}|{dob}"
    if keys.document_number:
        values[LABEL_DOCUMENT] = keys.document_number
    return values


def audit_action(event: AuditEvent) -> str:
    return f"disclosure.{event.step}.{event.outcome}"


def record_audit(
    conn: sqlite3.Connection,
    events: Sequence[AuditEvent],
    *,
    actor: str,
    match_id: str | None = None,
    hits: Sequence[Hit] = (),
    detail: Mapping[str, object] | None = None,
) -> None:
    """Persist the disclosure machines' audit events and the rate-limit hits they counted
    (in one transaction); ``detail`` is added to every entry."""
    _disclosure_hits.record(conn, hits)
    for e in events:
        entry: dict[str, object] = {
            "side": e.side,
            "request_id": e.request_id.hex(),
            "requester": e.requester,
            "originator": e.originator,
        }
        if e.operator is not None:
            entry["operator"] = e.operator
        if e.code is not None:
            entry["code"] = e.code.value
        if e.labels:
            entry["labels"] = list(e.labels)
        if match_id is not None:
            entry["match_id"] = match_id
        if detail:
            entry.update(detail)
        _audit.record(
            conn,
            at=e.at,
            actor=actor,
            action=audit_action(e),
            alert_id=e.alert_id.hex(),
            peer_id=e.requester if e.side == "originator" else e.originator,
            detail=entry,
        )
