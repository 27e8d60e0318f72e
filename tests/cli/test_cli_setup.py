"""Set-up commands and the command line's own behaviour: default data directory,
config show/set, run's overrides, the health check's rules, start-up imports,
errors without tracebacks.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from doorwatch.cli import app, main
from doorwatch.cli._client import EXIT_ERROR, EXIT_ISOLATED, EXIT_NOT_RUNNING, NodeClient
from doorwatch.cli._options import BadInput, default_data_dir, parse_duration, parse_time
from doorwatch.cli._status import health
from doorwatch.node.testing import PASSWORD, Daemon, doorwatch


def init(data: Path, pw: Path, venue: str = "The Crown") -> None:
    pw.write_text(PASSWORD + "\n")
    done = doorwatch(
        "init", "--data-dir", str(data), "--venue", venue, "--admin-user", "admin",
        "--password-file", str(pw),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def inited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised node, never started; tests that change it work on a copy."""
    base = tmp_path_factory.mktemp("inited")
    init(base / "node", base / "pw")
    return base / "node"


def copy_of(node: Path, tmp_path: Path) -> Path:
    shutil.copytree(node, tmp_path / "node")
    return tmp_path / "node"


def in_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `doorwatch ARGS` in this process (no interpreter start-up), same outcome shape."""
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("doorwatch: ")
    return lines[0]


# -- start-up -------------------------------------------------------------------------------


def test_importing_the_cli_does_not_load_libp2p() -> None:
    probe = (
        "import sys, doorwatch.cli._app; "
        "print(sorted(m for m in ('libp2p', 'trio', 'doorwatch.segments') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_help_lists_every_command_and_lazy_commands_run() -> None:
    done = doorwatch("--help")
    assert done.returncode == 0
    for name in ("init", "run", "status", "user", "alert", "ban", "audit", "visits", "sar",
                 "config", "network", "segments", "api-schema", "report",
                 "scanner"):  # fmt: skip
        assert f" {name} " in done.stdout, name
    assert "3 node not running" in done.stdout
    lazy = in_process("network", "members", "--help")
    assert lazy.returncode == 0
    assert "--network" in lazy.stdout
    assert in_process("api-schema", "--help").returncode == 0
    assert "Cambridge Crime Harm Index" in in_process("report", "--help").stdout


def test_report_usage_errors_are_one_line(tmp_path: Path) -> None:
    period = ("--from", "2026-11-01", "--to", "2026-12-01", "--data-dir", str(tmp_path))
    for args, why in (
        (("--format", "pdf"), "--output: a pdf report needs a file"),
        (("--format", "html"), "--format: give text, json, pdf or png"),
        (("--share", "--network"), "--share and --network"),
    ):
        done = in_process("report", *period, *args)
        assert done.returncode == EXIT_ERROR
        assert why in one_line_error(done)
    bad = in_process("report", "--from", "November", "--to", "2026-12-01")
    assert "--from: give a date" in one_line_error(bad)


@pytest.mark.parametrize(
    "command",
    [
        ["status"], ["user", "add"], ["user", "list"], ["user", "disable"], ["user", "passwd"],
        ["alert", "list"], ["alert", "show"], ["alert", "amend"], ["alert", "annotate"],
        ["alert", "review"], ["alert", "dispute"], ["alert", "withdraw"],
        ["alert", "reinstate"], ["alert", "delete"], ["ban", "add"],
        ["ban", "list"], ["ban", "remove"], ["audit"], ["visits", "export"], ["sar", "export"],
        ["config", "show"], ["config", "set"], ["init"], ["run"], ["passphrase", "change"],
        ["scanner"],
    ],
)  # fmt: skip
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example: doorwatch " + command[0] in result.stdout


# -- data directory -------------------------------------------------------------------------


def test_default_data_dir_follows_xdg() -> None:
    assert default_data_dir({"XDG_DATA_HOME": "/srv/data"}) == Path("/srv/data/doorwatch")
    home = Path.home() / ".local" / "share" / "doorwatch"
    assert default_data_dir({}) == home
    assert default_data_dir({"XDG_DATA_HOME": "relative/dir"}) == home  # ignored, per the spec


def test_data_dir_from_xdg_and_from_doorwatch_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("DOORWATCH_DATA_DIR", raising=False)
    done = doorwatch(
        "init", "--venue", "The Crown", "--admin-user", "a", "--password-file", str(pw)
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "xdg" / "doorwatch" / "config.json").exists()
    assert f"in {tmp_path / 'xdg' / 'doorwatch'}" in done.stdout
    monkeypatch.setenv("DOORWATCH_DATA_DIR", str(tmp_path / "svc"))
    done = doorwatch("status")
    assert done.returncode == EXIT_NOT_RUNNING
    assert one_line_error(done) == (
        f"doorwatch: there is no Doorwatch node in {tmp_path / 'svc'}; create one with "
        "`doorwatch init` or name its directory with --data-dir (or DOORWATCH_DATA_DIR)"
    )


def test_init_refuses_bad_input(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("short\n")
    args = ("init", "--data-dir", str(tmp_path / "n"), "--venue", "V", "--admin-user", "a")
    done = doorwatch(*args, "--password-file", str(pw))
    assert done.returncode == 1
    assert "password" in one_line_error(done)
    done = doorwatch(*args, "--password-file", str(tmp_path / "missing"))
    assert one_line_error(done).startswith("doorwatch: --password-file: cannot read")


# -- errors ---------------------------------------------------------------------------------


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    plain = doorwatch("status", "--data-dir", str(tmp_path))
    assert plain.returncode == EXIT_NOT_RUNNING
    assert "Traceback" not in plain.stderr
    debug = doorwatch("--debug", "status", "--data-dir", str(tmp_path))
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr
    assert "NodeNotRunning" in debug.stderr


def test_usage_errors_exit_2() -> None:
    assert doorwatch("alert", "frobnicate").returncode == 2
    assert doorwatch("status", "--no-such-flag").returncode == 2


def test_api_schema_output_that_cannot_be_written_exits_1_like_every_other_output_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "missing"
    done = in_process("api-schema", "--output", str(missing / "schema.json"))
    assert done.returncode == EXIT_ERROR
    assert one_line_error(done) == f"doorwatch: --output: the directory {missing} does not exist"
    done = in_process("api-schema", "--output", str(tmp_path))
    assert done.returncode == EXIT_ERROR
    assert (
        one_line_error(done) == f"doorwatch: --output: {tmp_path} is a directory; name a file in it"
    )

    def refused(self: Path, *args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_text", refused)
    target = tmp_path / "schema.json"
    done = in_process("api-schema", "--output", str(target))
    assert done.returncode == EXIT_ERROR
    assert one_line_error(done) == f"doorwatch: --output: cannot write {target}: Permission denied"
    monkeypatch.undo()
    done = in_process("api-schema", "--output", str(target))
    assert done.returncode == 0, done.stderr
    assert json.loads(target.read_text("utf-8")) == json.loads(in_process("api-schema").stdout)


# -- config ---------------------------------------------------------------------------------


def test_config_show_and_set_with_the_node_stopped(inited: Path, tmp_path: Path) -> None:
    data = copy_of(inited, tmp_path)
    shown = json.loads(in_process("config", "show", "--json", "--data-dir", str(data)).stdout)
    assert shown["version"] == 1
    keys = {k["key"]: k for k in shown["keys"]}
    assert keys["venue"]["value"] == "The Crown"
    assert keys["session_hours"]["value"] == 12
    done = in_process("config", "set", "session_hours", "8", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Set session_hours = 8 in {data / 'config.json'}\n"  # no restart note
    done = in_process("config", "set", "listen", "/ip4/0.0.0.0/tcp/4001, /ip4/0.0.0.0/tcp/4002",
                      "--data-dir", str(data))  # fmt: skip
    assert done.returncode == 0, done.stderr
    on_disk = json.loads((data / "config.json").read_text())
    assert on_disk["session_hours"] == 8
    assert on_disk["version"] == 1
    assert on_disk["listen"] == ["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/tcp/4002"]
    done = in_process("config", "set", "smtp_host", "", "--data-dir", str(data))
    assert done.stdout.startswith("Set smtp_host = (unset)")
    env = {"DOORWATCH_VISIT_RETENTION_DAYS": "7"}
    text = in_process("config", "show", "--data-dir", str(data), env=env).stdout
    assert any(
        line.split()[:3] == ["visit_retention_days", "7", "environment"]
        for line in text.splitlines()
    ), text


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("session_hours", "30", "doorwatch: session_hours: Input should be less than or equal"),
        ("session_hours", "eight", "doorwatch: session_hours: Input should be a valid integer"),
        ("api_tcp", "0.0.0.0:80", "doorwatch: api_tcp: String should match pattern"),
        ("colour", "red", "doorwatch: colour: there is no such config key"),
        ("version", "2", "doorwatch: version: there is no such config key"),
    ],
)  # fmt: skip
def test_config_set_refuses_bad_keys_and_values(
    inited: Path, key: str, value: str, message: str
) -> None:
    before = (inited / "config.json").read_text()
    done = in_process("config", "set", key, value, "--data-dir", str(inited))
    assert done.returncode == 1
    assert one_line_error(done).startswith(message)
    assert (inited / "config.json").read_text() == before


def test_config_without_a_node(tmp_path: Path) -> None:
    done = in_process("config", "show", "--data-dir", str(tmp_path / "none"))
    assert done.returncode == 1
    assert "run `doorwatch init` first" in one_line_error(done)
    done = in_process("config", "set", "session_hours", "8", "--data-dir", str(tmp_path / "none"))
    assert done.returncode == 1
    assert "does not exist" in one_line_error(done)


def test_config_file_from_the_future_is_refused(inited: Path, tmp_path: Path) -> None:
    data = copy_of(inited, tmp_path)
    raw = json.loads((data / "config.json").read_text())
    raw["version"] = 99
    (data / "config.json").write_text(json.dumps(raw))
    done = in_process("config", "show", "--data-dir", str(data))
    assert "has config version 99; this Doorwatch reads 1 to 1" in one_line_error(done)


def test_run_refuses_a_bad_override_before_starting(
    inited: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = inited
    done = doorwatch("run", "--data-dir", str(data), "--session-hours", "30")
    assert done.returncode == 1
    assert one_line_error(done) == (
        "doorwatch: DOORWATCH_SESSION_HOURS: Input should be less than or equal to 24"
    )
    monkeypatch.setenv("DOORWATCH_DEFAULT_ALERT_DAYS", "0")
    done = doorwatch("run", "--data-dir", str(data))
    assert one_line_error(done).startswith("doorwatch: DOORWATCH_DEFAULT_ALERT_DAYS: ")
    done = doorwatch("run", "--data-dir", str(tmp_path / "none"))
    assert one_line_error(done).startswith("doorwatch: there is no Doorwatch node in")


def test_run_overrides_reach_the_daemon_and_status_check_in_a_network(
    inited: Path, tmp_path: Path
) -> None:
    data = copy_of(inited, tmp_path)
    daemon = Daemon(data, tmp_path / "daemon.log")
    daemon.start("--session-hours", "1")
    try:
        login: Any = daemon.client().result("session.login", username="admin", password=PASSWORD)
        assert login["expires_at"] - time.time() <= 3600
        created = doorwatch("network", "create", "--data-dir", str(data), "--name", "Town Pubwatch")
        assert created.returncode == 0, created.stderr
        text = in_process("status", "--data-dir", str(data)).stdout
        assert "Network    Town Pubwatch (1 members, authority)" in text
        check = in_process("status", "--check", "--data-dir", str(data))
        assert check.returncode == 0
        assert check.stdout == "OK: The Crown is running (no other venue in any network yet)\n"
        strict = in_process("status", "--check", "--require-peers", "--data-dir", str(data))
        assert strict.returncode == EXIT_ISOLATED
    finally:
        daemon.stop(signal.SIGTERM)
    assert daemon.unexpected_errors() == []


# -- the health check's rules ----------------------------------------------------------------

NOW = 1_800_000_000


def peer(
    connected: bool = False, last_seen: int | None = None, refused: str | None = None
) -> dict[str, object]:
    return {"peer_id": "p", "connected": connected, "last_seen": last_seen, "refused": refused}


def node_status(*peers: dict[str, object], uptime_s: int = 86400) -> dict[str, object]:
    return {
        "venue": "V",
        "uptime_s": uptime_s,
        "networks": [{"network_id": "n"}],
        "peers": list(peers),
    }


def test_health_connected_peer_is_healthy() -> None:
    verdict = health(node_status(peer(), peer(connected=True)), NOW, 600, False)
    assert verdict == {"healthy": True, "isolated_s": 0, "reason": "connected"}


def test_health_counts_isolation_from_the_last_contact() -> None:
    recent = health(
        node_status(peer(last_seen=NOW - 500), peer(last_seen=NOW - 9000)), NOW, 600, False
    )
    assert recent["healthy"] is True
    assert recent["isolated_s"] == 500
    stale = health(node_status(peer(last_seen=NOW - 601)), NOW, 600, False)
    assert stale["healthy"] is False
    assert stale["isolated_s"] == 601


def test_health_counts_from_start_up_when_no_peer_was_ever_seen() -> None:
    young = health(node_status(peer(), uptime_s=30), NOW, 600, False)
    assert young["healthy"] is True
    assert young["isolated_s"] == 30
    old = health(node_status(peer(), uptime_s=3600), NOW, 600, False)
    assert old["healthy"] is False
    assert old["isolated_s"] == 3600


def test_health_ignores_refused_peers() -> None:
    verdict = health(node_status(peer(connected=True, refused="revoked")), NOW, 600, True)
    assert verdict["healthy"] is False
    assert verdict["isolated_s"] is None


def test_health_of_a_node_without_network() -> None:
    alone = {"venue": "V", "uptime_s": 10**6, "networks": [], "peers": []}
    assert health(alone, NOW, 600, False)["healthy"] is True
    assert health(alone, NOW, 600, True) == {
        "healthy": False, "isolated_s": None, "reason": "in no network yet",
    }  # fmt: skip


# -- parsing --------------------------------------------------------------------------------


def test_parse_time_accepts_dates_datetimes_and_seconds() -> None:
    assert parse_time("2026-11-23", "--from") == 1795392000
    assert parse_time("2026-11-23T01:00", "--from") == 1795392000 + 3600
    assert parse_time("2026-11-23T01:00+01:00", "--from") == 1795392000
    assert parse_time("1795392000", "--from") == 1795392000
    with pytest.raises(BadInput, match=r"^--to: give a date"):
        parse_time("2026-02-30", "--to")


def test_parse_duration() -> None:
    assert [parse_duration(t, "--x") for t in ("90", "90s", "30m", "2h", "7d")] == [
        90, 90, 1800, 7200, 604800,
    ]  # fmt: skip
    with pytest.raises(BadInput, match=r"^--x: "):
        parse_duration("1w", "--x")


def test_an_unexpected_fault_is_one_line_without_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def broken(*args: object, **kwargs: object) -> NodeClient:
        raise KeyError("a fault")

    monkeypatch.setattr(NodeClient, "open", broken)
    monkeypatch.setattr(sys, "argv", ["doorwatch", "status", "--data-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        "doorwatch: unexpected error (KeyError); run `doorwatch --debug ...` for the traceback\n"
    )


def test_status_lists_peers_with_their_last_contact(capsys: pytest.CaptureFixture[str]) -> None:
    from doorwatch.cli._status import print_status

    now = int(time.time())
    status = {
        "venue": "The Crown", "version": "0.1.0", "uptime_s": 7260, "peer_id": "12D3KooWX",
        "short_id": "1A3QD-58842", "listen_addresses": ["/ip4/127.0.0.1/tcp/4001"],
        "networks": [{"network_id": "n1", "name": "Town Pubwatch", "members": 3,
                      "authority": False}],
        "peers": [
            {"venue": "The Swan", "short_id": "S", "connected": True, "last_seen": now,
             "refused": None},
            {"venue": "The Bell", "short_id": "B", "connected": False, "last_seen": now - 300,
             "refused": None},
            {"venue": "The Ship", "short_id": "H", "connected": False, "last_seen": None,
             "refused": "certificate revoked"},
        ],
        "counts": {"alerts_originated_active": 2, "alerts_received_active": 5},
    }  # fmt: skip
    print_status(status, now)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Venue      The Crown  (Doorwatch 0.1.0, up 2h 1m)"
    assert "Network    Town Pubwatch (3 members)  n1" in lines
    peers = [line.split(None, 1)[1] for line in lines if line.startswith("Peer  ")]
    assert [p.split()[:3] for p in peers] == [
        ["The", "Swan", "S"], ["The", "Bell", "B"], ["The", "Ship", "H"]
    ]  # fmt: skip
    assert peers[0].endswith("connected")
    assert peers[1].endswith("last seen 5m ago")
    assert peers[2].endswith("refused: certificate revoked")
    assert lines[-1] == "Alerts     2 active from this venue, 5 received"


def test_status_says_when_matches_may_be_incomplete(capsys: pytest.CaptureFixture[str]) -> None:
    from doorwatch.cli._status import print_status
    from doorwatch.node._health import assess

    now = int(time.time())
    peers = [{"venue": "The Swan", "short_id": "S", "connected": False,
              "last_seen": now - 3600, "refused": None}]  # fmt: skip
    health = assess(
        peers=peers, in_network=True, now=now, started_at=now - 7200, last_synced_at=now - 3600,
        loading=None,
    )  # fmt: skip
    status = {
        "venue": "The Crown", "version": "0.1.0", "uptime_s": 7200, "peer_id": "12D3KooWX",
        "short_id": "1A3QD-58842", "listen_addresses": [],
        "networks": [{"network_id": "n1", "name": "Town Pubwatch", "members": 2}],
        "peers": peers, "counts": {}, "health": health,
    }  # fmt: skip
    print_status(status, now)
    out = capsys.readouterr().out
    assert (
        "Health     No other venue reachable for 1 h: alerts made since may be missing here." in out
    )
