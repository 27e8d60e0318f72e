"""Notices on the store: counts by state in a time window (for reports), and the purge
of notices that ended long ago."""

from __future__ import annotations

from pathlib import Path

from doorwatch.node import _notice_store as ndb
from doorwatch.node._store import open_database
from doorwatch.protocol import NoticeBook, encode, nominate, seal_cases
from doorwatch.protocol._notices import DAY, appeal
from tests.protocol.factories import NETWORK_ID, T0
from tests.protocol.test_notices import LIAISON, NOTICE_ID, VENUES, Net


def _store_all(conn: object, book: NoticeBook) -> None:
    for notice in book.notices.values():
        messages: list[object] = [notice.nomination]
        for r in (0, 1):
            messages.extend(notice.votes[r].values())
        if notice.appeal is not None:
            messages.append(notice.appeal)
        messages.extend(notice.outcomes.values())
        for m in messages:
            ndb.put_message(conn, NETWORK_ID, m, encode(m), T0)  # type: ignore[arg-type]


def _upheld_and_cancelled_on_appeal() -> Net:
    net = Net(committee=4)
    net.nominate()
    for n in (1, 2, 3):
        net.book.add_vote(net.vote(n), net.rules, T0 + 120)
    first = net.book.decide(NOTICE_ID, net.rules, VENUES[0], T0 + 180)
    assert first is not None
    net.book.add_outcome(first, net.rules, T0 + 180)
    # A second nomination, still being voted on.
    other = nominate(
        VENUES[5],
        network_id=NETWORK_ID,
        notice_id=bytes(16),
        alert_id=bytes(16),
        now=T0 + 200,
        scope="all",
        duration_days=30,
        cases=seal_cases(b"x", {VENUES[1].peer_id: VENUES[1].public_key}, VENUES[5]),
    )
    net.book.add_nomination(other, net.rules, net.certs, T0 + 200)
    return net


def test_counts_by_state_in_a_window(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "db.sqlite")
    net = _upheld_and_cancelled_on_appeal()
    _store_all(conn, net.book)
    assert ndb.notice_counts(conn, start=T0 - DAY, end=T0 + DAY) == {
        "voting": 1,
        "upheld": 1,
        "appealed": 0,
        "cancelled": 0,
        "expired": 0,
        "appeals": 0,
    }
    assert ndb.notice_counts(conn, start=T0 + 190, end=T0 + DAY)["upheld"] == 0  # outside
    later = ndb.notice_counts(conn, start=T0 - DAY, end=T0 + 180 + 365 * DAY)
    assert later["expired"] == 1

    lodged = appeal(
        LIAISON,
        network_id=NETWORK_ID,
        notice_id=NOTICE_ID,
        now=T0 + DAY,
        cases=seal_cases(b"grounds", {VENUES[1].peer_id: VENUES[1].public_key}, LIAISON),
    )
    net.book.add_appeal(lodged, net.certs, T0 + DAY)
    for n in (1, 2):
        net.book.add_vote(net.vote(n, "reject", at=T0 + DAY + 60, round=1), net.rules, T0 + DAY)
    second = net.book.decide(NOTICE_ID, net.rules, VENUES[0], T0 + DAY + 120)
    assert second is not None
    net.book.add_outcome(second, net.rules, T0 + DAY + 120)
    _store_all(conn, net.book)
    counts = ndb.notice_counts(conn, start=T0 - DAY, end=T0 + 2 * DAY)
    assert (counts["cancelled"], counts["appeals"], counts["upheld"]) == (1, 1, 0)

    # Purged once it ended more than RETAIN_ENDED_DAYS ago; the live one stays.
    assert ndb.purge_ended(conn, now=T0 + DAY + 120 + ndb.RETAIN_ENDED_DAYS * DAY) == []
    gone = ndb.purge_ended(conn, now=T0 + DAY + 121 + ndb.RETAIN_ENDED_DAYS * DAY)
    assert gone == [(NETWORK_ID, NOTICE_ID)]
    assert [n.notice_id for n in ndb.held_notices(conn)] == [bytes(16)]
    conn.close()


def test_the_venue_report_counts_its_own_upheld_nominations(tmp_path: Path) -> None:
    from doorwatch.node._reports import pubwatch_notice_counts

    conn = open_database(tmp_path / "db.sqlite")
    net = _upheld_and_cancelled_on_appeal()
    _store_all(conn, net.book)
    # Held here but nominated elsewhere: not this venue's to count.
    assert pubwatch_notice_counts(conn, T0 - DAY, T0 + DAY) == 0
    ndb.put_case(
        conn,
        ndb.OwnCase(
            notice_id=NOTICE_ID,
            network_id=NETWORK_ID,
            alert_id="a1",
            sealed_case=b"sealed",
            created_by="admin",
            created_at=T0,
            sealed_appeal=None,
        ),
    )
    assert pubwatch_notice_counts(conn, T0 - DAY, T0 + DAY) == 1  # upheld at T0 + 180
    assert pubwatch_notice_counts(conn, T0 + 181, T0 + DAY) == 0  # decided before the period
    conn.close()
