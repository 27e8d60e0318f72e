"""Signatures on node-signed messages and on alert envelopes, checked at the boundary."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from doorwatch.protocol import (
    MESSAGE_TYPES,
    SIGNED_BY,
    Annotation,
    BanningAppeal,
    ErrorCode,
    LocalProtocolError,
    Message,
    PresenceRecord,
    RemoteProtocolError,
    SealedCase,
    decode,
    encode,
    purpose_for,
    sign_message,
    verify_message,
)
from tests.protocol.factories import NETWORK_ID, T0, bound_id, identity, publish, withdraw
from tests.protocol.strategies import STRATEGIES

VENUE = identity("signing-venue")
OTHER = identity("signing-other")


def _presence(peer: str) -> PresenceRecord:
    return PresenceRecord(
        network_id=NETWORK_ID,
        peer=peer,
        addrs=("/ip4/127.0.0.1/tcp/4001",),
        timestamp=T0,
        signature=bytes(64),
    )


def test_signed_message_verifies_after_the_wire() -> None:
    signed = sign_message(_presence(VENUE.peer_id), VENUE)
    verify_message(decode(encode(signed)))


def test_tampered_field_fails_verification() -> None:
    signed = sign_message(_presence(VENUE.peer_id), VENUE)
    tampered = signed.model_copy(update={"timestamp": T0 + 1})
    with pytest.raises(RemoteProtocolError) as err:
        verify_message(tampered)
    assert err.value.code is ErrorCode.BAD_SIGNATURE


def test_signature_of_another_signer_fails() -> None:
    signed = sign_message(_presence(VENUE.peer_id), VENUE)
    with pytest.raises(RemoteProtocolError):
        verify_message(signed.model_copy(update={"peer": OTHER.peer_id}))


def test_cannot_sign_for_someone_else() -> None:
    with pytest.raises(LocalProtocolError):
        sign_message(_presence(OTHER.peer_id), VENUE)


def test_signature_is_bound_to_the_message_type() -> None:
    vote = sign_message(
        BanningAppeal(
            network_id=NETWORK_ID,
            notice_id=bytes(16),
            recorded_by=VENUE.peer_id,
            appealed_at=T0,
            cases=(SealedCase(member=OTHER.peer_id, sealed=b"x"),),
            signature=bytes(64),
        ),
        VENUE,
    )
    assert purpose_for("banning.appeal") != purpose_for("alert.annotate")
    assert set(SIGNED_BY) >= {"banning.appeal", "alert.annotate", "presence.record"}
    note = Annotation(
        network_id=NETWORK_ID,
        alert_id=bytes(16),
        annotation_id=bytes(16),
        annotator=VENUE.peer_id,
        created_at=T0,
        sealed_note=b"x",
        signature=vote.signature,
    )
    with pytest.raises(RemoteProtocolError):
        verify_message(note)


def test_alert_envelopes_are_verified_with_crypto() -> None:
    alert_id = bound_id(VENUE, b"signing")
    message = publish(VENUE, alert_id)
    verify_message(decode(encode(message)))
    verify_message(withdraw(VENUE, alert_id, 2))
    flipped = bytearray(message.envelope.ciphertext)
    flipped[0] ^= 1
    tampered = message.model_copy(
        update={"envelope": message.envelope.model_copy(update={"ciphertext": bytes(flipped)})}
    )
    with pytest.raises(RemoteProtocolError) as err:
        verify_message(tampered)
    assert err.value.code is ErrorCode.BAD_SIGNATURE


def test_every_byte_of_an_alert_frame_matters() -> None:
    frame = encode(publish(VENUE, bound_id(VENUE, b"signing")))
    accepted = 0
    for position in range(len(frame)):
        mutated = bytearray(frame)
        mutated[position] ^= 0x01
        try:
            verify_message(decode(bytes(mutated)))
        except RemoteProtocolError:
            continue
        accepted += 1
    assert accepted == 0


@pytest.mark.parametrize("message_type", sorted(SIGNED_BY))
def test_every_node_signed_type_signs_and_verifies(message_type: str) -> None:
    model = MESSAGE_TYPES[message_type]
    by_peer = {identity(f"peer-{n}").peer_id: identity(f"peer-{n}") for n in range(4)}

    @settings(max_examples=10, deadline=None)
    @given(STRATEGIES[model])
    def check(message: Message) -> None:
        signer = by_peer[getattr(message, SIGNED_BY[message_type])]
        signed = sign_message(message, signer)
        verify_message(decode(encode(signed)))

    check()
