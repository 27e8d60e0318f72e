"""Staff logins: sessions end with the account, no user enumeration, password work kept
off the database's threads, and an audit log that is append-only in the database."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import trio

from doorwatch.node import _users
from doorwatch.node._api_server import Session
from doorwatch.node._errors import ApiError, ErrorCode
from doorwatch.node._login_throttle import MAX_PENDING
from doorwatch.node._migrations import MIGRATIONS
from doorwatch.node._roles import Role
from doorwatch.node._store import APPLICATION_ID, _statements, open_database
from doorwatch.node._venue_testing import VenueHarness, venue_harness

PASSWORD = "door1-password"


async def add_user(h: VenueHarness, username: str, role: str = "door_staff") -> None:
    boss = h.session(Role.SUPER_ADMINISTRATOR)
    await h.call_as(boss, "user.add", username=username, role=role, password=PASSWORD)


async def login(h: VenueHarness, username: str, password: str = PASSWORD) -> Session:
    session = Session()
    await h.call_as(session, "session.login", username=username, password=password)
    return session


async def refusal(h: VenueHarness, session: Session, method: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await h.call_as(session, method, **params)
    return caught.value


async def test_disabling_a_user_ends_their_open_sessions_at_once(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        await add_user(h, "door1")
        await add_user(h, "door2")
        first, second = await login(h, "door1"), await login(h, "door1")
        other = await login(h, "door2")
        assert (await h.call_as(first, "node.status"))["venue"] == "The Crown"
        await h.call("user.disable", Role.SUPER_ADMINISTRATOR, username="door1")
        for session in (first, second):
            err = await refusal(h, session, "node.status")
            assert err.code == ErrorCode.UNAUTHENTICATED
            err = await refusal(h, session, "scan.submit", document={})
            assert err.code == ErrorCode.UNAUTHENTICATED
        assert (await h.call_as(other, "node.status"))["venue"] == "The Crown"
        err = await refusal(h, Session(), "session.login", username="door1", password=PASSWORD)
        assert err.code == ErrorCode.UNAUTHENTICATED


async def test_a_password_change_ends_the_users_other_sessions(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        await add_user(h, "door1")
        mine, elsewhere = await login(h, "door1"), await login(h, "door1")
        await h.call_as(mine, "user.passwd", username="door1", password="a-new-password")
        err = await refusal(h, elsewhere, "node.status")
        assert err.code == ErrorCode.UNAUTHENTICATED
        assert (await h.call_as(mine, "node.status"))["venue"] == "The Crown"
        # A super administrator resetting it ends every session of that user.
        await h.call(
            "user.passwd", Role.SUPER_ADMINISTRATOR, username="door1", password="reset-by-boss"
        )
        err = await refusal(h, mine, "node.status")
        assert err.code == ErrorCode.UNAUTHENTICATED
        again = await login(h, "door1", "reset-by-boss")
        assert (await h.call_as(again, "node.status"))["venue"] == "The Crown"


async def test_every_refused_login_looks_the_same_and_costs_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    real = _users.verify_login_password

    def counted(stored: str, password: str) -> bool:
        verified.append(password)
        return real(stored, password)

    monkeypatch.setattr(_users, "verify_login_password", counted)
    async with venue_harness(tmp_path) as h:
        for name in ("door1", "gone"):
            await add_user(h, name)
        await h.call("user.disable", Role.SUPER_ADMINISTRATOR, username="gone")
        attempts = {
            "unknown user": ("nobody", PASSWORD),
            "disabled": ("gone", PASSWORD),
            "wrong password": ("door1", "wrong-password"),
        }
        seen = {}
        for n, (why, (username, password)) in enumerate(attempts.items()):
            verified.clear()
            # Each from a source of its own (the throttle is per source).
            source = Session(source=f"uid:{n}")
            err = await refusal(h, source, "session.login", username=username, password=password)
            seen[why] = (err.code, err.message, err.data)
            assert verified == [password], why  # one Argon2 verification, every time
        audit = await h.call("audit.query", Role.ADMINISTRATOR, action="login.failed")
    assert len(set(seen.values())) == 1, seen
    assert next(iter(seen.values()))[0] == ErrorCode.UNAUTHENTICATED
    whys = [e["detail"]["why"] for e in audit[-3:]]
    assert whys == list(attempts)  # the audit log, not the client, says which


async def test_a_burst_of_logins_is_bounded_and_leaves_threads_for_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    lock = threading.Lock()
    running = [0, 0]  # now, most at once

    def slow(stored: str, password: str) -> bool:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        release.wait(60)
        with lock:
            running[0] -= 1
        return False

    monkeypatch.setattr(_users, "verify_login_password", slow)
    burst = trio.to_thread.current_default_thread_limiter().total_tokens + 10
    async with venue_harness(tmp_path) as h:
        refused: list[int] = []

        async def attempt(i: int) -> None:
            session = Session(source=f"uid:{i}")
            err = await refusal(h, session, "session.login", username=f"u{i}", password="pw")
            refused.append(err.code)

        try:
            async with trio.open_nursery() as nursery:
                for i in range(burst):
                    nursery.start_soon(attempt, i)
                with trio.fail_after(30):
                    while running[0] < 2 or len(refused) < burst - MAX_PENDING:
                        await trio.sleep(0.01)
                    # Beyond the bounded queue, logins were refused at once as busy.
                    assert refused == [ErrorCode.BUSY] * (burst - MAX_PENDING)
                    # The database still answers while every login waits on Argon2
                    # (the guard only turns a deadlock into a failure).
                    assert await h.store.run(lambda c: c.execute("SELECT 1").fetchone()) == (1,)
                release.set()
        finally:
            release.set()
    assert sorted(refused) == sorted(
        [ErrorCode.UNAUTHENTICATED] * MAX_PENDING + [ErrorCode.BUSY] * (burst - MAX_PENDING)
    )
    assert running[1] <= 2


async def test_an_unknown_user_name_is_never_written_to_the_audit_log(tmp_path: Path) -> None:
    typo = "Tr0ub4dor-and-3"  # a password typed into the user name field
    async with venue_harness(tmp_path) as h:
        await refusal(h, Session(), "session.login", username=typo, password="x")
        audit = await h.call("audit.query", Role.ADMINISTRATOR, action="login.failed")
        raw = await h.store.run(lambda c: c.execute("SELECT * FROM audit_log").fetchall())
    assert [(e["actor"], e["detail"]) for e in audit] == [
        (_users.UNKNOWN_USER, {"why": "unknown user"})
    ]
    assert typo not in repr(raw)


def test_the_audit_log_refuses_updates_and_deletes(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "db.sqlite")
    conn.execute("INSERT INTO audit_log (at, actor, action) VALUES (1, 'alice', 'login')")
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    assert conn.execute("SELECT actor FROM audit_log").fetchall() == [("alice",)]
    conn.close()


def test_migration_5_redacts_unknown_login_names_and_locks_deletes(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path, isolation_level=None)
    for number, _what, sql in MIGRATIONS[:4]:
        for statement in _statements(sql):
            old.execute(statement)
        old.execute(f"PRAGMA user_version={number}")
    old.execute(f"PRAGMA application_id={APPLICATION_ID}")
    old.execute(
        "INSERT INTO users (username, role, password_hash, created_at) "
        "VALUES ('alice', 'door_staff', 'x', 0)"
    )
    for actor, action in (
        ("alice", "login.failed"),
        ("local-admin", "login.failed"),
        ("hunter2", "login.failed"),
        ("alice", "login"),
    ):
        old.execute("INSERT INTO audit_log (at, actor, action) VALUES (1, ?, ?)", (actor, action))
    old.close()
    conn = open_database(path)
    actors = [r[0] for r in conn.execute("SELECT actor FROM audit_log ORDER BY id")]
    assert actors == ["alice", "local-admin", _users.UNKNOWN_USER, "alice"]
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'x'")
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 5
    conn.close()
