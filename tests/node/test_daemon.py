"""The daemon as a real process: init, run, log in, stop cleanly, refuse a second one."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import stat
from pathlib import Path
from typing import Any

from doorwatch.node.testing import Daemon, RpcClient, doorwatch


def test_init_run_login_status_stop(node: Daemon) -> None:
    node.start()
    for name in ("node.key", "storage.key", "doorwatch.cookie", "doorwatch.sock"):
        assert stat.S_IMODE((node.data_dir / name).stat().st_mode) == 0o600, name
    c = node.client()
    status = c.result("node.status")
    assert status["venue"] == "The Crown"  # type: ignore[index]
    assert status["peer_id"].startswith("12D3KooW")  # type: ignore[index]
    assert node.stop(signal.SIGTERM) == 0
    assert not (node.data_dir / "doorwatch.sock").exists()
    assert not (node.data_dir / "doorwatch.cookie").exists()
    assert "Traceback" not in node.log_path.read_text()


def test_second_daemon_on_same_directory_refuses(node: Daemon) -> None:
    node.start()
    second = doorwatch("run", "--data-dir", str(node.data_dir))
    assert second.returncode == 1
    assert "already running" in second.stderr
    assert "Traceback" not in second.stderr
    # the first one is unharmed
    assert node.client().result("node.status")["venue"] == "The Crown"  # type: ignore[index]


def test_wrong_password_is_refused_and_audited(node: Daemon) -> None:
    node.start()
    c = node.client()
    other = RpcClient(node.data_dir / "doorwatch.sock")
    reply = other.call("session.login", username="admin", password="not the password")
    assert reply["error"]["code"] == 1001  # type: ignore[index]
    other.close()
    actions = [e["action"] for e in c.result("audit.query")]  # type: ignore[union-attr, index]
    assert actions.count("login") == 1
    assert "login.failed" in actions


def test_cookie_login_for_the_local_account(node: Daemon) -> None:
    node.start()
    cookie = (node.data_dir / "doorwatch.cookie").read_text()
    c = RpcClient(node.data_dir / "doorwatch.sock")
    assert c.result("session.login", cookie=cookie)["role"] == "super_administrator"  # type: ignore[index]
    c.close()


def test_init_refuses_an_existing_node(node: Daemon, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    again = doorwatch(
        "init",
        "--data-dir",
        str(node.data_dir),
        "--venue",
        "Other",
        "--admin-user",
        "bob",
        "--password-file",
        str(pw),
    )
    assert again.returncode == 1
    assert "already holds a Doorwatch node" in again.stderr
    db = sqlite3.connect(node.data_dir / "doorwatch.sqlite")
    assert db.execute("SELECT username FROM users").fetchall() == [("admin",)]
    db.close()
    cfg = json.loads((node.data_dir / "config.json").read_text())
    assert cfg["venue"] == "The Crown"


def _tcp_api(node: Daemon) -> int:
    """Turn on the loopback TCP listener (a second source besides the Unix socket)."""
    config = node.data_dir / "config.json"
    cfg = json.loads(config.read_text())
    cfg["api_tcp"] = "127.0.0.1:0"
    config.write_text(json.dumps(cfg))
    node.start()
    return _tcp_port(node)


def test_a_guesser_slows_itself_down_and_cannot_lock_out_the_user(node: Daemon) -> None:
    port = _tcp_api(node)
    admin = node.client()
    admin.result("user.add", username="door1", role="door_staff", password="door1-password")
    token = (node.data_dir / "api.token").read_text().strip()
    guesser = socket.create_connection(("127.0.0.1", port), timeout=30)
    lines = guesser.makefile("rb")

    def guess(n: int, password: str) -> dict[str, Any]:
        req = {
            "jsonrpc": "2.0",
            "id": n,
            "method": "session.login",
            "params": {"username": "door1", "password": password, "token": token},
        }
        guesser.sendall(json.dumps(req).encode() + b"\n")
        reply: dict[str, Any] = json.loads(lines.readline())
        return reply["error"]

    try:
        errors = [guess(n, f"guess-{n}") for n in range(10)]
        codes = [e["code"] for e in errors]
        # The first few are checked (and audited); then the guesser must wait, longer
        # each time, and attempts made before then are refused at once.
        assert codes[:3] == [1001] * 3
        assert set(codes) == {1001, 1006}
        waits = [e["data"]["retry_after_s"] for e in errors if e["code"] == 1006]
        assert all(1 <= w <= 60 for w in waits)
        # Even the right password waits its turn from the guesser's source...
        assert guess(10, "door1-password")["code"] == 1006
    finally:
        guesser.close()
    # ... but the user logs in at once from another (the Unix socket): no lockout.
    door = node.client("door1", "door1-password")
    assert door.result("node.status")["venue"] == "The Crown"  # type: ignore[index]
    failed = admin.result("audit.query", action="login.failed", actor="door1")
    assert len(failed) == codes.count(1001)  # type: ignore[arg-type]
    assert {e["detail"]["why"] for e in failed} == {"wrong password"}  # type: ignore[union-attr, index]


def test_a_flood_of_logins_is_refused_as_busy_beyond_a_small_queue(node: Daemon) -> None:
    node.start()
    admin = node.client()
    flood = 40
    socks = [socket.socket(socket.AF_UNIX) for _ in range(flood)]
    try:
        for s in socks:
            s.settimeout(60)
            s.connect(str(node.data_dir / "doorwatch.sock"))
        for n, s in enumerate(socks):
            req = {
                "jsonrpc": "2.0",
                "id": n,
                "method": "session.login",
                "params": {"username": f"user{n}", "password": "not-a-password"},
            }
            s.sendall(json.dumps(req).encode() + b"\n")
        errors = [json.loads(s.makefile("rb").readline())["error"] for s in socks]
    finally:
        for s in socks:
            s.close()
    codes = [e["code"] for e in errors]
    assert set(codes) <= {1001, 1006, 1009}
    busy = [e for e in errors if e["code"] == 1009]
    assert busy
    assert all(e["message"].startswith("busy:") for e in busy)
    # Only the logins let through did Argon2 work (each checked login is audited).
    checked = admin.result("audit.query", action="login.failed")
    assert len(checked) == codes.count(1001) < flood  # type: ignore[arg-type]


def test_door_staff_cannot_manage_users(node: Daemon) -> None:
    node.start()
    node.client().result("user.add", username="door1", role="door_staff", password="door1-password")
    door = node.client("door1", "door1-password")
    reply = door.call("user.add", username="door2", role="super_administrator", password="x" * 10)
    assert reply["error"]["code"] == 1002  # type: ignore[index]
    assert "super_administrator" in reply["error"]["message"]  # type: ignore[index]


def test_loopback_tcp_needs_the_api_token(node: Daemon) -> None:
    import json as _json
    import socket

    config = node.data_dir / "config.json"
    cfg = _json.loads(config.read_text())
    cfg["api_tcp"] = "127.0.0.1:0"
    config.write_text(_json.dumps(cfg))
    node.start()
    token_file = node.data_dir / "api.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    port = _tcp_port(node)

    def login(**params: object) -> dict[str, object]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            req = {"jsonrpc": "2.0", "id": 1, "method": "session.login", "params": params}
            s.sendall(_json.dumps(req).encode() + b"\n")
            reply: dict[str, object] = _json.loads(s.makefile("rb").readline())
            return reply

    refused = login(username="admin", password="correct horse battery")
    assert refused["error"]["code"] == 1001  # type: ignore[index]
    assert "token" in refused["error"]["message"]  # type: ignore[index]
    token = token_file.read_text().strip()
    ok = login(username="admin", password="correct horse battery", token=token)
    assert ok["result"]["role"] == "super_administrator"  # type: ignore[index]


def _tcp_port(node: Daemon) -> int:
    import json as _json
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in node.log_lines():
            event = _json.loads(line)
            if event.get("event") == "api.listening_tcp":
                return int(event["addresses"][0].rsplit(":", 1)[1])
        time.sleep(0.05)
    raise AssertionError("the daemon did not report its TCP listener")


def test_timestamps_out_of_range_are_invalid_params(node: Daemon) -> None:
    node.start()
    c = node.client()
    for params in ({"since": 2**70}, {"until": -1}):
        reply = c.call("audit.query", **params)
        assert reply["error"]["code"] == -32602, reply  # type: ignore[index]
        assert reply["error"]["message"].startswith(next(iter(params)))  # type: ignore[index]
    reply = c.call("visits.export", **{"from": 0, "to": 2**70})
    assert reply["error"]["code"] == -32602, reply  # type: ignore[index]
    assert reply["error"]["message"].startswith("to:")  # type: ignore[index]
