from __future__ import annotations

from collections.abc import Callable

import nacl.bindings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.crypto import (
    MAX_LABELS,
    InvalidPoint,
    PetError,
    PetProof,
    PetProofInvalid,
    PetRequest,
    PetResponse,
    pet_blind,
    pet_check_proof,
    pet_finish,
    pet_respond,
    pet_secret,
)
from doorwatch.crypto._pet import _commit, _hash_to_point

Random = Callable[[str], Callable[[int], bytes]]
ALERT = bytes(range(16))
REQ = b"q" * 16
SECRET = b"n" * 32
SUBJECT = {
    "surname-dob": "SMITH|1990-04-01",
    "given-dob": "JOHN|1990-04-01",
    "document": "123456789GBR",
}
L_MINUS_ONE = bytes.fromhex("ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
# A point of order 8 (small order) and the identity.
SMALL_ORDER = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
IDENTITY = bytes([1]) + bytes(31)


def run(customer: dict[str, str], own: dict[str, str], alert: bytes = ALERT) -> dict[str, bool]:
    state, request = pet_blind(alert, REQ, customer)
    wire_request = PetRequest.from_bytes(request.to_bytes())
    _, response = pet_respond(SECRET, alert, wire_request, own)
    return dict(pet_finish(state, PetResponse.from_bytes(response.to_bytes())).equal)


def test_equal_values_are_equal() -> None:
    assert run(SUBJECT, SUBJECT) == dict.fromkeys(SUBJECT, True)


def test_per_label_results() -> None:
    customer = {**SUBJECT, "document": "987654321GBR", "given-dob": "JON|1990-04-01"}
    assert run(customer, SUBJECT) == {
        "surname-dob": True,
        "given-dob": False,
        "document": False,
    }


def test_missing_own_value_is_never_equal() -> None:
    assert run({"document": ""}, {}) == {"document": False}
    assert run(SUBJECT, {"surname-dob": SUBJECT["surname-dob"]}) == {
        "surname-dob": True,
        "given-dob": False,
        "document": False,
    }


def test_labels_separate_domains() -> None:
    # The same string under another label is a different group element.
    assert run({"given-dob": "X"}, {"given-dob": "X"}) == {"given-dob": True}
    assert _hash_to_point(ALERT, "given-dob", "X") != _hash_to_point(ALERT, "surname-dob", "X")
    assert _hash_to_point(ALERT, "a", "b|c") != _hash_to_point(ALERT, "a|b", "c")


def test_answers_are_per_alert() -> None:
    other_alert = bytes(16)
    state, request = pet_blind(ALERT, REQ, SUBJECT)
    with pytest.raises(PetError, match="alert_id"):
        pet_respond(SECRET, other_alert, request, SUBJECT)
    k1 = pet_secret(SECRET, ALERT)
    k2 = pet_secret(SECRET, other_alert)
    assert k1 != k2
    _, response = pet_respond(SECRET, ALERT, request, SUBJECT)
    assert all(pet_finish(state, response).equal.values())


def test_blinded_points_hide_the_value(make_random: Random) -> None:
    _, first = pet_blind(ALERT, REQ, {"document": "X"}, make_random("1"))
    _, second = pet_blind(ALERT, REQ, {"document": "X"}, make_random("2"))
    assert first.items[0].point != second.items[0].point
    assert first.items[0].point != _hash_to_point(ALERT, "document", "X")


def test_hash_to_point_lands_in_the_prime_order_subgroup() -> None:
    for i in range(32):
        point = _hash_to_point(ALERT, "document", str(i))
        assert nacl.bindings.crypto_core_ed25519_is_valid_point(point)
        # L * P is the identity only for P in the prime-order subgroup (a torsion part T
        # survives, as L is odd). libsodium refuses to output the identity from a
        # scalar multiplication, so compute (L - 1) * P + P instead.
        minus_p = nacl.bindings.crypto_scalarmult_ed25519_noclamp(L_MINUS_ONE, point)
        assert nacl.bindings.crypto_core_ed25519_add(minus_p, point) == IDENTITY


def test_the_subgroup_check_is_not_vacuous() -> None:
    point = _hash_to_point(ALERT, "document", "0")
    mixed = nacl.bindings.crypto_core_ed25519_add(point, SMALL_ORDER)
    assert not nacl.bindings.crypto_core_ed25519_is_valid_point(mixed)


@pytest.mark.parametrize("bad", [SMALL_ORDER, IDENTITY, b"\xff" * 32, bytes(32)])
def test_originator_rejects_malformed_points(bad: bytes) -> None:
    _, request = pet_blind(ALERT, REQ, SUBJECT)
    items = [item.model_dump() for item in request.items]
    items[1]["point"] = bad
    evil = PetRequest.from_dict({"alert_id": ALERT, "request_id": REQ, "items": items})
    with pytest.raises(InvalidPoint, match=r"items\[1\]"):
        pet_respond(SECRET, ALERT, evil, SUBJECT)


@pytest.mark.parametrize("bad", [SMALL_ORDER, IDENTITY, b"\xff" * 32])
def test_requester_rejects_malformed_points(bad: bytes) -> None:
    state, request = pet_blind(ALERT, REQ, SUBJECT)
    _, response = pet_respond(SECRET, ALERT, request, SUBJECT)
    items = [item.model_dump() for item in response.items]
    items[0]["evaluated"] = bad
    evil = PetResponse.from_dict({"alert_id": ALERT, "request_id": REQ, "items": items})
    with pytest.raises(InvalidPoint):
        pet_finish(state, evil)


def test_requester_rejects_mismatched_responses() -> None:
    state, request = pet_blind(ALERT, REQ, SUBJECT)
    _, response = pet_respond(SECRET, ALERT, request, SUBJECT)
    reordered = response.model_copy(update={"items": tuple(reversed(response.items))})
    with pytest.raises(PetError, match="labels"):
        pet_finish(state, reordered)
    with pytest.raises(PetError, match="alert_id"):
        pet_finish(state, response.model_copy(update={"alert_id": bytes(16)}))
    with pytest.raises(PetError, match="request_id"):
        pet_finish(state, response.model_copy(update={"request_id": bytes(16)}))


def test_request_limits() -> None:
    too_many = {f"label{i}": "v" for i in range(MAX_LABELS + 1)}
    with pytest.raises(PetError):
        pet_blind(ALERT, REQ, too_many)
    with pytest.raises(PetError):
        pet_blind(ALERT, REQ, {})
    with pytest.raises(PetError, match="label"):
        pet_blind(ALERT, REQ, {"Bad Label": "v"})
    _, request = pet_blind(ALERT, REQ, {"a": "1", "b": "2"})
    items = [item.model_dump() for item in request.items]
    items[1]["label"] = "a"
    with pytest.raises(Exception, match="distinct"):
        PetRequest.from_dict({"alert_id": ALERT, "request_id": REQ, "items": items})


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30))
def test_equality_property(customer: str, subject: str) -> None:
    result = run({"surname-dob": customer}, {"surname-dob": subject})
    assert result == {"surname-dob": customer == subject}


# --- Proving a match (the photo step) -----------------------------------------------------


def exchange(customer: dict[str, str], own: dict[str, str], request_id: bytes = REQ):  # type: ignore[no-untyped-def]
    state, request = pet_blind(ALERT, request_id, customer)
    opening, response = pet_respond(SECRET, ALERT, request, own)
    return opening, pet_finish(state, response)


def test_a_real_match_proves_itself() -> None:
    customer = {**SUBJECT, "document": "OTHER"}
    opening, result = exchange(customer, SUBJECT)
    assert result.matched_labels == ("surname-dob", "given-dob")
    proof = PetProof.from_bytes(result.proof().to_bytes())
    assert pet_check_proof(opening, proof) == ("surname-dob", "given-dob")


def test_no_match_has_nothing_to_prove() -> None:
    _, result = exchange({"document": "OTHER"}, SUBJECT)
    with pytest.raises(PetError, match="nothing to prove"):
        result.proof()


def test_a_requester_that_did_not_match_cannot_make_up_a_proof() -> None:
    # It holds U = k * H(y) for its own y (the unblinded evaluation) and the commitment;
    # neither opens the originator's commitment to k * H(x).
    state, request = pet_blind(ALERT, REQ, {"document": "OTHER"})
    opening, response = pet_respond(SECRET, ALERT, request, SUBJECT)
    r_inv = nacl.bindings.crypto_core_ed25519_scalar_invert(state.blinds[0])
    u = nacl.bindings.crypto_scalarmult_ed25519_noclamp(r_inv, response.items[0].evaluated)
    candidates = [u, response.items[0].evaluated, _hash_to_point(ALERT, "document", "OTHER")]
    for point in candidates:
        claim = PetProof(
            alert_id=ALERT, request_id=REQ, items=({"label": "document", "point": point},)
        )
        with pytest.raises(PetProofInvalid):
            pet_check_proof(opening, claim)


def test_a_proof_opens_only_its_own_label_and_request() -> None:
    opening, result = exchange(SUBJECT, SUBJECT)
    proof = result.proof()
    # surname-dob's value offered for given-dob: each value opens only its own label.
    swapped = PetProof(
        alert_id=ALERT,
        request_id=REQ,
        items=({"label": "given-dob", "point": proof.items[0].point},),
    )
    with pytest.raises(PetProofInvalid):
        pet_check_proof(opening, swapped)
    with pytest.raises(PetError, match="request_id"):
        pet_check_proof(opening, proof.model_copy(update={"request_id": bytes(16)}))
    # A proof from an earlier exchange (another request, other scalars) opens nothing now.
    later_opening, _ = exchange(SUBJECT, SUBJECT)
    with pytest.raises(PetProofInvalid):
        pet_check_proof(later_opening, proof)


def test_a_label_the_originator_does_not_hold_cannot_be_proved() -> None:
    opening, result = exchange({"passport": "P1"}, {})
    assert result.equal == {"passport": False}
    with pytest.raises(PetProofInvalid):
        pet_check_proof(
            opening,
            PetProof(
                alert_id=ALERT,
                request_id=REQ,
                items=({"label": "passport", "point": _hash_to_point(ALERT, "passport", "P1")},),
            ),
        )


def test_commitments_are_bound_to_alert_request_and_label() -> None:
    point = _hash_to_point(ALERT, "document", "X")
    base = _commit(ALERT, REQ, "document", point)
    assert base != _commit(bytes(16), REQ, "document", point)
    assert base != _commit(ALERT, bytes(16), "document", point)
    assert base != _commit(ALERT, REQ, "passport", point)


# --- A malicious requester: what rate-limited queries may teach it ---------------------------
# The attacker builds its own blinded points B = r * H(alert, label, guess) with scalars it
# knows, so it can unblind any evaluation k * B and compare its commitment with any answer.

R = nacl.bindings.crypto_core_ed25519_scalar_reduce(bytes(range(64)))
R_INV = nacl.bindings.crypto_core_ed25519_scalar_invert(R)


def _blinded(label: str, guess: str) -> bytes:
    return nacl.bindings.crypto_scalarmult_ed25519_noclamp(R, _hash_to_point(ALERT, label, guess))


def _opens(evaluated: bytes, label: str, commitment: bytes, request_id: bytes = REQ) -> bool:
    u = nacl.bindings.crypto_scalarmult_ed25519_noclamp(R_INV, evaluated)
    return _commit(ALERT, request_id, label, u) == commitment


def _request(items: list[dict[str, object]], request_id: bytes = REQ) -> PetRequest:
    return PetRequest.from_dict({"alert_id": ALERT, "request_id": request_id, "items": items})


def test_one_query_tests_at_most_one_guess_per_label() -> None:
    # Guesses for "surname-dob" smuggled under labels the originator does not hold must be
    # useless against the "surname-dob" commitment; otherwise one rate-limited query tests
    # MAX_LABELS guesses of one label instead of one.
    guesses = [f"SMITH|1990-04-{day:02d}" for day in range(2, MAX_LABELS + 1)]
    guesses.append(SUBJECT["surname-dob"])  # the right one, under a decoy label
    labels = ["surname-dob"] + [f"decoy{i}" for i in range(1, MAX_LABELS)]
    items: list[dict[str, object]] = [
        {"label": label, "point": _blinded("surname-dob", guess)}
        for label, guess in zip(labels, guesses, strict=True)
    ]
    _, response = pet_respond(SECRET, ALERT, _request(items), SUBJECT)
    target = response.items[0].commitment
    hits = [
        i for i, item in enumerate(response.items) if _opens(item.evaluated, "surname-dob", target)
    ]
    assert hits == []


def test_an_evaluation_from_one_query_does_not_test_another_querys_answer() -> None:
    # Answers must not be reusable across queries (or across colluding requesters): an
    # evaluation of the right guess obtained later must not open an earlier commitment,
    # even under the same request id.
    first = _request([{"label": "document", "point": _blinded("document", "?")}])
    earlier = pet_respond(SECRET, ALERT, first, SUBJECT)[1].items[0].commitment
    second = _request([{"label": "document", "point": _blinded("document", SUBJECT["document"])}])
    later = pet_respond(SECRET, ALERT, second, SUBJECT)[1].items[0]
    assert _opens(later.evaluated, "document", later.commitment)  # the same query confirms it
    assert not _opens(later.evaluated, "document", earlier)


def test_answers_do_not_reveal_which_labels_the_originator_holds() -> None:
    # Ask twice with the same request: if a held label's commitment repeated while a missing
    # label's changed, the requester would learn which fields the alert holds.
    request = _request(
        [
            {"label": "document", "point": _blinded("document", "?")},
            {"label": "passport", "point": _blinded("passport", "?")},
        ]
    )
    one = pet_respond(SECRET, ALERT, request, {"document": "X"})[1]
    two = pet_respond(SECRET, ALERT, request, {"document": "X"})[1]
    repeats = [a.commitment == b.commitment for a, b in zip(one.items, two.items, strict=True)]
    assert repeats == [False, False]
    evaluated_repeats = [
        a.evaluated == b.evaluated for a, b in zip(one.items, two.items, strict=True)
    ]
    assert evaluated_repeats == [False, False]
