"""Alert ids are bound to their originator: nobody can race another member's alert id."""

from __future__ import annotations

import pytest

from doorwatch.crypto import KIND_SEGMENTS, new_alert_id, seal_envelope
from doorwatch.protocol import (
    AlertPublish,
    AlertStored,
    ErrorCode,
    Message,
    RemoteProtocolError,
    Replica,
    decode,
    encode,
    verify_message,
)
from doorwatch.protocol._replica import ReplicaEvent
from tests.protocol.factories import GROUP_KEY, NETWORK_ID, T0, header, identity, seeded_bytes

ALICE = identity("alice-venue")
MALLORY = identity("mallory-venue")


def receive(replica: Replica, message: Message, now: int) -> list[ReplicaEvent]:
    """What a node does with an alert frame: decode, verify, then apply."""
    decoded = decode(encode(message))
    verify_message(decoded)
    assert isinstance(decoded, AlertPublish)
    return replica.apply(decoded, now)


def real_alert() -> AlertPublish:
    alert_id, salt = new_alert_id(ALICE.peer_id, seeded_bytes(1))
    h = header(ALICE, alert_id).model_copy(update={"alert_salt": salt})
    return AlertPublish(envelope=seal_envelope(h, b"segments", GROUP_KEY, ALICE))


def forged_copy_of(real: AlertPublish) -> AlertPublish:
    """Mallory saw Alice's alert id (and salt) in gossip and publishes it first, as hers."""
    h = header(MALLORY, real.envelope.header.alert_id).model_copy(
        update={"alert_salt": real.envelope.header.alert_salt, "kind": KIND_SEGMENTS}
    )
    return AlertPublish(envelope=seal_envelope(h, b"junk", GROUP_KEY, MALLORY))


def test_a_raced_alert_id_cannot_block_the_real_alert_on_any_replica() -> None:
    real = real_alert()
    forged = forged_copy_of(real)
    replicas = [Replica(NETWORK_ID) for _ in range(3)]
    # Mallory's copy reaches every replica first: each refuses it at verification.
    for replica in replicas:
        with pytest.raises(RemoteProtocolError) as err:
            receive(replica, forged, T0)
        assert err.value.code is ErrorCode.WRONG_ORIGINATOR
        assert len(replica) == 0
    # Alice's real alert is then accepted everywhere.
    for replica in replicas:
        (event,) = receive(replica, real, T0 + 1)
        assert isinstance(event, AlertStored)
        assert event.record.originator == ALICE.peer_id


def test_mallory_cannot_pick_a_salt_for_alices_id_either() -> None:
    # With her own key, every salt gives a different id from Alice's (a second preimage).
    real = real_alert()
    for seed in range(20):
        alert_id, _ = new_alert_id(MALLORY.peer_id, seeded_bytes(seed))
        assert alert_id != real.envelope.header.alert_id
