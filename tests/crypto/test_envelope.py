from __future__ import annotations

from collections.abc import Callable

import nacl.bindings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.crypto import (
    KIND_SEGMENTS,
    KIND_TOMBSTONE,
    AuthorityKey,
    BadSignature,
    CryptoError,
    DecryptionFailed,
    EnvelopeHeader,
    GroupKey,
    InvalidAlertId,
    InvalidEncoding,
    InvalidKey,
    NodeIdentity,
    SignedEnvelope,
    derive_alert_id,
    new_alert_id,
    new_group_key,
    open_envelope,
    open_group_key,
    rotate,
    seal_envelope,
    seal_group_key,
    sign_tombstone,
    verify_envelope,
)
from doorwatch.crypto._envelope import _aad, _sign

Random = Callable[[str], Callable[[int], bytes]]
T0 = 1_700_000_000
PLAINTEXT = bytes(range(200))
SALT = bytes(range(16))


def header(
    originator: NodeIdentity, network_id: str, epoch: int = 1, **kw: object
) -> EnvelopeHeader:
    fields: dict[str, object] = {
        "network_id": network_id,
        "group": "all",
        "epoch": epoch,
        "alert_id": derive_alert_id(originator.peer_id, SALT),
        "alert_salt": SALT,
        "version": 3,
        "originator": originator.peer_id,
        "created_at": T0,
        "expires_at": T0 + 86_400 * 180,
        "kind": KIND_SEGMENTS,
    }
    fields.update(kw)
    return EnvelopeHeader.model_validate(fields)


@pytest.fixture
def group_key(authority: AuthorityKey, make_random: Random) -> GroupKey:
    return new_group_key(authority.network_id, "all", random_bytes=make_random("gk"))


def test_seal_verify_open(
    authority: AuthorityKey, alice: NodeIdentity, group_key: GroupKey, make_random: Random
) -> None:
    env = seal_envelope(
        header(alice, authority.network_id), PLAINTEXT, group_key, alice, make_random("n")
    )
    wire = env.to_bytes()
    received = SignedEnvelope.from_bytes(wire)
    assert received == env
    verify_envelope(received)
    verify_envelope(received, alice.public_key)
    assert open_envelope(received, group_key) == PLAINTEXT
    assert PLAINTEXT not in wire


def test_relay_without_key_can_verify_origin(
    authority: AuthorityKey, alice: NodeIdentity, bob: NodeIdentity, group_key: GroupKey
) -> None:
    env = seal_envelope(header(alice, authority.network_id), PLAINTEXT, group_key, alice)
    verify_envelope(env)  # needs no group key
    with pytest.raises(BadSignature):
        verify_envelope(env, bob.public_key)


def test_only_the_originator_can_sign(
    authority: AuthorityKey, alice: NodeIdentity, bob: NodeIdentity, group_key: GroupKey
) -> None:
    with pytest.raises(InvalidKey, match="originator"):
        seal_envelope(header(alice, authority.network_id), PLAINTEXT, group_key, bob)


def test_reattributed_envelope_fails(
    authority: AuthorityKey, alice: NodeIdentity, bob: NodeIdentity, group_key: GroupKey
) -> None:
    env = seal_envelope(header(alice, authority.network_id), PLAINTEXT, group_key, alice)
    stolen = env.model_copy(update={"header": header(bob, authority.network_id)})
    with pytest.raises(BadSignature):
        verify_envelope(stolen)
    with pytest.raises(BadSignature):
        open_envelope(stolen, group_key)
    # Even re-signed by bob, alice's ciphertext does not open under bob's header: the
    # header is the AEAD's associated data.
    resigned = stolen.model_copy(
        update={"signature": _sign(stolen.header, stolen.nonce, stolen.ciphertext, bob)}
    )
    verify_envelope(resigned)
    with pytest.raises(DecryptionFailed):
        open_envelope(resigned, group_key)


def test_every_flipped_byte_fails(
    authority: AuthorityKey, alice: NodeIdentity, group_key: GroupKey, make_random: Random
) -> None:
    env = seal_envelope(
        header(alice, authority.network_id), PLAINTEXT, group_key, alice, make_random("n")
    )
    raw = env.to_bytes()
    for i in range(len(raw)):
        tampered = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]
        with pytest.raises(CryptoError):
            verify_envelope(SignedEnvelope.from_bytes(tampered))


def test_every_flipped_ciphertext_byte_fails_decryption_too(
    authority: AuthorityKey, alice: NodeIdentity, group_key: GroupKey
) -> None:
    # Re-signed by the originator, so only the AEAD stands in the way.
    env = seal_envelope(header(alice, authority.network_id), b"x" * 40, group_key, alice)
    for i in range(len(env.ciphertext)):
        ct = bytearray(env.ciphertext)
        ct[i] ^= 0x80
        signature = _sign(env.header, env.nonce, bytes(ct), alice)
        tampered = env.model_copy(update={"ciphertext": bytes(ct), "signature": signature})
        with pytest.raises(DecryptionFailed):
            open_envelope(tampered, group_key)
        with pytest.raises(BadSignature):
            open_envelope(env.model_copy(update={"ciphertext": bytes(ct)}), group_key)


def test_wrong_epoch_or_group_key(
    authority: AuthorityKey, alice: NodeIdentity, group_key: GroupKey, make_random: Random
) -> None:
    env = seal_envelope(header(alice, authority.network_id), PLAINTEXT, group_key, alice)
    with pytest.raises(DecryptionFailed, match="epoch"):
        open_envelope(env, rotate(group_key, make_random("r")))
    same_labels_other_key = new_group_key(
        authority.network_id, "all", random_bytes=make_random("other")
    )
    with pytest.raises(DecryptionFailed):
        open_envelope(env, same_labels_other_key)
    with pytest.raises(InvalidKey, match="epoch"):
        seal_envelope(header(alice, authority.network_id, epoch=2), PLAINTEXT, group_key, alice)


def test_tombstone(authority: AuthorityKey, alice: NodeIdentity, group_key: GroupKey) -> None:
    h = header(alice, authority.network_id, kind=KIND_TOMBSTONE, version=4)
    tomb = sign_tombstone(h, alice)
    assert tomb.is_tombstone
    assert tomb.nonce == b""
    assert tomb.ciphertext == b""
    received = SignedEnvelope.from_bytes(tomb.to_bytes())
    verify_envelope(received)
    with pytest.raises(DecryptionFailed):
        open_envelope(received, group_key)
    with pytest.raises(InvalidEncoding):
        seal_envelope(h, b"payload", group_key, alice)
    with pytest.raises(InvalidEncoding):
        sign_tombstone(header(alice, authority.network_id), alice)
    raw = tomb.to_bytes()
    for i in range(len(raw)):
        tampered = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]
        with pytest.raises(CryptoError):
            verify_envelope(SignedEnvelope.from_bytes(tampered))


def test_tombstone_with_payload_is_malformed(
    authority: AuthorityKey, alice: NodeIdentity, group_key: GroupKey
) -> None:
    env = seal_envelope(header(alice, authority.network_id), PLAINTEXT, group_key, alice)
    data = env.model_dump()
    data["header"]["kind"] = KIND_TOMBSTONE
    with pytest.raises(InvalidEncoding, match="tombstone"):
        SignedEnvelope.from_dict(data)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("alert_id", b"short"),
        ("epoch", -1),
        ("version", "3"),
        ("originator", "nobody"),
        ("kind", "Segments"),
        ("group", ""),
        ("network_id", "NOT-AN-ID"),
        ("created_at", 1.5),
        ("version", True),
    ],
)
def test_header_validation(
    authority: AuthorityKey, alice: NodeIdentity, field: str, value: object
) -> None:
    fields = header(alice, authority.network_id).model_dump()
    fields[field] = value
    with pytest.raises(InvalidEncoding, match=field):
        EnvelopeHeader.from_dict(fields)


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=2048), st.integers(0, 2**32), st.sampled_from(["segments", "update"]))
def test_round_trip_property(plaintext: bytes, version: int, kind: str) -> None:
    alice = NodeIdentity.from_seed(b"a" * 32)
    key = new_group_key("0123456789abcdef", "all", random_bytes=lambda n: b"k" * n)
    h = header(alice, "0123456789abcdef", version=version, kind=kind)
    env = SignedEnvelope.from_bytes(seal_envelope(h, plaintext, key, alice).to_bytes())
    verify_envelope(env)
    assert env.header == h
    assert open_envelope(env, key) == plaintext


# -- group keys ----------------------------------------------------------------------------


def test_group_key_delivery(
    alice: NodeIdentity, bob: NodeIdentity, carol: NodeIdentity, group_key: GroupKey
) -> None:
    sealed = seal_group_key(group_key, bob.x25519_public_key, alice)
    assert group_key.key not in sealed
    assert open_group_key(sealed, bob, alice.public_key) == group_key
    with pytest.raises(DecryptionFailed):
        open_group_key(sealed, carol, alice.public_key)  # not the recipient
    with pytest.raises(DecryptionFailed):
        open_group_key(sealed, bob, carol.public_key)  # not the sender


def test_group_key_repr_hides_the_key(group_key: GroupKey) -> None:
    assert group_key.key.hex() not in repr(group_key)
    assert repr(group_key.key) not in repr(group_key)


def test_rotation_excludes_a_removed_member(
    authority: AuthorityKey,
    alice: NodeIdentity,
    bob: NodeIdentity,
    carol: NodeIdentity,
    group_key: GroupKey,
    make_random: Random,
) -> None:
    # Epoch 1: alice (the key manager), bob and carol all hold the key.
    held = {
        who.peer_id: open_group_key(
            seal_group_key(group_key, who.x25519_public_key, alice), who, alice.public_key
        )
        for who in (bob, carol)
    }
    # Carol is removed: epoch 2 is delivered to bob only.
    new_key = rotate(group_key, make_random("rotation"))
    assert new_key.epoch == group_key.epoch + 1
    assert new_key.key != group_key.key
    delivered = seal_group_key(new_key, bob.x25519_public_key, alice)
    bobs_new = open_group_key(delivered, bob, alice.public_key)
    with pytest.raises(DecryptionFailed):
        open_group_key(delivered, carol, alice.public_key)

    env = seal_envelope(
        header(alice, authority.network_id, epoch=new_key.epoch), PLAINTEXT, new_key, alice
    )
    assert open_envelope(env, bobs_new) == PLAINTEXT
    carols_old = held[carol.peer_id]
    with pytest.raises(DecryptionFailed):
        open_envelope(env, carols_old)
    # Even relabelling her old key as epoch 2 does not help: the key is fresh.
    relabelled = carols_old.model_copy(update={"epoch": new_key.epoch})
    with pytest.raises(DecryptionFailed):
        open_envelope(env, relabelled)


def test_a_member_cannot_pass_off_its_own_payload_as_the_originators(
    authority: AuthorityKey, alice: NodeIdentity, bob: NodeIdentity, group_key: GroupKey
) -> None:
    # Bob holds the group key, so he can encrypt anything under Alice's header (the AEAD
    # authenticates the group, not the originator). Opening must not accept it: only
    # Alice's signature says what Alice sent.
    env = seal_envelope(header(alice, authority.network_id), PLAINTEXT, group_key, alice)
    nonce = bytes(24)
    forged_ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        b"bob's words in alice's name", _aad(env.header), nonce, group_key.key
    )
    forged = env.model_copy(update={"nonce": nonce, "ciphertext": forged_ct})
    with pytest.raises(BadSignature):
        open_envelope(forged, group_key)


def test_envelopes_with_a_stuck_random_source_do_not_reuse_a_nonce(
    authority: AuthorityKey, alice: NodeIdentity, group_key: GroupKey
) -> None:
    # Every member encrypts under the same group key: one member's broken random source
    # must not repeat a nonce for two different payloads or headers.
    def stuck(n: int) -> bytes:
        return bytes(n)

    h = header(alice, authority.network_id)
    envelopes = [
        seal_envelope(h, b"first payload", group_key, alice, stuck),
        seal_envelope(h, b"other payload", group_key, alice, stuck),
        seal_envelope(
            h.model_copy(update={"version": 4}), b"first payload", group_key, alice, stuck
        ),
    ]
    assert len({env.nonce for env in envelopes}) == len(envelopes)
    assert open_envelope(envelopes[1], group_key) == b"other payload"


# -- alert ids are bound to their originator ------------------------------------------------


def test_new_alert_id_is_derived_from_the_originator_and_salt(
    alice: NodeIdentity, bob: NodeIdentity, make_random: Random
) -> None:
    alert_id, salt = new_alert_id(alice.peer_id, make_random("aid"))
    assert len(alert_id) == 16
    assert len(salt) == 16
    assert derive_alert_id(alice.peer_id, salt) == alert_id
    assert derive_alert_id(bob.peer_id, salt) != alert_id
    assert new_alert_id(alice.peer_id, make_random("other"))[0] != alert_id


def test_a_member_cannot_sign_an_envelope_with_another_members_alert_id(
    authority: AuthorityKey, alice: NodeIdentity, bob: NodeIdentity, group_key: GroupKey
) -> None:
    real = seal_envelope(header(alice, authority.network_id), PLAINTEXT, group_key, alice)
    # Bob copies Alice's alert id and salt into his own header and signs it himself.
    forged_header = header(bob, authority.network_id).model_copy(
        update={"alert_id": real.header.alert_id, "alert_salt": real.header.alert_salt}
    )
    forged = seal_envelope(forged_header, b"bob's", group_key, bob)
    with pytest.raises(InvalidAlertId, match="alert_id"):
        verify_envelope(forged)
    with pytest.raises(InvalidAlertId):
        open_envelope(forged, group_key)
    verify_envelope(real)


def test_a_changed_salt_or_alert_id_fails_even_when_re_signed(
    authority: AuthorityKey, alice: NodeIdentity, group_key: GroupKey
) -> None:
    h = header(alice, authority.network_id)
    for changed in (
        h.model_copy(update={"alert_salt": bytes(16)}),
        h.model_copy(update={"alert_id": bytes(16)}),
    ):
        env = seal_envelope(changed, PLAINTEXT, group_key, alice)
        with pytest.raises(InvalidAlertId):
            verify_envelope(env)


def test_derive_alert_id_refuses_a_bad_salt(alice: NodeIdentity) -> None:
    with pytest.raises(InvalidEncoding, match="alert_salt"):
        derive_alert_id(alice.peer_id, b"short")
