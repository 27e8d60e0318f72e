"""The disclosure ladder's rate-limit counters on disk.

The protocol's ``RateLimiter`` decides in memory; every hit it counts is
written here in the same transaction as the step's audit entries, before the
answer leaves, and read back when the node starts (``load``). So a restart,
a crash or a SIGKILL resets no limit. Rows carry counter keys (rule name,
peer id, alert id) and times only; they are deleted once they no longer
count (``purge``, from the retention job).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from doorwatch.protocol import Hit


def record(conn: sqlite3.Connection, hits: Sequence[Hit]) -> None:
    conn.executemany(
        "INSERT INTO disclosure_hits (key, at, expires_at) VALUES (?, ?, ?)",
        [(h.key, h.at, h.expires_at) for h in hits],
    )


def load(conn: sqlite3.Connection, now: int) -> list[Hit]:
    rows = conn.execute(
        "SELECT key, at, expires_at FROM disclosure_hits WHERE expires_at > ? ORDER BY at",
        (now,),
    ).fetchall()
    return [Hit(key, at, expires_at) for key, at, expires_at in rows]


def purge(conn: sqlite3.Connection, now: int) -> int:
    return conn.execute("DELETE FROM disclosure_hits WHERE expires_at <= ?", (now,)).rowcount
