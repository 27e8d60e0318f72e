"""The demo's node processes: start real `doorwatch run` daemons, talk to them, stop them.

Each venue of the demo is a separate ``doorwatch run`` process on 127.0.0.1,
started with ``DOORWATCH_DEMO_CLOCK=1`` (its clock can be moved forward with
``clock.advance``) and logging JSON to a file in its data directory. The
demo talks to each over its local socket exactly as a scanner would, with
``DemoClient`` (the command line's own ``NodeClient``, logged in as a staff
user). ``stop_all`` sends SIGTERM to every process at once, then
SIGKILL to any still running after a grace period, and reaps them all: it is
called on every way out of the demo. On Linux each child also asks the kernel
for SIGTERM should the demo itself die without cleaning up.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doorwatch.cli._client import ClientError, NodeClient, RpcError
from doorwatch.node._clock import DEMO_CLOCK_ENV
from doorwatch.node._datadir import DataDir
from doorwatch.node._storage_key import CREDENTIALS_ENV, PASSPHRASE_ENV, PASSPHRASE_FILE_ENV

STOP_GRACE_S = 10.0
READY_TIMEOUT_S = 60.0
CALL_TIMEOUT_S = 30.0
LOOPBACK = "/ip4/127.0.0.1/tcp/0"
MAX_SOCKET_PATH = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Group)\b")


class DemoFailed(Exception):
    """A step did not do what it says; the message is one sentence saying why."""


class DemoClient:
    """A logged-in connection to one node (the command line's ``NodeClient``).

    Its failures are ``DemoFailed`` naming the venue; the ``match.updated``
    notifications it receives are kept for ``next_update``.
    """

    def __init__(self, conn: NodeClient, venue: str) -> None:
        self.conn = conn
        self.venue = venue
        self.notifications: list[dict[str, Any]] = []
        conn.on_notification = self.notifications.append

    @classmethod
    def login(cls, data_dir: Path, venue: str, user: str, password: str) -> DemoClient:
        """Connect to the node of ``data_dir`` and log in as ``user``."""
        try:
            conn = NodeClient.open(data_dir, user=user, password=password, timeout=CALL_TIMEOUT_S)
        except RpcError as exc:
            raise DemoFailed(f"{venue} refused session.login: {exc}") from None
        except ClientError as exc:
            raise DemoFailed(f"{venue} did not answer session.login: {exc}") from None
        return cls(conn, venue)

    def ask(self, method: str, **params: object) -> Any:
        """Call ``method``; its result, or DemoFailed naming the venue and the node's reason."""
        try:
            return self.conn.call(method, **params)
        except RpcError as exc:
            raise DemoFailed(f"{self.venue} refused {method}: {exc}") from None
        except ClientError as exc:
            raise DemoFailed(f"{self.venue} did not answer {method}: {exc}") from None

    def next_update(self, match_id: str, timeout_s: float) -> dict[str, Any]:
        """The next ``match.updated`` notification about ``match_id`` on this connection."""
        deadline = time.monotonic() + timeout_s
        while True:
            for n in self.notifications:
                params = n.get("params")
                if (
                    n.get("method") == "match.updated"
                    and isinstance(params, dict)
                    and params.get("match_id") == match_id
                ):
                    self.notifications.remove(n)
                    return params
            left = deadline - time.monotonic()
            if left <= 0:
                raise DemoFailed(f"{self.venue} sent no news of the match within {timeout_s:.0f} s")
            try:
                note = self.conn.next_notification(left)
            except ClientError as exc:
                raise DemoFailed(f"the connection to {self.venue} failed: {exc}") from None
            if note is not None:
                self.notifications.append(note)

    def close(self) -> None:
        self.conn.close()


@dataclass
class DemoNode:
    """One venue: its data directory, its daemon process, its logins."""

    letter: str
    venue: str
    data_dir: Path
    password: str
    # Seals the node's storage key; handed to its daemon in DOORWATCH_PASSPHRASE.
    passphrase: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    proc: subprocess.Popen[bytes] | None = None
    peer_id: str = ""
    users: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, DemoClient] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.venue} ({self.letter})"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def socket_path(self) -> Path:
        return DataDir(self.data_dir).socket

    def check_socket_path(self) -> None:
        """Refuse a directory too deep for the node's socket (Unix socket paths are short).

        The daemon binds a temporary name (``.doorwatch.sock.<pid>``) before
        renaming it, so that longer name must fit too.
        """
        longest = self.socket_path.with_name(f".{self.socket_path.name}.{'9' * 7}")
        if len(os.fsencode(longest)) > MAX_SOCKET_PATH:
            raise DemoFailed(
                f"the directory {self.data_dir.parent} is too deep for the nodes' sockets "
                f"(at most {MAX_SOCKET_PATH} bytes); use a shorter --data-dir or TMPDIR"
            )

    def start(self) -> None:
        """Start ``doorwatch run`` on loopback (returns at once; see ``wait_ready``)."""
        # DOORWATCH_DEBUG: a node that fails leaves its traceback in its log.
        env = dict(os.environ, DOORWATCH_LOG_FORMAT="json", DOORWATCH_DEBUG="1")
        env[DEMO_CLOCK_ENV] = "1"
        for other in (CREDENTIALS_ENV, PASSPHRASE_FILE_ENV):  # the demo's passphrase, no other
            env.pop(other, None)
        env[PASSPHRASE_ENV] = self.passphrase
        env.setdefault("DOORWATCH_CONSOLE_LISTEN", "127.0.0.1:0")  # three nodes, three consoles
        with open(self.log_path, "ab") as log:
            run = ["run", "--data-dir", str(self.data_dir), "--listen", LOOPBACK]
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "doorwatch.cli", *run],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )

    def wait_ready(self, deadline: float) -> None:
        """Wait until the daemon answers on its socket, or say why it did not."""
        while True:
            if self.proc is None or self.proc.poll() is not None:
                raise DemoFailed(
                    f"the node of {self.venue} stopped at start-up: {self.last_error()}"
                )
            try:
                NodeClient(self.data_dir, timeout=CALL_TIMEOUT_S).close()
            except ClientError:
                if time.monotonic() > deadline:
                    raise DemoFailed(
                        f"the node of {self.venue} did not open its socket in time"
                    ) from None
                time.sleep(0.05)
            else:
                return

    def client(self, user: str) -> DemoClient:
        """This user's logged-in connection, kept open for the next call."""
        client = self.sessions.get(user)
        if client is None:
            client = DemoClient.login(self.data_dir, self.venue, user, self.users[user])
            self.sessions[user] = client
        return client

    def forget_sessions(self) -> None:
        """Close every connection (the next call logs in again)."""
        for client in self.sessions.values():
            client.close()
        self.sessions.clear()

    def error_lines(self) -> list[str]:
        """The log's events at ERROR or worse (and anything that is not a JSON log line)."""
        bad: list[str] = []
        if not self.log_path.exists():
            return bad
        for line in self.log_path.read_text("utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                bad.append(line)
                continue
            if isinstance(event, dict) and event.get("level") in ("error", "critical"):
                bad.append(str(event.get("event", line)))
        return bad

    def last_error(self) -> str:
        """The last error the node logged: an exception's last line rather than a frame."""
        lines = [line.strip(" |+-") for line in self.error_lines()]
        raised = [line for line in lines if _EXCEPTION_LINE.match(line)]
        lines = raised or [line for line in lines if line]
        return lines[-1] if lines else f"see its log {self.log_path}"

    def stored_record(self, alert_id: str) -> tuple[int, str] | None:
        """(version, status) of the alert's envelope in this node's database, or None.

        Read-only, from the clear header fields of the replicated record (the
        content is sealed under the group key): how the demo shows what a
        venue outside the alert's group holds without being able to read it.
        """
        uri = f"file:{DataDir(self.data_dir).database}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=5)
        except sqlite3.Error as exc:
            raise DemoFailed(f"cannot read the database of {self.venue}: {exc}") from None
        try:
            row = conn.execute(
                "SELECT version, status FROM alert_envelopes WHERE alert_id = ?",
                (bytes.fromhex(alert_id),),
            ).fetchone()
        except sqlite3.Error as exc:
            raise DemoFailed(f"cannot read the database of {self.venue}: {exc}") from None
        finally:
            conn.close()
        return None if row is None else (int(row[0]), str(row[1]))


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM this process when the demo process dies."""
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def stop_all(nodes: Iterable[DemoNode], grace_s: float = STOP_GRACE_S) -> list[str]:
    """SIGTERM every running daemon, SIGKILL what is left after ``grace_s``; reap all.

    Returns what had to be killed (by venue), for the transcript.
    """
    running = [n for n in nodes if n.proc is not None]
    for n in running:
        assert n.proc is not None
        with contextlib.suppress(ProcessLookupError):
            n.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    killed: list[str] = []
    for n in running:
        assert n.proc is not None
        try:
            n.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                n.proc.kill()
            n.proc.wait()
            killed.append(n.venue)
        n.proc = None
    return killed


def wait_until(
    what: str, check: Callable[[], bool], timeout_s: float, every_s: float = 0.01
) -> int:
    """Poll ``check`` until true; the milliseconds it took, or DemoFailed naming ``what``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            raise DemoFailed(f"{what} did not happen within {timeout_s:.0f} s")
        time.sleep(every_s)
    return round((time.monotonic() - start) * 1000)
