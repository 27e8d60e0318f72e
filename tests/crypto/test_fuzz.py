"""Arbitrary and mutated bytes give a typed error (or a valid value), never another exception."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.crypto import (
    KIND_SEGMENTS,
    AuthorityKey,
    Certificate,
    CryptoError,
    EnvelopeHeader,
    GroupKey,
    InvalidEncoding,
    JoinRequest,
    NodeIdentity,
    PetRequest,
    PetResponse,
    RevocationList,
    SignedEnvelope,
    derive_alert_id,
    join_request,
    new_group_key,
    pet_blind,
    pet_respond,
    seal_envelope,
    verify_envelope,
)
from doorwatch.crypto._wire import WireModel

AUTHORITY = AuthorityKey.from_seed(hashlib.sha256(b"fz-authority").digest())
NODE = NodeIdentity.from_seed(hashlib.sha256(b"fz-node").digest())
KEY = new_group_key(AUTHORITY.network_id, "all", random_bytes=lambda n: b"g" * n)
ENVELOPE = seal_envelope(
    EnvelopeHeader(
        network_id=AUTHORITY.network_id,
        group="all",
        epoch=1,
        alert_id=derive_alert_id(NODE.peer_id, b"s" * 16),
        alert_salt=b"s" * 16,
        version=1,
        originator=NODE.peer_id,
        created_at=1,
        expires_at=2,
        kind=KIND_SEGMENTS,
    ),
    b"payload",
    KEY,
    NODE,
)
_STATE, PET_REQUEST = pet_blind(b"a" * 16, b"r" * 16, {"document": "X"})
SAMPLES: list[WireModel] = [
    ENVELOPE,
    AUTHORITY.issue_certificate(
        venue="V",
        peer_id=NODE.peer_id,
        groups=["all"],
        committee=False,
        jurisdiction="GB",
        valid_from=0,
        valid_until=10,
        agreement_version="1",
        serial=1,
    ),
    AUTHORITY.revoke(serial=1, issued_at=0, peer_ids=[NODE.peer_id]),
    join_request(
        AUTHORITY.issue_invite(venue="V", groups=["all"], bootstrap_addrs=[], expires_at=9),
        NODE,
        now=1,
    ),
    KEY,
    PET_REQUEST,
    pet_respond(b"s" * 32, b"a" * 16, PET_REQUEST, {"document": "X"})[1],
]
MODELS: list[type[WireModel]] = [
    SignedEnvelope,
    Certificate,
    RevocationList,
    JoinRequest,
    GroupKey,
    PetRequest,
    PetResponse,
    EnvelopeHeader,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes(model: type[WireModel], data: bytes) -> None:
    with contextlib.suppress(InvalidEncoding):
        model.from_bytes(data)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
@settings(max_examples=100, deadline=None)
@given(st.data())
def test_mutated_encodings(sample: WireModel, data: st.DataObject) -> None:
    raw = bytearray(sample.to_bytes())
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    mutated = bytes(raw[:cut] if data.draw(st.booleans()) else raw)
    try:
        parsed = type(sample).from_bytes(mutated)
    except InvalidEncoding:
        return
    if isinstance(parsed, SignedEnvelope):
        try:
            verify_envelope(parsed)
        except CryptoError:
            return
        assert parsed == sample
