"""Helpers for testing against real daemons: run `doorwatch`, drive a node's socket.

Used by Doorwatch's own tests and usable by a scanner integrator's: ``Daemon``
starts ``doorwatch run`` as a separate process (so it can be killed with
SIGKILL), ``RpcClient`` is a blocking JSON-RPC client of the local socket,
``sample_document`` a valid scanned ID document (fictional) to submit.

Every command and daemon started here gets the storage key's passphrase
``PASSPHRASE`` in ``DOORWATCH_PASSPHRASE`` (pass ``passphrase=None`` to start
one without) and ``DOORWATCH_INSECURE_TEST_KDF=1``, so that the keys of the
nodes a test makes are sealed with the test-only Argon2id cost: never set
that variable for a venue's node.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from doorwatch.node._storage_key import (
    CREDENTIALS_ENV,
    PASSPHRASE_ENV,
    PASSPHRASE_FILE_ENV,
    TEST_KDF_ENV,
)

PASSWORD = "correct horse battery"  # noqa: S105 - a test account
PASSPHRASE = "test nodes' storage key passphrase"  # noqa: S105 - test nodes only


def environment(passphrase: str | None = PASSPHRASE, **extra: str) -> dict[str, str]:
    """This process's environment for a `doorwatch` child: ``passphrase`` as the only
    source of the storage key's passphrase (none with None), the test-only Argon2id cost
    for the keys it seals, and ``extra``."""
    env = dict(os.environ)
    for name in (PASSPHRASE_ENV, CREDENTIALS_ENV, PASSPHRASE_FILE_ENV):
        env.pop(name, None)
    if passphrase is not None:
        env[PASSPHRASE_ENV] = passphrase
    env[TEST_KDF_ENV] = "1"
    env.update(extra)
    return env


# Browser tests and the console bench drive Debian's Chromium (Playwright's own browser
# download is not reachable here), headless, with no call home.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--lang=en-GB",  # date fields day first, as on a UK venue's tablet
]


# A fictional UK passport, valid until 2033, of an adult: the fields of the
# identity model (docs/api.md, scan.submit's "document").
_SAMPLE_DOCUMENT: dict[str, Any] = {
    "document_type": "passport",
    "document_number": "925665416",
    "given_names": "Jordan Lee",
    "surname": "Pemberton-Hale",
    "date_of_birth": "1995-07-04",
    "expiry_date": "2033-03-01",
    "issuing_country": "GBR",
}


def follow(page: Any, link: str) -> None:
    """In a Playwright page, click the navigation link named ``link`` and wait until the
    new page's controls answer (its script marks ``<html data-ready>`` once bound)."""
    with page.expect_navigation():
        page.get_by_role("link", name=link).click()
    page.locator("html[data-ready]").wait_for(state="attached")


def sample_document(**overrides: Any) -> dict[str, Any]:
    """A new copy of the sample document, with ``overrides`` applied (a field set to
    None is left out)."""
    document = {**_SAMPLE_DOCUMENT, **overrides}
    return {k: v for k, v in document.items() if v is not None}


def doorwatch(
    *args: str, timeout: float = 120, passphrase: str | None = PASSPHRASE, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the `doorwatch` command to completion (stdin not a terminal, so it never
    prompts; ``environment(passphrase, **env)``); the caller checks the outcome."""
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "doorwatch.cli", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=environment(passphrase, **env),
    )


class RpcClient:
    """A blocking JSON-RPC client over the node's Unix socket, as a scanner would use."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        try:
            self.sock.connect(str(path))
        except OSError:
            self.sock.close()
            raise
        self.buf = b""
        self.next_id = 1
        self.notifications: list[dict[str, object]] = []

    def call(self, method: str, **params: object) -> dict[str, object]:
        rid = self.next_id
        self.next_id += 1
        line = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        self.sock.sendall(json.dumps(line).encode() + b"\n")
        while True:
            while b"\n" not in self.buf:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("the node closed the connection")
                self.buf += data
            raw, self.buf = self.buf.split(b"\n", 1)
            reply: dict[str, object] = json.loads(raw)
            if "id" not in reply:  # a notification (e.g. match.updated): kept aside
                self.notifications.append(reply)
                continue
            assert reply["id"] == rid
            return reply

    def result(self, method: str, **params: object) -> object:
        reply = self.call(method, **params)
        assert "error" not in reply, reply
        return reply["result"]

    def close(self) -> None:
        self.sock.close()


class Daemon:
    def __init__(
        self, data_dir: Path, log_path: Path, *, passphrase: str | None = PASSPHRASE
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.passphrase = passphrase
        self.proc: subprocess.Popen[bytes] | None = None
        self.clients: list[RpcClient] = []

    def start(self, *extra_args: str) -> None:
        """Start `doorwatch run` (``extra_args`` e.g. ``--listen ...``); wait for its socket."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "doorwatch.cli",
                "run",
                "--data-dir",
                str(self.data_dir),
                *extra_args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=self.environment(),
        )
        log.close()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited early:\n{self.log_path.read_text()}")
            try:
                RpcClient(self.data_dir / "doorwatch.sock").close()
            except OSError:
                time.sleep(0.05)
            else:
                return
        raise AssertionError("daemon did not open its socket within 90 s")

    def environment(self) -> dict[str, str]:
        """The daemon's environment (``environment`` with its passphrase, JSON logs)."""
        # Many daemons at once: each console on a free loopback port (node.status says which).
        console = os.environ.get("DOORWATCH_CONSOLE_LISTEN", "127.0.0.1:0")
        return environment(
            self.passphrase, DOORWATCH_LOG_FORMAT="json", DOORWATCH_CONSOLE_LISTEN=console
        )

    def client(self, user: str = "admin", password: str = PASSWORD) -> RpcClient:
        c = RpcClient(self.data_dir / "doorwatch.sock")
        self.clients.append(c)
        c.result("session.login", username=user, password=password)
        return c

    def stop(self, sig: int = signal.SIGTERM) -> int:
        for c in self.clients:
            c.close()
        self.clients.clear()
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.proc = None
        return code

    def log_lines(self) -> list[str]:
        return self.log_path.read_text().splitlines() if self.log_path.exists() else []

    def unexpected_errors(self) -> list[str]:
        bad = []
        for line in self.log_lines():
            try:
                event = json.loads(line)
            except ValueError:
                bad.append(line)  # not a structured log line: a traceback or a stray print
                continue
            if event.get("level") in ("error", "critical"):
                bad.append(line)
        return bad
