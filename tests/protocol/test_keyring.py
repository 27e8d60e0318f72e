"""Group-key epochs: who may deliver keys, monotonic epochs, and stale-epoch content."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.crypto import (
    KIND_UPDATE,
    AuthorityKey,
    Certificate,
    GroupKey,
    NodeIdentity,
    new_group_key,
    open_envelope,
    rotate,
    seal_envelope,
    seal_group_key,
    sign_tombstone,
)
from doorwatch.protocol import (
    AlertStored,
    AlertUpdate,
    AlertWithdrawn,
    ErrorCode,
    GroupKeyAccepted,
    GroupKeyDelivery,
    GroupKeyring,
    LocalProtocolError,
    NotARecipient,
    RemoteProtocolError,
    Replay,
    Replica,
    SealedGroupKey,
    StaleGroupKey,
    SyncInitiator,
    SyncResponder,
    Withdrawal,
    decode,
    encode,
    group_key_delivery,
    run_sync,
)
from doorwatch.protocol._messages import AlertPublish
from tests.protocol.factories import (
    AUTHORITY,
    DAY,
    NETWORK_ID,
    T0,
    bound_id,
    header,
    identity,
    seeded_bytes,
)

MANAGER = identity("key-manager")
ALICE = identity("kr-alice")
BOB = identity("kr-bob")
MALLORY = identity("kr-mallory")  # an ordinary member
ALL = [ALICE, BOB, MALLORY]


def certificate(
    who: NodeIdentity,
    *,
    key_manager: bool = False,
    serial: int = 1,
    authority: AuthorityKey = AUTHORITY,
) -> Certificate:
    return authority.issue_certificate(
        venue="venue",
        peer_id=who.peer_id,
        groups=["all"],
        committee=False,
        key_manager=key_manager,
        jurisdiction="GB",
        valid_from=T0 - DAY,
        valid_until=T0 + 365 * DAY,
        agreement_version="1",
        serial=serial,
    )


MANAGER_CERT = certificate(MANAGER, key_manager=True, serial=100)


def keyring(who: NodeIdentity) -> GroupKeyring:
    return GroupKeyring(identity=who, authority_public_key=AUTHORITY.public_key)


def deliver(
    key: GroupKey,
    members: list[NodeIdentity],
    sender: NodeIdentity = MANAGER,
    cert: Certificate = MANAGER_CERT,
) -> GroupKeyDelivery:
    delivery = group_key_delivery(
        key,
        sender=sender,
        sender_certificate=cert,
        members=[m.peer_id for m in members],
        random_bytes=seeded_bytes(key.epoch),
    )
    decoded = decode(encode(delivery))
    assert isinstance(decoded, GroupKeyDelivery)
    return decoded


def unchecked_delivery(
    key: GroupKey, members: list[NodeIdentity], sender: NodeIdentity, cert: Certificate
) -> GroupKeyDelivery:
    """A delivery built by hand, as a misbehaving member would (no builder checks):
    sealed by ``sender``, claiming to come from ``cert``'s holder."""
    return GroupKeyDelivery(
        network_id=key.network_id,
        group=key.group,
        epoch=key.epoch,
        sender=cert.peer_id,
        sender_certificate=cert,
        keys=tuple(
            SealedGroupKey(
                member=m.peer_id, sealed=seal_group_key(key, m.x25519_public_key, sender)
            )
            for m in members
        ),
    )


EPOCH1 = new_group_key(NETWORK_ID, "all", epoch=1, random_bytes=seeded_bytes(101))
EPOCH2 = rotate(EPOCH1, random_bytes=seeded_bytes(102))


# --- Deliveries ------------------------------------------------------------------------------


def test_the_key_manager_delivers_and_every_member_holds_the_epoch() -> None:
    delivery = deliver(EPOCH1, ALL)
    for member in ALL:
        ring = keyring(member)
        assert ring.apply(delivery, now=T0, revocations=None) == [GroupKeyAccepted("all", 1, None)]
        assert ring.current("all") == EPOCH1
        assert ring.key_for("all", 1) == EPOCH1
        assert ring.epochs() == {"all": 1}
        assert ring.latest_delivery("all") == delivery


def test_a_member_without_the_key_manager_flag_cannot_deliver_keys() -> None:
    ring = keyring(ALICE)
    ring.apply(deliver(EPOCH1, ALL), now=T0, revocations=None)
    # Mallory holds a valid certificate, but not as key manager: she cannot push an
    # epoch of her own choosing (say, one whose key she shares with a removed member).
    rogue = rotate(EPOCH1, random_bytes=seeded_bytes(666))
    forged = unchecked_delivery(rogue, ALL, MALLORY, certificate(MALLORY))
    with pytest.raises(RemoteProtocolError) as err:
        ring.apply(forged, now=T0, revocations=None)
    assert err.value.code is ErrorCode.NOT_KEY_MANAGER
    assert ring.current("all") == EPOCH1


def test_the_builder_refuses_a_sender_that_is_not_the_key_manager() -> None:
    with pytest.raises(LocalProtocolError) as err:
        group_key_delivery(
            EPOCH1, sender=MALLORY, sender_certificate=certificate(MALLORY), members=[]
        )
    assert err.value.code is ErrorCode.NOT_KEY_MANAGER


def test_a_borrowed_key_manager_certificate_does_not_help() -> None:
    # Mallory attaches the manager's certificate but must seal with her own key: the
    # recipients open boxes with the certified sender's key, so nothing opens.
    ring = keyring(ALICE)
    forged = unchecked_delivery(EPOCH1, ALL, MALLORY, MANAGER_CERT)
    with pytest.raises(RemoteProtocolError) as err:
        ring.apply(forged, now=T0, revocations=None)
    assert err.value.code is ErrorCode.BAD_SIGNATURE
    assert ring.current("all") is None


def test_a_key_manager_certificate_from_another_authority_or_revoked_is_refused() -> None:
    other = AuthorityKey.from_seed(b"o" * 32)
    foreign = certificate(MANAGER, key_manager=True, authority=other)
    foreign = foreign.model_copy(update={"network_id": NETWORK_ID})  # signature now fails
    with pytest.raises(RemoteProtocolError) as err:
        keyring(ALICE).apply(
            unchecked_delivery(EPOCH1, ALL, MANAGER, foreign), now=T0, revocations=None
        )
    assert err.value.code is ErrorCode.NOT_KEY_MANAGER
    revoked = AUTHORITY.revoke(serial=1, issued_at=T0, certificate_serials=[100])
    with pytest.raises(RemoteProtocolError) as err:
        keyring(ALICE).apply(deliver(EPOCH1, ALL), now=T0, revocations=revoked)
    assert err.value.code is ErrorCode.NOT_KEY_MANAGER
    with pytest.raises(RemoteProtocolError) as err:
        keyring(ALICE).apply(deliver(EPOCH1, ALL), now=T0 + 400 * DAY, revocations=None)
    assert err.value.code is ErrorCode.NOT_KEY_MANAGER


def test_lower_or_equal_epochs_are_never_applied() -> None:
    ring = keyring(ALICE)
    ring.apply(deliver(EPOCH2, ALL), now=T0, revocations=None)
    assert ring.apply(deliver(EPOCH1, ALL), now=T0, revocations=None) == [
        StaleGroupKey("all", 1, 2)
    ]
    # A second, different key for the epoch already held is not applied either.
    other2 = new_group_key(NETWORK_ID, "all", epoch=2, random_bytes=seeded_bytes(7))
    assert ring.apply(deliver(other2, ALL), now=T0, revocations=None) == [
        StaleGroupKey("all", 2, 2)
    ]
    assert ring.current("all") == EPOCH2
    assert ring.key_for("all", 1) is None


def test_a_removed_member_gets_nothing_from_the_rotation() -> None:
    alice, mallory = keyring(ALICE), keyring(MALLORY)
    for ring in (alice, mallory):
        ring.apply(deliver(EPOCH1, ALL), now=T0, revocations=None)
    rotation = deliver(EPOCH2, [ALICE, BOB])  # Mallory removed
    assert alice.apply(rotation, now=T0 + 1, revocations=None) == [GroupKeyAccepted("all", 2, 1)]
    assert mallory.apply(rotation, now=T0 + 1, revocations=None) == [NotARecipient("all", 2)]
    assert mallory.current("all") == EPOCH1
    assert alice.key_for("all", 1) == EPOCH1  # kept to read what is stored under it


def test_a_sealed_key_for_another_epoch_is_refused() -> None:
    mislabelled = unchecked_delivery(EPOCH1, ALL, MANAGER, MANAGER_CERT).model_copy(
        update={"epoch": 5}
    )
    with pytest.raises(RemoteProtocolError) as err:
        keyring(ALICE).apply(mislabelled, now=T0, revocations=None)
    assert err.value.code is ErrorCode.MALFORMED


def test_a_delivery_for_another_network_is_refused() -> None:
    ring = GroupKeyring(
        identity=ALICE, authority_public_key=AuthorityKey.from_seed(b"x" * 32).public_key
    )
    with pytest.raises(RemoteProtocolError) as err:
        ring.apply(deliver(EPOCH1, ALL), now=T0, revocations=None)
    assert err.value.code is ErrorCode.WRONG_NETWORK


def test_sender_certificate_must_name_the_sender() -> None:
    with pytest.raises(RemoteProtocolError):
        decode(
            encode(deliver(EPOCH1, ALL)).replace(
                MANAGER.peer_id.encode(), ALICE.peer_id.encode(), 1
            )
        )


def test_restart_restores_keys_and_retain_drops_only_unused_old_keys() -> None:
    ring = keyring(ALICE)
    ring.apply(deliver(EPOCH1, ALL), now=T0, revocations=None)
    ring.apply(deliver(EPOCH2, [ALICE, BOB]), now=T0, revocations=None)
    restored = GroupKeyring(
        identity=ALICE,
        authority_public_key=AUTHORITY.public_key,
        keys=list(ring.keys()),
        deliveries=[ring.latest_delivery("all")],  # type: ignore[list-item]
    )
    assert restored.epochs() == {"all": 2}
    assert restored.key_for("all", 1) == EPOCH1
    assert restored.retain([("all", 1)]) == []
    assert restored.retain([]) == [EPOCH1]
    assert restored.key_for("all", 1) is None
    assert restored.current("all") == EPOCH2
    assert restored.retain([]) == []  # the current key is always kept


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 6), st.booleans(), st.booleans()), min_size=1, max_size=12)
)
def test_epochs_only_rise_and_only_the_key_manager_moves_them(
    steps: list[tuple[int, bool, bool]],
) -> None:
    ring = keyring(ALICE)
    first_key: dict[int, GroupKey] = {}
    high = 0
    for n, (epoch, from_manager, to_alice) in enumerate(steps):
        key = new_group_key(NETWORK_ID, "all", epoch=epoch, random_bytes=seeded_bytes(1000 + n))
        members = [ALICE, BOB] if to_alice else [BOB]
        if from_manager:
            delivery = unchecked_delivery(key, members, MANAGER, MANAGER_CERT)
        else:
            delivery = unchecked_delivery(key, members, MALLORY, certificate(MALLORY))
        if not from_manager:
            with pytest.raises(RemoteProtocolError) as err:
                ring.apply(delivery, now=T0, revocations=None)
            assert err.value.code is ErrorCode.NOT_KEY_MANAGER
            assert ring.current_epoch("all") == (high or None)
            continue
        events = ring.apply(delivery, now=T0, revocations=None)
        if epoch > high and to_alice:
            assert events == [GroupKeyAccepted("all", epoch, high or None)]
            high = epoch
            first_key.setdefault(epoch, key)
        else:
            assert not any(isinstance(e, GroupKeyAccepted) for e in events)
        assert ring.current_epoch("all") == (high or None)
        for held_epoch, held_key in first_key.items():
            assert ring.key_for("all", held_epoch) == held_key


# --- Content under a superseded epoch ---------------------------------------------------------


def _envelope_under(
    key: GroupKey, originator: NodeIdentity, alert_id: bytes, version: int, kind: str
) -> AlertPublish | AlertUpdate:
    h = header(originator, alert_id, version=version, kind=kind).model_copy(
        update={"epoch": key.epoch}
    )
    env = seal_envelope(h, b"segments v%d" % version, key, originator, seeded_bytes(version))
    return AlertUpdate(envelope=env) if kind == KIND_UPDATE else AlertPublish(envelope=env)


def test_after_a_rotation_new_content_under_the_old_epoch_is_refused() -> None:
    ring = keyring(BOB)
    ring.apply(deliver(EPOCH1, ALL), now=T0, revocations=None)
    replica = Replica(NETWORK_ID, current_epoch=ring.current_epoch)
    alert = bound_id(ALICE, b"keyring-1")
    stored = replica.apply(_envelope_under(EPOCH1, ALICE, alert, 1, "segments"), T0)
    assert isinstance(stored[0], AlertStored)

    ring.apply(deliver(EPOCH2, [ALICE, BOB]), now=T0 + 1, revocations=None)  # Mallory removed
    # Alice has not rotated yet and keeps writing under epoch 1, which Mallory can read.
    stale_update = _envelope_under(EPOCH1, ALICE, alert, 2, KIND_UPDATE)
    with pytest.raises(RemoteProtocolError) as err:
        replica.apply(stale_update, T0 + 2)
    assert err.value.code is ErrorCode.STALE_EPOCH
    with pytest.raises(RemoteProtocolError) as err:
        replica.apply(
            _envelope_under(EPOCH1, ALICE, bound_id(ALICE, b"kr-2"), 1, "segments"), T0 + 2
        )
    assert err.value.code is ErrorCode.STALE_EPOCH

    # What was stored under epoch 1 stays, and stays readable with the kept old key.
    record = replica.get(alert, T0 + 2)
    assert record is not None
    assert record.epoch == 1
    old_key = ring.key_for(record.group, record.epoch)
    assert old_key is not None
    assert open_envelope(record.message.envelope, old_key) == b"segments v1"
    # A duplicate of it is a replay, not an error.
    assert replica.apply(_envelope_under(EPOCH1, ALICE, alert, 1, "segments"), T0 + 2) == [
        Replay(alert_id=alert, version=1, reason="duplicate")
    ]
    # Re-published under the new epoch, the update is accepted.
    fresh = _envelope_under(EPOCH2, ALICE, alert, 2, KIND_UPDATE)
    assert isinstance(replica.apply(fresh, T0 + 3)[0], AlertStored)
    # A withdrawal carries no content: it is accepted under any epoch.
    tomb_header = header(ALICE, alert, version=3, kind="tombstone")
    withdrawal = Withdrawal(envelope=sign_tombstone(tomb_header, ALICE))
    assert isinstance(replica.apply(withdrawal, T0 + 4)[0], AlertWithdrawn)


def test_sync_advertises_the_keyrings_epochs() -> None:
    behind, ahead = keyring(ALICE), keyring(BOB)
    for ring in (behind, ahead):
        ring.apply(deliver(EPOCH1, ALL), now=T0, revocations=None)
    ahead.apply(deliver(EPOCH2, [ALICE, BOB]), now=T0, revocations=None)
    initiator = SyncInitiator(
        Replica(NETWORK_ID).index,
        network_id=NETWORK_ID,
        session=b"s" * 16,
        revocation_serial=0,
        group_epochs=behind.epochs(),
    )
    responder = SyncResponder(
        Replica(NETWORK_ID).index,
        network_id=NETWORK_ID,
        revocation_serial=0,
        group_epochs=ahead.epochs(),
    )
    run_sync(initiator, responder, transport=lambda m: decode(encode(m)))
    assert initiator.result.fetch_group_keys == {"all"}
    assert responder.result.push_group_keys == {"all"}
    # The peer ahead relays the key manager's delivery unchanged; it verifies on its own.
    relayed = ahead.latest_delivery("all")
    assert relayed is not None
    assert behind.apply(relayed, now=T0, revocations=None) == [GroupKeyAccepted("all", 2, 1)]
