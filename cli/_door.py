"""`doorwatch door`: the terminal reference client for door staff.

It is also the worked example of the local socket API for scanner
integrators (docs/api.md). One connection does the whole visit:

1. `session.login` (the data directory owner's cookie, or a staff user);
2. `scan.submit` with the document (typed in field by field, or a JSON file);
   the verdict comes back at once, from local data only;
3. for each match, `match.photo`: for another venue's alert the node runs the
   private identity check with the originating venue, and tells this
   connection how it goes with `match.updated` notifications (lines without
   an `id`, interleaved with the responses), which are shown as progress;
4. the two photos side by side in a PNG (mode 0600, deleted when the visit is
   recorded unless --keep-photos), "Are these two people the same person?",
   `match.confirm`, and on yes the alert's details;
5. `admission.decide`: the operator's decision, recorded in the visit log.

A REFUSE verdict (under age, expired or suspect document, banned here) is
decided on local grounds: the client does not climb the ladder, so no
personal data is disclosed that the decision does not need.

Output: plain words on stdout; with --json the narrative goes to stderr and
stdout gets one JSON document with the outcome. Errors: one sentence on
stderr; exit code 1, or 3 when the node is not running (cli/_client.py lists
the codes). A ladder the originating venue cannot complete (unreachable,
rate limited, expired, no longer a match) is news for the operator, not an
error: the visit goes on to the decision.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from doorwatch.cli._client import ClientError, NodeClient, RpcError
from doorwatch.cli._options import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    JsonOption,
    PasswordFileOption,
    UserOption,
    format_time,
)
from doorwatch.cli._output import reported
from doorwatch.cli._photos import PhotoError, side_by_side
from doorwatch.segments import InvalidDocument, parse_document

MAX_SCAN_FILE_BYTES = 2 * 1024 * 1024
# JSON-RPC error codes of docs/api.md that end one match's ladder, not the visit.
# code -> (the match's state for --json, the words for the operator)
_LADDER_STOPS = {
    # e.g. the alert was withdrawn or deleted meanwhile, or the match expired
    1003: ("gone", "The alert or the match is gone"),
    1004: ("no_longer_a_match", "No longer a match"),
    1005: ("originator_unreachable", "Originator unreachable"),
    1006: ("rate_limited", "Rate limited"),
    1007: ("expired", "Alert expired"),
    # every match slot is one a door is acting on: no identity check was started
    1009: ("busy", "Busy: finish or dismiss another match, then scan again"),
}

_REASONS = {
    "under_age": "under 18",
    "document_expired": "the document has expired",
    "not_authentic": "the scanner says the document is not authentic",
    "banned_here": "banned at this venue",
    "possible_alert_match": "may be the subject of an alert",
    "alerts_loading": "the node is still loading network alerts after a restart: "
    "check as you would without a scanner, or scan again in a minute",
    "typed": "typed in by hand: no scanner checked this document",
    "document_inconsistent": "the driving licence number does not match the name, "
    "date of birth or sex on the card: look at the card",
}
_PROGRESS = {
    "pending": "an alert of this venue: comparing with its subject",
    "checking": "checking privately with the venue that made the alert",
    "identity_confirmed": "identity confirmed by the venue that made the alert; "
    "asking for its photo",
    "identity_partial": "only the first name and date of birth agree with the alert: "
    "no photo is released on that; check the ID yourself",
    "photo_shown": "photo received",
    "confirmed": "details received from the venue that made the alert",
}
_FIELDS = [
    ("document_type", "Document type (passport, driving_licence, national_id, other)", "passport"),
    ("document_number", "Document number", None),
    ("given_names", "Given names (Enter if none)", ""),
    ("surname", "Surname", None),
    ("date_of_birth", "Date of birth (YYYY-MM-DD, XX for an unknown day or month)", None),
    ("expiry_date", "Expiry date (YYYY-MM-DD)", None),
    ("issuing_country", "Issuing country (3 letters, e.g. GBR)", "GBR"),
    ("postcode", "Postcode (Enter to skip)", ""),
]


class YesNo(StrEnum):
    YES = "yes"
    NO = "no"


@dataclass
class _Screen:
    """Where the narrative goes: stdout, or stderr when stdout carries --json."""

    json_mode: bool

    def say(self, text: str = "", **style: Any) -> None:
        typer.secho(text, err=self.json_mode, **style)

    def prompt(self, label: str, default: str | None) -> str:
        """Ask for one line; Ctrl-C or the end of input stops the visit."""
        try:
            value: str = typer.prompt(
                label, default=default, show_default=bool(default), err=self.json_mode
            )
        except typer.Abort:
            raise ClientError(
                "stopped before an answer was given; give the answer flags for scripts"
            ) from None
        return value.strip()

    def yes_no(self, question: str, given: YesNo | None) -> bool:
        if given is not None:
            self.say(f"{question} [y/n] {given.value}")
            return given is YesNo.YES
        while True:
            reply = self.prompt(f"{question} [y/n]", "").lower()
            if reply in ("y", "yes"):
                return True
            if reply in ("n", "no"):
                return False
            self.say("Please answer y or n.")


@dataclass
class _MatchOutcome:
    match_id: str
    score: float
    harm_band: str
    state: str
    photo_file: str | None = None
    same_person: bool | None = None
    details: dict[str, Any] | None = None
    message: str | None = None


@dataclass
class _Visit:
    scan: dict[str, Any]
    matches: list[_MatchOutcome] = field(default_factory=list)
    admitted: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "scan_id": self.scan["scan_id"],
            "verdict": self.scan["verdict"],
            "reasons": self.scan["reasons"],
            "age": self.scan["age"],
            "matches": [m.__dict__ for m in self.matches],
            "admitted": self.admitted,
        }


def door_command(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="The scanned document as JSON (the identity model, as scan.submit takes it); "
            "without it, each field is asked for.",
        ),
    ] = None,
    same_person: Annotated[
        YesNo | None,
        typer.Option(help="Answer 'Are these two people the same person?' (for scripts)."),
    ] = None,
    admit: Annotated[
        YesNo | None, typer.Option(help="Answer 'Is the person admitted?' (for scripts).")
    ] = None,
    note: Annotated[
        str | None, typer.Option(help="A note for the visit log with the decision (encrypted).")
    ] = None,
    photo_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the side-by-side photos "
            "(default: a new private directory under $XDG_RUNTIME_DIR or /tmp).",
            show_default=False,
        ),
    ] = None,
    keep_photos: Annotated[
        bool,
        typer.Option(
            "--keep-photos", help="Keep the photo files after the visit (they are personal data)."
        ),
    ] = False,
    open_photos: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the photos with xdg-open.")
    ] = True,
    wait: Annotated[
        int, typer.Option(min=1, max=60, help="Seconds to wait for another venue's answer.")
    ] = 20,
    lane: Annotated[
        str,
        typer.Option(
            help="The door this scanner stands at: the web consoles of that door show "
            "the scan live."
        ),
    ] = "main",
    json_: JsonOption = False,
) -> None:
    """Scan an ID at the door: verdict, photos side by side, details, decision.

    Example: doorwatch door --file scan.json
    (or: doorwatch door --user door1 --password-file door1.pw, and type the ID in).
    An alert is not a ban: the client shows what is known, the operator decides.
    """
    screen = _Screen(json_)
    with reported():
        document = _read_scan_file(file) if file is not None else None
        conn = _login(data_dir, user, password_file, wait, screen)
        with conn:
            entry = "scanner"
            if document is None:
                # Typed in by hand: a supervisor's job, and marked so in the visit log.
                document, entry = _ask_document(screen), "typed"
            answers = _Answers(same_person, admit, note)
            photos = _PhotoPlace(photo_dir, keep_photos, open_photos)
            visit = _Door(conn, document, screen, answers, photos, wait, entry, lane).run()
    if json_:
        typer.echo(json.dumps(visit.to_json(), indent=2, sort_keys=True))


def _read_scan_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SCAN_FILE_BYTES + 1)
    except OSError as exc:
        raise ClientError(f"cannot read the scan file {path}: {exc.strerror}") from None
    if len(raw) > MAX_SCAN_FILE_BYTES:
        raise ClientError(f"the scan file {path} is larger than {MAX_SCAN_FILE_BYTES // 1024} KiB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ClientError(f"the scan file {path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ClientError(
            f"the scan file {path} is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    if isinstance(data, dict) and isinstance(data.get("document"), dict):
        data = data["document"]  # a saved scan.submit params object
    if not isinstance(data, dict):
        raise ClientError(f"the scan file {path} must hold one JSON object: the document's fields")
    return data


def _login(
    data_dir: Path, user: str | None, password_file: Path | None, wait: int, screen: _Screen
) -> NodeClient:
    try:
        # The socket waits longer than the node does for another venue's answer.
        conn = NodeClient.open(data_dir, user=user, password_file=password_file, timeout=wait + 30)
    except RpcError as exc:
        raise ClientError(f"login refused: {exc}") from None
    try:
        status = conn.call("node.status")
    except BaseException:
        conn.close()
        raise
    screen.say(f"{status['venue']} - door. Logged in as {conn.session['username']}.")
    return conn


def _ask_document(screen: _Screen) -> dict[str, Any]:
    """Prompt for each field; on a bad value, say which rule it breaks and ask again."""
    screen.say("Type in the ID document (Ctrl-C to stop).")
    answers: dict[str, str] = {}
    todo = [name for name, _, _ in _FIELDS]
    while True:
        for name, label, default in _FIELDS:
            if name in todo:
                answers[name] = screen.prompt(label, default)
        document: dict[str, Any] = {k: v for k, v in answers.items() if v or k == "given_names"}
        try:
            parse_document(document, today=dt.datetime.now(dt.UTC).date())
        except InvalidDocument as exc:
            for problem in exc.problems:
                screen.say(f"  {problem}", fg="red")
            todo = [p.field for p in exc.problems if p.field in answers] or list(answers)
            continue
        return document


@dataclass
class _Answers:
    same_person: YesNo | None
    admit: YesNo | None
    note: str | None


@dataclass
class _PhotoPlace:
    directory: Path | None
    keep: bool
    open_viewer: bool
    written: list[Path] = field(default_factory=list)
    made_dir: Path | None = None

    def path_for(self, n: int, match_id: str) -> Path:
        if self.directory is None:
            runtime = os.environ.get("XDG_RUNTIME_DIR")
            base = Path(runtime) if runtime and Path(runtime).is_dir() else None
            self.made_dir = Path(tempfile.mkdtemp(prefix="doorwatch-door-", dir=base))
            self.directory = self.made_dir
        out = self.directory / f"match-{n}-{match_id[:12]}.png"
        self.written.append(out)
        return out

    def clean_up(self) -> bool:
        """Delete the photos unless asked to keep them; True if any were deleted."""
        if self.keep or not self.written:
            return False
        for path in self.written:
            path.unlink(missing_ok=True)
        if self.made_dir is not None:
            shutil.rmtree(self.made_dir, ignore_errors=True)
        return True


@dataclass
class _Door:
    """One visit at the door, on one logged-in connection."""

    conn: NodeClient
    document: dict[str, Any]
    screen: _Screen
    answers: _Answers
    photos: _PhotoPlace
    wait: int
    entry: str = "scanner"
    lane: str = "main"
    categories: dict[str, str] = field(default_factory=dict)

    def run(self) -> _Visit:
        screen = self.screen
        try:
            scan = self.conn.call(
                "scan.submit", document=self.document, entry=self.entry, lane=self.lane
            )
        except RpcError as exc:
            raise ClientError(f"the scan was not accepted: {exc}") from None
        visit = _Visit(scan)
        _show_verdict(scan, screen)
        visit.matches = [
            _MatchOutcome(m["match_id"], m["score"], m["harm_band"], m["state"])
            for m in scan["matches"]
        ]
        try:
            if visit.matches and scan["verdict"] == "refuse":
                screen.say(
                    "Refused on this venue's own grounds: the alert match is not pursued "
                    "(no photo or details are asked for)."
                )
            elif visit.matches:
                self.categories = _categories(self.conn)
                for n, match in enumerate(visit.matches, start=1):
                    screen.say()
                    screen.say(
                        f"Match {n} of {len(visit.matches)}: {match.harm_band} harm, "
                        f"evidence {match.score:.1f} bits",
                        bold=True,
                    )
                    self._climb(match, n)
            if visit.matches:
                screen.say()
                screen.say(
                    "Remember: an alert is not a ban. You decide whether to admit.", bold=True
                )
            visit.admitted = self._decide(scan)
        finally:
            if self.photos.clean_up():
                screen.say("The photo files have been deleted.")
        return visit

    def _climb(self, match: _MatchOutcome, n: int) -> None:
        """One match up the ladder, showing its match.updated notifications as progress."""

        def progress(message: dict[str, Any]) -> None:
            params = message.get("params") or {}
            if message.get("method") != "match.updated" or params.get("match_id") != match.match_id:
                return
            match.state = str(params.get("state", match.state))
            text = params.get("message") or _PROGRESS.get(match.state, match.state)
            self.screen.say(f"  ... {text}")

        self.screen.say(f"  ... {_PROGRESS.get(match.state, match.state)}")
        self.conn.on_notification = progress
        try:
            self._ladder(match, n)
        finally:
            self.conn.on_notification = None

    def _ladder(self, match: _MatchOutcome, n: int) -> None:
        """Photo, the operator's answer, details."""
        screen, photos = self.screen, self.photos
        try:
            shown = self.conn.call("match.photo", match_id=match.match_id, timeout_s=self.wait)
        except RpcError as exc:
            _stopped(match, exc, screen)
            return
        match.state = str(shown.get("state", "photo_shown"))
        out = photos.path_for(n, match.match_id)
        try:
            side_by_side(
                _b64(self.document.get("photo")),
                _b64(shown.get("photo")),
                out,
                "Scanned document",
                "Alert's subject",
            )
        except PhotoError as exc:
            screen.say(f"  The photos cannot be shown: {exc}.", fg="red")
        else:
            match.photo_file = str(out)
            screen.say(f"  Photos side by side: {out}")
            if photos.open_viewer:
                _open_viewer(out)
        same = screen.yes_no("Are these two people the same person?", self.answers.same_person)
        match.same_person = same
        try:
            confirmed = self.conn.call("match.confirm", match_id=match.match_id, same_person=same)
        except RpcError as exc:
            _stopped(match, exc, screen)
            return
        if not same:
            match.state = "dismissed"
            screen.say(
                "  Not the same person: nothing more is shared; treat them like anyone else."
            )
            return
        match.state = "confirmed"
        if "banned" in confirmed:
            # A Pubwatch banning notice: refuse; no alert details are asked for.
            match.state = "banned"
            match.message = str(confirmed["banned"]["refuse"])
            screen.say(f"  {match.message}", fg="red", bold=True)
            return
        match.details = dict(confirmed["details"])
        _show_details(match.details, self.categories, screen)

    def _decide(self, scan: dict[str, Any]) -> bool:
        admitted = self.screen.yes_no("Is the person admitted?", self.answers.admit)
        params: dict[str, Any] = {"scan_id": scan["scan_id"], "admitted": admitted}
        if self.answers.note:
            params["note"] = self.answers.note
        try:
            self.conn.call("admission.decide", **params)
        except RpcError as exc:
            raise ClientError(f"the decision was not recorded: {exc}") from None
        self.screen.say(
            f"Recorded: {'admitted' if admitted else 'not admitted'} (visit {scan['scan_id']}).",
            fg="green" if admitted else "red",
            bold=True,
        )
        return admitted


# The verdict in letters five lines high, readable from arm's length on a dark door.
_BIG = {
    "A": [" ### ", "#   #", "#####", "#   #", "#   #"],
    "C": [" ####", "#    ", "#    ", "#    ", " ####"],
    "D": ["#### ", "#   #", "#   #", "#   #", "#### "],
    "E": ["#####", "#    ", "#### ", "#    ", "#####"],
    "F": ["#####", "#    ", "#### ", "#    ", "#    "],
    "H": ["#   #", "#   #", "#####", "#   #", "#   #"],
    "I": ["#####", "  #  ", "  #  ", "  #  ", "#####"],
    "K": ["#   #", "#  # ", "###  ", "#  # ", "#   #"],
    "M": ["#   #", "## ##", "# # #", "#   #", "#   #"],
    "R": ["#### ", "#   #", "#### ", "#  # ", "#   #"],
    "T": ["#####", "  #  ", "  #  ", "  #  ", "  #  "],
    "U": ["#   #", "#   #", "#   #", "#   #", " ### "],
}


def _big_word(word: str) -> list[str]:
    """`word` in block letters, five lines (letters without a glyph are left out)."""
    glyphs = [_BIG[c] for c in word.upper() if c in _BIG]
    return ["  ".join(g[row] for g in glyphs).rstrip() for row in range(5)]


def _show_verdict(scan: dict[str, Any], screen: _Screen) -> None:
    verdict = str(scan["verdict"])
    colour = {"admit": "green", "check": "yellow", "refuse": "red"}.get(verdict, "white")
    screen.say()
    for line in _big_word(verdict):
        screen.say(f"  {line}", fg=colour, bold=True)
    screen.say()
    age = scan.get("age")
    screen.say(
        f"{verdict.upper()}. Age {age}." if age is not None else f"{verdict.upper()}.",
        fg=colour,
        bold=True,
    )
    for code in scan["reasons"]:
        screen.say(f"  - {_REASONS.get(code, code)} ({code})")
    if verdict == "check":
        screen.say("A possible match is not a refusal: look at the photos, then decide.")


def _categories(conn: NodeClient) -> dict[str, str]:
    try:
        rows = conn.call("alert.categories")
    except RpcError:
        return {}
    return {str(r["code"]): str(r["label"]) for r in rows}


def _stopped(match: _MatchOutcome, exc: RpcError, screen: _Screen) -> None:
    """A ladder that cannot go on is news for the operator, not a failure of the client."""
    match.message = str(exc)
    if exc.code not in _LADDER_STOPS:
        raise ClientError(f"the node refused the request: {exc}") from None
    match.state, words = _LADDER_STOPS[exc.code]
    screen.say(f"  {words}: {exc}", fg="yellow")
    if exc.code != 1004:
        screen.say(
            "  The statistical match alone identifies no one: decide as you would "
            "without Doorwatch."
        )


def _show_details(details: dict[str, Any], categories: dict[str, str], screen: _Screen) -> None:
    code = str(details.get("category"))
    label = categories.get(code)
    screen.say("  Alert details", bold=True)
    screen.say(f"    Category:   {label} ({code})" if label else f"    Category:   {code}")
    harm = details.get("harm")
    screen.say(
        f"    Harm:       {harm:g}" if isinstance(harm, int | float) else "    Harm:       ?"
    )
    screen.say(f"    Reason:     {details.get('reason') or '(none given)'}")
    screen.say(f"    Venue:      {details.get('originating_venue')}")
    screen.say(f"    Created:    {_when(details.get('created_at'))}")
    screen.say(f"    Expires:    {_when(details.get('expires_at'))}")
    screen.say(f"    Notes:      {details.get('notes') or '(none)'}")
    annotations = details.get("annotations") or []
    if not annotations:
        screen.say("    Annotations: (none)")
    for a in annotations:
        by = a.get("venue") or "the originating venue"
        text = a.get("text") if a.get("text") is not None else "(removed)"
        screen.say(f"    Annotation, {_when(a.get('at'))}, {by}: {text}")


def _b64(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _when(value: object) -> str:
    return f"{format_time(value)} UTC" if isinstance(value, int) else "unknown"


def _open_viewer(path: Path) -> None:
    """Show the image if there is a screen to show it on; never fail the visit over it."""
    opener = shutil.which("open" if sys.platform == "darwin" else "xdg-open")
    has_display = sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if opener is None or not has_display:
        return
    try:
        subprocess.Popen(  # noqa: S603 - a fixed program and our own file
            [opener, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return


if __name__ == "__main__":
    typer.run(door_command)
