"""Private equality test (DH-based, OPRF style) for identity confirmation,
with a committed answer so that a claimed match can be proved.

Theory of operation, on the prime-order subgroup of Ed25519:

- H(alert_id, label, value) = from_uniform(BLAKE2b("doorwatch:pet:v1" ||
  canonical[alert_id, label, value])): Elligator 2 followed by cofactor
  clearing, so H lands in the prime-order subgroup and nobody knows its
  discrete log.
- Requester: for each label, draws r (a random non-zero scalar) and sends
  B = r * H(alert, label, y), bound to one ``request_id``.
- Originator: checks each B is a valid non-identity prime-order point and,
  for each item, draws a FRESH scalar k_i (from 32 random bytes, keyed by the
  per-alert key ``pet_secret(node_secret, alert_id)``) and returns k_i * B and
  only a COMMITMENT C = BLAKE2b("doorwatch:pet-commit:v1" || canonical[alert,
  request, label, T]) to T = k_i * H(alert, label, x) for its own value x (T is
  k_i times a random point when it has none). It keeps T per label
  (``PetOpening``, memory only) and forgets k_i.
- Requester: computes U = r^-1 * (k_i * B) = k_i * H(y) and compares the
  commitment to U with C: equal iff y == x (up to hash collisions). To ask for
  the photo it sends U for the labels that matched (``PetProof``).
- Originator: a proof is valid iff U == T for every label it names. Without
  y == x the requester holds only k_i * H(y) and C, and computing k_i * H(x)
  from them is the computational Diffie-Hellman problem: a claimed match
  cannot be made up.

B is uniformly distributed whatever y is, so the originator learns nothing
until a proof arrives (and a proof only says "this label matched", which the
photo request says anyway). Because k_i is fresh per item, the pair
(k_i * B, C) is good for testing the one relation the requester built into B:
one guess per label per query, no pooling across items, queries or requesters,
and a label the originator does not hold looks like any non-match.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

import nacl.bindings
import nacl.exceptions
import nacl.utils
from pydantic import Field, StrictBytes, StrictStr, model_validator

from doorwatch.crypto._canonical import canonical_pack
from doorwatch.crypto._domain import Purpose, RandomBytes, purpose_prefix
from doorwatch.crypto._errors import (
    InvalidEncoding,
    InvalidKey,
    InvalidPoint,
    PetError,
    PetProofInvalid,
)
from doorwatch.crypto._wire import Bytes16, WireModel

MAX_LABELS = 8
Label = Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9_+-]{0,31}$")]
Point = Annotated[StrictBytes, Field(min_length=32, max_length=32)]
Digest = Annotated[StrictBytes, Field(min_length=32, max_length=32)]


def _check_labels(labels: list[str]) -> None:
    if len(set(labels)) != len(labels):
        raise ValueError("labels must be distinct")


class PetBlinded(WireModel):
    label: Label
    point: Point


class PetRequest(WireModel):
    """Requester -> originator: one blinded point per label, for one request id."""

    alert_id: Bytes16
    request_id: Bytes16
    items: tuple[PetBlinded, ...] = Field(min_length=1, max_length=MAX_LABELS)

    @model_validator(mode="after")
    def _distinct(self) -> PetRequest:
        _check_labels([i.label for i in self.items])
        return self


class PetEvaluated(WireModel):
    label: Label
    evaluated: Point  # k * B
    commitment: Digest  # BLAKE2b(pet-commit, [alert, request, label, k * H(x)])


class PetResponse(WireModel):
    """Originator -> requester: evaluations and commitments, in the request's order."""

    alert_id: Bytes16
    request_id: Bytes16
    items: tuple[PetEvaluated, ...] = Field(min_length=1, max_length=MAX_LABELS)

    @model_validator(mode="after")
    def _distinct(self) -> PetResponse:
        _check_labels([i.label for i in self.items])
        return self


class PetUnblinded(WireModel):
    label: Label
    point: Point  # U = k * H(y), equal to the originator's k * H(x) iff y == x


class PetProof(WireModel):
    """Requester -> originator: the unblinded values of the labels it claims matched."""

    alert_id: Bytes16
    request_id: Bytes16
    items: tuple[PetUnblinded, ...] = Field(min_length=1, max_length=MAX_LABELS)

    @model_validator(mode="after")
    def _distinct(self) -> PetProof:
        _check_labels([i.label for i in self.items])
        return self

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(i.label for i in self.items)


@dataclass(frozen=True)
class PetState:
    """The requester's secret blinding scalars (keep in memory only)."""

    alert_id: bytes
    request_id: bytes
    labels: tuple[str, ...]
    blinds: tuple[bytes, ...] = field(repr=False)


@dataclass(frozen=True)
class PetOpening:
    """The originator's side of one answered request (keep in memory only, per session).

    ``expected`` holds T = k * H(x) per label the originator holds a value
    for; labels it does not hold have no entry, so no proof opens them.
    """

    alert_id: bytes
    request_id: bytes
    labels: tuple[str, ...]
    expected: Mapping[str, bytes] = field(repr=False)


@dataclass(frozen=True)
class PetResult:
    """The requester's outcome: per label equal or not, and what proves the matches."""

    alert_id: bytes
    request_id: bytes
    equal: Mapping[str, bool]
    unblinded: Mapping[str, bytes] = field(repr=False)
    """U per label that matched (only those)."""

    @property
    def matched_labels(self) -> tuple[str, ...]:
        return tuple(label for label, ok in self.equal.items() if ok)

    def proof(self) -> PetProof:
        """The proof of every matched label; PetError if none matched."""
        labels = self.matched_labels
        if not labels:
            raise PetError("no label matched: there is nothing to prove")
        return PetProof.from_dict(
            {
                "alert_id": self.alert_id,
                "request_id": self.request_id,
                "items": [{"label": lb, "point": self.unblinded[lb]} for lb in labels],
            }
        )


def _hash_to_point(alert_id: bytes, label: str, value: str) -> bytes:
    data = purpose_prefix(Purpose.PET) + canonical_pack([alert_id, label, value])
    return nacl.bindings.crypto_core_ed25519_from_uniform(
        hashlib.blake2b(data, digest_size=32).digest()
    )


def _commit(alert_id: bytes, request_id: bytes, label: str, point: bytes) -> bytes:
    data = purpose_prefix(Purpose.PET_COMMIT) + canonical_pack([alert_id, request_id, label, point])
    return hashlib.blake2b(data, digest_size=32).digest()


def _random_scalar(random_bytes: RandomBytes) -> bytes:
    while True:
        s = nacl.bindings.crypto_core_ed25519_scalar_reduce(random_bytes(64))
        if any(s):
            return s


def _valid(point: bytes, what: str) -> None:
    if len(point) != 32 or not nacl.bindings.crypto_core_ed25519_is_valid_point(point):
        raise InvalidPoint(f"{what}: not a valid non-identity point of the prime-order group")


def _mul(scalar: bytes, point: bytes, what: str) -> bytes:
    _valid(point, what)
    try:
        return nacl.bindings.crypto_scalarmult_ed25519_noclamp(scalar, point)
    except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError) as exc:
        raise InvalidPoint(f"{what}: the product is the identity point") from exc


def pet_secret(node_secret: bytes, alert_id: bytes) -> bytes:
    """The originator's per-alert key, derived from a 32-byte node secret.

    It keys the derivation of the fresh per-answer scalars (see :func:`_answer_scalar`);
    it is never itself used to evaluate a requester's point.
    """
    if not isinstance(node_secret, bytes) or len(node_secret) < 32:
        raise InvalidKey("node_secret: at least 32 bytes")
    wide = hashlib.blake2b(
        purpose_prefix(Purpose.PET) + alert_id, key=node_secret[:64], digest_size=64
    ).digest()
    return nacl.bindings.crypto_core_ed25519_scalar_reduce(wide)


def _answer_scalar(alert_key: bytes, label: str, random_bytes: RandomBytes) -> bytes:
    # Fresh per answer: 32 random bytes, hedged with the per-alert key so a predictable
    # random source alone does not reveal the scalar.
    nonce = random_bytes(32)
    wide = hashlib.blake2b(
        purpose_prefix(Purpose.PET) + canonical_pack(["answer", label, nonce]),
        key=alert_key,
        digest_size=64,
    ).digest()
    k = nacl.bindings.crypto_core_ed25519_scalar_reduce(wide)
    if not any(k):  # probability 2^-252; a zero scalar would answer with the identity
        return _answer_scalar(alert_key, label, random_bytes)
    return k


def pet_blind(
    alert_id: bytes,
    request_id: bytes,
    values: Mapping[str, str],
    random_bytes: RandomBytes = nacl.utils.random,
) -> tuple[PetState, PetRequest]:
    """Blind the customer's normalised values (label -> value) for one alert and request."""
    labels = list(values)
    blinds: list[bytes] = []
    items: list[dict[str, object]] = []
    for label in labels:
        r = _random_scalar(random_bytes)
        point = _mul(r, _hash_to_point(alert_id, label, values[label]), "value")
        blinds.append(r)
        items.append({"label": label, "point": point})
    try:
        request = PetRequest.from_dict(
            {"alert_id": alert_id, "request_id": request_id, "items": items}
        )
    except InvalidEncoding as exc:
        raise PetError(f"pet_blind: {exc.message}") from exc
    return PetState(alert_id, request_id, tuple(labels), tuple(blinds)), request


def pet_respond(
    secret: bytes,
    alert_id: bytes,
    request: PetRequest,
    own_values: Mapping[str, str],
    random_bytes: RandomBytes = nacl.utils.random,
) -> tuple[PetOpening, PetResponse]:
    """Evaluate a request for the alert ``alert_id`` with its subject's values.

    ``secret`` is the node secret given to :func:`pet_secret`. Every item is
    answered under its own fresh scalar k with k * B and a commitment to
    k * H(x); the returned ``PetOpening`` (keep it for the session) checks the
    requester's later proof. Raises PetError if the request is for another
    alert, InvalidPoint for a malformed point. A label the originator has no
    value for is answered with a commitment to k times a random point (never
    equal, never provable).
    """
    if not hmac.compare_digest(request.alert_id, alert_id):
        raise PetError("the request's alert_id is not this alert's")
    alert_key = pet_secret(secret, alert_id)
    items = []
    expected: dict[str, bytes] = {}
    for i, item in enumerate(request.items):
        k = _answer_scalar(alert_key, item.label, random_bytes)
        evaluated = _mul(k, item.point, f"items[{i}].point")
        value = own_values.get(item.label)
        if value is None:
            own = _mul(k, nacl.bindings.crypto_core_ed25519_from_uniform(random_bytes(32)), "own")
        else:
            own = _mul(k, _hash_to_point(alert_id, item.label, value), "own")
            expected[item.label] = own
        commitment = _commit(alert_id, request.request_id, item.label, own)
        items.append({"label": item.label, "evaluated": evaluated, "commitment": commitment})
    response = PetResponse.from_dict(
        {"alert_id": alert_id, "request_id": request.request_id, "items": items}
    )
    opening = PetOpening(
        alert_id, request.request_id, tuple(i.label for i in request.items), expected
    )
    return opening, response


def pet_finish(state: PetState, response: PetResponse) -> PetResult:
    """Unblind and compare with the commitments: per label, equal or not, and the proofs."""
    if not hmac.compare_digest(response.alert_id, state.alert_id):
        raise PetError("the response's alert_id is not the request's")
    if not hmac.compare_digest(response.request_id, state.request_id):
        raise PetError("the response's request_id is not the request's")
    if tuple(i.label for i in response.items) != state.labels:
        raise PetError("the response's labels are not the request's, in order")
    equal: dict[str, bool] = {}
    unblinded: dict[str, bytes] = {}
    for i, (item, r) in enumerate(zip(response.items, state.blinds, strict=True)):
        u = _mul(
            nacl.bindings.crypto_core_ed25519_scalar_invert(r),
            item.evaluated,
            f"items[{i}].evaluated",
        )
        ok = hmac.compare_digest(
            _commit(state.alert_id, state.request_id, item.label, u), item.commitment
        )
        equal[item.label] = ok
        if ok:
            unblinded[item.label] = u
    return PetResult(state.alert_id, state.request_id, equal, unblinded)


_NO_VALUE = bytes(32)


def pet_check_proof(opening: PetOpening, proof: PetProof) -> tuple[str, ...]:
    """Check a requester's proof of a match against the answer it was given.

    Returns the proved labels. Raises PetError if the proof is for another
    alert or request, PetProofInvalid if any label's value is not the
    originator's evaluated value (including a label it did not ask about or
    that the originator holds no value for).
    """
    if not hmac.compare_digest(proof.alert_id, opening.alert_id):
        raise PetError("the proof's alert_id is not the identity check's")
    if not hmac.compare_digest(proof.request_id, opening.request_id):
        raise PetError("the proof's request_id is not the identity check's")
    valid = True
    for item in proof.items:
        # Compare against a dummy for labels without a value, so every item costs the same.
        expected = opening.expected.get(item.label, _NO_VALUE)
        same = hmac.compare_digest(item.point, expected)
        valid &= same and item.label in opening.expected
    if not valid:
        raise PetProofInvalid()
    return proof.labels
