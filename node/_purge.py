"""The retention scheduler: expiry, deletion, review reminders, visit and ban purges.

Runs every ``interval_s`` of real time, deciding on the injected clock (so
tests and the demo can move time). One pass is one transaction
(``purge_once``); after it removed personal data the WAL is checkpointed and
truncated on a second connection, so the removed bytes survive neither in
the WAL nor (with ``secure_delete``) in the database file's free space.

Each alert is processed in its own savepoint: one that fails is undone,
logged at ERROR with its id only, and retried next pass, while the others
go on. A whole pass that fails is logged the same way and the loop carries
on: retention never stops the daemon.

Retention of alerts: an expired alert's personal data is purged at once; a
withdrawn alert's at the expiry it had (the record serves the audit trail
until then); any alert older than, or not updated for, 12 months is erased.
The audit log itself has no retention: it holds no subject's personal data
and its table refuses updates and deletes (migration 5).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
import trio

from doorwatch.node import _alerts, _audit, _bans, _disclosure_hits, _visits
from doorwatch.node._alerts import DAY, STALE_AFTER
from doorwatch.node._clock import Clock
from doorwatch.node._failures import failure_fields
from doorwatch.node._scan import ScanEngine
from doorwatch.node._store import AsyncStore

log = structlog.get_logger("doorwatch.purge")

SYSTEM = "doorwatch"


@dataclass(frozen=True)
class PurgeFailure:
    """One alert the pass could not process (its changes were undone; the next pass retries)."""

    alert_id: str
    error: dict[str, object]


@dataclass
class PurgeReport:
    expired: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    purged_withdrawn: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)
    visits_deleted: int = 0
    bans_expired: list[str] = field(default_factory=list)
    failed: list[PurgeFailure] = field(default_factory=list)

    @property
    def removed_personal_data(self) -> bool:
        return bool(
            self.expired
            or self.deleted
            or self.purged_withdrawn
            or self.visits_deleted
            or self.bans_expired
        )


def _each_alert(
    conn: sqlite3.Connection,
    report: PurgeReport,
    query: str,
    args: tuple[int, ...],
    step: Callable[[str], None],
) -> list[str]:
    """Run ``step`` for each alert ``query`` selects, each in a savepoint: a failure
    undoes that alert's changes only, is reported, and the pass goes on."""
    done: list[str] = []
    for (alert_id,) in conn.execute(query, args).fetchall():
        conn.execute("SAVEPOINT purge_alert")
        try:
            step(alert_id)
        except Exception as exc:
            conn.execute("ROLLBACK TO purge_alert")
            report.failed.append(PurgeFailure(alert_id, failure_fields(exc)))
        else:
            done.append(alert_id)
        finally:
            conn.execute("RELEASE purge_alert")
    return done


def purge_pass(conn: sqlite3.Connection, *, now: int, visit_retention_days: int) -> PurgeReport:
    report = PurgeReport()

    def expire(alert_id: str) -> None:
        _alerts.change(
            conn,
            alert_id,
            now=now,
            actor=SYSTEM,
            action="alert.expired",
            set_columns={"status": "expired", "review_due": None},
        )
        _alerts.purge_personal(conn, alert_id, now=now)

    def forget(alert_id: str) -> None:
        _alerts.purge_personal(conn, alert_id, now=now)
        _audit.record(
            conn,
            at=now,
            actor=SYSTEM,
            action="alert.purged",
            alert_id=alert_id,
            detail={"why": "withdrawn, and past its expiry"},
        )

    def delete(alert_id: str) -> None:
        _alerts.erase(
            conn, alert_id, now=now, actor=SYSTEM, why="older than, or not updated for, 12 months"
        )

    report.expired = _each_alert(
        conn,
        report,
        "SELECT id FROM alerts WHERE status IN ('active', 'suspended') AND expires_at <= ?",
        (now,),
        expire,
    )
    # A withdrawn alert's record is kept for the audit trail, but never longer
    # than the alert itself would have lived: at its expiry its personal data goes.
    report.purged_withdrawn = _each_alert(
        conn,
        report,
        "SELECT id FROM alerts WHERE status = 'withdrawn' AND purged_at IS NULL "
        "AND expires_at <= ?",
        (now,),
        forget,
    )
    stale = now - STALE_AFTER
    report.deleted = _each_alert(
        conn,
        report,
        "SELECT id FROM alerts WHERE created_at <= ? OR updated_at <= ?",
        (stale, stale),
        delete,
    )
    for alert_id, due in conn.execute(
        "SELECT id, review_due FROM alerts WHERE status = 'active' AND review_due <= ? "
        "AND (reminded_at IS NULL OR reminded_at < review_due)",
        (now,),
    ).fetchall():
        conn.execute("UPDATE alerts SET reminded_at = ? WHERE id = ?", (now, alert_id))
        _audit.record(
            conn,
            at=now,
            actor=SYSTEM,
            action="alert.review_overdue",
            alert_id=alert_id,
            detail={"review_due": due},
        )
        report.reminded.append(alert_id)
    report.visits_deleted = _visits.remove_older_than(conn, now - visit_retention_days * DAY)
    if report.visits_deleted:
        _audit.record(
            conn,
            at=now,
            actor=SYSTEM,
            action="visits.purged",
            detail={"count": report.visits_deleted},
        )
    report.bans_expired = _bans.remove_expired(conn, now=now)
    # Rate-limit counters that no longer count (peer and alert ids, nothing personal).
    _disclosure_hits.purge(conn, now)
    return report


CHECKPOINT_TRIES = 10


def checkpoint(database: Path) -> bool:
    """Copy the WAL into the database and truncate it (blocking: run in a thread).

    Only a truncating checkpoint removes purged data from the WAL file: a busy
    one (the node's writer in a transaction for longer than the busy timeout)
    leaves the old frames in it, so it is tried again. Returns whether the WAL
    was truncated; the next purge pass tries again if not."""
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=2000")
        conn.execute("PRAGMA secure_delete=ON")
        for attempt in range(CHECKPOINT_TRIES):
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                return True
            time.sleep(0.05 * (attempt + 1))
    finally:
        conn.close()
    log.warning("store.checkpoint_busy", tries=CHECKPOINT_TRIES)
    return False


async def purge_once(
    store: AsyncStore,
    engine: ScanEngine,
    *,
    now: int,
    visit_retention_days: int,
    database: Path,
    on_change: Callable[[str], None] | None = None,
) -> PurgeReport:
    report = await store.run(purge_pass, now=now, visit_retention_days=visit_retention_days)
    for failure in report.failed:
        log.error("purge.alert_failed", alert_id=failure.alert_id, **failure.error)
    for alert_id in (*report.expired, *report.deleted):
        engine.remove_alert(alert_id)
        if on_change is not None:
            on_change(alert_id)
    for ban_id in report.bans_expired:
        engine.remove_ban(ban_id)
    # Scans held in memory (with their photos) for alert.create go too.
    engine.prune_scans(now)
    if report.removed_personal_data:
        await trio.to_thread.run_sync(checkpoint, database)
        log.info(
            "purge.done",
            expired=len(report.expired),
            deleted=len(report.deleted),
            purged_withdrawn=len(report.purged_withdrawn),
            visits=report.visits_deleted,
            bans=len(report.bans_expired),
        )
    return report


async def run_scheduler(
    store: AsyncStore,
    engine: ScanEngine,
    clock: Clock,
    *,
    visit_retention_days: int,
    database: Path,
    interval_s: float = 60.0,
    on_change: Callable[[str], None] | None = None,
) -> None:
    while True:
        try:
            await purge_once(
                store,
                engine,
                now=clock.now(),
                visit_retention_days=visit_retention_days,
                database=database,
                on_change=on_change,
            )
        except Exception as exc:
            # Retention must not stop the daemon, nor stop for good: the next pass retries.
            log.error("purge.pass_failed", **failure_fields(exc))
        await trio.sleep(interval_s)
