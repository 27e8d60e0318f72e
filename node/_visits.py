"""The visit log: one row per scan, with the staff user, the verdict and the decision."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from doorwatch.node import _audit
from doorwatch.node._errors import Conflict, NotFound


@dataclass(frozen=True)
class VisitRecord:
    scan_id: str
    at: int
    staff: str
    verdict: str
    reasons: list[str]
    identity: bytes
    admitted: bool | None
    decided_by: str | None
    decided_at: int | None
    note: bytes | None

    @classmethod
    def from_row(cls, r: tuple[object, ...]) -> VisitRecord:
        return cls(
            scan_id=str(r[0]),
            at=int(r[1]),  # type: ignore[call-overload]
            staff=str(r[2]),
            verdict=str(r[3]),
            reasons=json.loads(str(r[4])),
            identity=r[5],  # type: ignore[arg-type]
            admitted=None if r[6] is None else bool(r[6]),
            decided_by=None if r[7] is None else str(r[7]),
            decided_at=None if r[8] is None else int(r[8]),  # type: ignore[call-overload]
            note=r[9],  # type: ignore[arg-type]
        )


_COLUMNS = "scan_id, at, staff, verdict, reasons, identity, admitted, decided_by, decided_at, note"


INSERT = (
    "INSERT INTO visits (scan_id, at, staff, verdict, reasons, identity) VALUES (?, ?, ?, ?, ?, ?)"
)


def row(
    *, scan_id: str, at: int, staff: str, verdict: str, reasons: list[str], identity: bytes
) -> tuple[object, ...]:
    """A visit's parameters for ``INSERT`` (``AsyncStore.append`` writes it with others)."""
    return (scan_id, at, staff, verdict, json.dumps(reasons), identity)


def get(conn: sqlite3.Connection, scan_id: str) -> VisitRecord:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM visits WHERE scan_id = ?",  # noqa: S608 - fixed columns
        (scan_id,),
    ).fetchone()
    if row is None:
        raise NotFound("scan_id: there is no scan with this id (it may have been purged)")
    return VisitRecord.from_row(row)


def decide(
    conn: sqlite3.Connection,
    scan_id: str,
    *,
    admitted: bool,
    actor: str,
    now: int,
    note: bytes | None,
) -> None:
    # A decision, once recorded, stands: the visit log is what a police export
    # returns, so a second operator must not rewrite the first one's decision.
    updated = conn.execute(
        "UPDATE visits SET admitted = ?, decided_by = ?, decided_at = ?, note = ? "
        "WHERE scan_id = ? AND admitted IS NULL",
        (int(admitted), actor, now, note, scan_id),
    ).rowcount
    if updated == 0:
        get(conn, scan_id)  # NotFound when the scan does not exist (or was purged)
        raise Conflict("scan_id: a decision is already recorded for this scan")
    _audit.record(
        conn,
        at=now,
        actor=actor,
        action="admission.decided",
        detail={"scan_id": scan_id, "admitted": admitted},
    )


def window(conn: sqlite3.Connection, start: int, end: int) -> list[VisitRecord]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM visits WHERE at >= ? AND at < ? ORDER BY at, scan_id",  # noqa: S608
        (start, end),
    ).fetchall()
    return [VisitRecord.from_row(r) for r in rows]


def all_visits(conn: sqlite3.Connection) -> list[VisitRecord]:
    return window(conn, 0, 2**62)


def remove_older_than(conn: sqlite3.Connection, cutoff: int) -> int:
    return int(conn.execute("DELETE FROM visits WHERE at < ?", (cutoff,)).rowcount)
