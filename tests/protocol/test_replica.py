"""The replica rules, one by one."""

from __future__ import annotations

import pytest

from doorwatch.protocol import (
    FUTURE_SKEW,
    MAX_LIFETIME,
    AlertStored,
    AlertWithdrawn,
    ConflictResolved,
    ErrorCode,
    Ignored,
    RecordRemoved,
    RemoteProtocolError,
    Replay,
    Replica,
)
from tests.protocol.factories import DAY, NETWORK_ID, T0, identity, publish, update, withdraw

A = identity("originator-a")
B = identity("originator-b")
ID = bytes.fromhex("0f" * 16)


def fresh() -> Replica:
    return Replica(NETWORK_ID)


def test_publish_is_stored_and_visible() -> None:
    replica = fresh()
    events = replica.apply(publish(A, ID), T0)
    assert [type(e) for e in events] == [AlertStored]
    record = replica.get(ID, T0 + 1)
    assert record is not None
    assert record.version == 1
    assert record.originator == A.peer_id
    assert [r.alert_id for r in replica.active(T0 + 1)] == [ID]


def test_higher_version_wins_and_lower_is_a_stale_replay() -> None:
    replica = fresh()
    replica.apply(publish(A, ID), T0)
    events = replica.apply(update(A, ID, 3), T0)
    assert isinstance(events[0], AlertStored)
    assert events[0].previous is not None
    assert events[0].previous.version == 1
    assert replica.apply(update(A, ID, 2), T0) == [Replay(alert_id=ID, version=2, reason="stale")]
    assert replica.apply(publish(A, ID), T0) == [Replay(alert_id=ID, version=1, reason="stale")]
    record = replica.get(ID, T0)
    assert record is not None
    assert record.version == 3


def test_same_record_twice_is_a_duplicate() -> None:
    replica = fresh()
    message = publish(A, ID)
    replica.apply(message, T0)
    assert replica.apply(message, T0) == [Replay(alert_id=ID, version=1, reason="duplicate")]


def test_equal_version_conflict_resolves_the_same_way_everywhere() -> None:
    first = update(A, ID, 2, payload=b"one", seed=1)
    second = update(A, ID, 2, payload=b"two", seed=2)
    left, right = fresh(), fresh()
    left.apply(first, T0)
    left_events = left.apply(second, T0)
    right.apply(second, T0)
    right_events = right.apply(first, T0)
    for events in (left_events, right_events):
        assert any(isinstance(e, ConflictResolved) for e in events)
    left_record, right_record = left.record(ID), right.record(ID)
    assert left_record is not None
    assert right_record is not None
    assert left_record.digest == right_record.digest
    assert left_record.digest == min(left_record.digest, right_record.digest)


def test_tombstone_is_final() -> None:
    replica = fresh()
    replica.apply(publish(A, ID), T0)
    events = replica.apply(withdraw(A, ID, 2), T0 + 10)
    assert [type(e) for e in events] == [AlertWithdrawn]
    assert replica.get(ID, T0 + 10) is None
    assert replica.apply(update(A, ID, 99), T0 + 20) == [
        Ignored(alert_id=ID, code=ErrorCode.WITHDRAWN)
    ]
    assert replica.get(ID, T0 + 20) is None
    assert replica.active(T0 + 20) == []


def test_tombstone_before_the_alert_blocks_it() -> None:
    replica = fresh()
    replica.apply(withdraw(A, ID, 2), T0)
    assert replica.apply(publish(A, ID), T0) == [Ignored(alert_id=ID, code=ErrorCode.WITHDRAWN)]
    assert replica.get(ID, T0) is None


def test_suspended_alert_is_not_returned() -> None:
    replica = fresh()
    replica.apply(publish(A, ID), T0)
    replica.apply(update(A, ID, 2, suspended=True), T0)
    assert replica.get(ID, T0) is None
    assert replica.active(T0) == []
    replica.apply(update(A, ID, 3), T0)
    assert replica.get(ID, T0) is not None


def test_expiry_is_checked_on_read_without_purge() -> None:
    replica = fresh()
    replica.apply(publish(A, ID, expires_at=T0 + DAY), T0)
    assert replica.get(ID, T0 + DAY - 1) is not None
    assert replica.get(ID, T0 + DAY) is None
    assert replica.active(T0 + DAY) == []
    assert replica.record(ID) is not None  # still held until purge


def test_clock_jumping_back_does_not_show_expired_content() -> None:
    replica = fresh()
    replica.apply(publish(A, ID, expires_at=T0 + DAY), T0)
    assert replica.get(ID, T0 + 2 * DAY) is None
    assert replica.get(ID, T0) is None


def test_lifetime_over_twelve_months_is_refused() -> None:
    with pytest.raises(RemoteProtocolError) as err:
        fresh().apply(publish(A, ID, expires_at=T0 + MAX_LIFETIME + 1), T0)
    assert err.value.code is ErrorCode.LIFETIME_EXCEEDED
    assert "expires_at" in err.value.message
    fresh().apply(publish(A, ID, expires_at=T0 + MAX_LIFETIME), T0)


def test_dates_far_in_the_future_are_refused() -> None:
    with pytest.raises(RemoteProtocolError) as err:
        fresh().apply(publish(A, ID, created_at=T0 + FUTURE_SKEW + 1), T0)
    assert err.value.code is ErrorCode.FUTURE_DATE
    fresh().apply(publish(A, ID, created_at=T0 + FUTURE_SKEW), T0)


def test_expiry_before_creation_is_refused() -> None:
    with pytest.raises(RemoteProtocolError) as err:
        fresh().apply(publish(A, ID, expires_at=T0), T0)
    assert err.value.code is ErrorCode.MALFORMED


def test_expired_content_is_ignored_not_stored() -> None:
    replica = fresh()
    events = replica.apply(publish(A, ID, expires_at=T0 + DAY), T0 + DAY)
    assert events == [Ignored(alert_id=ID, code=ErrorCode.EXPIRED)]
    assert replica.record(ID) is None


def test_another_originator_cannot_update_or_withdraw() -> None:
    replica = fresh()
    replica.apply(publish(A, ID), T0)
    for message in (update(B, ID, 5), withdraw(B, ID, 5)):
        with pytest.raises(RemoteProtocolError) as err:
            replica.apply(message, T0)
        assert err.value.code is ErrorCode.WRONG_ORIGINATOR
    assert replica.get(ID, T0) is not None


def test_created_at_cannot_change() -> None:
    replica = fresh()
    replica.apply(publish(A, ID), T0)
    with pytest.raises(RemoteProtocolError) as err:
        replica.apply(update(A, ID, 2, created_at=T0 - 5), T0)
    assert err.value.code is ErrorCode.WRONG_ORIGINATOR


def test_another_network_is_refused() -> None:
    with pytest.raises(RemoteProtocolError) as err:
        Replica("0123456789abcdef").apply(publish(A, ID), T0)
    assert err.value.code is ErrorCode.WRONG_NETWORK


def test_purge_removes_expired_records() -> None:
    replica = fresh()
    replica.apply(publish(A, ID, expires_at=T0 + DAY), T0)
    assert replica.purge(T0 + DAY - 1) == []
    removed = replica.purge(T0 + DAY)
    assert [(r.record.alert_id, r.reason) for r in removed] == [(ID, "expired")]
    assert replica.record(ID) is None
    assert len(replica.index) == 0


def test_tombstone_outlives_every_copy_of_the_alert() -> None:
    replica = fresh()
    old = publish(A, ID, expires_at=T0 + MAX_LIFETIME)
    replica.apply(withdraw(A, ID, 2), T0)
    last_day_of_alert = T0 + MAX_LIFETIME - 1
    assert replica.purge(last_day_of_alert) == []
    assert replica.apply(old, last_day_of_alert) == [Ignored(alert_id=ID, code=ErrorCode.WITHDRAWN)]
    removed = replica.purge(T0 + MAX_LIFETIME + FUTURE_SKEW)
    assert [r.reason for r in removed] == ["tombstone_retention"]
    # The tombstone is gone, and the stale copy still cannot come back.
    assert replica.apply(old, T0 + MAX_LIFETIME + FUTURE_SKEW) == [
        Ignored(alert_id=ID, code=ErrorCode.EXPIRED)
    ]
    assert replica.get(ID, T0) is None


def test_rebuilt_replica_has_the_same_state() -> None:
    replica = fresh()
    replica.apply(publish(A, ID), T0)
    other = bytes(16)
    replica.apply(publish(B, other), T0)
    replica.apply(withdraw(B, other, 2), T0)
    rebuilt = Replica.from_records(NETWORK_ID, replica.records(), replica.clock_floor)
    assert {r.alert_id: r.digest for r in rebuilt.records()} == {
        r.alert_id: r.digest for r in replica.records()
    }
    assert rebuilt.index.summary(b"") == replica.index.summary(b"")
    assert rebuilt.apply(update(B, other, 3), T0) == [
        Ignored(alert_id=other, code=ErrorCode.WITHDRAWN)
    ]


def test_purge_reports_records_for_deletion() -> None:
    replica = fresh()
    replica.apply(publish(A, ID, expires_at=T0 + 5), T0)
    (removed,) = replica.purge(T0 + 5)
    assert isinstance(removed, RecordRemoved)
    assert removed.record.alert_id == ID


def test_drop_originators_removes_only_their_records_tombstones_included() -> None:
    replica = fresh()
    kept, live, dead = (bytes([n]) * 16 for n in (1, 2, 3))
    replica.apply(publish(A, kept), T0)
    replica.apply(publish(B, live), T0)
    replica.apply(publish(B, dead), T0)
    replica.apply(withdraw(B, dead, 2), T0)
    assert replica.drop_originators([]) == []
    dropped = replica.drop_originators([B.peer_id])
    assert sorted(r.alert_id for r in dropped) == [live, dead]
    assert [r.alert_id for r in replica.records()] == [kept]
    assert len(replica.index) == 1
    assert replica.drop_originators([B.peer_id]) == []
