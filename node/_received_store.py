"""The replicated alert envelopes in the database (schema: migration 4).

One row per (network, alert): the newest envelope or the tombstone this node
holds, received from peers or published by this node (its own envelopes are
part of what it serves in sync). Only the signed envelope's canonical frame
and its clear header fields are stored: the segments stay encrypted under
the group key, and are decrypted into memory at start-up. The replica's
clock floor is kept per network so that a clock that jumps back cannot make
expired content visible again after a restart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

RECEIVED_MIGRATION: Final = """
-- The random part of an originated alert's id (crypto.new_alert_id): needed
-- to sign every later version and the tombstone. NULL for alerts made
-- before migration 4, which are never published.
ALTER TABLE alerts ADD COLUMN salt BLOB;

CREATE TABLE alert_envelopes (
    network_id TEXT NOT NULL,
    alert_id   BLOB NOT NULL,
    originator TEXT NOT NULL,
    grp        TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'withdrawn')),
    expires_at INTEGER NOT NULL,
    stored_at  INTEGER NOT NULL,
    message    BLOB NOT NULL,
    PRIMARY KEY (network_id, alert_id)
) STRICT;

CREATE TABLE replica_clocks (
    network_id  TEXT PRIMARY KEY,
    clock_floor INTEGER NOT NULL
) STRICT;
"""


@dataclass(frozen=True, slots=True)
class EnvelopeRow:
    network_id: str
    alert_id: bytes
    originator: str
    group: str
    epoch: int
    version: int
    status: str
    expires_at: int
    stored_at: int
    message: bytes


def load(conn: sqlite3.Connection) -> tuple[list[EnvelopeRow], dict[str, int]]:
    """Every stored envelope, and the clock floor of every network."""
    rows = [
        EnvelopeRow(*r)
        for r in conn.execute(
            "SELECT network_id, alert_id, originator, grp, epoch, version, status, expires_at, "
            "stored_at, message FROM alert_envelopes"
        ).fetchall()
    ]
    floors = dict(conn.execute("SELECT network_id, clock_floor FROM replica_clocks").fetchall())
    return rows, floors


def save(
    conn: sqlite3.Connection,
    *,
    upserts: Iterable[EnvelopeRow],
    deletes: Iterable[tuple[str, bytes]],
    floors: dict[str, int],
) -> None:
    """Write one batch of replica changes (one transaction)."""
    conn.executemany(
        "INSERT INTO alert_envelopes (network_id, alert_id, originator, grp, epoch, version, "
        "status, expires_at, stored_at, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (network_id, alert_id) DO UPDATE SET originator = excluded.originator, "
        "grp = excluded.grp, epoch = excluded.epoch, version = excluded.version, "
        "status = excluded.status, expires_at = excluded.expires_at, "
        "stored_at = excluded.stored_at, message = excluded.message",
        [
            (
                r.network_id,
                r.alert_id,
                r.originator,
                r.group,
                r.epoch,
                r.version,
                r.status,
                r.expires_at,
                r.stored_at,
                r.message,
            )
            for r in upserts
        ],
    )
    conn.executemany(
        "DELETE FROM alert_envelopes WHERE network_id = ? AND alert_id = ?", list(deletes)
    )
    conn.executemany(
        "INSERT INTO replica_clocks (network_id, clock_floor) VALUES (?, ?) "
        "ON CONFLICT (network_id) DO UPDATE SET "
        "clock_floor = max(clock_floor, excluded.clock_floor)",
        list(floors.items()),
    )


def set_salt(conn: sqlite3.Connection, alert_id: str, salt: bytes) -> None:
    conn.execute("UPDATE alerts SET salt = ? WHERE id = ?", (salt, alert_id))


def salt_of(conn: sqlite3.Connection, alert_id: str) -> bytes | None:
    row = conn.execute("SELECT salt FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    return None if row is None else row[0]
