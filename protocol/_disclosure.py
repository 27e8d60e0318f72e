"""The disclosure ladder for one match: identity check -> photo -> operator -> details.

Theory of operation: two sans-I/O machines, one per side of one match,
keyed by a random 16-byte ``request_id``.

Requester (the venue whose scanner matched)::

    NEW --start_identity_check--> CHECK_SENT --IdentityCheckResponse--> MATCHED
                                                                    \\-> NO_MATCH (end)
    MATCHED --request_photo--> PHOTO_SENT --PhotoResponse--> PHOTO_RECEIVED
    PHOTO_RECEIVED --confirm(same_person=True)--> DETAILS_SENT --DetailsResponse--> DONE
                   \\-confirm(same_person=False)--> NOT_SAME_PERSON (end)
    any waiting state --DisclosureRefusal--> REFUSED (end)

Originator (the venue that created the alert)::

    NEW --IdentityCheckRequest--> CHECKED --PhotoRequest--> PHOTO_SENT
    PHOTO_SENT --DetailsRequest(confirmed same person)--> DONE
    any state --refused request--> REFUSED (end)

The originator checks, at every step and in this order: the request belongs
to this session (same request id, alert and requester, and the requester is
the authenticated peer), the alert is known and active now, the requester is
a member of one of the alert's distribution groups now, the step comes in
order (no photo before an identity check, no details before the photo and
the operator's "same person"), and the rate limits (a sliding window per
requester and alert, per requester, per alert). A refused step ends the
session with a ``disclosure.refusal`` carrying the error code.

The identity check is crypto's private equality test: the originator learns
nothing about the customer and cannot tell whether it matched; the requester
learns, per label, equal or not. The originator's answer commits to its
evaluated value per label (``PetOpening``, kept in this session's memory);
the photo request carries the requester's unblinded value for the labels it
claims matched, and the originator checks it against the kept value: a
requester whose customer did not match cannot produce it, so a photo request
without a valid proof is refused (``bad_proof``) and audited on both sides.
The photo and the details are sealed to the requester, bound to the request
id and alert id.

Both sides emit an ``AuditEvent`` for every step and outcome; the node
persists them. Nothing here reads a clock: ``now`` is always a parameter.
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

import nacl.utils

from doorwatch.crypto import (
    CryptoError,
    NodeIdentity,
    PetError,
    PetOpening,
    PetResult,
    PetState,
    canonical_pack,
    canonical_unpack,
    peer_id_to_public_key,
    pet_blind,
    pet_check_proof,
    pet_finish,
    pet_respond,
    seal_to,
    unseal,
    x25519_public_from_ed25519,
)
from doorwatch.protocol._errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from doorwatch.protocol._messages import (
    DetailsRequest,
    DetailsResponse,
    DisclosureRefusal,
    IdentityCheckRequest,
    IdentityCheckResponse,
    Message,
    OperatorConfirmation,
    PhotoRequest,
    PhotoResponse,
)

HOUR = 3_600
DAY = 86_400
MAX_PHOTO = 600 * 1024
MAX_DETAILS = 200 * 1024
PHOTO_PURPOSE = "photo"
DETAILS_PURPOSE = "details"

Step = Literal["identity_check", "photo", "operator_confirmation", "details"]
Side = Literal["requester", "originator"]
RandomBytes = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audited step of a disclosure, as the node persists it.

    ``outcome`` is one of: requested, answered, refused, match, no_match,
    photo_received, same_person, not_same_person, details_received. It never
    holds personal data: ``labels`` are field-combination names, not values.
    """

    at: int
    side: Side
    step: Step
    outcome: str
    request_id: bytes
    alert_id: bytes
    requester: str
    originator: str
    operator: str | None = None
    code: ErrorCode | None = None
    labels: tuple[str, ...] = ()


# --- Rate limits ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimits:
    """Sliding-window limits the originator applies (counts per window, windows in seconds)."""

    identity_checks_per_requester_alert: int = 5
    identity_checks_per_requester_alert_window: int = DAY
    identity_checks_per_requester: int = 30
    identity_checks_per_requester_window: int = HOUR
    identity_checks_per_alert: int = 30
    identity_checks_per_alert_window: int = HOUR
    photos_per_requester: int = 10
    photos_per_requester_window: int = HOUR
    details_per_requester: int = 10
    details_per_requester_window: int = HOUR


@dataclass(frozen=True, slots=True)
class _Rule:
    key: tuple[str | bytes, ...]
    limit: int
    window: int
    name: str


class RateLimiter:
    """Sliding-window counters shared by all of an originator's sessions.

    A request is counted only if every rule allows it; memory per key is
    bounded by the rule's limit.
    """

    def __init__(self, limits: RateLimits | None = None) -> None:
        self.limits = limits or RateLimits()
        self._hits: dict[tuple[str | bytes, ...], deque[int]] = {}

    def _window(self, rule: _Rule, now: int) -> deque[int]:
        hits = self._hits.setdefault(rule.key, deque())
        while hits and hits[0] <= now - rule.window:
            hits.popleft()
        return hits

    def try_acquire(self, rules: list[_Rule], now: int) -> str | None:
        """Count one request against every rule, or return the name of the rule it breaks."""
        for rule in rules:
            if len(self._window(rule, now)) >= rule.limit:
                return rule.name
        for rule in rules:
            self._hits[rule.key].append(now)
        return None

    def forget(self, now: int) -> None:
        """Drop counters with no hit in the last day (call it now and then)."""
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - DAY]:
            del self._hits[key]

    def identity_check_rules(self, requester: str, alert_id: bytes) -> list[_Rule]:
        lim = self.limits
        return [
            _Rule(
                ("idc-ra", requester, alert_id),
                lim.identity_checks_per_requester_alert,
                lim.identity_checks_per_requester_alert_window,
                "identity checks per requester and alert",
            ),
            _Rule(
                ("idc-r", requester),
                lim.identity_checks_per_requester,
                lim.identity_checks_per_requester_window,
                "identity checks per requester",
            ),
            _Rule(
                ("idc-a", alert_id),
                lim.identity_checks_per_alert,
                lim.identity_checks_per_alert_window,
                "identity checks per alert",
            ),
        ]

    def photo_rules(self, requester: str) -> list[_Rule]:
        lim = self.limits
        return [
            _Rule(
                ("photo-r", requester),
                lim.photos_per_requester,
                lim.photos_per_requester_window,
                "photos per requester",
            )
        ]

    def details_rules(self, requester: str) -> list[_Rule]:
        lim = self.limits
        return [
            _Rule(
                ("details-r", requester),
                lim.details_per_requester,
                lim.details_per_requester_window,
                "details per requester",
            )
        ]


# --- Originator -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What the originator's store says about one of its alerts at ``now``."""

    groups: frozenset[str]
    active: bool
    """Not withdrawn, not suspended, not expired."""


class OriginatorBackend(Protocol):
    """The originator's data, injected by the node (reads only; no I/O in the machine)."""

    def alert(self, alert_id: bytes, now: int) -> AlertFacts | None:
        """The alert's groups and state, or None if this node did not originate it."""
        ...

    def is_member(self, peer_id: str, groups: frozenset[str], now: int) -> bool:
        """True if the peer holds a valid, unrevoked certificate for one of ``groups``."""
        ...

    def pet_values(self, alert_id: bytes) -> Mapping[str, str]:
        """The subject's normalised values per label (e.g. ``surname+dob``)."""
        ...

    def photo(self, alert_id: bytes) -> bytes: ...

    def details(self, alert_id: bytes) -> bytes: ...


class OriginatorState(StrEnum):
    NEW = "new"
    CHECKED = "checked"
    PHOTO_SENT = "photo_sent"
    DONE = "done"
    REFUSED = "refused"


@dataclass
class Outcome:
    """What the originator does with one request: send ``reply``, persist ``audit``."""

    reply: Message
    audit: list[AuditEvent]
    error: RemoteProtocolError | None = None


DisclosureRequest = IdentityCheckRequest | PhotoRequest | DetailsRequest


def _step_of(request: DisclosureRequest) -> Literal["identity_check", "photo", "details"]:
    if isinstance(request, IdentityCheckRequest):
        return "identity_check"
    if isinstance(request, PhotoRequest):
        return "photo"
    return "details"


def _bind(request_id: bytes, alert_id: bytes, data: bytes) -> bytes:
    return canonical_pack([request_id, alert_id, data])


class OriginatorSession:
    """The originator's side of one match (one ``request_id`` from one requester)."""

    def __init__(
        self,
        *,
        identity: NodeIdentity,
        pet_node_secret: bytes,
        backend: OriginatorBackend,
        limiter: RateLimiter,
        random_bytes: RandomBytes = nacl.utils.random,
    ) -> None:
        self._identity = identity
        self._secret = pet_node_secret
        self._backend = backend
        self._limiter = limiter
        self._random = random_bytes
        self.state = OriginatorState.NEW
        self.request_id: bytes | None = None
        self.alert_id: bytes | None = None
        self.requester: str | None = None
        self.labels: tuple[str, ...] = ()
        self._opening: PetOpening | None = None

    def _audit(
        self,
        request: DisclosureRequest,
        step: Step,
        outcome: str,
        now: int,
        *,
        code: ErrorCode | None = None,
        operator: str | None = None,
        labels: tuple[str, ...] = (),
    ) -> AuditEvent:
        return AuditEvent(
            at=now,
            side="originator",
            step=step,
            outcome=outcome,
            request_id=request.request_id,
            alert_id=request.alert_id,
            requester=request.requester,
            originator=self._identity.peer_id,
            operator=operator,
            code=code,
            labels=labels,
        )

    def _refuse(
        self,
        request: DisclosureRequest,
        now: int,
        message: str,
        code: ErrorCode,
        audit: list[AuditEvent],
    ) -> Outcome:
        step = _step_of(request)
        self.state = OriginatorState.REFUSED
        audit.append(self._audit(request, step, "refused", now, code=code))
        reply = DisclosureRefusal(
            request_id=request.request_id,
            alert_id=request.alert_id,
            step=step,
            code=code.value,
            message=message,
        )
        return Outcome(reply=reply, audit=audit, error=RemoteProtocolError(message, code))

    def handle(self, request: DisclosureRequest, peer: str, now: int) -> Outcome:
        """Answer one request from the authenticated ``peer`` at time ``now``."""
        step = _step_of(request)
        audit: list[AuditEvent] = []
        operator = request.confirmation.operator if isinstance(request, DetailsRequest) else None
        audit.append(self._audit(request, step, "requested", now, operator=operator))
        if request.requester != peer:
            return self._refuse(
                request,
                now,
                "requester is not the peer that sent the request",
                ErrorCode.WRONG_SESSION,
                audit,
            )
        if self.request_id is not None and (
            request.request_id != self.request_id
            or request.alert_id != self.alert_id
            or request.requester != self.requester
        ):
            return self._refuse(
                request,
                now,
                "request_id, alert_id or requester differ from the session's",
                ErrorCode.WRONG_SESSION,
                audit,
            )
        if self.state in (OriginatorState.DONE, OriginatorState.REFUSED):
            return self._refuse(
                request,
                now,
                f"the disclosure session is over ({self.state.value})",
                ErrorCode.OUT_OF_ORDER,
                audit,
            )
        facts = self._backend.alert(request.alert_id, now)
        if facts is None:
            return self._refuse(
                request,
                now,
                "alert_id is not an alert this node originated",
                ErrorCode.UNKNOWN_ALERT,
                audit,
            )
        if not facts.active:
            return self._refuse(
                request,
                now,
                "the alert is not active (withdrawn, suspended or expired)",
                ErrorCode.INACTIVE,
                audit,
            )
        if not self._backend.is_member(request.requester, facts.groups, now):
            return self._refuse(
                request,
                now,
                "requester is not a member of the alert's distribution groups",
                ErrorCode.NOT_MEMBER,
                audit,
            )
        if isinstance(request, IdentityCheckRequest):
            return self._identity_check(request, now, audit)
        if isinstance(request, PhotoRequest):
            return self._photo(request, now, audit)
        return self._details(request, now, audit)

    def _identity_check(
        self, request: IdentityCheckRequest, now: int, audit: list[AuditEvent]
    ) -> Outcome:
        if self.state is not OriginatorState.NEW:
            return self._refuse(
                request,
                now,
                "one identity check per disclosure session",
                ErrorCode.OUT_OF_ORDER,
                audit,
            )
        self.request_id, self.alert_id, self.requester = (
            request.request_id,
            request.alert_id,
            request.requester,
        )
        broken = self._limiter.try_acquire(
            self._limiter.identity_check_rules(request.requester, request.alert_id), now
        )
        if broken is not None:
            return self._refuse(
                request, now, f"rate limit reached: {broken}", ErrorCode.RATE_LIMITED, audit
            )
        try:
            self._opening, response = pet_respond(
                self._secret,
                request.alert_id,
                request.pet,
                self._backend.pet_values(request.alert_id),
                self._random,
            )
        except CryptoError:
            return self._refuse(
                request,
                now,
                "pet: a blinded value is not a valid group element",
                ErrorCode.MALFORMED,
                audit,
            )
        self.labels = tuple(item.label for item in request.pet.items)
        self.state = OriginatorState.CHECKED
        audit.append(self._audit(request, "identity_check", "answered", now, labels=self.labels))
        reply = IdentityCheckResponse(
            request_id=request.request_id, alert_id=request.alert_id, pet=response
        )
        return Outcome(reply=reply, audit=audit)

    def _seal(self, purpose: str, data: bytes) -> bytes:
        assert self.requester is not None
        assert self.request_id is not None
        assert self.alert_id is not None
        recipient = x25519_public_from_ed25519(peer_id_to_public_key(self.requester))
        return seal_to(
            recipient,
            _bind(self.request_id, self.alert_id, data),
            self._identity,
            purpose,
            self._random,
        )

    def _photo(self, request: PhotoRequest, now: int, audit: list[AuditEvent]) -> Outcome:
        if self.state is not OriginatorState.CHECKED:
            return self._refuse(
                request,
                now,
                "a photo is released only after an identity check",
                ErrorCode.OUT_OF_ORDER,
                audit,
            )
        assert self._opening is not None
        try:
            pet_check_proof(self._opening, request.proof)
        except PetError:
            return self._refuse(
                request,
                now,
                "proof: the unblinded values do not open the identity check's commitments",
                ErrorCode.BAD_PROOF,
                audit,
            )
        self._opening = None
        broken = self._limiter.try_acquire(self._limiter.photo_rules(request.requester), now)
        if broken is not None:
            return self._refuse(
                request, now, f"rate limit reached: {broken}", ErrorCode.RATE_LIMITED, audit
            )
        photo = self._backend.photo(request.alert_id)
        if len(photo) > MAX_PHOTO:
            raise LocalProtocolError(
                f"photo: at most {MAX_PHOTO} bytes can be disclosed", ErrorCode.OVERSIZE
            )
        sealed = self._seal(PHOTO_PURPOSE, photo)
        self.state = OriginatorState.PHOTO_SENT
        audit.append(self._audit(request, "photo", "answered", now, labels=request.matched_labels))
        reply = PhotoResponse(
            request_id=request.request_id, alert_id=request.alert_id, sealed_photo=sealed
        )
        return Outcome(reply=reply, audit=audit)

    def _details(self, request: DetailsRequest, now: int, audit: list[AuditEvent]) -> Outcome:
        if self.state is not OriginatorState.PHOTO_SENT:
            return self._refuse(
                request,
                now,
                "details are released only after the photo",
                ErrorCode.OUT_OF_ORDER,
                audit,
            )
        operator = request.confirmation.operator
        if not request.confirmation.same_person:
            return self._refuse(
                request,
                now,
                "details need the operator's confirmation of the same person",
                ErrorCode.NOT_CONFIRMED,
                audit,
            )
        broken = self._limiter.try_acquire(self._limiter.details_rules(request.requester), now)
        if broken is not None:
            return self._refuse(
                request, now, f"rate limit reached: {broken}", ErrorCode.RATE_LIMITED, audit
            )
        details = self._backend.details(request.alert_id)
        if len(details) > MAX_DETAILS:
            raise LocalProtocolError(
                f"details: at most {MAX_DETAILS} bytes can be disclosed", ErrorCode.OVERSIZE
            )
        sealed = self._seal(DETAILS_PURPOSE, details)
        self.state = OriginatorState.DONE
        audit.append(self._audit(request, "details", "answered", now, operator=operator))
        reply = DetailsResponse(
            request_id=request.request_id, alert_id=request.alert_id, sealed_details=sealed
        )
        return Outcome(reply=reply, audit=audit)


# --- Requester ------------------------------------------------------------------------------


class RequesterState(StrEnum):
    NEW = "new"
    CHECK_SENT = "check_sent"
    MATCHED = "matched"
    NO_MATCH = "no_match"
    PHOTO_SENT = "photo_sent"
    PHOTO_RECEIVED = "photo_received"
    DETAILS_SENT = "details_sent"
    DONE = "done"
    NOT_SAME_PERSON = "not_same_person"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class IdentityChecked:
    """The private equality test's result: per label, equal or not."""

    results: Mapping[str, bool]

    @property
    def matched(self) -> bool:
        return any(self.results.values())


@dataclass(frozen=True, slots=True)
class PhotoReceived:
    photo: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class DetailsReceived:
    details: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Refused:
    step: str
    code: str
    message: str


RequesterEvent = IdentityChecked | PhotoReceived | DetailsReceived | Refused


@dataclass
class RequesterOutput:
    """What a requester call produced: a message to send (or None), events, audit events."""

    message: Message | None
    events: list[RequesterEvent]
    audit: list[AuditEvent]


class RequesterSession:
    """The requester's side of one match against one alert of one originator."""

    def __init__(
        self,
        *,
        identity: NodeIdentity,
        originator: str,
        alert_id: bytes,
        request_id: bytes,
        random_bytes: RandomBytes = nacl.utils.random,
    ) -> None:
        if len(request_id) != 16 or len(alert_id) != 16:
            raise LocalProtocolError("request_id and alert_id must be 16 bytes")
        self._identity = identity
        self.originator = originator
        self._originator_key = peer_id_to_public_key(originator)
        self.alert_id = alert_id
        self.request_id = request_id
        self._random = random_bytes
        self._pet: PetState | None = None
        self.state = RequesterState.NEW
        self._result: PetResult | None = None

    @property
    def matched_labels(self) -> tuple[str, ...]:
        return self._result.matched_labels if self._result is not None else ()

    def _audit(
        self,
        step: Step,
        outcome: str,
        now: int,
        *,
        operator: str | None = None,
        code: ErrorCode | None = None,
        labels: tuple[str, ...] = (),
    ) -> AuditEvent:
        return AuditEvent(
            at=now,
            side="requester",
            step=step,
            outcome=outcome,
            request_id=self.request_id,
            alert_id=self.alert_id,
            requester=self._identity.peer_id,
            originator=self.originator,
            operator=operator,
            code=code,
            labels=labels,
        )

    def _expect(self, state: RequesterState, action: str) -> None:
        if self.state is not state:
            raise LocalProtocolError(
                f"cannot {action} in state {self.state.value}", ErrorCode.OUT_OF_ORDER
            )

    def start_identity_check(self, values: Mapping[str, str], now: int) -> RequesterOutput:
        """Blind the customer's normalised values (label -> value) and ask the originator."""
        self._expect(RequesterState.NEW, "start an identity check")
        try:
            self._pet, pet = pet_blind(self.alert_id, self.request_id, values, self._random)
        except CryptoError as exc:
            raise LocalProtocolError(f"identity check: {exc.message}", ErrorCode.MALFORMED) from exc
        request = IdentityCheckRequest(
            request_id=self.request_id,
            alert_id=self.alert_id,
            requester=self._identity.peer_id,
            pet=pet,
        )
        self.state = RequesterState.CHECK_SENT
        labels = tuple(values)
        audit = [self._audit("identity_check", "requested", now, labels=labels)]
        return RequesterOutput(message=request, events=[], audit=audit)

    def request_photo(self, now: int) -> RequesterOutput:
        """Ask for the photo; only after an identity check that matched."""
        self._expect(RequesterState.MATCHED, "request the photo")
        assert self._result is not None
        request = PhotoRequest(
            request_id=self.request_id,
            alert_id=self.alert_id,
            requester=self._identity.peer_id,
            proof=self._result.proof(),
        )
        self.state = RequesterState.PHOTO_SENT
        audit = [self._audit("photo", "requested", now, labels=self.matched_labels)]
        return RequesterOutput(message=request, events=[], audit=audit)

    def confirm(self, operator: str, same_person: bool, now: int) -> RequesterOutput:
        """Record the operator's answer; on "same person", ask for the details."""
        self._expect(RequesterState.PHOTO_RECEIVED, "confirm the photo")
        confirmation = OperatorConfirmation(
            operator=operator, same_person=same_person, confirmed_at=now
        )
        outcome = "same_person" if same_person else "not_same_person"
        audit = [self._audit("operator_confirmation", outcome, now, operator=operator)]
        if not same_person:
            self.state = RequesterState.NOT_SAME_PERSON
            return RequesterOutput(message=None, events=[], audit=audit)
        request = DetailsRequest(
            request_id=self.request_id,
            alert_id=self.alert_id,
            requester=self._identity.peer_id,
            confirmation=confirmation,
        )
        self.state = RequesterState.DETAILS_SENT
        audit.append(self._audit("details", "requested", now, operator=operator))
        return RequesterOutput(message=request, events=[], audit=audit)

    def _unseal(self, sealed: bytes, purpose: str) -> bytes:
        try:
            bound = canonical_unpack(unseal(sealed, self._identity, self._originator_key, purpose))
        except CryptoError as exc:
            raise RemoteProtocolError(
                f"{purpose}: the sealed box does not open for this session",
                ErrorCode.BAD_SIGNATURE,
            ) from exc
        if (
            not isinstance(bound, list)
            or len(bound) != 3
            or not all(isinstance(part, bytes) for part in bound)
            or not hmac.compare_digest(bound[0], self.request_id)
            or not hmac.compare_digest(bound[1], self.alert_id)
        ):
            raise RemoteProtocolError(
                f"{purpose}: the sealed content is not bound to this request",
                ErrorCode.WRONG_SESSION,
            )
        data: bytes = bound[2]
        return data

    def receive(self, message: Message, now: int) -> RequesterOutput:
        """Consume the originator's answer; raise RemoteProtocolError if it does not fit."""
        request_id = getattr(message, "request_id", None)
        alert_id = getattr(message, "alert_id", None)
        if request_id != self.request_id or alert_id != self.alert_id:
            raise RemoteProtocolError(
                "the answer's request_id or alert_id is not this session's",
                ErrorCode.WRONG_SESSION,
            )
        waiting_for: dict[RequesterState, tuple[Step, type[Message]]] = {
            RequesterState.CHECK_SENT: ("identity_check", IdentityCheckResponse),
            RequesterState.PHOTO_SENT: ("photo", PhotoResponse),
            RequesterState.DETAILS_SENT: ("details", DetailsResponse),
        }
        waiting = waiting_for.get(self.state)
        if waiting is None:
            raise RemoteProtocolError(
                f"no answer expected in state {self.state.value}", ErrorCode.OUT_OF_ORDER
            )
        step, expected = waiting
        if isinstance(message, DisclosureRefusal):
            self.state = RequesterState.REFUSED
            try:
                code: ErrorCode | None = ErrorCode(message.code)
            except ValueError:
                code = None
            audit = [self._audit(step, "refused", now, code=code)]
            event = Refused(step=message.step, code=message.code, message=message.message)
            return RequesterOutput(message=None, events=[event], audit=audit)
        if not isinstance(message, expected):
            raise RemoteProtocolError(
                f"expected {expected.model_fields['type'].default}", ErrorCode.OUT_OF_ORDER
            )
        if isinstance(message, IdentityCheckResponse):
            assert self._pet is not None
            try:
                result = pet_finish(self._pet, message.pet)
            except CryptoError as exc:
                raise RemoteProtocolError(
                    "identity check: the answer does not fit the request", ErrorCode.MALFORMED
                ) from exc
            self._pet = None
            self._result = result
            results = result.equal
            matched = bool(self.matched_labels)
            self.state = RequesterState.MATCHED if matched else RequesterState.NO_MATCH
            audit = [
                self._audit(
                    "identity_check",
                    "match" if matched else "no_match",
                    now,
                    labels=self.matched_labels,
                )
            ]
            return RequesterOutput(
                message=None, events=[IdentityChecked(results=dict(results))], audit=audit
            )
        if isinstance(message, PhotoResponse):
            photo = self._unseal(message.sealed_photo, PHOTO_PURPOSE)
            self.state = RequesterState.PHOTO_RECEIVED
            audit = [self._audit("photo", "photo_received", now)]
            return RequesterOutput(message=None, events=[PhotoReceived(photo)], audit=audit)
        assert isinstance(message, DetailsResponse)
        details = self._unseal(message.sealed_details, DETAILS_PURPOSE)
        self.state = RequesterState.DONE
        audit = [self._audit("details", "details_received", now)]
        return RequesterOutput(message=None, events=[DetailsReceived(details)], audit=audit)
