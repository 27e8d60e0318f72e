"""The node's SQLite database: opening, checking, migrating, and the worker thread.

All database work of a running node goes through ``AsyncStore.run``, which
runs a function on one worker thread at a time (``trio.to_thread`` with a
capacity-1 limiter): sqlite3 connections are not safe for concurrent use, and
aiosqlite cannot run under trio. A function passed to ``run`` either commits
its transaction or rolls it back before ``run`` returns, so a caller that
acknowledges after ``await store.run(...)`` acknowledges only what is durable
(``synchronous=FULL`` in WAL mode makes a commit survive power loss).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import trio

from doorwatch.node._errors import StoreError
from doorwatch.node._migrations import LATEST, MIGRATIONS

# 'DWCH': marks the file as a Doorwatch database (`PRAGMA application_id`).
APPLICATION_ID = 0x44574348

P = ParamSpec("P")
T = TypeVar("T")


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if absent) and migrate the database at ``path``.

    Refuses, with a ``StoreError`` that says why, a file that is not SQLite,
    a SQLite file that belongs to another application, and a database written
    by a newer Doorwatch.
    """
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the database {path}: {exc}") from exc
    try:
        _configure(conn, path)
        _check_identity(conn, path)
        _migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _configure(conn: sqlite3.Connection, path: Path) -> None:
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a Doorwatch database (not an SQLite file)") from exc
    if mode != "wal":
        raise StoreError(f"cannot put {path} in WAL mode (got {mode})")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    # Deleted personal data is overwritten in the file, not merely unlinked.
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA busy_timeout=5000")


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if app_id == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
        if tables:
            raise StoreError(f"{path} is an SQLite database of another application")
        return
    if app_id != APPLICATION_ID:
        raise StoreError(f"{path} is an SQLite database of another application")
    if version > LATEST:
        raise StoreError(
            f"{path} was written by a newer Doorwatch (schema {version}; this version "
            f"knows schema {LATEST} at most): upgrade Doorwatch"
        )


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, _what, sql in MIGRATIONS:
        if number <= current:
            continue
        try:
            conn.execute("BEGIN IMMEDIATE")
            # executescript would COMMIT the open transaction first; run the
            # statements one by one so the migration and its number land together.
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(f"migrating {path} to schema {number} failed: {exc}") from exc


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (``sqlite3.complete_statement`` aware)."""
    out: list[str] = []
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                out.append(pending.strip())
            pending = ""
    if pending.strip():
        raise StoreError("a migration ends with an incomplete statement")
    return out


class AsyncStore:
    """The database of a running node, used from trio tasks."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._limiter = trio.CapacityLimiter(1)

    @classmethod
    async def open(cls, path: Path) -> AsyncStore:
        conn = await trio.to_thread.run_sync(open_database, path)
        return cls(conn)

    async def run(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn(conn, *args)`` in one transaction on the worker thread."""

        def work() -> T:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(self._conn, *args, **kwargs)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return result

        return await trio.to_thread.run_sync(work, limiter=self._limiter)

    async def close(self) -> None:
        await trio.to_thread.run_sync(self._conn.close, limiter=self._limiter)
