"""Originated alerts in the database: rows, lifecycle changes and purges.

Functions here run inside one store transaction (``AsyncStore.run``); a
function that raises an ``ApiError`` undoes its own writes. Encryption and
decryption happen in the callers, so nothing here sees personal data in the
clear. Every change bumps the alert's version (the network gossips the
highest) and writes an audit entry with the alert id and the user.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from doorwatch.node import _audit
from doorwatch.node._errors import Conflict, NotFound
from doorwatch.segments import Factor, SegmentSet

DAY: Final = 86400
MAX_LIFETIME: Final = 365 * DAY
"""Agreement 6.1.2/6.7.4: an alert expires at most 12 months after creation."""
REVIEW_PERIOD: Final = 90 * DAY
"""Agreement 6.7.3/6.7.5: a check every three months, if the alert lives longer."""
STALE_AFTER: Final = 365 * DAY
"""Agreement 6.7.4: alerts older than, or not updated for, 12 months are deleted."""

LIVE: Final = ("active", "suspended")
RENEWED_BY: Final = "pubwatch-committee"
"""Who re-issues an alert that carries a Pubwatch ban (``_originate.renew_for_ban``): the
committee's decision, nobody at this venue. Not a new incident."""

_COLUMNS = (
    "id, version, status, category, harm, created_at, updated_at, expires_at, review_due, "
    "groups, created_by, segments, segment_bits, anonymity_set, identity, photo, details, "
    "purged_at"
)


@dataclass(frozen=True)
class AlertRecord:
    id: str
    version: int
    status: str
    category: str
    harm: float
    created_at: int
    updated_at: int
    expires_at: int
    review_due: int | None
    groups: list[str]
    created_by: str
    segments: list[list[str]]
    segment_bits: float
    anonymity_set: float
    identity: bytes | None
    photo: bytes | None
    details: bytes | None
    purged_at: int | None

    def carries_ban_until(self) -> int:
        """When a banning notice riding on this alert stops showing at doors: a live
        alert can be kept up to ``MAX_LIFETIME`` from its creation; an expired one
        carried the ban to its expiry, a withdrawn one to its withdrawal."""
        if self.status in LIVE:
            return self.created_at + MAX_LIFETIME
        if self.status == "expired":
            return self.expires_at
        return self.updated_at

    @classmethod
    def from_row(cls, r: tuple[object, ...]) -> AlertRecord:
        return cls(
            id=str(r[0]),
            version=int(r[1]),  # type: ignore[call-overload]
            status=str(r[2]),
            category=str(r[3]),
            harm=float(r[4]),  # type: ignore[arg-type]
            created_at=int(r[5]),  # type: ignore[call-overload]
            updated_at=int(r[6]),  # type: ignore[call-overload]
            expires_at=int(r[7]),  # type: ignore[call-overload]
            review_due=None if r[8] is None else int(r[8]),  # type: ignore[call-overload]
            groups=json.loads(str(r[9])),
            created_by=str(r[10]),
            segments=json.loads(str(r[11])),
            segment_bits=float(r[12]),  # type: ignore[arg-type]
            anonymity_set=float(r[13]),  # type: ignore[arg-type]
            identity=r[14],  # type: ignore[arg-type]
            photo=r[15],  # type: ignore[arg-type]
            details=r[16],  # type: ignore[arg-type]
            purged_at=None if r[17] is None else int(r[17]),  # type: ignore[call-overload]
        )


@dataclass(frozen=True)
class Annotation:
    id: int
    at: int
    origin: str
    venue: str
    peer_id: str | None
    author: str
    text: bytes | None


def annotation_json(
    notes: Iterable[Annotation], text: Callable[[bytes], str]
) -> list[dict[str, object]]:
    """The annotations as the API and the details reply show them.

    ``text`` decrypts one stored note (the caller holds the key); a purged
    note (no text) stays listed with ``text`` None.
    """
    return [
        {
            "at": n.at,
            "origin": n.origin,
            "venue": n.venue,
            "author": n.author,
            "text": None if n.text is None else text(n.text),
        }
        for n in notes
    ]


@dataclass(frozen=True)
class Review:
    id: int
    at: int
    reviewer: str
    note: bytes | None


def segment_set(alert: AlertRecord) -> SegmentSet:
    """The alert's segments as the scan engine indexes them (this node's own rows)."""
    return SegmentSet(
        tuple(Factor(code, value) for code, value in alert.segments), alert.segment_bits
    )


def review_due_for(created_at: int, expires_at: int, now: int) -> int | None:
    """The next check date: three months on from ``now``, if the alert lives past it."""
    if expires_at - created_at <= REVIEW_PERIOD:
        return None
    due = now + REVIEW_PERIOD
    return due if due < expires_at else None


def insert(conn: sqlite3.Connection, alert: AlertRecord, *, venue: str) -> None:
    conn.execute(
        f"INSERT INTO alerts ({_COLUMNS}) VALUES ({', '.join('?' * 18)})",  # noqa: S608 - fixed columns
        (
            alert.id,
            alert.version,
            alert.status,
            alert.category,
            alert.harm,
            alert.created_at,
            alert.updated_at,
            alert.expires_at,
            alert.review_due,
            json.dumps(alert.groups),
            alert.created_by,
            json.dumps(alert.segments),
            alert.segment_bits,
            alert.anonymity_set,
            alert.identity,
            alert.photo,
            alert.details,
            alert.purged_at,
        ),
    )
    _audit.record(
        conn,
        at=alert.created_at,
        actor=alert.created_by,
        action="alert.created",
        alert_id=alert.id,
        detail={"category": alert.category, "expires_at": alert.expires_at, "version": 1},
    )
    # Agreement 6.1.3: the super administrator is told of every new alert; this
    # entry is the notification of record (an email follows when configured).
    _audit.record(
        conn,
        at=alert.created_at,
        actor="doorwatch",
        action="alert.notified",
        alert_id=alert.id,
        detail={"to": "super_administrator", "venue": venue},
    )


def get(conn: sqlite3.Connection, alert_id: str) -> AlertRecord:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM alerts WHERE id = ?",  # noqa: S608 - fixed columns
        (alert_id,),
    ).fetchone()
    if row is None:
        raise NotFound("alert_id: there is no alert with this id here")
    return AlertRecord.from_row(row)


def list_all(conn: sqlite3.Connection, status: str | None = None) -> list[AlertRecord]:
    where, args = ("WHERE status = ?", (status,)) if status else ("", ())
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM alerts {where} ORDER BY harm DESC, created_at DESC",  # noqa: S608
        args,
    ).fetchall()
    return [AlertRecord.from_row(r) for r in rows]


def live_segments(conn: sqlite3.Connection) -> list[tuple[str, str, float, float]]:
    """(id, segments JSON, bits, harm) of every active alert: the index is built from these."""
    return conn.execute(
        "SELECT id, segments, segment_bits, harm FROM alerts WHERE status = 'active'"
    ).fetchall()


def count_active(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM alerts WHERE status = 'active'").fetchone()[0])


def list_annotations(conn: sqlite3.Connection, alert_id: str) -> list[Annotation]:
    rows = conn.execute(
        "SELECT id, at, origin, venue, peer_id, author, text FROM alert_annotations "
        "WHERE alert_id = ? ORDER BY id",
        (alert_id,),
    ).fetchall()
    return [Annotation(*r) for r in rows]


def list_reviews(conn: sqlite3.Connection, alert_id: str) -> list[Review]:
    rows = conn.execute(
        "SELECT id, at, reviewer, note FROM alert_reviews WHERE alert_id = ? ORDER BY id",
        (alert_id,),
    ).fetchall()
    return [Review(*r) for r in rows]


def change(
    conn: sqlite3.Connection,
    alert_id: str,
    *,
    now: int,
    actor: str,
    action: str,
    set_columns: dict[str, object] | None = None,
    allowed: Iterable[str] = LIVE,
    detail: dict[str, object] | None = None,
    expected_version: int | None = None,
) -> AlertRecord:
    """Apply a change to a live alert: new version, updated_at, audit entry.

    ``expected_version`` (optimistic concurrency): the version the caller read;
    if the alert has changed since, nothing is written and ``Conflict`` says so.
    """
    alert = get(conn, alert_id)
    check_version(alert, expected_version)
    allowed = tuple(allowed)
    if alert.status not in allowed:
        raise Conflict(
            f"alert_id: the alert is {alert.status}; this needs it {' or '.join(allowed)}"
        )
    columns = dict(set_columns or {})
    columns["version"] = alert.version + 1
    columns["updated_at"] = now
    assignments = ", ".join(f"{name} = ?" for name in columns)
    conn.execute(
        f"UPDATE alerts SET {assignments} WHERE id = ?",  # noqa: S608 - names are ours
        (*columns.values(), alert_id),
    )
    _audit.record(
        conn,
        at=now,
        actor=actor,
        action=action,
        alert_id=alert_id,
        detail={**(detail or {}), "version": alert.version + 1},
    )
    return get(conn, alert_id)


def check_version(alert: AlertRecord, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != alert.version:
        raise Conflict(
            f"version: the alert has changed since you read it (you read version "
            f"{expected_version}, it is now {alert.version}); read it again with alert.get"
        )


def annotate(
    conn: sqlite3.Connection,
    alert_id: str,
    *,
    now: int,
    actor: str,
    venue: str,
    text: bytes,
    action: str = "alert.annotated",
    set_columns: dict[str, object] | None = None,
    allowed: Iterable[str] = LIVE,
    expected_version: int | None = None,
) -> AlertRecord:
    alert = change(
        conn,
        alert_id,
        now=now,
        actor=actor,
        action=action,
        set_columns=set_columns,
        allowed=allowed,
        expected_version=expected_version,
    )
    conn.execute(
        "INSERT INTO alert_annotations (alert_id, at, origin, venue, peer_id, author, text) "
        "VALUES (?, ?, 'local', ?, NULL, ?, ?)",
        (alert_id, now, venue, actor, text),
    )
    return alert


def add_review(
    conn: sqlite3.Connection, alert_id: str, *, now: int, actor: str, note: bytes | None
) -> AlertRecord:
    alert = get(conn, alert_id)
    due = review_due_for(alert.created_at, alert.expires_at, now)
    alert = change(
        conn,
        alert_id,
        now=now,
        actor=actor,
        action="alert.reviewed",
        set_columns={"review_due": due, "reminded_at": None},
        detail={"review_due": due},
    )
    conn.execute(
        "INSERT INTO alert_reviews (alert_id, at, reviewer, note) VALUES (?, ?, ?, ?)",
        (alert_id, now, actor, note),
    )
    return alert


def purge_personal(conn: sqlite3.Connection, alert_id: str, *, now: int) -> None:
    """Forget the subject: identity, photo, details, annotation texts and review notes."""
    conn.execute(
        "UPDATE alerts SET identity = NULL, photo = NULL, details = NULL, "
        "purged_at = coalesce(purged_at, ?) WHERE id = ?",
        (now, alert_id),
    )
    conn.execute("UPDATE alert_annotations SET text = NULL WHERE alert_id = ?", (alert_id,))
    conn.execute("UPDATE alert_reviews SET note = NULL WHERE alert_id = ?", (alert_id,))


def erase(conn: sqlite3.Connection, alert_id: str, *, now: int, actor: str, why: str) -> None:
    """Delete the alert outright: its row, annotations and reviews (the audit entries stay).

    The network half then finds no row and sends a tombstone for what the
    networks still hold.
    """
    alert = get(conn, alert_id)
    purge_personal(conn, alert_id, now=now)
    conn.execute("DELETE FROM alerts WHERE id = ?", (alert_id,))
    _audit.record(
        conn,
        at=now,
        actor=actor,
        action="alert.deleted",
        alert_id=alert_id,
        detail={"why": why, "status": alert.status, "version": alert.version},
    )
