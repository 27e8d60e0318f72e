"""`doorwatch scanner` end to end: recorded reader streams into a real daemon over its socket.

A keyboard-wedge reader types into standard input; a serial reader is a
pseudo-terminal that pyserial really opens (through a symlink, the way udev
names a USB-serial reader), unplugged and plugged back in half way.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import queue
import re
import select
import signal
import subprocess
import sys
import termios
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from doorwatch.node.testing import PASSWORD, Daemon, RpcClient, doorwatch, environment
from tests.cli.recordings.scanner_streams import (
    BERG,
    DUBOIS,
    OKAFOR,
    QUILL,
    load,
    stream,
)

LANE = "door-2"
NAMES = ["QUILLFEATHERINGTON", "OKAFOR", "DUBOIS", "PIETER", "ERIKSSON"]
NOT_AUTHENTIC = (
    "the document failed its checks (misread or altered): scan it again; "
    "if it fails again, treat it as suspect"
)
EVENT = re.compile(rf"^\d\d:\d\d:\d\d  {LANE}  (.*)$")
WAIT_S = 90


def age(born: str) -> int:
    b, today = dt.date.fromisoformat(born), dt.datetime.now(dt.UTC).date()
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


def admit(born: str) -> str:
    return f"ADMIT   age {age(born)}"


class Node:
    def __init__(self, daemon: Daemon, root: Path) -> None:
        self.daemon = daemon
        self.password_file = root / "door1.pw"
        self.password_file.write_text(PASSWORD + "\n")

    def args(self, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "doorwatch.cli",
            "scanner",
            "--data-dir",
            str(self.daemon.data_dir),
            "--user",
            "door1",
            "--password-file",
            str(self.password_file),
            "--lane",
            LANE,
            *extra,
        ]

    def wedge(self, data: bytes, *extra: str) -> subprocess.CompletedProcess[str]:
        """The adapter with a keyboard-wedge reader that typed ``data`` into stdin."""
        done = subprocess.run(
            self.args(*extra),
            input=data,
            capture_output=True,
            timeout=WAIT_S,
            check=False,
            env=environment(),
        )
        return subprocess.CompletedProcess(
            done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
        )

    def visits(self) -> list[dict[str, Any]]:
        now = int(time.time())
        exported = self.daemon.client().result("visits.export", **{"from": 0, "to": now + 60})
        assert isinstance(exported, dict)
        return list(exported["visits"])


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    root = tmp_path_factory.mktemp("scanner")
    pw = root / "admin.pw"
    pw.write_text(PASSWORD + "\n")
    data = root / "node"
    done = doorwatch(
        "init", "--data-dir", str(data), "--venue", "The Swan",
        "--admin-user", "admin", "--password-file", str(pw),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    daemon = Daemon(data, root / "daemon.log")
    daemon.start()
    daemon.client().result("user.add", username="door1", role="door_staff", password=PASSWORD)
    yield Node(daemon, root)
    try:
        # Nothing read off a document reaches the node's log or its audit log.
        entries = daemon.client().result("audit.query", limit=10000)
        told = json.dumps(entries) + "\n".join(daemon.log_lines())
        for secret in [*NAMES, *(line for doc in (QUILL, OKAFOR, BERG) for line in doc.split())]:
            assert secret not in told
        assert daemon.unexpected_errors() == []
    finally:
        daemon.stop(signal.SIGKILL)


def events(out: str) -> list[str]:
    """The adapter's lines about documents (not its news about the reader or the node)."""
    found = [EVENT.match(line) for line in out.splitlines()]
    return [m.group(1) for m in found if m is not None]


def test_a_keyboard_wedge_reader_on_standard_input(node: Node) -> None:
    before = len(node.visits())
    data = stream("wedge_crlf.rec") + stream("serial_stx_etx.rec") + stream("serial_prefixed.rec")
    done = node.wedge(data)
    assert done.returncode == 0, done.stderr
    assert events(done.stdout) == [
        admit("1990-05-17"),
        admit("1985-11-30"),
        admit("1979-02-28"),
        f"REFUSE  age {age('1974-08-12')}  document expired",
        f"REFUSE  age {age('1992-12-07')}  {NOT_AUTHENTIC}",
        admit("1992-12-01"),
    ]
    assert "The Swan, lane door-2, as door1: reading MRZs from standard input" in done.stdout
    assert done.stderr == ""
    for name in NAMES:
        assert name not in done.stdout
    assert len(node.visits()) == before + 6


def test_garbage_and_unreadable_documents_are_said_and_survived(node: Node) -> None:
    line1, line2 = QUILL.split("\n")
    misread_date = line2[:15] + "O" + line2[16:]  # a letter in the birth date
    half = DUBOIS.split("\n")[0]
    data = (
        b"\x00\xff\xfe garbage \x1b[2J" * 50
        + b"\r\n"
        + f"{line1}\r\n{misread_date}\r\n".encode()
        + f"{half}\r\n".encode()  # a TD2 card's first line, then a passport starts
        + f"{QUILL}\r\n".encode()
        + bytes(range(256)) * 4
        + f"\r\n{half}".encode()  # the input ends half way through a document
    )
    done = node.wedge(data, "--json")
    assert done.returncode == 0, done.stderr
    got = [json.loads(line) for line in done.stdout.splitlines()]
    assert [g["event"] for g in got] == ["unreadable", "incomplete", "verdict", "incomplete"]
    assert got[0]["error"] == {
        "code": -32602,
        "message": "mrz: line 2: birth date must be six digits (YYMMDD)",
    }
    assert (got[1]["layout"], got[1]["lines"], got[1]["why"]) == (
        "TD2",
        1,
        "a new document started",
    )
    assert got[2]["verdict"] == "admit"
    assert got[2]["lane"] == LANE
    assert got[2]["age"] == age("1990-05-17")
    assert got[3]["why"] == "the input ended"
    assert "reading MRZs from standard input" in done.stderr


def test_a_wedge_readers_line_source_named_with_input(node: Node, tmp_path: Path) -> None:
    source = tmp_path / "wedge"
    source.write_bytes(stream("wedge_crlf.rec"))
    done = node.wedge(b"", "--input", str(source))
    assert done.returncode == 0, done.stderr
    assert events(done.stdout) == [admit("1990-05-17"), admit("1985-11-30")]
    assert f"reading MRZs from {source} (Ctrl-C to stop)" in done.stdout


def test_a_node_that_is_not_running_is_one_sentence(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "doorwatch.cli", "scanner", "--data-dir", str(tmp_path)],
        input=b"",
        capture_output=True,
        timeout=WAIT_S,
        check=False,
        env=environment(),
    )
    assert done.returncode == 3
    assert done.stderr.decode().startswith("doorwatch: there is no Doorwatch node in ")
    assert b"Traceback" not in done.stderr


# -- a serial reader on a pseudo-terminal -----------------------------------------------------


class Pty:
    """A pseudo-terminal standing in for a USB-serial reader at ``link`` (its udev name)."""

    def __init__(self, link: Path) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tmp = link.with_name(link.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(self.slave))
        tmp.replace(link)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def drained(self) -> bool:
        """Whether the adapter has read everything written (the slave's input queue)."""
        # Polling the slave first pushes what the master wrote into its input queue
        # (the kernel hands it over asynchronously), so FIONREAD counts it.
        select.select([self.slave], [], [], 0)
        pending = fcntl.ioctl(self.slave, termios.FIONREAD, b"\0\0\0\0")
        return int.from_bytes(pending, sys.byteorder) == 0

    def unplug(self) -> None:
        os.close(self.master)
        os.close(self.slave)


class Lines:
    """The adapter's stdout, line by line as it comes."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        out = proc.stdout
        threading.Thread(target=self._pump, args=(out,), daemon=True).start()

    def _pump(self, out: Any) -> None:
        for line in out:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str) -> str:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r}; got {self.seen}")

    def rest(self) -> None:
        """Every line until the adapter's stdout closes."""
        while (line := self._queue.get(timeout=WAIT_S)) is not None:
            self.seen.append(line)


def wait_until(condition: Any) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_serial_reader_unplugged_and_plugged_back_in(node: Node, tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB0"
    reader = Pty(link)
    proc = subprocess.Popen(
        node.args("--serial", str(link), "--baud", "9600"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    lines = Lines(proc)
    try:
        lines.wait_for(f"reading MRZs from {re.escape(str(link))}")
        for name in ("serial_stx_etx.rec", "serial_prefixed.rec", "unplug_mid_document.rec"):
            for _, data in load(name):
                if data is not None:
                    reader.write(data)
                    continue
                wait_until(reader.drained)
                reader.unplug()
                lines.wait_for("scanner unplugged .*; waiting for it to come back")
                # Let it try to reopen the missing device a few times (said once only).
                time.sleep(2)
                reader = Pty(link)
                lines.wait_for("scanner back: reading from")
        lines.wait_for(f"{LANE}  " + re.escape(admit("1985-11-30")))
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=WAIT_S)
        lines.rest()
        assert proc.stderr is not None
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.unplug()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert proc.returncode == 0, err
    said = "\n".join(lines.seen)
    assert events(said) == [
        admit("1979-02-28"),
        f"REFUSE  age {age('1974-08-12')}  document expired",
        f"REFUSE  age {age('1992-12-07')}  {NOT_AUTHENTIC}",
        admit("1992-12-01"),
        "INCOMPLETE  1 of 2 lines read (the scanner was unplugged): scan again",
        admit("1985-11-30"),
    ], said
    assert said.count("unplugged (") == 1
    assert "waiting for the scanner" not in said
    assert said.count("scanner back") == 1
    assert lines.seen[-1].endswith("  stopped")
    assert err == ""
    for name in NAMES:
        assert name not in said


# -- docs/scanners.md ------------------------------------------------------------------------

SCANNERS_MD = Path(__file__).resolve().parents[2] / "docs" / "scanners.md"


def test_the_documented_client_runs_against_a_real_node(node: Node, tmp_path: Path) -> None:
    text = SCANNERS_MD.read_text("utf-8")
    [code] = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    client = tmp_path / "scanner_client.py"
    client.write_text(code)
    [shown] = re.findall(r"\$ printf '([^']*)'", text)

    def run(mrz: str) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, str(client), str(node.daemon.data_dir / "doorwatch.sock"),
             "door1", str(node.password_file), LANE],
            input=mrz, capture_output=True, text=True, timeout=WAIT_S, check=False,
        )  # fmt: skip
        assert done.stderr == ""
        return done.returncode, done.stdout.strip()

    assert run(shown.replace("\\n", "\n")) == (0, f"ADMIT age {age('1995-07-04')}")
    assert run(QUILL) == (0, f"ADMIT age {age('1990-05-17')}")
    assert run(OKAFOR.replace("9212015", "9212075")) == (
        2,
        f"REFUSE age {age('1992-12-07')} (not_authentic)",
    )
    assert run("garbage\n") == (
        3,
        "UNREADABLE: mrz: must be two lines of 44 characters (TD3), two of 36 (TD2) "
        "or three of 30 (TD1); scan the document again",
    )
    visa = (
        "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C<3UTO6908061F9406236ZE184226B<<<<<<<"
    )
    assert run(visa) == (
        3,
        "NOT AN ID: mrz: is a visa (MRV-A/MRV-B, ICAO 9303 Part 7), not an identity "
        "document: scan the passport it is in",
    )


def test_the_documented_requests_are_answered(node: Node) -> None:
    requests = [
        json.loads(line.strip().removeprefix("--> "))
        for line in SCANNERS_MD.read_text("utf-8").splitlines()
        if line.strip().startswith("--> ")
    ]
    assert [r["method"] for r in requests] == ["session.login", "scan.submit", "scan.submit"]
    login, *scans = requests
    fresh = RpcClient(node.daemon.data_dir / "doorwatch.sock")
    try:
        reply = fresh.call(login["method"], **{**login["params"], "password": PASSWORD})
    finally:
        fresh.close()
    assert reply["result"]["role"] == "door_staff"  # type: ignore[index]
    client = node.daemon.client("door1")
    for request in scans:
        reply = client.call(request["method"], **request["params"])
        assert "error" not in reply, (request, reply)
        assert reply["result"]["verdict"] == "admit"  # type: ignore[index]


def test_a_node_that_goes_away_is_said_and_reconnected_to(node: Node) -> None:
    proc = subprocess.Popen(
        node.args(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(),
        text=True,
    )
    lines = Lines(proc)
    assert proc.stdin is not None
    try:
        lines.wait_for("reading MRZs from standard input")
        proc.stdin.write(QUILL + "\n")
        proc.stdin.flush()
        lines.wait_for(re.escape(admit("1990-05-17")))
        node.daemon.stop()
        proc.stdin.write(DUBOIS + "\n")
        proc.stdin.flush()
        not_checked = lines.wait_for("NOT CHECKED")
        node.daemon.start()
        proc.stdin.write(BERG + "\n")
        proc.stdin.close()
        lines.wait_for(re.escape(admit("1985-11-30")))
        proc.wait(timeout=WAIT_S)
        lines.rest()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        if node.daemon.proc is None:
            node.daemon.start()
    assert proc.returncode == 0
    assert not_checked.endswith(
        f"  {LANE}  NOT CHECKED  the node in {node.daemon.data_dir} is not running; start it "
        f"with `doorwatch run --data-dir {node.daemon.data_dir}`: check the document by eye"
    )
    assert sum("the node answers again" in line for line in lines.seen) == 1
    assert events("\n".join(lines.seen)) == [
        admit("1990-05-17"),
        not_checked.split(f"  {LANE}  ", 1)[1],
        admit("1985-11-30"),
    ]


def test_a_visa_is_said_to_be_the_wrong_page_not_unreadable(node: Node) -> None:
    # ICAO 9303 Part 7's MRV-A specimen: it reads perfectly, and scanning it
    # again would not help; the door is told to ask for the passport instead.
    visa = (
        "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C<3UTO6908061F9406236ZE184226B<<<<<<<"
    )
    before = len(node.visits())
    done = node.wedge(f"{visa}\r\n{QUILL}\r\n".encode())
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "NOT AN ID" in line]
    assert len(lines) == 1, done.stdout
    assert "not an identity document: scan the passport it is in" in lines[0]
    assert "scan again" not in lines[0]
    assert "ERIKSSON" not in done.stdout
    assert events(done.stdout)[-1] == admit("1990-05-17")
    assert len(node.visits()) == before + 1
