"""Staff users: unique logins, Argon2id password hashes.

Every login attempt that is checked, successful or not, is audited
(agreement §6.5.1: each member of staff has their own login and the venue
keeps an audit log of who logged on and when). Wrong passwords do not lock
the account (a guesser could then lock out its user): they slow down their
source instead (``_login_throttle``). ``failed_logins`` still counts the
wrong passwords since the last login, for the audit's reader; ``locked_until``
is no longer set.

No user enumeration: an unknown name, a disabled account and a wrong
password get the same error after the same work (one Argon2 verification,
against a dummy hash for an unknown name); only the audit log says which. An
unknown name is audited as ``UNKNOWN_USER``, never verbatim.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from doorwatch.crypto import hash_password, verify_password
from doorwatch.node import _audit
from doorwatch.node._errors import (
    ApiError,
    Conflict,
    InvalidParams,
    NotFound,
    Unauthenticated,
)
from doorwatch.node._roles import Role

MIN_PASSWORD_LENGTH = 8
# Verified against when the user name is unknown, so a wrong name costs the
# same time as a wrong password and does not reveal which names exist.
_DUMMY_HASH = hash_password("doorwatch-dummy-password")
REFUSED = (
    "wrong user name or password, or the account is disabled; ask an administrator if it goes on"
)
"""The one refusal of session.login, whatever the cause (no user enumeration)."""
UNKNOWN_USER = "(unknown user)"
"""The audit actor of a login with a name that is not a user's (it may be a
mistyped password): the name itself is never recorded. Not a valid user name."""


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    disabled: bool
    created_at: int

    def to_json(self) -> dict[str, object]:
        return {
            "username": self.username,
            "role": self.role.value,
            "disabled": self.disabled,
            "created_at": self.created_at,
        }


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidParams(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")


def add_user(
    conn: sqlite3.Connection, *, username: str, role: Role, password_hash: str, now: int, actor: str
) -> User:
    try:
        conn.execute(
            "INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
            (username, role.value, password_hash, now),
        )
    except sqlite3.IntegrityError:
        raise Conflict(f"there is already a user called {username!r}") from None
    _audit.record(
        conn, at=now, actor=actor, action="user.add", detail={"user": username, "role": role.value}
    )
    return User(username, role, False, now)


def list_users(conn: sqlite3.Connection) -> list[User]:
    rows = conn.execute("SELECT username, role, disabled, created_at FROM users ORDER BY username")
    return [User(r[0], Role(r[1]), bool(r[2]), r[3]) for r in rows]


def disable_user(conn: sqlite3.Connection, *, username: str, now: int, actor: str) -> None:
    cur = conn.execute("UPDATE users SET disabled = 1 WHERE username = ?", (username,))
    if cur.rowcount == 0:
        raise NotFound("username: there is no user with this name")
    _audit.record(conn, at=now, actor=actor, action="user.disable", detail={"user": username})


def set_password(
    conn: sqlite3.Connection, *, username: str, password_hash: str, now: int, actor: str
) -> None:
    cur = conn.execute(
        "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = 0 "
        "WHERE username = ?",
        (password_hash, username),
    )
    if cur.rowcount == 0:
        raise NotFound("username: there is no user with this name")
    _audit.record(conn, at=now, actor=actor, action="user.passwd", detail={"user": username})


def stored_hash(conn: sqlite3.Connection, username: str) -> str:
    row = conn.execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()
    return str(row[0]) if row else _DUMMY_HASH


def known_actor(conn: sqlite3.Connection, username: str | None) -> str:
    """``username`` if it names a staff user, else ``UNKNOWN_USER``: what the audit
    log records for a login attempt (a mistyped name may be a password)."""
    if username is not None:
        row = conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
        if row is not None:
            return username
    return UNKNOWN_USER


def finish_login(
    conn: sqlite3.Connection, *, username: str, password_ok: bool, now: int
) -> User | ApiError:
    """Apply the outcome of a password check (done off the database thread).

    A refusal is returned, not raised, so that its audit entry and the
    failure count commit with the transaction; the caller raises it. Every
    refusal is the same ``REFUSED`` error, whatever the cause: the audit
    log, not the client, says which.
    """
    row = conn.execute(
        "SELECT role, disabled, failed_logins, created_at FROM users WHERE username = ?",
        (username,),
    ).fetchone()
    if row is None:
        _audit.record(
            conn, at=now, actor=UNKNOWN_USER, action="login.failed", detail={"why": "unknown user"}
        )
        return refused()
    role, disabled, failures, created_at = row
    if disabled:
        _audit.record(
            conn, at=now, actor=username, action="login.failed", detail={"why": "disabled"}
        )
        return refused()
    if not password_ok:
        conn.execute(
            "UPDATE users SET failed_logins = ? WHERE username = ?", (failures + 1, username)
        )
        _audit.record(
            conn,
            at=now,
            actor=username,
            action="login.failed",
            detail={"why": "wrong password"},
        )
        return refused()
    conn.execute(
        "UPDATE users SET failed_logins = 0, locked_until = 0 WHERE username = ?", (username,)
    )
    _audit.record(conn, at=now, actor=username, action="login")
    return User(username, Role(role), False, created_at)


def refused() -> Unauthenticated:
    return Unauthenticated(REFUSED)


def verify_login_password(stored: str, password: str) -> bool:
    return verify_password(stored, password)
