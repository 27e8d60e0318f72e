"""Counting a venue's period from its database, for the reports (``_report_model``).

Every figure comes from rows that hold nothing personal: the audit log
(actions, alert ids, peer ids, categories), the alerts' category and review
columns, and the count of this venue's bans. The audit log is append-only and
never purged, so a period long past counts the same as it did then (the
visit log is purged after its retention, so refusals are counted from the
audited decisions, not from the visits).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Final

from doorwatch.node._alerts import RENEWED_BY
from doorwatch.node._notice_store import held_notices
from doorwatch.node._report_model import VenueCounts

# Audit actions counted for each figure (see _ladder.audit_action for the disclosure ones:
# the originator side answers, the requester side receives).
_ACTIONS: Final[dict[str, tuple[str, ...]]] = {
    "alerts_disputed": ("alert.disputed",),
    "alerts_withdrawn": ("alert.withdrawn",),
    "photos_released": ("disclosure.photo.answered",),
    "details_released": ("disclosure.details.answered",),
    "photos_received": ("disclosure.photo.photo_received",),
    "details_received": ("disclosure.details.details_received",),
    "bans_added": ("ban.added",),
}

REPORT_MIGRATION: Final = """
-- Aggregate counts shared for the Pubwatch meeting's network report, one per
-- (network, venue, period): the venue's signed report.counts message, as
-- received (this node's own included). Counts only, nothing about a person.
CREATE TABLE report_shares (
    network_id  TEXT NOT NULL,
    venue       TEXT NOT NULL,
    period_from INTEGER NOT NULL,
    period_to   INTEGER NOT NULL,
    issued_at   INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    message     BLOB NOT NULL,
    PRIMARY KEY (network_id, venue, period_from, period_to)
) STRICT;
"""


def _count(conn: sqlite3.Connection, actions: tuple[str, ...], start: int, end: int) -> int:
    marks = ", ".join("?" * len(actions))
    row = conn.execute(
        f"SELECT count(*) FROM audit_log WHERE at >= ? AND at < ? AND action IN ({marks})",  # noqa: S608 - placeholders only
        (start, end, *actions),
    ).fetchone()
    return int(row[0])


def pubwatch_notice_counts(conn: sqlite3.Connection, start: int, end: int) -> int:
    """Pubwatch banning notices this venue nominated that the committee upheld in
    ``[start, end)`` (by the first vote's decision; a later appeal does not unmake it)."""
    own = {row[0] for row in conn.execute("SELECT notice_id FROM notice_cases")}
    return sum(
        1
        for notice in held_notices(conn)
        if notice.notice_id in own
        and (first := notice.outcomes.get(0)) is not None
        and first.outcome == "upheld"
        and start <= first.decided_at < end
    )


def gather(conn: sqlite3.Connection, start: int, end: int, *, now: int) -> VenueCounts:
    """This venue's counts over ``[start, end)``; ``now`` for the reviews overdue now."""
    incidents: dict[str, int] = {}
    by_month: dict[str, int] = {}
    # The category at creation (an amendment may change it; the incident was what it was),
    # from the audit entry, which outlives an alert deleted since. An alert re-issued to
    # carry a Pubwatch ban past its year is the same incident, not a new one.
    rows = conn.execute(
        "SELECT at, json_extract(detail, '$.category') FROM audit_log "
        "WHERE action = 'alert.created' AND actor != ? AND at >= ? AND at < ?",
        (RENEWED_BY, start, end),
    ).fetchall()
    for at, category in rows:
        code = str(category or "other")
        incidents[code] = incidents.get(code, 0) + 1
        month = dt.datetime.fromtimestamp(int(at), dt.UTC).strftime("%Y-%m")
        by_month[month] = by_month.get(month, 0) + 1
    figures: dict[str, int | None] = {
        key: _count(conn, actions, start, end) for key, actions in _ACTIONS.items()
    }
    figures["pubwatch_bans"] = pubwatch_notice_counts(conn, start, end)
    figures["refusals"] = int(
        conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'admission.decided' "
            "AND at >= ? AND at < ? AND json_extract(detail, '$.admitted') = 0",
            (start, end),
        ).fetchone()[0]
    )
    figures["reviews_overdue"] = int(
        conn.execute(
            "SELECT count(DISTINCT alert_id) FROM audit_log WHERE action = 'alert.review_overdue' "
            "AND at >= ? AND at < ?",
            (start, end),
        ).fetchone()[0]
    )
    overdue_now = int(
        conn.execute(
            "SELECT count(*) FROM alerts WHERE status IN ('active', 'suspended') "
            "AND review_due IS NOT NULL AND review_due <= ?",
            (now,),
        ).fetchone()[0]
    )
    return VenueCounts(
        period_from=start,
        period_to=end,
        incidents=incidents,
        incidents_by_month=by_month,
        figures=figures,
        reviews_overdue_now=overdue_now,
    )
