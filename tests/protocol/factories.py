"""Deterministic keys, envelopes and messages for the protocol tests."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

from doorwatch.crypto import (
    KIND_SEGMENTS,
    KIND_TOMBSTONE,
    KIND_UPDATE,
    AuthorityKey,
    EnvelopeHeader,
    GroupKey,
    NodeIdentity,
    SignedEnvelope,
    derive_alert_id,
    new_group_key,
    seal_envelope,
    sign_tombstone,
)
from doorwatch.protocol import KIND_SUSPENDED, AlertPublish, AlertUpdate, Withdrawal

DAY = 86_400
T0 = 1_800_000_000


def seeded_bytes(seed: int) -> Callable[[int], bytes]:
    rng = random.Random(seed)
    return lambda n: rng.randbytes(n)


AUTHORITY = AuthorityKey.from_seed(hashlib.sha256(b"authority").digest())
NETWORK_ID = AUTHORITY.network_id


def identity(name: str) -> NodeIdentity:
    return NodeIdentity.from_seed(hashlib.sha256(name.encode()).digest())


GROUP_KEY: GroupKey = new_group_key(NETWORK_ID, "all", random_bytes=seeded_bytes(1))


_SALTS: dict[bytes, bytes] = {}


def bound_id(originator: NodeIdentity, name: bytes) -> bytes:
    """An alert id derived from ``originator`` and a salt (as verification demands);
    envelopes the factories build for it carry that salt."""
    salt = hashlib.sha256(b"salt" + name).digest()[:16]
    alert_id = derive_alert_id(originator.peer_id, salt)
    _SALTS[alert_id] = salt
    return alert_id


def salt_for(alert_id: bytes) -> bytes:
    """The salt of a ``bound_id``; for other test ids (which the replica accepts, as it does
    not check the derivation, but ``verify_alert_message`` refuses) a fixed dummy salt."""
    return _SALTS.get(alert_id, bytes(16))


def header(
    originator: NodeIdentity,
    alert_id: bytes,
    *,
    version: int = 1,
    kind: str = KIND_SEGMENTS,
    created_at: int = T0,
    expires_at: int | None = None,
) -> EnvelopeHeader:
    return EnvelopeHeader(
        network_id=NETWORK_ID,
        group="all",
        epoch=GROUP_KEY.epoch,
        alert_id=alert_id,
        alert_salt=salt_for(alert_id),
        version=version,
        originator=originator.peer_id,
        created_at=created_at,
        expires_at=created_at + 180 * DAY if expires_at is None else expires_at,
        kind=kind,
    )


def envelope(
    originator: NodeIdentity,
    alert_id: bytes,
    *,
    version: int = 1,
    kind: str = KIND_SEGMENTS,
    created_at: int = T0,
    expires_at: int | None = None,
    payload: bytes = b"segments",
    seed: int = 0,
) -> SignedEnvelope:
    h = header(
        originator,
        alert_id,
        version=version,
        kind=kind,
        created_at=created_at,
        expires_at=expires_at,
    )
    if kind == KIND_TOMBSTONE:
        return sign_tombstone(h, originator)
    return seal_envelope(h, payload, GROUP_KEY, originator, random_bytes=seeded_bytes(seed))


def publish(originator: NodeIdentity, alert_id: bytes, **kw: object) -> AlertPublish:
    return AlertPublish(envelope=envelope(originator, alert_id, **kw))  # type: ignore[arg-type]


def update(
    originator: NodeIdentity,
    alert_id: bytes,
    version: int,
    *,
    suspended: bool = False,
    **kw: object,
) -> AlertUpdate:
    kind = KIND_SUSPENDED if suspended else KIND_UPDATE
    return AlertUpdate(envelope=envelope(originator, alert_id, version=version, kind=kind, **kw))  # type: ignore[arg-type]


def withdraw(originator: NodeIdentity, alert_id: bytes, version: int, **kw: object) -> Withdrawal:
    return Withdrawal(
        envelope=envelope(originator, alert_id, version=version, kind=KIND_TOMBSTONE, **kw)  # type: ignore[arg-type]
    )
