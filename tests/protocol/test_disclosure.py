"""The disclosure ladder: the happy path, every refusal, and the audit trail on both sides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import nacl.bindings
import pytest

from doorwatch.crypto import NodeIdentity, PetProof, pet_blind, pet_finish
from doorwatch.protocol import (
    AlertFacts,
    AuditEvent,
    DetailsReceived,
    DetailsRequest,
    DetailsResponse,
    DisclosureRefusal,
    DisclosureRequest,
    ErrorCode,
    IdentityChecked,
    IdentityCheckRequest,
    IdentityCheckResponse,
    LocalProtocolError,
    Message,
    OriginatorSession,
    OriginatorState,
    PhotoReceived,
    PhotoRequest,
    PhotoResponse,
    RateLimiter,
    RateLimits,
    Refused,
    RemoteProtocolError,
    RequesterSession,
    RequesterState,
    decode,
    encode,
)
from tests.protocol.factories import T0, identity, seeded_bytes

ORIGINATOR = identity("venue-origin")
REQUESTER = identity("venue-door")
STRANGER = identity("venue-outside")
ALERT = bytes.fromhex("a1" * 16)
SUBJECT = {"surname+dob": "SMITH|1990-02-03", "given+dob": "JOHN|1990-02-03", "docno": "X1234567"}
STRONG = frozenset({"surname+dob", "docno"})
PHOTO = b"\x89PNG" + bytes(2000)
DETAILS = b'{"reason": "assault", "notes": "..."}'


@dataclass
class Backend:
    groups: frozenset[str] = frozenset({"all"})
    active: bool = True
    members: set[str] = field(default_factory=lambda: {REQUESTER.peer_id})
    known: bool = True

    def alert(self, alert_id: bytes, now: int) -> AlertFacts | None:
        if not self.known or alert_id != ALERT:
            return None
        return AlertFacts(groups=self.groups, active=self.active)

    def is_member(self, peer_id: str, groups: frozenset[str], now: int) -> bool:
        return peer_id in self.members and bool(groups & {"all"})

    def pet_values(self, alert_id: bytes) -> Mapping[str, str]:
        return SUBJECT

    def photo(self, alert_id: bytes) -> bytes:
        return PHOTO

    def details(self, alert_id: bytes) -> bytes:
        return DETAILS


def originator(
    backend: Backend | None = None, limiter: RateLimiter | None = None
) -> OriginatorSession:
    return OriginatorSession(
        identity=ORIGINATOR,
        pet_node_secret=bytes(range(32)),
        backend=backend or Backend(),
        limiter=limiter or RateLimiter(),
        photo_labels=STRONG,
        random_bytes=seeded_bytes(11),
    )


def requester(request_id: bytes = b"r" * 16, who: NodeIdentity = REQUESTER) -> RequesterSession:
    return RequesterSession(
        identity=who,
        originator=ORIGINATOR.peer_id,
        alert_id=ALERT,
        request_id=request_id,
        photo_labels=STRONG,
        random_bytes=seeded_bytes(12),
    )


def wire(message: Message | None) -> Message:
    assert message is not None
    return decode(encode(message))


def as_request(message: Message | None) -> DisclosureRequest:
    decoded = wire(message)
    assert isinstance(decoded, IdentityCheckRequest | PhotoRequest | DetailsRequest)
    return decoded


def steps(audit: list[AuditEvent]) -> list[tuple[str, str, str]]:
    return [(e.side, e.step, e.outcome) for e in audit]


def test_happy_path_with_audit_on_both_sides() -> None:
    origin, door = originator(), requester()
    req_audit: list[AuditEvent] = []
    org_audit: list[AuditEvent] = []

    out = door.start_identity_check({"surname+dob": "SMITH|1990-02-03", "docno": "Y0000000"}, T0)
    req_audit += out.audit
    reply = origin.handle(as_request(out.message), REQUESTER.peer_id, T0)
    assert reply.error is None
    org_audit += reply.audit
    assert isinstance(reply.reply, IdentityCheckResponse)
    got = door.receive(wire(reply.reply), T0 + 1)
    req_audit += got.audit
    (checked,) = got.events
    assert isinstance(checked, IdentityChecked)
    assert checked.results == {"surname+dob": True, "docno": False}
    assert door.state is RequesterState.MATCHED

    out = door.request_photo(T0 + 2)
    req_audit += out.audit
    reply = origin.handle(as_request(out.message), REQUESTER.peer_id, T0 + 2)
    org_audit += reply.audit
    assert isinstance(reply.reply, PhotoResponse)
    assert PHOTO not in reply.reply.sealed_photo
    got = door.receive(wire(reply.reply), T0 + 3)
    req_audit += got.audit
    assert got.events == [PhotoReceived(PHOTO)]

    out = door.confirm("door-7", same_person=True, now=T0 + 30)
    req_audit += out.audit
    reply = origin.handle(as_request(out.message), REQUESTER.peer_id, T0 + 31)
    org_audit += reply.audit
    assert isinstance(reply.reply, DetailsResponse)
    got = door.receive(wire(reply.reply), T0 + 32)
    req_audit += got.audit
    assert got.events == [DetailsReceived(DETAILS)]
    assert door.state.value == "done"
    assert origin.state is OriginatorState.DONE

    assert steps(req_audit) == [
        ("requester", "identity_check", "requested"),
        ("requester", "identity_check", "match"),
        ("requester", "photo", "requested"),
        ("requester", "photo", "photo_received"),
        ("requester", "operator_confirmation", "same_person"),
        ("requester", "details", "requested"),
        ("requester", "details", "details_received"),
    ]
    assert steps(org_audit) == [
        ("originator", "identity_check", "requested"),
        ("originator", "identity_check", "answered"),
        ("originator", "photo", "requested"),
        ("originator", "photo", "answered"),
        ("originator", "details", "requested"),
        ("originator", "details", "answered"),
    ]
    for event in req_audit + org_audit:
        assert event.alert_id == ALERT
        assert event.request_id == b"r" * 16
        assert event.requester == REQUESTER.peer_id
        assert event.originator == ORIGINATOR.peer_id
    assert [e.operator for e in org_audit if e.step == "details"] == ["door-7", "door-7"]
    assert all("SMITH" not in str(e) for e in req_audit + org_audit)


def test_no_match_ends_the_ladder() -> None:
    origin, door = originator(), requester()
    out = door.start_identity_check({"surname+dob": "JONES|1991-01-01"}, T0)
    reply = origin.handle(as_request(out.message), REQUESTER.peer_id, T0)
    got = door.receive(wire(reply.reply), T0)
    assert door.state is RequesterState.NO_MATCH
    assert steps(got.audit) == [("requester", "identity_check", "no_match")]
    with pytest.raises(LocalProtocolError) as err:
        door.request_photo(T0)
    assert err.value.code is ErrorCode.OUT_OF_ORDER


def test_operator_says_not_the_same_person() -> None:
    origin, door = originator(), requester()
    _to_photo(origin, door)
    out = door.confirm("door-7", same_person=False, now=T0 + 5)
    assert door.state is RequesterState.NOT_SAME_PERSON
    assert steps(out.audit) == [("requester", "operator_confirmation", "not_same_person")]
    # The originator is told, releases nothing, and records the answer.
    told = origin.handle(as_request(out.message), REQUESTER.peer_id, T0 + 5)
    refusal = _refused(told.reply, ErrorCode.NOT_CONFIRMED)
    assert "not the same person" in refusal.message
    assert told.error is None
    assert told.alarm is None
    assert steps(told.audit) == [("originator", "operator_confirmation", "not_same_person")]
    assert told.audit[-1].operator == "door-7"
    assert origin.state is OriginatorState.DONE


def test_a_run_of_not_the_same_person_raises_an_alarm_at_the_originator() -> None:
    limiter = RateLimiter(RateLimits(not_same_alarm=3))
    alarms = []
    for n in range(4):
        origin = originator(limiter=limiter)
        door = requester(request_id=bytes([n]) * 16)
        _to_photo(origin, door)
        out = door.confirm("door-7", same_person=False, now=T0 + n)
        alarms.append(origin.handle(as_request(out.message), REQUESTER.peer_id, T0 + n).alarm)
    name = '"not the same person" answers from one requester'
    assert alarms == [None, None, name, name]


def test_a_weak_label_alone_releases_no_photo() -> None:
    # "Jordan Pembroke" shares the subject's first name and date of birth only.
    origin, door = originator(), requester()
    out = door.start_identity_check(
        {"surname+dob": "PEMBROKE|1990-02-03", "given+dob": "JOHN|1990-02-03"}, T0
    )
    got = door.receive(
        wire(origin.handle(as_request(out.message), REQUESTER.peer_id, T0).reply), T0
    )
    (checked,) = got.events
    assert isinstance(checked, IdentityChecked)
    assert checked.matched
    assert not checked.strong
    with pytest.raises(LocalProtocolError) as err:
        door.request_photo(T0)
    assert err.value.code is ErrorCode.WEAK_PROOF


def test_the_originator_refuses_a_photo_on_a_weak_proof() -> None:
    # A modified requester sends the valid proof of its weak label anyway.
    origin, door = originator(), requester()
    out = door.start_identity_check(
        {"surname+dob": "PEMBROKE|1990-02-03", "given+dob": "JOHN|1990-02-03"}, T0
    )
    door.receive(wire(origin.handle(as_request(out.message), REQUESTER.peer_id, T0).reply), T0)
    door.state = RequesterState.MATCHED
    door._photo_labels = frozenset({"given+dob"})  # the modification
    outcome = origin.handle(as_request(door.request_photo(T0).message), REQUESTER.peer_id, T0)
    _refused(outcome.reply, ErrorCode.WEAK_PROOF)
    assert not isinstance(outcome.reply, PhotoResponse)
    assert steps(outcome.audit)[-1] == ("originator", "photo", "refused")


def test_an_originator_needs_a_label_that_releases_the_photo() -> None:
    with pytest.raises(LocalProtocolError):
        OriginatorSession(
            identity=ORIGINATOR,
            pet_node_secret=bytes(32),
            backend=Backend(),
            limiter=RateLimiter(),
            photo_labels=(),
        )


def _to_photo(origin: OriginatorSession, door: RequesterSession) -> None:
    out = door.start_identity_check({"surname+dob": "SMITH|1990-02-03"}, T0)
    door.receive(wire(origin.handle(as_request(out.message), REQUESTER.peer_id, T0).reply), T0)
    out = door.request_photo(T0)
    door.receive(wire(origin.handle(as_request(out.message), REQUESTER.peer_id, T0).reply), T0)


def _refused(reply_message: Message, code: ErrorCode) -> DisclosureRefusal:
    assert isinstance(reply_message, DisclosureRefusal)
    assert reply_message.code == code.value
    return reply_message


@pytest.mark.parametrize(
    ("backend", "code"),
    [
        (Backend(members=set()), ErrorCode.NOT_MEMBER),
        (Backend(groups=frozenset({"door-only"})), ErrorCode.NOT_MEMBER),
        (Backend(active=False), ErrorCode.INACTIVE),
        (Backend(known=False), ErrorCode.UNKNOWN_ALERT),
    ],
)
def test_identity_check_refusals(backend: Backend, code: ErrorCode) -> None:
    origin, door = originator(backend), requester()
    out = door.start_identity_check({"docno": "X1234567"}, T0)
    outcome = origin.handle(as_request(out.message), REQUESTER.peer_id, T0)
    _refused(outcome.reply, code)
    assert outcome.error is not None
    assert outcome.error.code is code
    assert steps(outcome.audit) == [
        ("originator", "identity_check", "requested"),
        ("originator", "identity_check", "refused"),
    ]
    assert outcome.audit[-1].code is code
    got = door.receive(wire(outcome.reply), T0)
    assert door.state is RequesterState.REFUSED
    assert got.events == [
        Refused(step="identity_check", code=code.value, message=outcome.error.message)
    ]
    assert got.audit[0].code is code


def test_alert_withdrawn_between_steps_refuses_the_photo() -> None:
    backend = Backend()
    origin, door = originator(backend), requester()
    out = door.start_identity_check({"surname+dob": "SMITH|1990-02-03"}, T0)
    door.receive(wire(origin.handle(as_request(out.message), REQUESTER.peer_id, T0).reply), T0)
    backend.active = False
    outcome = origin.handle(as_request(door.request_photo(T0).message), REQUESTER.peer_id, T0)
    _refused(outcome.reply, ErrorCode.INACTIVE)


def test_membership_revoked_between_steps_refuses_the_details() -> None:
    backend = Backend()
    origin, door = originator(backend), requester()
    _to_photo(origin, door)
    backend.members.clear()
    outcome = origin.handle(
        as_request(door.confirm("door-7", True, T0).message),
        REQUESTER.peer_id,
        T0,
    )
    _refused(outcome.reply, ErrorCode.NOT_MEMBER)


def _photo_request(point: bytes, label: str = "docno") -> PhotoRequest:
    proof = PetProof(
        alert_id=ALERT, request_id=b"r" * 16, items=({"label": label, "point": point},)
    )
    return PhotoRequest(
        request_id=b"r" * 16, alert_id=ALERT, requester=REQUESTER.peer_id, proof=proof
    )


def test_photo_before_identity_check_is_out_of_order() -> None:
    origin = originator()
    # A misbehaving requester skips the check and asks for the photo straight away.
    outcome = origin.handle(as_request(_photo_request(bytes(32))), REQUESTER.peer_id, T0)
    _refused(outcome.reply, ErrorCode.OUT_OF_ORDER)
    assert steps(outcome.audit)[-1] == ("originator", "photo", "refused")


def test_details_before_photo_is_out_of_order() -> None:
    origin, door = originator(), requester()
    out = door.start_identity_check({"surname+dob": "SMITH|1990-02-03"}, T0)
    door.receive(wire(origin.handle(as_request(out.message), REQUESTER.peer_id, T0).reply), T0)
    door.state = RequesterState.PHOTO_RECEIVED  # skip the photo
    outcome = origin.handle(
        as_request(door.confirm("door-7", True, T0).message), REQUESTER.peer_id, T0
    )
    _refused(outcome.reply, ErrorCode.OUT_OF_ORDER)


def test_details_without_same_person_are_refused() -> None:
    origin, door = originator(), requester()
    _to_photo(origin, door)
    request = as_request(door.confirm("door-7", True, T0).message)
    assert isinstance(request, DetailsRequest)
    declined = request.confirmation.model_copy(update={"same_person": False})
    forged = request.model_copy(update={"confirmation": declined})
    outcome = origin.handle(forged, REQUESTER.peer_id, T0)
    _refused(outcome.reply, ErrorCode.NOT_CONFIRMED)
    assert not isinstance(outcome.reply, DetailsResponse)


def test_photo_request_claiming_a_match_without_one_is_refused_and_audited() -> None:
    # The customer does not match. A dishonest requester runs the check with its own
    # blinding scalars, so it can unblind the answer (U = k * H(customer)); it still
    # cannot produce k * H(subject), so its claimed match is refused as bad_proof.
    origin, door = originator(), requester()
    state, pet = pet_blind(ALERT, b"r" * 16, {"docno": "Y0000000"}, seeded_bytes(5))
    check = IdentityCheckRequest(
        request_id=b"r" * 16, alert_id=ALERT, requester=REQUESTER.peer_id, pet=pet
    )
    answer = origin.handle(as_request(check), REQUESTER.peer_id, T0).reply
    assert isinstance(answer, IdentityCheckResponse)
    assert pet_finish(state, answer.pet).equal == {"docno": False}
    r_inv = nacl.bindings.crypto_core_ed25519_scalar_invert(state.blinds[0])
    own_value = nacl.bindings.crypto_scalarmult_ed25519_noclamp(
        r_inv, answer.pet.items[0].evaluated
    )
    outcome = origin.handle(as_request(_photo_request(own_value)), REQUESTER.peer_id, T0 + 1)
    refusal = _refused(outcome.reply, ErrorCode.BAD_PROOF)
    assert PHOTO not in encode(refusal)
    assert origin.state is OriginatorState.REFUSED
    assert outcome.audit[-1].outcome == "refused"
    assert outcome.audit[-1].code is ErrorCode.BAD_PROOF
    assert steps(outcome.audit) == [
        ("originator", "photo", "requested"),
        ("originator", "photo", "refused"),
    ]
    # The requester's side audits the refusal with the same code.
    door.state = RequesterState.PHOTO_SENT
    got = door.receive(wire(refusal), T0 + 2)
    assert got.events == [Refused(step="photo", code="bad_proof", message=refusal.message)]
    assert [(e.side, e.step, e.outcome, e.code) for e in got.audit] == [
        ("requester", "photo", "refused", ErrorCode.BAD_PROOF)
    ]


def test_a_real_match_proves_only_its_own_labels() -> None:
    # The customer matches on surname+dob only; claiming docno with the surname+dob
    # value, or a label never checked, is refused.
    for label in ("docno", "passport"):
        origin, door = originator(), requester()
        out = door.start_identity_check(
            {"surname+dob": "SMITH|1990-02-03", "docno": "Y0000000"}, T0
        )
        door.receive(wire(origin.handle(as_request(out.message), REQUESTER.peer_id, T0).reply), T0)
        honest = as_request(door.request_photo(T0).message)
        assert isinstance(honest, PhotoRequest)
        assert honest.matched_labels == ("surname+dob",)
        forged = _photo_request(honest.proof.items[0].point, label)
        outcome = origin.handle(as_request(forged), REQUESTER.peer_id, T0)
        _refused(outcome.reply, ErrorCode.BAD_PROOF)


def test_requester_must_be_the_authenticated_peer() -> None:
    origin, door = originator(), requester()
    out = door.start_identity_check({"docno": "X1234567"}, T0)
    outcome = origin.handle(as_request(out.message), STRANGER.peer_id, T0)
    _refused(outcome.reply, ErrorCode.WRONG_SESSION)


def test_second_identity_check_in_a_session_is_out_of_order() -> None:
    origin = originator()
    door = requester()
    message = as_request(door.start_identity_check({"docno": "X1234567"}, T0).message)
    assert origin.handle(message, REQUESTER.peer_id, T0).error is None
    outcome = origin.handle(message, REQUESTER.peer_id, T0)
    _refused(outcome.reply, ErrorCode.OUT_OF_ORDER)


def test_identity_checks_are_rate_limited_per_requester_and_alert() -> None:
    limiter = RateLimiter(RateLimits(identity_checks_per_requester_alert=5))
    codes = []
    for n in range(7):
        door = requester(request_id=bytes([n]) * 16)
        message = as_request(door.start_identity_check({"docno": f"GUESS{n}"}, T0 + n).message)
        outcome = originator(limiter=limiter).handle(message, REQUESTER.peer_id, T0 + n)
        codes.append(None if outcome.error is None else outcome.error.code)
    assert codes == [None] * 5 + [ErrorCode.RATE_LIMITED] * 2
    # A day later the window has passed.
    door = requester(request_id=b"\x09" * 16)
    message = as_request(door.start_identity_check({"docno": "LATER"}, T0 + 86_400).message)
    later = originator(limiter=limiter).handle(message, REQUESTER.peer_id, T0 + 86_400)
    assert later.error is None


def _check_codes(limiter: RateLimiter, times: list[int]) -> list[ErrorCode | None]:
    codes = []
    for n, at in enumerate(times):
        door = requester(request_id=n.to_bytes(16, "big"))
        message = as_request(door.start_identity_check({"docno": f"GUESS{n}"}, at).message)
        outcome = originator(limiter=limiter).handle(message, REQUESTER.peer_id, at)
        codes.append(None if outcome.error is None else outcome.error.code)
    return codes


def test_identity_checks_are_capped_over_the_alert_life() -> None:
    # Five a day, every day: the lifetime cap of 12 ends it on the third day.
    limiter = RateLimiter(RateLimits(identity_checks_per_requester_alert_lifetime=12))
    times = [T0 + day * 86_400 + n for day in range(4) for n in range(5)]
    codes = _check_codes(limiter, times)
    assert codes == [None] * 12 + [ErrorCode.RATE_LIMITED] * 8
    # Months later, still capped.
    assert _check_codes(limiter, [T0 + 200 * 86_400]) == [ErrorCode.RATE_LIMITED]


def test_counted_hits_survive_a_restart() -> None:
    limits = RateLimits(identity_checks_per_requester_alert=3)
    before = RateLimiter(limits)
    assert _check_codes(before, [T0, T0 + 1, T0 + 2]) == [None] * 3
    stored = before.drain()
    assert stored
    assert before.drain() == []
    assert all(h.expires_at > h.at for h in stored)
    assert all("GUESS" not in h.key for h in stored)
    # A new limiter (the node restarted) knows nothing until the hits are restored.
    assert _check_codes(RateLimiter(limits), [T0 + 3]) == [None]
    after = RateLimiter(limits)
    after.restore(stored, T0 + 3)
    assert _check_codes(after, [T0 + 3]) == [ErrorCode.RATE_LIMITED]
    # Restored hits expire like any other.
    later = RateLimiter(limits)
    later.restore(stored, T0 + 86_400 + 3)
    assert _check_codes(later, [T0 + 86_400 + 3]) == [None]


def test_forget_keeps_the_lifetime_counters() -> None:
    limiter = RateLimiter(RateLimits(identity_checks_per_requester_alert_lifetime=2))
    assert _check_codes(limiter, [T0, T0 + 1]) == [None, None]
    limiter.forget(T0 + 30 * 86_400)
    assert _check_codes(limiter, [T0 + 30 * 86_400]) == [ErrorCode.RATE_LIMITED]


def test_identity_checks_are_rate_limited_per_alert_across_requesters() -> None:
    limiter = RateLimiter(RateLimits(identity_checks_per_alert=2))
    backend = Backend()
    others = [identity(f"venue-{n}") for n in range(3)]
    backend.members.update(o.peer_id for o in others)
    codes = []
    for n, venue in enumerate(others):
        door = requester(request_id=bytes([n]) * 16, who=venue)
        message = as_request(door.start_identity_check({"docno": "X"}, T0).message)
        outcome = originator(backend, limiter).handle(message, venue.peer_id, T0)
        codes.append(None if outcome.error is None else outcome.error.code)
    assert codes == [None, None, ErrorCode.RATE_LIMITED]


def test_photos_are_rate_limited_per_requester() -> None:
    limiter = RateLimiter(RateLimits(photos_per_requester=1))
    codes = []
    for n in range(2):
        origin, door = originator(limiter=limiter), requester(request_id=bytes([n]) * 16)
        out = door.start_identity_check({"surname+dob": "SMITH|1990-02-03"}, T0)
        door.receive(wire(origin.handle(as_request(out.message), REQUESTER.peer_id, T0).reply), T0)
        outcome = origin.handle(as_request(door.request_photo(T0).message), REQUESTER.peer_id, T0)
        codes.append(None if outcome.error is None else outcome.error.code)
    assert codes == [None, ErrorCode.RATE_LIMITED]


def test_a_refused_session_stays_closed() -> None:
    origin, door = originator(Backend(active=False)), requester()
    message = as_request(door.start_identity_check({"docno": "X"}, T0).message)
    origin.handle(message, REQUESTER.peer_id, T0)
    assert origin.state is OriginatorState.REFUSED
    outcome = origin.handle(message, REQUESTER.peer_id, T0)
    _refused(outcome.reply, ErrorCode.OUT_OF_ORDER)


def test_requester_refuses_answers_that_do_not_fit() -> None:
    origin, door = originator(), requester()
    with pytest.raises(RemoteProtocolError) as err:
        door.receive(PhotoResponse(request_id=b"r" * 16, alert_id=ALERT, sealed_photo=b"x"), T0)
    assert err.value.code is ErrorCode.OUT_OF_ORDER
    out = door.start_identity_check({"docno": "X1234567"}, T0)
    reply = origin.handle(as_request(out.message), REQUESTER.peer_id, T0).reply
    with pytest.raises(RemoteProtocolError) as err:
        door.receive(reply.model_copy(update={"request_id": b"z" * 16}), T0)
    assert err.value.code is ErrorCode.WRONG_SESSION


def test_sealed_photo_from_another_session_does_not_open() -> None:
    origin, door = originator(), requester()
    _to_photo(origin, door)
    other_origin, other_door = originator(), requester(request_id=b"q" * 16)
    out = other_door.start_identity_check({"surname+dob": "SMITH|1990-02-03"}, T0)
    other_door.receive(
        wire(other_origin.handle(as_request(out.message), REQUESTER.peer_id, T0).reply), T0
    )
    photo = other_origin.handle(
        as_request(other_door.request_photo(T0).message),
        REQUESTER.peer_id,
        T0,
    ).reply
    assert isinstance(photo, PhotoResponse)
    victim = requester()
    victim.state = RequesterState.PHOTO_SENT
    with pytest.raises(RemoteProtocolError) as err:
        victim.receive(photo.model_copy(update={"request_id": b"r" * 16}), T0)
    assert err.value.code is ErrorCode.WRONG_SESSION


def test_sealed_photo_for_someone_else_does_not_open() -> None:
    origin, door = originator(), requester()
    out = door.start_identity_check({"surname+dob": "SMITH|1990-02-03"}, T0)
    door.receive(wire(origin.handle(as_request(out.message), REQUESTER.peer_id, T0).reply), T0)
    photo = origin.handle(as_request(door.request_photo(T0).message), REQUESTER.peer_id, T0).reply
    eavesdropper = requester(who=STRANGER)
    eavesdropper.state = RequesterState.PHOTO_SENT
    with pytest.raises(RemoteProtocolError) as err:
        eavesdropper.receive(photo, T0)
    assert err.value.code is ErrorCode.BAD_SIGNATURE


def test_a_photo_request_carries_a_proof_for_its_own_request_only() -> None:
    good = _photo_request(bytes(32))
    other = good.proof.model_copy(update={"request_id": b"x" * 16})
    frame = encode(good).replace(good.proof.request_id, b"x" * 16, 1)
    assert frame != encode(good)
    with pytest.raises(RemoteProtocolError):
        decode(frame)
    with pytest.raises(ValueError, match="proof"):
        PhotoRequest(request_id=b"r" * 16, alert_id=ALERT, requester=REQUESTER.peer_id, proof=other)
