"""Fixtures that start real `doorwatch` daemons as separate processes."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from doorwatch.node.testing import PASSWORD, Daemon, doorwatch


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Daemon]:
    """An initialised node (super administrator `admin`), not yet started."""
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    data = tmp_path / "node"
    done = doorwatch(
        "init",
        "--data-dir",
        str(data),
        "--venue",
        "The Crown",
        "--admin-user",
        "admin",
        "--password-file",
        str(pw),
    )
    assert done.returncode == 0, done.stderr
    daemon = Daemon(data, tmp_path / "daemon.log")
    yield daemon
    if daemon.proc is not None:
        daemon.stop(signal.SIGKILL)
    assert daemon.unexpected_errors() == []
