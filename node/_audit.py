"""The audit log: who did what, when, to which alert, with which peer.

Entries carry user names, alert ids and peer ids, never a subject's personal
data (a login with a name that is no user's is recorded as ``(unknown user)``,
see ``_users``). The table refuses updates and deletes (triggers, migrations
1 and 5), so an entry once written stays as written; there is no retention
purge of the audit log.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: int
    actor: str
    action: str
    alert_id: str | None
    peer_id: str | None
    detail: dict[str, object]

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "alert_id": self.alert_id,
            "peer_id": self.peer_id,
            "detail": self.detail,
        }


def record(
    conn: sqlite3.Connection,
    *,
    at: int,
    actor: str,
    action: str,
    alert_id: str | None = None,
    peer_id: str | None = None,
    detail: dict[str, object] | None = None,
) -> None:
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, alert_id, peer_id, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (at, actor, action, alert_id, peer_id, json.dumps(detail or {}, sort_keys=True)),
    )


def count(conn: sqlite3.Connection, *, actions: Sequence[str], since: int) -> int:
    """How many entries of these actions since ``since``."""
    marks = ", ".join("?" * len(actions))
    row = conn.execute(
        f"SELECT count(*) FROM audit_log WHERE at >= ? AND action IN ({marks})",  # noqa: S608 - placeholders only
        (since, *actions),
    ).fetchone()
    return int(row[0])


def query(
    conn: sqlite3.Connection,
    *,
    actor: str | None = None,
    alert_id: str | None = None,
    action: str | None = None,
    since: int | None = None,
    until: int | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    clauses: list[str] = []
    args: list[str | int] = []
    for column, value in (("actor", actor), ("alert_id", alert_id), ("action", action)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if since is not None:
        clauses.append("at >= ?")
        args.append(since)
    if until is not None:
        clauses.append("at < ?")
        args.append(until)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = conn.execute(
        f"SELECT id, at, actor, action, alert_id, peer_id, detail FROM audit_log {where} "  # noqa: S608 - columns are fixed above
        "ORDER BY id LIMIT ?",
        (*args, limit),
    ).fetchall()
    return [AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]
