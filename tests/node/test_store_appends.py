"""AsyncStore.append: rows sqlite3 cannot bind, rows of the wrong length, order with functions."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import trio

from doorwatch.node._store import AsyncStore

INSERT = "INSERT INTO meta (key, value) VALUES (?, ?)"


def _meta(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return [tuple(r) for r in conn.execute("SELECT key, value FROM meta ORDER BY key")]


async def _batched(
    store: AsyncStore, jobs: list[tuple[str, Callable[[], Sequence[object]]]]
) -> dict[str, str]:
    """Queue ``jobs`` as appends behind a slow job, so they share one transaction."""
    outcomes: dict[str, str] = {}
    writing = threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        writing.set()
        time.sleep(0.2)

    async def append(name: str, row: Callable[[], Sequence[object]]) -> None:
        try:
            await store.append(INSERT, row)
        except Exception as exc:  # what the caller sees
            outcomes[name] = type(exc).__name__
        else:
            outcomes[name] = "written"

    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.run, slow)
        await trio.to_thread.run_sync(writing.wait)
        for name, row in jobs:
            nursery.start_soon(append, name, row)
    return outcomes


async def test_a_row_sqlite3_cannot_bind_fails_only_its_own_append(tmp_path: Path) -> None:
    async with AsyncStore.open(tmp_path / "db.sqlite") as store:
        outcomes = await _batched(
            store,
            [
                ("a", lambda: ("a", "v")),
                ("huge", lambda: ("huge", 2**64)),  # OverflowError, not a sqlite3.Error
                ("b", lambda: ("b", "v")),
            ],
        )
        assert outcomes == {"a": "written", "huge": "OverflowError", "b": "written"}
        assert await store.run(_meta) == [("a", "v"), ("b", "v")]


async def test_rows_of_the_wrong_length_fail_and_shift_nothing(tmp_path: Path) -> None:
    async with AsyncStore.open(tmp_path / "db.sqlite") as store:
        outcomes = await _batched(
            store,
            [
                ("short", lambda: ("short",)),
                ("long", lambda: ("long", "v", "extra")),
                ("ok", lambda: ("ok", "v")),
            ],
        )
        assert outcomes["ok"] == "written"
        assert outcomes["short"] != "written"
        assert outcomes["long"] != "written"
        assert await store.run(_meta) == [("ok", "v")]


async def test_a_function_queued_between_appends_sees_those_before_it(tmp_path: Path) -> None:
    seen: list[int] = []

    def count(conn: sqlite3.Connection) -> None:
        seen.append(conn.execute("SELECT count(*) FROM meta").fetchone()[0])

    writing = threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        writing.set()
        time.sleep(0.2)

    async with AsyncStore.open(tmp_path / "db.sqlite") as store:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.run, slow)
            await trio.to_thread.run_sync(writing.wait)
            for key in ("a", "b", "c"):
                nursery.start_soon(store.append, INSERT, lambda key=key: (key, "v"))
                await trio.sleep(0.01)  # queued in this order (trio may reorder a batch)
            nursery.start_soon(store.run, count)
            await trio.sleep(0.01)
            nursery.start_soon(store.append, INSERT, lambda: ("d", "v"))
        assert seen == [3]
        assert store.largest_batch == 5
