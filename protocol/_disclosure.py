"""The disclosure ladder for one match: identity check -> photo -> operator -> details.

Theory of operation: two sans-I/O machines, one per side of one match,
keyed by a random 16-byte ``request_id``.

Requester (the venue whose scanner matched)::

    NEW --start_identity_check--> CHECK_SENT --IdentityCheckResponse--> MATCHED
                                                                    \\-> NO_MATCH (end)
    MATCHED (on a strong label) --request_photo--> PHOTO_SENT --PhotoResponse--> PHOTO_RECEIVED
    PHOTO_RECEIVED --confirm(same_person=True)--> DETAILS_SENT --DetailsResponse--> DONE
                   \\-confirm(same_person=False)--> NOT_SAME_PERSON (end; the originator is told)
    any waiting state --DisclosureRefusal--> REFUSED (end)

Originator (the venue that created the alert)::

    NEW --IdentityCheckRequest--> CHECKED --PhotoRequest(strong proof)--> PHOTO_SENT
    PHOTO_SENT --DetailsRequest(confirmed same person)--> DONE (details sent)
               \\-DetailsRequest(not the same person)--> DONE (nothing sent; counted)
    any state --refused request--> REFUSED (end)

The originator checks, at every step and in this order: the request belongs
to this session (same request id, alert and requester, and the requester is
the authenticated peer), the alert is known and active now, the requester is
a member of one of the alert's distribution groups now, the step comes in
order (no photo before an identity check, no details before the photo and
the operator's "same person"), and the rate limits (sliding windows per
requester and alert, per requester, per alert, and caps over an alert's
whole life). A refused step ends the session with a ``disclosure.refusal``
carrying the error code.

Only a proof for a *strong* label (``photo_labels``: surname + date of birth,
or the document number, chosen by the node) releases the photo. A weaker
label that matched (given name + date of birth) only tells the door that the
customer resembles the subject: it is shared by too many people to hand a
member the subject's face on its strength, and a guessing member could
otherwise walk a table of first names and ages until a photo came back.

The limits are counted by ``RateLimiter`` in memory, but every counted hit
is also handed to the node (``drain``) to be committed before the answer
leaves, and restored at start-up (``restore``): a restart resets nothing.
When the operator answers "not the same person", the requester tells the
originator (a ``DetailsRequest`` whose confirmation says so; no details come
back), so that a run of such answers from one member is visible at both
ends (``Outcome.alarm``).

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
from collections.abc import Callable, Collection, Iterable, Mapping
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
LIFETIME = 366 * DAY
"""A window as long as an alert can live (at most 12 months): a cap over its whole life."""
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
    """The originator's limits (counts per window, windows in seconds).

    The lifetime caps hold over an alert's whole life: a member that has
    asked about one alert this many times has had its chances.
    ``not_same_alarm`` is not a limit but a threshold: that many "not the
    same person" answers from one requester within its window raise an alarm.
    """

    identity_checks_per_requester_alert: int = 5
    identity_checks_per_requester_alert_window: int = DAY
    identity_checks_per_requester: int = 30
    identity_checks_per_requester_window: int = HOUR
    identity_checks_per_alert: int = 30
    identity_checks_per_alert_window: int = HOUR
    identity_checks_per_requester_alert_lifetime: int = 20
    identity_checks_per_alert_lifetime: int = 100
    photos_per_requester: int = 10
    photos_per_requester_window: int = HOUR
    details_per_requester: int = 10
    details_per_requester_window: int = HOUR
    not_same_alarm: int = 5
    not_same_alarm_window: int = 7 * DAY


@dataclass(frozen=True)
class RequesterLimits:
    """The requesting venue's own budget of identity checks it starts (its scans' matches).

    A member's own door cannot be turned into a guessing machine against the
    network either: past these, matches stay "check" without asking anyone.
    Typed-in documents have a smaller budget of their own.
    """

    checks_per_alert: int = 3
    checks_per_alert_window: int = DAY
    checks_per_alert_lifetime: int = 20
    checks: int = 60
    checks_window: int = HOUR
    typed_checks: int = 10
    typed_checks_window: int = HOUR
    not_same_alarm: int = 5
    not_same_alarm_window: int = 7 * DAY


@dataclass(frozen=True, slots=True)
class Rule:
    """One counter: ``limit`` hits of ``key`` within ``window`` seconds."""

    key: str
    limit: int
    window: int
    name: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One counted request, as the node stores it: the counter, when, and until when."""

    key: str
    at: int
    expires_at: int


class RateLimiter:
    """Sliding-window counters shared by all of one node's sessions.

    A request is counted only if every rule allows it; memory per key is
    bounded by the rule's limit. Every hit counted is also queued for the
    node to persist (``drain``); ``restore`` puts persisted hits back.
    """

    def __init__(self, limits: RateLimits | None = None) -> None:
        self.limits = limits or RateLimits()
        self._hits: dict[str, deque[int]] = {}
        self._windows: dict[str, int] = {}
        self._new: list[Hit] = []

    def _window(self, rule: Rule, now: int) -> deque[int]:
        hits = self._hits.setdefault(rule.key, deque())
        self._windows[rule.key] = rule.window
        while hits and hits[0] <= now - rule.window:
            hits.popleft()
        return hits

    def _count(self, rule: Rule, now: int) -> None:
        hits = self._hits[rule.key]
        hits.append(now)
        while len(hits) > rule.limit:
            hits.popleft()
        self._new.append(Hit(rule.key, now, now + rule.window))

    def try_acquire(self, rules: list[Rule], now: int) -> str | None:
        """Count one request against every rule, or return the name of the rule it breaks."""
        for rule in rules:
            if len(self._window(rule, now)) >= rule.limit:
                return rule.name
        for rule in rules:
            self._count(rule, now)
        return None

    def note(self, rule: Rule, now: int) -> bool:
        """Count one event against an alarm ``rule``; True once it has reached its limit."""
        self._window(rule, now)
        self._count(rule, now)
        return len(self._hits[rule.key]) >= rule.limit

    def drain(self) -> list[Hit]:
        """The hits counted since the last call, for the node to commit."""
        new, self._new = self._new, []
        return new

    def restore(self, hits: Iterable[Hit], now: int) -> None:
        """Put back hits persisted earlier (at start-up); expired ones are skipped."""
        for hit in sorted(hits, key=lambda h: h.at):
            if hit.expires_at > now:
                self._hits.setdefault(hit.key, deque()).append(hit.at)
                self._windows[hit.key] = max(self._windows.get(hit.key, 0), hit.expires_at - hit.at)

    def forget(self, now: int) -> None:
        """Drop counters with no hit left in their window (call it now and then)."""
        stale = [
            k
            for k, hits in self._hits.items()
            if not hits or hits[-1] <= now - self._windows.get(k, DAY)
        ]
        for key in stale:
            del self._hits[key]
            self._windows.pop(key, None)

    def identity_check_rules(self, requester: str, alert_id: bytes) -> list[Rule]:
        lim, a = self.limits, alert_id.hex()
        return [
            Rule(
                f"idc-ra|{requester}|{a}",
                lim.identity_checks_per_requester_alert,
                lim.identity_checks_per_requester_alert_window,
                "identity checks per requester and alert",
            ),
            Rule(
                f"idc-r|{requester}",
                lim.identity_checks_per_requester,
                lim.identity_checks_per_requester_window,
                "identity checks per requester",
            ),
            Rule(
                f"idc-a|{a}",
                lim.identity_checks_per_alert,
                lim.identity_checks_per_alert_window,
                "identity checks per alert",
            ),
            Rule(
                f"idc-ra-life|{requester}|{a}",
                lim.identity_checks_per_requester_alert_lifetime,
                LIFETIME,
                "identity checks per requester over the alert's life",
            ),
            Rule(
                f"idc-a-life|{a}",
                lim.identity_checks_per_alert_lifetime,
                LIFETIME,
                "identity checks over the alert's life",
            ),
        ]

    def photo_rules(self, requester: str) -> list[Rule]:
        lim = self.limits
        return [
            Rule(
                f"photo-r|{requester}",
                lim.photos_per_requester,
                lim.photos_per_requester_window,
                "photos per requester",
            )
        ]

    def details_rules(self, requester: str) -> list[Rule]:
        lim = self.limits
        return [
            Rule(
                f"details-r|{requester}",
                lim.details_per_requester,
                lim.details_per_requester_window,
                "details per requester",
            )
        ]

    def not_same_rule(self, requester: str) -> Rule:
        lim = self.limits
        return Rule(
            f"not-same|{requester}",
            lim.not_same_alarm,
            lim.not_same_alarm_window,
            '"not the same person" answers from one requester',
        )


def requester_check_rules(limits: RequesterLimits, alert_id: bytes, *, typed: bool) -> list[Rule]:
    """The requesting venue's own budget for one identity check it is about to start."""
    a = alert_id.hex()
    rules = [
        Rule(
            f"own-idc-a|{a}",
            limits.checks_per_alert,
            limits.checks_per_alert_window,
            "this venue's identity checks per alert",
        ),
        Rule(
            f"own-idc-a-life|{a}",
            limits.checks_per_alert_lifetime,
            LIFETIME,
            "this venue's identity checks over the alert's life",
        ),
        Rule("own-idc", limits.checks, limits.checks_window, "this venue's identity checks"),
    ]
    if typed:
        rules.append(
            Rule(
                "own-idc-typed",
                limits.typed_checks,
                limits.typed_checks_window,
                "this venue's identity checks from typed-in documents",
            )
        )
    return rules


def requester_not_same_rule(limits: RequesterLimits) -> Rule:
    return Rule(
        "own-not-same",
        limits.not_same_alarm,
        limits.not_same_alarm_window,
        '"not the same person" answers at this venue',
    )


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
    limit: str | None = None
    """The name of the rate limit this request broke, if that is why it was refused."""
    alarm: str | None = None
    """The name of an alarm threshold this request reached (to report to the super
    administrators): e.g. a run of "not the same person" answers."""


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
        photo_labels: Collection[str],
        random_bytes: RandomBytes = nacl.utils.random,
    ) -> None:
        if not photo_labels:
            raise LocalProtocolError("photo_labels: at least one label must release the photo")
        self._identity = identity
        self._secret = pet_node_secret
        self._backend = backend
        self._limiter = limiter
        self._photo_labels = frozenset(photo_labels)
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

    def _limited(
        self, request: DisclosureRequest, now: int, rule: str, audit: list[AuditEvent]
    ) -> Outcome:
        outcome = self._refuse(
            request, now, f"rate limit reached: {rule}", ErrorCode.RATE_LIMITED, audit
        )
        outcome.limit = rule
        return outcome

    def _not_same(self, request: DetailsRequest, now: int, audit: list[AuditEvent]) -> Outcome:
        """The requester's operator said "not the same person": no details, and it counts."""
        rule = self._limiter.not_same_rule(request.requester)
        reached = self._limiter.note(rule, now)
        self.state = OriginatorState.DONE
        audit.append(
            self._audit(
                request,
                "operator_confirmation",
                "not_same_person",
                now,
                operator=request.confirmation.operator,
            )
        )
        reply = DisclosureRefusal(
            request_id=request.request_id,
            alert_id=request.alert_id,
            step="details",
            code=ErrorCode.NOT_CONFIRMED.value,
            message="no details: the operator said this is not the same person",
        )
        return Outcome(reply=reply, audit=audit, alarm=rule.name if reached else None)

    def handle(self, request: DisclosureRequest, peer: str, now: int) -> Outcome:
        """Answer one request from the authenticated ``peer`` at time ``now``."""
        step = _step_of(request)
        audit: list[AuditEvent] = []
        operator = request.confirmation.operator if isinstance(request, DetailsRequest) else None
        if not (isinstance(request, DetailsRequest) and not request.confirmation.same_person):
            # A "not the same person" asks for nothing: its own entry says what it was.
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
            return self._limited(request, now, broken, audit)
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
        if not self._photo_labels & set(request.proof.labels):
            return self._refuse(
                request,
                now,
                "proof: the photo is released only on a match of the surname and date of "
                "birth or of the document number",
                ErrorCode.WEAK_PROOF,
                audit,
            )
        broken = self._limiter.try_acquire(self._limiter.photo_rules(request.requester), now)
        if broken is not None:
            return self._limited(request, now, broken, audit)
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
            return self._not_same(request, now, audit)
        broken = self._limiter.try_acquire(self._limiter.details_rules(request.requester), now)
        if broken is not None:
            return self._limited(request, now, broken, audit)
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
    strong: bool = False
    """A label that releases the photo matched (not only a weaker one)."""

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
        photo_labels: Collection[str],
        random_bytes: RandomBytes = nacl.utils.random,
    ) -> None:
        if len(request_id) != 16 or len(alert_id) != 16:
            raise LocalProtocolError("request_id and alert_id must be 16 bytes")
        self._photo_labels = frozenset(photo_labels)
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

    @property
    def strong_match(self) -> bool:
        """A label that releases the photo matched."""
        return bool(self._photo_labels & set(self.matched_labels))

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
        """Ask for the photo; only after an identity check that matched on a strong label."""
        self._expect(RequesterState.MATCHED, "request the photo")
        assert self._result is not None
        if not self.strong_match:
            raise LocalProtocolError(
                "cannot request the photo: only a weaker label matched (the photo is released "
                "on the surname and date of birth or the document number)",
                ErrorCode.WEAK_PROOF,
            )
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
        """Record the operator's answer and tell the originator.

        On "same person" the message asks for the details. On "not the same
        person" it only tells the originator so (no details come back, and no
        answer is expected: the session ends here), so that a run of such
        answers from one member is visible to the originator too.
        """
        self._expect(RequesterState.PHOTO_RECEIVED, "confirm the photo")
        confirmation = OperatorConfirmation(
            operator=operator, same_person=same_person, confirmed_at=now
        )
        outcome = "same_person" if same_person else "not_same_person"
        audit = [self._audit("operator_confirmation", outcome, now, operator=operator)]
        request = DetailsRequest(
            request_id=self.request_id,
            alert_id=self.alert_id,
            requester=self._identity.peer_id,
            confirmation=confirmation,
        )
        if not same_person:
            self.state = RequesterState.NOT_SAME_PERSON
            return RequesterOutput(message=request, events=[], audit=audit)
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
            checked = IdentityChecked(results=dict(results), strong=self.strong_match)
            return RequesterOutput(message=None, events=[checked], audit=audit)
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
