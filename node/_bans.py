"""This venue's own bans (not shared): identity and reason encrypted, with an expiry."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from doorwatch.node import _audit
from doorwatch.node._errors import NotFound


@dataclass(frozen=True)
class BanRecord:
    id: str
    created_at: int
    created_by: str
    expires_at: int
    identity: bytes
    reason: bytes


def insert(conn: sqlite3.Connection, ban: BanRecord) -> None:
    conn.execute(
        "INSERT INTO bans (id, created_at, created_by, expires_at, identity, reason) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (ban.id, ban.created_at, ban.created_by, ban.expires_at, ban.identity, ban.reason),
    )
    _audit.record(
        conn,
        at=ban.created_at,
        actor=ban.created_by,
        action="ban.added",
        detail={"ban_id": ban.id, "expires_at": ban.expires_at},
    )


def list_all(conn: sqlite3.Connection) -> list[BanRecord]:
    rows = conn.execute(
        "SELECT id, created_at, created_by, expires_at, identity, reason FROM bans "
        "ORDER BY created_at"
    ).fetchall()
    return [BanRecord(*r) for r in rows]


def remove(conn: sqlite3.Connection, ban_id: str, *, now: int, actor: str) -> None:
    if conn.execute("DELETE FROM bans WHERE id = ?", (ban_id,)).rowcount == 0:
        raise NotFound("ban_id: there is no ban with this id")
    _audit.record(conn, at=now, actor=actor, action="ban.removed", detail={"ban_id": ban_id})


def remove_expired(conn: sqlite3.Connection, *, now: int) -> list[str]:
    ids = [r[0] for r in conn.execute("SELECT id FROM bans WHERE expires_at <= ?", (now,))]
    for ban_id in ids:
        conn.execute("DELETE FROM bans WHERE id = ?", (ban_id,))
        _audit.record(
            conn, at=now, actor="doorwatch", action="ban.expired", detail={"ban_id": ban_id}
        )
    return ids
