"""A listen address the node cannot use stops `doorwatch run` at start-up, in one sentence."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from doorwatch.node.testing import Daemon


def failed_start(node: Daemon, tmp_path: Path, addr: str) -> tuple[int, list[str]]:
    """Run the daemon with ``--listen addr``; its exit status and its non-log output lines."""
    daemon = Daemon(node.data_dir, tmp_path / "failed.log")
    try:
        with pytest.raises(AssertionError, match="daemon exited early"):
            daemon.start("--listen", addr)
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.stop()  # it started (the failure this test is about): leave nothing behind
    assert daemon.proc is not None
    code = daemon.proc.wait(timeout=30)
    daemon.proc = None
    output = [line for line in daemon.log_lines() if not _is_log_event(line)]
    assert [line for line in daemon.unexpected_errors() if _is_log_event(line)] == []
    return code, output


def _is_log_event(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def test_an_address_the_machine_does_not_have_is_a_start_up_error(
    node: Daemon, tmp_path: Path
) -> None:
    code, output = failed_start(node, tmp_path, "/ip4/203.0.113.9/tcp/4001")
    assert code != 0
    [line] = output  # one sentence, no traceback
    assert "/ip4/203.0.113.9/tcp/4001" in line
    assert "Cannot assign requested address" in line
    assert not (node.data_dir / "doorwatch.sock").exists()


def test_a_port_in_use_is_a_start_up_error(node: Daemon, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = failed_start(node, tmp_path, f"/ip4/127.0.0.1/tcp/{port}")
    assert code != 0
    [line] = output
    assert f"/ip4/127.0.0.1/tcp/{port}" in line
    assert "Address already in use" in line


def test_the_node_still_starts_on_a_free_address(node: Daemon) -> None:
    node.start("--listen", "/ip4/127.0.0.1/tcp/0")
    status = node.client().result("node.status")
    assert status["listen_addresses"]  # type: ignore[index]
