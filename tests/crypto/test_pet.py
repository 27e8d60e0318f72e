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
    PetRequest,
    PetResponse,
    pet_blind,
    pet_finish,
    pet_respond,
    pet_secret,
)
from doorwatch.crypto._pet import _hash_to_point

Random = Callable[[str], Callable[[int], bytes]]
ALERT = bytes(range(16))
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
    state, request = pet_blind(alert, customer)
    wire_request = PetRequest.from_bytes(request.to_bytes())
    response = pet_respond(SECRET, alert, wire_request, own)
    return pet_finish(state, PetResponse.from_bytes(response.to_bytes()))


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
    state, request = pet_blind(ALERT, SUBJECT)
    with pytest.raises(PetError, match="alert_id"):
        pet_respond(SECRET, other_alert, request, SUBJECT)
    k1 = pet_secret(SECRET, ALERT)
    k2 = pet_secret(SECRET, other_alert)
    assert k1 != k2
    response = pet_respond(SECRET, ALERT, request, SUBJECT)
    assert all(pet_finish(state, response).values())


def test_blinded_points_hide_the_value(make_random: Random) -> None:
    _, first = pet_blind(ALERT, {"document": "X"}, make_random("1"))
    _, second = pet_blind(ALERT, {"document": "X"}, make_random("2"))
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
    _, request = pet_blind(ALERT, SUBJECT)
    items = [item.model_dump() for item in request.items]
    items[1]["point"] = bad
    evil = PetRequest.from_dict({"alert_id": ALERT, "items": items})
    with pytest.raises(InvalidPoint, match=r"items\[1\]"):
        pet_respond(SECRET, ALERT, evil, SUBJECT)


@pytest.mark.parametrize("field", ["evaluated", "own"])
@pytest.mark.parametrize("bad", [SMALL_ORDER, IDENTITY, b"\xff" * 32])
def test_requester_rejects_malformed_points(field: str, bad: bytes) -> None:
    state, request = pet_blind(ALERT, SUBJECT)
    response = pet_respond(SECRET, ALERT, request, SUBJECT)
    items = [item.model_dump() for item in response.items]
    items[0][field] = bad
    evil = PetResponse.from_dict({"alert_id": ALERT, "items": items})
    with pytest.raises(InvalidPoint):
        pet_finish(state, evil)


def test_requester_rejects_mismatched_responses() -> None:
    state, request = pet_blind(ALERT, SUBJECT)
    response = pet_respond(SECRET, ALERT, request, SUBJECT)
    reordered = PetResponse(alert_id=ALERT, items=tuple(reversed(response.items)))
    with pytest.raises(PetError, match="labels"):
        pet_finish(state, reordered)
    other = PetResponse(alert_id=bytes(16), items=response.items)
    with pytest.raises(PetError, match="alert_id"):
        pet_finish(state, other)


def test_request_limits() -> None:
    too_many = {f"label{i}": "v" for i in range(MAX_LABELS + 1)}
    with pytest.raises(PetError):
        pet_blind(ALERT, too_many)
    with pytest.raises(PetError):
        pet_blind(ALERT, {})
    with pytest.raises(PetError, match="label"):
        pet_blind(ALERT, {"Bad Label": "v"})
    _, request = pet_blind(ALERT, {"a": "1", "b": "2"})
    items = [item.model_dump() for item in request.items]
    items[1]["label"] = "a"
    with pytest.raises(Exception, match="distinct"):
        PetRequest.from_dict({"alert_id": ALERT, "items": items})


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30))
def test_equality_property(customer: str, subject: str) -> None:
    result = run({"surname-dob": customer}, {"surname-dob": subject})
    assert result == {"surname-dob": customer == subject}


# --- A malicious requester: what rate-limited queries may teach it ---------------------------
# The attacker builds its own blinded points B = r * H(alert, label, guess) with scalars it
# knows, so it can unblind any evaluation k * B and compare it with any "own" answer.

R = nacl.bindings.crypto_core_ed25519_scalar_reduce(bytes(range(64)))
R_INV = nacl.bindings.crypto_core_ed25519_scalar_invert(R)


def _blinded(label: str, guess: str) -> bytes:
    return nacl.bindings.crypto_scalarmult_ed25519_noclamp(R, _hash_to_point(ALERT, label, guess))


def _unblinded(evaluated: bytes) -> bytes:
    return nacl.bindings.crypto_scalarmult_ed25519_noclamp(R_INV, evaluated)


def test_one_query_tests_at_most_one_guess_per_label() -> None:
    # Guesses for "surname-dob" smuggled under labels the originator does not hold must be
    # useless against the "surname-dob" answer; otherwise one rate-limited query tests
    # MAX_LABELS guesses of one label instead of one.
    guesses = [f"SMITH|1990-04-{day:02d}" for day in range(2, MAX_LABELS + 1)]
    guesses.append(SUBJECT["surname-dob"])  # the right one, under a decoy label
    labels = ["surname-dob"] + [f"decoy{i}" for i in range(1, MAX_LABELS)]
    items = [
        {"label": label, "point": _blinded("surname-dob", guess)}
        for label, guess in zip(labels, guesses, strict=True)
    ]
    request = PetRequest.from_dict({"alert_id": ALERT, "items": items})
    response = pet_respond(SECRET, ALERT, request, SUBJECT)
    target = response.items[0].own
    hits = [i for i, item in enumerate(response.items) if _unblinded(item.evaluated) == target]
    assert hits == []


def test_an_evaluation_from_one_query_does_not_test_another_querys_answer() -> None:
    # Answers must not be reusable across queries (or across colluding requesters): an
    # evaluation of the right guess obtained later must not match an earlier "own".
    first = PetRequest.from_dict(
        {"alert_id": ALERT, "items": [{"label": "document", "point": _blinded("document", "?")}]}
    )
    earlier_own = pet_respond(SECRET, ALERT, first, SUBJECT).items[0].own
    second = PetRequest.from_dict(
        {
            "alert_id": ALERT,
            "items": [{"label": "document", "point": _blinded("document", SUBJECT["document"])}],
        }
    )
    later = pet_respond(SECRET, ALERT, second, SUBJECT).items[0]
    assert _unblinded(later.evaluated) == later.own  # the same query does confirm it
    assert _unblinded(later.evaluated) != earlier_own


def test_answers_do_not_reveal_which_labels_the_originator_holds() -> None:
    # Ask twice with the same request: if a held label's answer repeated while a missing
    # label's answer changed, the requester would learn which fields the alert holds.
    request = PetRequest.from_dict(
        {
            "alert_id": ALERT,
            "items": [
                {"label": "document", "point": _blinded("document", "?")},
                {"label": "passport", "point": _blinded("passport", "?")},
            ],
        }
    )
    one = pet_respond(SECRET, ALERT, request, {"document": "X"})
    two = pet_respond(SECRET, ALERT, request, {"document": "X"})
    repeats = [a.own == b.own for a, b in zip(one.items, two.items, strict=True)]
    assert repeats == [False, False]
