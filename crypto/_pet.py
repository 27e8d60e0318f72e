"""Private equality test (DH-based, OPRF style) for identity confirmation.

Theory of operation, on the prime-order subgroup of Ed25519:

- H(alert_id, label, value) = from_uniform(BLAKE2b("doorwatch:pet:v1" ||
  canonical[alert_id, label, value])): Elligator 2 followed by cofactor
  clearing, so H lands in the prime-order subgroup and nobody knows its
  discrete log.
- Requester: for each label, draws r (a random non-zero scalar) and sends
  B = r * H(alert, label, y).
- Originator: checks each B is a valid non-identity prime-order point and,
  for each item, draws a FRESH scalar k_i (from 32 random bytes, keyed by the
  per-alert key ``pet_secret(node_secret, alert_id)`` so a weak random source
  alone does not expose it) and returns k_i * B and k_i * H(alert, label, x)
  for its own value x (a random point when it has none), in the request's
  order. k_i is used for that one item and forgotten.
- Requester: computes r^-1 * (k_i * B) = k_i * H(y) and compares it with
  k_i * H(x): equal iff y == x (up to hash collisions).

B is uniformly distributed whatever y is, so the originator learns nothing.
Because k_i is fresh per item, the pair (k_i*B, k_i*H(x)) is only good for
testing the one relation between B and H(x) the requester built into B: one
guess per label per query. An evaluation obtained under another item, another
query or by another requester is useless against it, and an answer for a
label the originator holds looks like one for a label it does not (both
change every time). So the originator's rate limit bounds guessing.
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
from doorwatch.crypto._errors import InvalidEncoding, InvalidKey, InvalidPoint, PetError
from doorwatch.crypto._wire import Bytes16, WireModel

MAX_LABELS = 8
Label = Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9_+-]{0,31}$")]
Point = Annotated[StrictBytes, Field(min_length=32, max_length=32)]


def _check_labels(labels: list[str]) -> None:
    if len(set(labels)) != len(labels):
        raise ValueError("labels must be distinct")


class PetBlinded(WireModel):
    label: Label
    point: Point


class PetRequest(WireModel):
    """Requester -> originator: one blinded point per label."""

    alert_id: Bytes16
    items: tuple[PetBlinded, ...] = Field(min_length=1, max_length=MAX_LABELS)

    @model_validator(mode="after")
    def _distinct(self) -> PetRequest:
        _check_labels([i.label for i in self.items])
        return self


class PetEvaluated(WireModel):
    label: Label
    evaluated: Point  # k * B
    own: Point  # k * H(x), the originator's value for the label


class PetResponse(WireModel):
    """Originator -> requester: evaluations, in the request's order."""

    alert_id: Bytes16
    items: tuple[PetEvaluated, ...] = Field(min_length=1, max_length=MAX_LABELS)

    @model_validator(mode="after")
    def _distinct(self) -> PetResponse:
        _check_labels([i.label for i in self.items])
        return self


@dataclass(frozen=True)
class PetState:
    """The requester's secret blinding scalars (keep in memory only)."""

    alert_id: bytes
    labels: tuple[str, ...]
    blinds: tuple[bytes, ...] = field(repr=False)


def _hash_to_point(alert_id: bytes, label: str, value: str) -> bytes:
    data = purpose_prefix(Purpose.PET) + canonical_pack([alert_id, label, value])
    return nacl.bindings.crypto_core_ed25519_from_uniform(
        hashlib.blake2b(data, digest_size=32).digest()
    )


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
    values: Mapping[str, str],
    random_bytes: RandomBytes = nacl.utils.random,
) -> tuple[PetState, PetRequest]:
    """Blind the customer's normalised values (label -> value) for one alert."""
    labels = list(values)
    blinds: list[bytes] = []
    items: list[dict[str, object]] = []
    for label in labels:
        r = _random_scalar(random_bytes)
        point = _mul(r, _hash_to_point(alert_id, label, values[label]), "value")
        blinds.append(r)
        items.append({"label": label, "point": point})
    try:
        request = PetRequest.from_dict({"alert_id": alert_id, "items": items})
    except InvalidEncoding as exc:
        raise PetError(f"pet_blind: {exc.message}") from exc
    return PetState(alert_id, tuple(labels), tuple(blinds)), request


def pet_respond(
    secret: bytes,
    alert_id: bytes,
    request: PetRequest,
    own_values: Mapping[str, str],
    random_bytes: RandomBytes = nacl.utils.random,
) -> PetResponse:
    """Evaluate a request for the alert ``alert_id`` with its subject's values.

    ``secret`` is the node secret given to :func:`pet_secret`. Every item is
    answered under its own fresh scalar, so an answer is good for one guess
    only and is never reusable across items, queries or requesters. Raises PetError
    if the request is for another alert, InvalidPoint for a malformed point.
    A label the originator has no value for gets a random point (never equal).
    """
    if not hmac.compare_digest(request.alert_id, alert_id):
        raise PetError("the request's alert_id is not this alert's")
    alert_key = pet_secret(secret, alert_id)
    items = []
    for i, item in enumerate(request.items):
        k = _answer_scalar(alert_key, item.label, random_bytes)
        evaluated = _mul(k, item.point, f"items[{i}].point")
        value = own_values.get(item.label)
        if value is None:
            own = _mul(k, nacl.bindings.crypto_core_ed25519_from_uniform(random_bytes(32)), "own")
        else:
            own = _mul(k, _hash_to_point(alert_id, item.label, value), "own")
        items.append({"label": item.label, "evaluated": evaluated, "own": own})
    return PetResponse.from_dict({"alert_id": alert_id, "items": items})


def pet_finish(state: PetState, response: PetResponse) -> dict[str, bool]:
    """Unblind and compare: label -> True iff the originator's value equals the customer's."""
    if not hmac.compare_digest(response.alert_id, state.alert_id):
        raise PetError("the response's alert_id is not the request's")
    if tuple(i.label for i in response.items) != state.labels:
        raise PetError("the response's labels are not the request's, in order")
    result: dict[str, bool] = {}
    for i, (item, r) in enumerate(zip(response.items, state.blinds, strict=True)):
        _valid(item.own, f"items[{i}].own")
        unblinded = _mul(
            nacl.bindings.crypto_core_ed25519_scalar_invert(r),
            item.evaluated,
            f"items[{i}].evaluated",
        )
        result[item.label] = hmac.compare_digest(unblinded, item.own)
    return result
