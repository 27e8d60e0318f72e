"""Fixtures for network tests: several real `doorwatch` daemons on 127.0.0.1."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from doorwatch.node.testing import PASSWORD, Daemon, doorwatch


class Nodes:
    """Initialised nodes by name; every daemon is stopped and its log checked at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.daemons: dict[str, Daemon] = {}
        self.allowed_errors: dict[str, list[str]] = {}

    def new(self, name: str, venue: str) -> Daemon:
        pw = self.root / "pw"
        pw.write_text(PASSWORD + "\n")
        data = self.root / name
        done = doorwatch(
            "init",
            "--data-dir",
            str(data),
            "--venue",
            venue,
            "--admin-user",
            "admin",
            "--password-file",
            str(pw),
        )
        assert done.returncode == 0, done.stderr
        daemon = Daemon(data, self.root / f"{name}.log")
        self.daemons[name] = daemon
        return daemon

    def allow_error(self, name: str, fragment: str) -> None:
        self.allowed_errors.setdefault(name, []).append(fragment)

    def unexpected_errors(self) -> dict[str, list[str]]:
        out = {}
        for name, daemon in self.daemons.items():
            allowed = self.allowed_errors.get(name, [])
            bad = [
                line
                for line in daemon.unexpected_errors()
                if not any(fragment in _message(line) for fragment in allowed)
            ]
            if bad:
                out[name] = bad
        return out


def _message(line: str) -> str:
    try:
        event = json.loads(line)
    except ValueError:
        return line
    return str(event.get("event", ""))


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    n = Nodes(tmp_path)
    yield n
    for daemon in n.daemons.values():
        if daemon.proc is not None:
            daemon.stop(signal.SIGTERM)
    assert n.unexpected_errors() == {}
