"""Numbered schema migrations, applied in order, each in its own transaction.

``PRAGMA user_version`` records the last one applied. A migration, once
released, is never edited: changes are new migrations appended here.
"""

from __future__ import annotations

from typing import Final

# (number, what it does, SQL). Numbers start at 1 and have no gaps.
MIGRATIONS: Final[tuple[tuple[int, str, str], ...]] = (
    (
        1,
        "node metadata, staff users and the append-only audit log",
        """
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT;

        CREATE TABLE users (
            id            INTEGER PRIMARY KEY,
            username      TEXT NOT NULL UNIQUE,
            role          TEXT NOT NULL CHECK (role IN
                              ('door_staff', 'supervisor', 'administrator', 'super_administrator')),
            password_hash TEXT NOT NULL,
            disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until  INTEGER NOT NULL DEFAULT 0,
            created_at    INTEGER NOT NULL
        ) STRICT;

        -- Who did what, when, to which alert or with which peer. Never names,
        -- dates of birth or photos: those stay in the encrypted alert rows.
        CREATE TABLE audit_log (
            id       INTEGER PRIMARY KEY AUTOINCREMENT,
            at       INTEGER NOT NULL,
            actor    TEXT NOT NULL,
            action   TEXT NOT NULL,
            alert_id TEXT,
            peer_id  TEXT,
            detail   TEXT NOT NULL DEFAULT '{}'
        ) STRICT;
        CREATE INDEX audit_log_at ON audit_log (at);
        CREATE INDEX audit_log_alert ON audit_log (alert_id) WHERE alert_id IS NOT NULL;
        CREATE INDEX audit_log_actor ON audit_log (actor, at);

        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,
    ),
)

LATEST: Final[int] = MIGRATIONS[-1][0]
