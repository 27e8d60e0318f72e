"""`doorwatch demo` end to end (three real daemons), its clean-up, and the demo clock's switch."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from doorwatch.cli._demo_people import cast, document
from doorwatch.node.testing import PASSWORD, Daemon, doorwatch

# Runs the command function on its own, as `doorwatch demo` will once registered in cli/_app.py.
RUN_DEMO = (
    "import typer; from doorwatch.cli._demo import demo_command; "
    "app = typer.Typer(add_completion=False); app.command()(demo_command); app()"
)
STEPS = 17


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temporary directory with a short path (pytest's are too deep for Unix sockets)."""
    path = Path(tempfile.mkdtemp(prefix="dwt-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start_demo(tmp: Path, *args: str) -> subprocess.Popen[str]:
    # TMPDIR: the demo's temporary directory and default picture land in ``tmp``.
    env = dict(os.environ, TMPDIR=str(tmp))
    env.pop("DOORWATCH_DEMO_CLOCK", None)
    return subprocess.Popen(
        [sys.executable, "-c", RUN_DEMO, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def processes_under(path: Path) -> list[str]:
    """Command lines of live processes that mention ``path`` (the demo's daemons do)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if str(path) in cmdline and state != "Z":
            found.append(cmdline)
    return found


@pytest.mark.slow
def test_demo_tells_the_whole_story_and_cleans_up(short_tmp: Path) -> None:
    tmp_path = short_tmp
    proc = start_demo(tmp_path)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    lines = out.splitlines()

    # Every numbered step, each followed by its checks, all ticked.
    steps = [i for i, line in enumerate(lines) if re.match(r"^\s*\d+\. ", line)]
    assert len(steps) == STEPS, out
    for start, end in zip(steps, [*steps[1:], len(lines)], strict=True):
        assert any(line.lstrip().startswith("✓") for line in lines[start:end]), lines[start]
    assert "✗" not in out
    assert f"Demo complete: all {STEPS} steps ✓" in out

    for key in (
        "The Bell (in the 'door' group) can match it",
        "The Swan (not in 'door') stores the sealed copy but cannot open it",
        "green tick: admitted, no match",
        "no request left The Bell",
        "amber: a statistical match",
        "identity confirmed",
        "photo received, sealed to The Bell",
        "The Crown released the alert's details to The Bell",
        "not admitted tonight",
        "The Crown: The Bell asked for an identity check, the photo and the details",
        "alert suspended",
        "The Bell holds version 2, suspended: it no longer matches",
        "the subject scanned again at The Bell: green tick",
        "The Crown: expired; the subject's identity, photo and details are deleted",
        "every node still connected to the two others",
        "no node logged an error",
    ):
        assert key in out, key
    # Gossip timings in milliseconds.
    assert re.search(r"can match it at its door\s+\(\d[\d,]* ms\)", out)

    # The side-by-side picture is a real PNG of two portraits, kept after the demo.
    (shown,) = re.findall(r"side by side for the door operator: (\S+\.png)", out)
    picture = Path(shown)
    assert picture.parent == tmp_path
    assert picture.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(picture) as image:
        assert image.format == "PNG"
        assert image.width > image.height

    # No personal data beyond the synthetic subject's name.
    people = cast(7, dt.datetime.now(dt.UTC).date())
    assert people.subject_name in out
    # The misread's surname is the subject's own (printed) when the misread
    # letter fell in a given name.
    misread = {people.subject_misread.surname} - {people.subject.surname}
    for value in (
        people.subject.document_number,
        people.subject.date_of_birth.isoformat(),
        *misread,
        people.innocent.surname,
        people.innocent.document_number,
    ):
        assert value not in out

    # Nothing left behind but the picture: no process, no data directory.
    assert processes_under(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == [picture.name]


@pytest.mark.slow
def test_interrupted_demo_stops_its_nodes_and_removes_its_directory(short_tmp: Path) -> None:
    tmp_path = short_tmp
    proc = start_demo(tmp_path)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(" 3. "):  # the three nodes run
            break
    assert any(line.startswith(" 3. ") for line in seen), "".join(seen)
    assert len(processes_under(tmp_path)) == 3
    proc.send_signal(signal.SIGINT)  # the demo alone: it must stop the nodes itself
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, rest
    assert "✗ interrupted" in rest
    assert "Stopped the nodes of The Crown, The Swan, The Bell." in rest
    assert processes_under(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_demo_refuses_a_directory_too_deep_for_sockets(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60)
    proc = start_demo(tmp_path, "--data-dir", str(deep))
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "is too deep for the nodes' sockets" in out
    assert "Stopped the nodes" not in out  # none was started


def test_demo_refuses_a_data_dir_in_use(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    proc = start_demo(tmp_path, "--data-dir", str(tmp_path))
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert out.strip() == f"doorwatch: --data-dir {tmp_path} must be a new or empty directory"


@pytest.mark.slow
def test_a_kept_demo_leaves_each_node_its_passphrase_file(short_tmp: Path) -> None:
    proc = start_demo(short_tmp, "--keep")
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(" 3. "):  # the three nodes run
            break
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    (root,) = re.findall(r"Kept the venues' data and logs in (\S+)", rest)
    crown = Path(root) / "crown"
    passphrase = Path(root) / "crown.passphrase"
    assert stat.S_IMODE(passphrase.stat().st_mode) == 0o600
    (short_tmp / "new").write_text("a new passphrase for the demo\n")
    # The kept node's storage key opens with that file (passphrase change must open it).
    changed = doorwatch(
        "passphrase", "change", "--data-dir", str(crown),
        "--new-passphrase-file", str(short_tmp / "new"),
        passphrase=None, DOORWATCH_PASSPHRASE_FILE=str(passphrase),
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr


@pytest.fixture
def node(tmp_path: Path) -> Daemon:
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    data = tmp_path / "node"
    venue = ("--venue", "The Crown", "--admin-user", "admin", "--password-file", str(pw))
    done = doorwatch("init", "--data-dir", str(data), *venue)
    assert done.returncode == 0, done.stderr
    return Daemon(data, tmp_path / "node.log")


def test_clock_advance_does_not_exist_without_the_demo_clock(
    node: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOORWATCH_DEMO_CLOCK", raising=False)
    node.start()
    try:
        reply = node.client().call("clock.advance", seconds=3600)
        assert reply["error"]["code"] == -32601
        assert "clock_controllable" not in node.log_path.read_text()
    finally:
        node.stop()
    assert node.unexpected_errors() == []


def test_demo_clock_moves_forward_for_a_super_administrator_only(
    node: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOORWATCH_DEMO_CLOCK", "1")
    node.start()
    try:
        assert '"node.clock_controllable"' in node.log_path.read_text()
        admin = node.client()
        admin.result("user.add", username="door1", role="door_staff", password=PASSWORD)
        door = node.client("door1")
        assert door.call("clock.advance", seconds=60)["error"]["code"] == 1002

        subject = document(cast(7, dt.datetime.now(dt.UTC).date()).subject)
        made = admin.result("alert.create", document=subject, category="theft", reason="a bag")
        assert isinstance(made, dict)
        assert admin.call("clock.advance", seconds=0)["error"]["code"] == -32602
        assert admin.call("clock.advance", seconds=-5)["error"]["code"] == -32602

        moved = admin.result("clock.advance", seconds=15 * 86400)
        assert isinstance(moved, dict)
        assert moved["now"] > made["expires_at"]
        # Sessions older than 12 hours (by the node's clock) have ended.
        assert door.call("node.status")["error"]["code"] == 1001
        admin.result("session.login", username="admin", password=PASSWORD)
        # The retention pass ran at once: the alert has expired, and the move is audited.
        (summary,) = admin.result("alert.list")  # type: ignore[misc]
        assert summary["status"] == "expired"
        entries = admin.result("audit.query", action="clock.advanced")
        assert isinstance(entries, list)
        assert [(e["actor"], e["detail"]["seconds"]) for e in entries] == [("admin", 15 * 86400)]
    finally:
        node.stop()
    assert node.unexpected_errors() == []
