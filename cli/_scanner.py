"""`doorwatch scanner`: an MRZ reader at the door, each document checked as it is read.

A thin client of the node's socket (docs/scanners.md). It reads bytes from
the reader, lets ``segments.MrzAssembler`` (pure: bytes in, MRZs out) find
the machine-readable zones in them, submits each one with ``scan.submit``
(``mrz`` and ``lane``), and prints the verdict as one line a person at the
door can read from arm's length.

Readers:

- keyboard-wedge OCR readers type the MRZ lines and Enter, like a keyboard:
  run the command in the terminal the reader types into (standard input; the
  typing is not echoed, so the MRZ stays off the screen), or give the
  reader's line source with ``--input`` (a tty, a FIFO, a file);
- serial and USB-serial readers: ``--serial /dev/ttyUSB0 --baud 9600``, or
  any pyserial URL (``rfc2217://host:port``, ``socket://...``).

A serial reader that goes away (unplugged, a cable pulled, a USB reset) is
waited for and reopened, with back-off up to ``MAX_BACKOFF`` seconds; the
door is told once that it went and once that it came back, and a document
read half way is reported as incomplete. A node that goes away is
reconnected to for the next document; a document that could not be checked
is reported as NOT CHECKED, never silently dropped. Garbage from the reader
is ignored. Nothing read (no MRZ, no name) is written to a log: only
verdicts, and the node's error messages, which never quote the MRZ.

Standard input (or ``--input``) ends the command at its end; a serial reader
runs until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, Protocol

import typer

from doorwatch.cli._client import ClientError, NodeClient, RpcError
from doorwatch.cli._options import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    JsonOption,
    PasswordFileOption,
    UserOption,
)
from doorwatch.cli._output import reported
from doorwatch.segments import (
    DEFAULT_LINE_GAP,
    PROBLEM_NOT_IDENTITY_DOCUMENT,
    Incomplete,
    MrzAssembler,
    MrzEvent,
    MrzRead,
)

POLL_S = 0.25
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 10.0
UNAUTHENTICATED = 1001

# One phrase per reason code (docs/api.md), for a line read at the door.
_REASONS = {
    "under_age": "under 18",
    "document_expired": "document expired",
    "not_authentic": "the document failed its checks (misread or altered): scan it again; "
    "if it fails again, treat it as suspect",
    "banned_here": "banned at this venue",
    "possible_alert_match": "may be the subject of an alert: open the match on the door console",
    "alerts_loading": "the node is still loading network alerts: check by eye, or scan "
    "again in a minute",
    "typed": "typed in",
}


def _problem_codes(exc: RpcError) -> set[str]:
    """The problem codes the node gave with a refused document (``data.problems``)."""
    data = exc.data if isinstance(exc.data, dict) else {}
    problems = data.get("problems")
    if not isinstance(problems, list):
        return set()
    return {p["code"] for p in problems if isinstance(p, dict) and isinstance(p.get("code"), str)}


class _Gone(Exception):
    """The reader went away (unplugged); the message says how."""


class _Ended(Exception):
    """The input ended (standard input or a file)."""


class _Source(Protocol):
    name: str

    def read(self, timeout: float) -> bytes: ...

    def close(self) -> None: ...


@dataclass
class _FdSource:
    """Standard input, a tty or a FIFO: a keyboard-wedge reader's line source."""

    fd: int
    name: str
    reopen: bool = True
    """False for standard input: a terminal that hangs up is the end, not an unplug."""

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.fd, 4096)
        except OSError as exc:
            if not self.reopen:
                raise _Ended from None
            raise _Gone(exc.strerror or str(exc)) from None
        if not data:
            raise _Ended
        return data

    def close(self) -> None:
        if self.fd != sys.stdin.fileno():
            os.close(self.fd)


@dataclass
class _SerialSource:
    """A serial or USB-serial reader, or any pyserial URL."""

    port: Any
    name: str

    @classmethod
    def open(cls, url: str, baud: int) -> _SerialSource:
        import serial  # type: ignore[import-untyped]  # pyserial: only this command needs it

        try:
            port = serial.serial_for_url(url, baudrate=baud, timeout=POLL_S)
        except ValueError as exc:  # a bad URL or setting: no use waiting for it
            raise ClientError(f"--serial: {exc}") from None
        except (serial.SerialException, OSError) as exc:
            raise _Gone(_first_line(exc)) from None
        return cls(port, url)

    def read(self, timeout: float) -> bytes:
        import serial

        try:
            if self.port.timeout != timeout:
                self.port.timeout = timeout  # pyserial reconfigures the port for it
            data: bytes = self.port.read(max(1, self.port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise _Gone(_first_line(exc)) from None
        return data

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.port.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


@dataclass
class _Screen:
    """One line per event: words for the door on stdout, or JSON lines with --json."""

    lane: str
    json_mode: bool

    def news(self, text: str) -> None:
        """About the reader or the node, not a document (stderr under --json)."""
        typer.echo(f"{time.strftime('%H:%M:%S')}  {text}", err=self.json_mode)

    def event(self, kind: str, words: str, **data: Any) -> None:
        if self.json_mode:
            typer.echo(json.dumps({"event": kind, "lane": self.lane, **data}, sort_keys=True))
            return
        typer.echo(f"{time.strftime('%H:%M:%S')}  {self.lane}  {words}")

    def verdict(self, scan: dict[str, Any]) -> None:
        verdict = str(scan.get("verdict", "?")).upper()
        words = f"{verdict:<6}  age {scan.get('age', '?')}"
        reasons = [_REASONS.get(str(r), str(r)) for r in scan.get("reasons", [])]
        if reasons:
            words += "  " + "; ".join(reasons)
        self.event("verdict", words, **scan)


@dataclass
class _Node:
    """The logged-in connection, opened again when it is lost."""

    data_dir: Path
    user: str | None
    password_file: Path | None
    lane: str
    screen: _Screen
    conn: NodeClient | None = None
    lost: bool = False

    def connect(self) -> NodeClient:
        if self.conn is None:
            self.conn = NodeClient.open(
                self.data_dir, user=self.user, password_file=self.password_file, timeout=30
            )
            if self.lost:
                self.screen.news("the node answers again")
                self.lost = False
        return self.conn

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def submit(self, read: MrzRead) -> None:
        for attempt in (1, 2):
            try:
                conn = self.connect()
            except ClientError as exc:  # not running, or a login refused (RpcError)
                self._not_checked(read, exc)
                return
            try:
                scan = conn.call("scan.submit", mrz=read.text, lane=self.lane)
            except RpcError as exc:
                if exc.code == UNAUTHENTICATED and attempt == 1:
                    self.drop()  # the session ended (a shift is 12 hours): log in again
                    continue
                # A visa reads perfectly and is still the wrong page: say what to
                # do with it, not "scan again".
                wrong_page = _problem_codes(exc) & {PROBLEM_NOT_IDENTITY_DOCUMENT}
                self.screen.event(
                    "unreadable",
                    f"NOT AN ID   {exc}" if wrong_page else f"UNREADABLE  {exc}: scan again",
                    layout=read.layout,
                    error={"code": exc.code, "message": str(exc)},
                )
                return
            except ClientError as exc:
                self.drop()
                if attempt == 1:
                    continue  # the connection was lost since the last document: once more
                self._not_checked(read, exc)
                return
            self.screen.verdict(scan)
            return

    def _not_checked(self, read: MrzRead, exc: ClientError) -> None:
        self.drop()
        self.lost = True
        self.screen.event(
            "not_checked",
            f"NOT CHECKED  {exc}: check the document by eye",
            layout=read.layout,
            message=str(exc),
        )


def _incomplete(screen: _Screen, gone: Incomplete) -> None:
    total = 3 if gone.layout == "TD1" else 2
    screen.event(
        "incomplete",
        f"INCOMPLETE  {gone.lines} of {total} lines read ({gone.why}): scan again",
        layout=gone.layout,
        lines=gone.lines,
        why=gone.why,
    )


@dataclass
class _Reader:
    """The loop: source -> assembler -> node, surviving unplugging and garbage."""

    opener: Callable[[], _Source]
    node: _Node
    screen: _Screen
    assembler: MrzAssembler
    source: _Source | None = None

    def handle(self, events: list[MrzEvent]) -> None:
        for event in events:
            if isinstance(event, MrzRead):
                self.node.submit(event)
            else:
                _incomplete(self.screen, event)

    def open_source(self, *, said: bool = False) -> _Source:
        """Open the reader, waiting with back-off while it is not there (said once)."""
        delay = FIRST_BACKOFF
        while True:
            try:
                return self.opener()
            except _Gone as exc:
                if not said:
                    self.screen.news(f"waiting for the scanner ({exc})")
                    said = True
            time.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    def run(self, announce: str) -> None:
        self.source = self.open_source()
        self.screen.news(f"{announce} from {self.source.name} (Ctrl-C to stop)")
        while True:
            try:
                data = self.source.read(POLL_S)
            except _Ended:
                self.handle(self.assembler.finish(time.monotonic()))
                return
            except _Gone as exc:
                self.source.close()
                self.screen.news(f"scanner unplugged ({exc}); waiting for it to come back")
                self.handle(self.assembler.reset(time.monotonic(), "the scanner was unplugged"))
                self.source = self.open_source(said=True)
                self.screen.news(f"scanner back: reading from {self.source.name}")
                continue
            now = time.monotonic()
            self.handle(self.assembler.feed(data, now) if data else self.assembler.tick(now))

    def close(self) -> None:
        if self.source is not None:
            self.source.close()
        self.node.drop()


@contextlib.contextmanager
def _no_echo(fd: int) -> Iterator[None]:
    """A wedge types the MRZ into this terminal: keep it off the screen while reading."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    quiet = list(saved)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def scanner_command(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    lane: Annotated[
        str,
        typer.Option(
            help="The door or lane this reader stands at: the door consoles of that lane "
            "show its scans live."
        ),
    ] = "main",
    serial_port: Annotated[
        str | None,
        typer.Option(
            "--serial",
            help="A serial or USB-serial reader: its device (/dev/ttyUSB0) or a pyserial "
            "URL (rfc2217://host:port). Without it: a keyboard-wedge reader on standard "
            "input, or --input.",
            show_default=False,
        ),
    ] = None,
    baud: Annotated[int, typer.Option(min=50, max=4_000_000, help="--serial's speed.")] = 9600,
    input_path: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help="A keyboard-wedge reader's line source instead of standard input (a tty, "
            "a FIFO, a file).",
            show_default=False,
        ),
    ] = None,
    line_gap: Annotated[
        float,
        typer.Option(
            min=0.05,
            max=60,
            help="Seconds of silence after which a document read half way is given up "
            "(its next line starts again).",
        ),
    ] = DEFAULT_LINE_GAP,
    json_: JsonOption = False,
) -> None:
    """Read MRZs from a scanner and print each document's verdict on one line.

    Example: doorwatch scanner --serial /dev/ttyUSB0 --baud 9600 --lane door-1
    (or, for a keyboard-wedge reader: doorwatch scanner --lane door-1, in the
    terminal the reader types into). With --json: one JSON object a line.
    """
    if serial_port is not None and input_path is not None:
        typer.echo("doorwatch: give --serial or --input, not both", err=True)
        raise typer.Exit(2)
    screen = _Screen(lane, json_)
    stdin = sys.stdin.fileno()
    with reported():
        opener = _opener(serial_port, baud, input_path)
        node = _Node(data_dir, user, password_file, lane, screen)
        try:
            conn = node.connect()
        except RpcError as exc:
            raise ClientError(f"login refused: {exc}") from None
        status = conn.call("node.status")
        announce = f"{status['venue']}, lane {lane}, as {conn.session['username']}: reading MRZs"
        reader = _Reader(opener, node, screen, MrzAssembler(line_gap=line_gap))
        previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
        try:
            with _no_echo(stdin) if serial_port is None and input_path is None else _nothing():
                reader.run(announce)
        except KeyboardInterrupt:
            screen.news("stopped")
        finally:
            signal.signal(signal.SIGTERM, previous)
            reader.close()


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def _opener(serial_port: str | None, baud: int, input_path: Path | None) -> Callable[[], _Source]:
    if serial_port is not None:
        return lambda: _SerialSource.open(serial_port, baud)
    if input_path is not None:
        path = input_path

        def open_input() -> _Source:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOCTTY)
            except FileNotFoundError:
                raise _Gone(f"{path} does not exist") from None
            except OSError as exc:
                raise ClientError(f"--input: cannot open {path}: {exc.strerror}") from None
            return _FdSource(fd, str(path))

        return open_input
    return lambda: _FdSource(sys.stdin.fileno(), "standard input", reopen=False)


if __name__ == "__main__":
    typer.run(scanner_command)
