"""The data directory: permissions, secrets and the one-daemon lock."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from doorwatch.node._datadir import DataDir
from doorwatch.node._errors import DataDirError, DataDirLocked


def test_created_private(tmp_path: Path) -> None:
    d = DataDir(tmp_path / "node")
    d.create()
    assert stat.S_IMODE(d.path.stat().st_mode) == 0o700


def test_secret_files_are_owner_only(tmp_path: Path) -> None:
    d = DataDir(tmp_path / "node")
    d.create()
    path = d.write_secret("node.key", b"k" * 32)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert d.read_secret("node.key") == b"k" * 32


def test_secret_readable_by_others_is_refused(tmp_path: Path) -> None:
    d = DataDir(tmp_path / "node")
    d.create()
    path = d.write_secret("node.key", b"k" * 32)
    path.chmod(0o644)
    with pytest.raises(DataDirError, match="readable by other accounts"):
        d.read_secret("node.key")


def test_second_daemon_refuses(tmp_path: Path) -> None:
    first, second = DataDir(tmp_path / "node"), DataDir(tmp_path / "node")
    first.create()
    first.lock()
    with pytest.raises(DataDirLocked, match="already running"):
        second.lock()
    first.unlock()
    second.lock()
    second.unlock()
