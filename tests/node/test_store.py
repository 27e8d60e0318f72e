"""The node's database file: creation, migration, refusal of foreign files."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import trio
import trio.testing

from doorwatch.node import _store
from doorwatch.node._errors import StoreError
from doorwatch.node._migrations import LATEST
from doorwatch.node._store import APPLICATION_ID, AsyncStore, open_database


def test_new_database_is_configured_and_migrated(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "db.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
    for suffix in ("", "-wal", "-shm"):
        mode = (tmp_path / f"db.sqlite{suffix}").stat().st_mode & 0o777
        assert mode == 0o600, suffix
    conn.close()


def test_reopening_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    conn = open_database(path)
    conn.execute("INSERT INTO meta (key, value) VALUES ('venue', 'The Crown')")
    conn.close()
    conn = open_database(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'venue'").fetchone()[0] == "The Crown"
    conn.close()


def test_older_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    # A database as an older Doorwatch left it: ours, at schema 0 (empty).
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA application_id={APPLICATION_ID}")
    raw.commit()
    raw.close()
    conn = open_database(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    open_database(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version={LATEST + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="newer Doorwatch"):
        open_database(path)


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE t (x)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="another application"):
        open_database(path)
    # and the foreign file is left as it was
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT name FROM sqlite_schema").fetchall() == [("t",)]
    raw.close()


def test_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a Doorwatch database"):
        open_database(path)
    assert path.read_bytes() == b"this is not a database" * 100


def test_audit_log_is_append_only(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "db.sqlite")
    conn.execute("INSERT INTO audit_log (at, actor, action) VALUES (1, 'alice', 'login')")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'mallory'")
    assert conn.execute("SELECT actor FROM audit_log").fetchall() == [("alice",)]
    conn.close()


async def test_async_store_commits_or_rolls_back(tmp_path: Path) -> None:

    def put(conn: sqlite3.Connection, key: str) -> None:
        conn.execute("INSERT INTO meta (key, value) VALUES (?, 'v')", (key,))

    def put_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO meta (key, value) VALUES ('half', 'v')")
        raise RuntimeError("boom")

    def keys(conn: sqlite3.Connection) -> list[str]:
        return [r[0] for r in conn.execute("SELECT key FROM meta ORDER BY key")]

    async with AsyncStore.open(tmp_path / "db.sqlite") as store:
        async with trio.open_nursery() as nursery:
            for i in range(20):
                nursery.start_soon(store.run, put, f"k{i:02d}")
            # a failing job in the middle of a batch undoes only its own writes
            nursery.start_soon(_expect_boom, store, put_then_fail)
            for i in range(20, 40):
                nursery.start_soon(store.run, put, f"k{i:02d}")
        assert await store.run(keys) == [f"k{i:02d}" for i in range(40)]
        # concurrent jobs shared transactions (group commit)
        assert store.transactions < store.jobs


async def _expect_boom(store: AsyncStore, fn: Callable[[sqlite3.Connection], None]) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        await store.run(fn)


async def test_writes_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    async with AsyncStore.open(path) as store:
        await store.run(lambda c: c.execute("INSERT INTO meta VALUES ('a', 'b')"))
    async with AsyncStore.open(path) as store:
        rows = await store.run(lambda c: c.execute("SELECT * FROM meta").fetchall())
    assert rows == [("a", "b")]


def _put(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, 'v')", (key,))


def _meta_keys(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT key FROM meta ORDER BY key")]


async def test_a_failing_job_alone_in_its_transaction_leaves_nothing(tmp_path: Path) -> None:
    def put_then_fail(conn: sqlite3.Connection) -> None:
        _put(conn, "half")
        raise RuntimeError("boom")

    async with AsyncStore.open(tmp_path / "db.sqlite") as store:
        await _expect_boom(store, put_then_fail)
        await store.run(_put, "after")
        assert await store.run(_meta_keys) == ["after"]


async def test_closing_answers_every_job_queued_before_it(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    answered: list[str] = []

    async def put(store: AsyncStore, key: str) -> None:
        await store.run(_put, key)
        answered.append(key)

    def slow(conn: sqlite3.Connection) -> None:
        time.sleep(0.2)  # holds the writer while the other jobs queue up behind it

    async with trio.open_nursery() as nursery, AsyncStore.open(path) as store:
        nursery.start_soon(store.run, slow)
        for i in range(50):
            nursery.start_soon(put, store, f"k{i:02d}")
        await trio.testing.wait_all_tasks_blocked()
        assert not answered  # still queued when the store closes
    assert sorted(answered) == [f"k{i:02d}" for i in range(50)]
    async with AsyncStore.open(path) as store:
        assert await store.run(_meta_keys) == sorted(answered)
        # the batch size is bounded: the writer never holds more than max_batch
        assert store.largest_batch <= 256


async def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    async with AsyncStore.open(tmp_path / "db.sqlite") as store:
        pass
    with pytest.raises(StoreError, match="closed"):
        await store.run(_meta_keys)


@pytest.mark.parametrize("params_per_statement", [999, 4])
async def test_appends_share_a_statement_and_only_a_failing_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, params_per_statement: int
) -> None:
    # 4: the rows take several statements (inside a savepoint).
    monkeypatch.setattr(_store, "_MAX_PARAMS", params_per_statement)
    insert = "INSERT INTO meta (key, value) VALUES (?, 'v')"
    outcomes: dict[str, str] = {}

    async def append(store: AsyncStore, key: str, row: Callable[[], tuple[str]]) -> None:
        try:
            await store.append(insert, row)
        except sqlite3.IntegrityError:
            outcomes[key] = "already there"
        except RuntimeError as exc:
            outcomes[key] = str(exc)
        else:
            outcomes[key] = "written"

    def no_row() -> tuple[str]:
        raise RuntimeError("no row")

    writing = threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        writing.set()
        time.sleep(0.2)  # holds the writer while the others queue up behind it

    keys = [f"k{i:02d}" for i in range(20)]
    async with AsyncStore.open(tmp_path / "db.sqlite") as store:
        await store.run(_put, "k05")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.run, slow)
            await trio.to_thread.run_sync(writing.wait)
            for key in keys[:10]:
                nursery.start_soon(append, store, key, lambda key=key: (key,))
            nursery.start_soon(append, store, "bad", no_row)
            # A function between the appends runs in order, in the same transaction.
            nursery.start_soon(store.run, _put, "function")
            for key in keys[10:]:
                nursery.start_soon(append, store, key, lambda key=key: (key,))
        assert outcomes == {
            **{key: "written" for key in keys if key != "k05"},
            "k05": "already there",
            "bad": "no row",
        }
        assert await store.run(_meta_keys) == sorted([*keys, "function"])
        # The slow job's transaction, then one for the 22 queued behind it.
        assert store.largest_batch == 22
