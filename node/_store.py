"""The node's SQLite database: opening, checking, migrating, and the worker thread.

All database work of a running node goes through ``AsyncStore.run``, which
runs functions on the store's one worker thread, one transaction at a time:
sqlite3 connections are not safe for concurrent use, and aiosqlite cannot
run under trio. ``run`` returns only after the transaction
holding the function's writes has committed (or the function's writes were
rolled back because it raised), so a caller that acknowledges after
``await store.run(...)`` acknowledges only what is durable
(``synchronous=FULL`` in WAL mode makes a commit survive power loss).
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import outcome
import structlog
import trio

from doorwatch.node._errors import StoreError
from doorwatch.node._migrations import LATEST, MIGRATIONS

# 'DWCH': marks the file as a Doorwatch database (`PRAGMA application_id`).
APPLICATION_ID = 0x44574348

log = structlog.get_logger("doorwatch.store")

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
    # SQLite creates the -wal and -shm files with the database file's mode:
    # keep all three owner-only, even where the data directory is opened to a
    # socket group (0710).
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(name, 0o600)
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


@dataclass(eq=False, slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], object]
    # The trio task waiting for the job: woken with the job's outcome after COMMIT.
    task: trio.lowlevel.Task
    result: outcome.Outcome[object] | None = None
    # An append (``AsyncStore.append``): one statement and what makes its
    # parameters, written with the other appends of the statement at once.
    sql: str | None = None
    row: Callable[[], Sequence[object]] | None = None


class AsyncStore:
    """The database of a running node, used from trio tasks.

    One writer thread, started with the store and ended when it closes, runs
    every job. Group commit: jobs that arrive while a transaction is being
    written wait for the next one, and then share it, each inside its own
    SAVEPOINT (a job that raises undoes only its own writes). One fsync then
    acknowledges many scans, which is what lets a node record thousands of
    scans a second with ``synchronous=FULL``. A job's caller is answered only
    after COMMIT. The thread hands jobs over through a thread-safe queue and
    wakes their callers through the trio token, one wake-up per transaction:
    a hop through ``trio.to_thread`` per transaction cost more than the
    transaction's own statements.

    Appends (``append``: one INSERT and what makes its parameters, such as a
    scan's visit row) are written by one statement of many rows per run of
    them in a transaction, without a savepoint each: the writer thread then
    takes the GIL back about once an append (after the sealing PyNaCl call)
    and a few times a transaction, instead of four times an append, and each
    time it does, the event loop may have to wait to get it back.
    """

    def __init__(self, conn: sqlite3.Connection, max_batch: int = 256) -> None:
        self._conn = conn
        self._max_batch = max_batch
        # None: the store is closing (after every job queued before it).
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._token: trio.lowlevel.TrioToken | None = None
        self._closed = False
        # Group commit at work: jobs per transaction (a benchmark reads them from the log).
        self.transactions = 0
        self.jobs = 0
        self.largest_batch = 0

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[AsyncStore]:
        conn = await trio.to_thread.run_sync(open_database, path)
        store = cls(conn)
        store._token = trio.lowlevel.current_trio_token()
        writer = threading.Thread(target=store._writer, name="doorwatch-store", daemon=True)
        writer.start()
        try:
            yield store
        finally:
            store._closed = True
            store._queue.put(None)
            with trio.CancelScope(shield=True):
                # Every job queued before the close is written and answered.
                await trio.to_thread.run_sync(writer.join)
                log.info(
                    "store.closed",
                    transactions=store.transactions,
                    jobs=store.jobs,
                    largest_batch=store.largest_batch,
                )
                await trio.to_thread.run_sync(conn.close)

    async def run(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn(conn, *args, **kwargs)`` in a transaction; return once it is durable."""
        if self._closed:
            raise StoreError("the database is closed")
        job = _Job(lambda conn: fn(conn, *args, **kwargs), trio.lowlevel.current_task())
        self._queue.put(job)
        # Not cancellable once queued: the write will commit, and abandoning the
        # wait would only hide that from the caller. (A bare park rather than an
        # Event inside a shielded cancel scope: this is every scan's hot path.)
        return await trio.lowlevel.wait_task_rescheduled(_cannot_abort)  # type: ignore[no-any-return]

    async def append(self, sql: str, row: Callable[[], Sequence[object]]) -> None:
        """Run one INSERT with the parameters ``row()`` returns (called on the store's
        thread), with the other appends of the statement at once; return once durable."""
        if self._closed:
            raise StoreError("the database is closed")
        _values_group(sql)  # an INSERT ... VALUES (...), or a ValueError here
        self._queue.put(_Job(_no_function, trio.lowlevel.current_task(), sql=sql, row=row))
        await trio.lowlevel.wait_task_rescheduled(_cannot_abort)

    def _writer(self) -> None:
        assert self._token is not None
        closing = False
        while not closing:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    closing = True
                    break
                batch.append(job)
            try:
                self._write(batch)
            except BaseException as exc:
                # Not an SQLite error (those are handled in _write): nothing of
                # the batch may stay half-written for the next one to commit.
                with contextlib.suppress(sqlite3.Error):
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                why = f"the database could not commit: {type(exc).__name__}"
                for job in batch:  # one outcome each: an outcome can be unwrapped once
                    job.result = outcome.Error(StoreError(why))
            # The run outlives the writer (closing joins it); this only guards a
            # run torn down some other way, where nobody waits for an answer.
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(_answer, batch)

    def _write(self, batch: list[_Job]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            if len(batch) == 1 and batch[0].sql is None:
                # Alone in its transaction, a job that raises undoes the whole
                # transaction: no savepoint needed.
                job = batch[0]
                job.result = outcome.capture(job.fn, conn)
                conn.execute("COMMIT" if isinstance(job.result, outcome.Value) else "ROLLBACK")
            else:
                # In the order queued; consecutive appends of one statement together.
                run: list[_Job] = []
                for job in batch:
                    if run and job.sql != run[0].sql:
                        _append_all(conn, run)
                        run = []
                    if job.sql is None:
                        _in_savepoint(conn, job)
                    else:
                        run.append(job)
                if run:
                    _append_all(conn, run)
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # The transaction itself failed (disk full, I/O error): nothing in
            # it is durable, so every job in it fails.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = StoreError(f"the database could not commit: {exc}")
            for job in batch:
                job.result = outcome.Error(failure)
        self.transactions += 1
        self.jobs += len(batch)
        self.largest_batch = max(self.largest_batch, len(batch))


def _in_savepoint(conn: sqlite3.Connection, job: _Job) -> None:
    """Run a job of a shared transaction: if it raises, only its own writes are undone."""
    conn.execute("SAVEPOINT job")
    job.result = outcome.capture(job.fn, conn)
    if isinstance(job.result, outcome.Error):
        conn.execute("ROLLBACK TO job")
    conn.execute("RELEASE job")


def _append_all(conn: sqlite3.Connection, jobs: list[_Job]) -> None:
    """Appends of one INSERT as one statement of many rows; if it fails, each row alone.

    No savepoint is needed: SQLite undoes a failing statement as a whole.
    """
    sql = jobs[0].sql
    assert sql is not None
    width = _values_group(sql)[2]
    rows: list[Sequence[object]] = []
    written: list[_Job] = []
    for job in jobs:
        assert job.row is not None
        made = outcome.capture(job.row)
        if isinstance(made, outcome.Error):
            job.result = made
            continue
        row = made.unwrap()
        # Rows are flattened into one statement: a row of the wrong length
        # would shift every later row's values into the wrong columns.
        if type(row) not in (tuple, list) or len(row) != width:
            job.result = outcome.Error(
                StoreError(f"an append's row must be a tuple of {width} values")
            )
            continue
        rows.append(row)
        written.append(job)
        job.result = outcome.Value(None)
    per_statement = max(1, _MAX_PARAMS // max(1, width))
    # More rows than one statement takes: a savepoint around the statements.
    several = len(rows) > per_statement
    if several:
        conn.execute("SAVEPOINT appends")
    try:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            conn.execute(_many_rows(sql, len(chunk)), [p for row in chunk for p in row])
    except Exception:
        # A constraint or a bad parameter in one row (sqlite3 raises more than
        # sqlite3.Error for those: OverflowError, an adapter's own error): write
        # them one by one, so that only the failing rows fail. Unless SQLite rolled
        # the whole transaction back (disk full, I/O error): then every job fails,
        # and nothing may be written in autocommit mode behind their backs.
        if not conn.in_transaction:
            raise
        if several:
            conn.execute("ROLLBACK TO appends")
        for job, params in zip(written, rows, strict=True):
            try:
                conn.execute(sql, params)
            except Exception as exc:
                if not conn.in_transaction:
                    raise
                job.result = outcome.Error(exc)
    if several:
        conn.execute("RELEASE appends")


# Parameters a statement may have (SQLite's limit before 3.32).
_MAX_PARAMS = 999


@functools.lru_cache(maxsize=512)
def _values_group(sql: str) -> tuple[str, str, int]:
    """An append's ``INSERT ... VALUES (?, ...)`` as its head, its row's group of
    placeholders and their number."""
    head, values, group = sql.rpartition(" VALUES ")
    if not values or not group.startswith("(") or not group.endswith(")"):
        raise ValueError("an append's statement must end with VALUES (?, ...)")
    return head, group, group.count("?")


@functools.lru_cache(maxsize=512)
def _many_rows(sql: str, n: int) -> str:
    """``INSERT ... VALUES (?, ?)`` for ``n`` rows: ``... VALUES (?, ?), (?, ?), ...``."""
    head, group, _width = _values_group(sql)
    return f"{head} VALUES {', '.join([group] * n)}"


def _no_function(conn: sqlite3.Connection) -> None:
    raise AssertionError("an append is written by its statement")


def _cannot_abort(_raise_cancel: object) -> trio.lowlevel.Abort:
    return trio.lowlevel.Abort.FAILED


def _answer(batch: list[_Job]) -> None:
    for job in batch:
        assert job.result is not None
        trio.lowlevel.reschedule(job.task, job.result)
