"""`doorwatch door` at a venue's door, against real daemons: The Crown made an alert, The Swan
scans customers with the reference client."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from doorwatch.cli import _app, app
from doorwatch.cli._client import EXIT_ERROR, EXIT_NOT_RUNNING
from doorwatch.cli._door import door_command
from doorwatch.cli._photos import synthetic_portrait
from doorwatch.node._ladder_testing import daemon_pair_with_alert
from doorwatch.node.testing import Daemon, doorwatch, sample_document

SUBJECT = sample_document()
INNOCENT = sample_document(
    surname="Okonkwo", given_names="Ada", date_of_birth="1988-01-09", document_number="118822771"
)
ALERT = {
    "document": SUBJECT,
    "category": "weapon",
    "reason": "carried a knife",
    "notes": "CCTV kept, camera 3",
    "photo": base64.b64encode(synthetic_portrait(11)).decode(),
}


def _age(born: str) -> int:
    b, today = dt.date.fromisoformat(born), dt.datetime.now(dt.UTC).date()
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


def run_door(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`doorwatch door ...` as a separate process (its module until the command is registered)."""
    registered = "door" in getattr(_app, "LAZY_COMMANDS", {}) or any(
        c.name == "door" or c.callback is door_command for c in app.registered_commands
    )
    if registered and not stdin:
        return doorwatch("door", *args)
    entry = ["doorwatch.cli", "door"] if registered else ["doorwatch.cli._door"]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run(
        [sys.executable, "-m", *entry, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def one_line_error(done: subprocess.CompletedProcess[str], code: int = EXIT_ERROR) -> str:
    assert done.returncode == code, done.stdout
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def recorded(out: str) -> tuple[str, str]:
    """The decision and the visit's scan id, as the client reports them once at the end."""
    [found] = re.findall(r"Recorded: (admitted|not admitted) \(visit (\w+)\)\.\n$", out)
    return found[0], found[1]


class Venues:
    def __init__(self, a: Daemon, b: Daemon, alert_id: str, root: Path) -> None:
        self.a, self.b, self.alert_id, self.root = a, b, alert_id, root
        self.password_file = root / "pw"

    def scan_file(self, name: str, document: dict[str, Any]) -> Path:
        path = self.root / name
        path.write_text(json.dumps(document))
        return path

    def disclosures(self, node: Daemon) -> list[str]:
        client = node.client()
        entries = client.result("audit.query", alert_id=self.alert_id)
        assert isinstance(entries, list)
        return [e["action"] for e in entries if e["action"].startswith("disclosure.")]

    def visit(self, node: Daemon, scan_id: str) -> dict[str, Any]:
        """The visit log's row for ``scan_id``."""
        client = node.client()
        now = int(dt.datetime.now(dt.UTC).timestamp())
        exported = client.result("visits.export", **{"from": now - 3600, "to": now + 60})
        assert isinstance(exported, dict)
        rows = exported["visits"]
        [row] = [r for r in rows if r["scan_id"] == scan_id]
        return dict(row)


@pytest.fixture(scope="module")
def venues(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venues]:
    root = tmp_path_factory.mktemp("door")
    with daemon_pair_with_alert(root, ALERT) as (a, b, alert_id):
        yield Venues(a, b, alert_id, root)


def test_the_subject_at_the_door(venues: Venues, tmp_path: Path) -> None:
    venues.a.client().result(
        "alert.annotate", alert_id=venues.alert_id, text="asked to leave again on 20 Nov"
    )
    scan = {**SUBJECT, "photo": base64.b64encode(synthetic_portrait(12)).decode()}
    done = run_door(
        "--data-dir", str(venues.b.data_dir),
        "--user", "admin", "--password-file", str(venues.password_file),
        "--file", str(venues.scan_file("subject.json", scan)),
        "--same-person", "yes", "--admit", "no", "--note", "refused, left quietly",
        "--photo-dir", str(tmp_path), "--keep-photos", "--no-open",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "The Swan - door. Logged in as admin." in out
    assert f"CHECK. Age {_age(SUBJECT['date_of_birth'])}." in out
    assert " ####  #   #  #####   ####  #   #" in out  # CHECK in big letters
    assert "may be the subject of an alert (possible_alert_match)" in out
    assert "identity confirmed by the venue that made the alert" in out

    [png] = list(tmp_path.glob("*.png"))
    assert f"Photos side by side: {png}" in out
    assert stat.S_IMODE(png.stat().st_mode) == 0o600
    with Image.open(png) as sheet:
        assert sheet.format == "PNG"
        assert sheet.width >= 2 * 240

    assert "Are these two people the same person? [y/n] yes" in out
    for shown in (
        "Category:   Carrying a weapon (knife, bladed article, offensive weapon) (weapon)",
        "Harm:       90\n",
        "Reason:     carried a knife",
        "Venue:      The Crown",
        "Notes:      CCTV kept, camera 3",
        ", The Crown: asked to leave again on 20 Nov",
        "Expires:    20",
        "an alert is not a ban",
    ):
        assert shown in out
    [recorded] = [line for line in out.splitlines() if line.startswith("Recorded: ")]
    assert recorded.startswith("Recorded: not admitted (visit ")

    visit = venues.visit(venues.b, recorded.removeprefix("Recorded: not admitted (visit ")[:-2])
    assert visit["verdict"] == "check"
    assert visit["admitted"] is False
    assert visit["decided_by"] == "admin"
    assert visit["note"] == "refused, left quietly"
    assert "disclosure.details.details_received" in venues.disclosures(venues.b)
    assert venues.disclosures(venues.a)[-2:] == [
        "disclosure.details.requested",
        "disclosure.details.answered",
    ]


def test_not_the_same_person_shares_nothing_more_and_prints_json(
    venues: Venues, tmp_path: Path
) -> None:
    before = venues.disclosures(venues.a)
    done = run_door(
        "--data-dir", str(venues.b.data_dir),
        "--file", str(venues.scan_file("subject2.json", {"document": SUBJECT})),
        "--same-person", "no", "--admit", "yes",
        "--photo-dir", str(tmp_path), "--no-open", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["verdict"] == "check"
    assert outcome["admitted"] is True
    [match] = outcome["matches"]
    assert match["same_person"] is False
    assert match["state"] == "dismissed"
    assert match["details"] is None
    assert "CHECK. Age" in done.stderr
    assert "nothing more is shared" in done.stderr
    # The comparison image was written, then deleted once the visit was recorded.
    assert match["photo_file"].startswith(str(tmp_path))
    assert list(tmp_path.iterdir()) == []
    assert "The photo files have been deleted." in done.stderr

    after = venues.disclosures(venues.a)
    assert "disclosure.details.requested" not in after[len(before) :]
    assert "disclosure.photo.answered" in after[len(before) :]
    visit = venues.visit(venues.b, outcome["scan_id"])
    assert visit["admitted"] is True
    assert visit["decided_by"] == "local-admin"


def test_an_innocent_customer_is_admitted_without_asking_anyone(venues: Venues) -> None:
    before = venues.disclosures(venues.a)
    done = run_door(
        "--data-dir", str(venues.b.data_dir),
        "--file", str(venues.scan_file("innocent.json", INNOCENT)),
        "--admit", "yes", "--no-open", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["verdict"] == "admit"
    assert outcome["reasons"] == []
    assert outcome["matches"] == []
    assert outcome["age"] == _age(INNOCENT["date_of_birth"])
    assert "ADMIT. Age" in done.stderr
    assert "same person" not in done.stderr
    assert "Photos" not in done.stderr
    assert venues.disclosures(venues.a) == before
    assert venues.visit(venues.b, outcome["scan_id"])["admitted"] is True


def test_a_refusal_on_local_grounds_asks_no_photo(venues: Venues) -> None:
    expired = venues.scan_file("expired.json", {**SUBJECT, "expiry_date": "2020-01-01"})
    before = venues.disclosures(venues.a)
    done = run_door(
        "--data-dir", str(venues.b.data_dir), "--file", str(expired), "--admit", "no", "--json"
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["verdict"] == "refuse"
    assert outcome["reasons"] == ["document_expired", "possible_alert_match"]
    assert [m["photo_file"] for m in outcome["matches"]] == [None]
    assert "REFUSE. Age" in done.stderr
    assert "the alert match is not pursued" in done.stderr
    assert "same person" not in done.stderr
    assert "disclosure.photo.requested" not in venues.disclosures(venues.a)[len(before) :]
    assert venues.visit(venues.b, outcome["scan_id"])["admitted"] is False


def test_a_document_typed_in_field_by_field(venues: Venues) -> None:
    typed = [
        "passport", "118822771", "Ada", "Okonkwo",
        "09/01/1988",  # not ISO: asked again
        "2033-03-01", "GBR", "",
        "1988-01-09",
        "maybe", "y",  # admitted? only y or n will do
    ]  # fmt: skip
    done = run_door("--data-dir", str(venues.b.data_dir), stdin="\n".join(typed) + "\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "date_of_birth: must be an ISO date (YYYY-MM-DD)" in out
    assert "ADMIT. Age" in out
    assert "Please answer y or n." in out
    decision, scan_id = recorded(out)
    assert decision == "admitted"
    visit = venues.visit(venues.b, scan_id)
    assert visit["verdict"] == "admit"
    assert visit["admitted"] is True


def test_an_invalid_document_in_the_file_names_the_field(venues: Venues) -> None:
    bad = venues.scan_file("bad-date.json", {**SUBJECT, "date_of_birth": "04/07/1995"})
    error = one_line_error(
        run_door("--data-dir", str(venues.b.data_dir), "--file", str(bad), "--admit", "no")
    )
    assert "the scan was not accepted" in error
    assert "date_of_birth" in error
    assert "04/07/1995" not in error


def test_a_wrong_password_is_one_sentence(venues: Venues, tmp_path: Path) -> None:
    pw = tmp_path / "wrong.pw"
    pw.write_text("not the password\n")
    scan = venues.scan_file("innocent.json", INNOCENT)
    done = run_door(
        "--data-dir", str(venues.b.data_dir),
        "--user", "admin", "--password-file", str(pw), "--file", str(scan),
    )  # fmt: skip
    error = one_line_error(done)
    assert error.startswith("doorwatch: login refused:")


def test_bad_json_file(tmp_path: Path) -> None:
    bad = tmp_path / "scan.json"
    text = '{"surname": "Okonkwo",'
    bad.write_text(text)
    error = one_line_error(run_door("--data-dir", str(tmp_path), "--file", str(bad)))
    end = len(text) + 1  # the file ends where a value should have been
    assert error == f"doorwatch: the scan file {bad} is not valid JSON (line 1, column {end})"
    bad.write_text('["not", "an", "object"]')
    error = one_line_error(run_door("--data-dir", str(tmp_path), "--file", str(bad)))
    assert "must hold one JSON object" in error


def test_node_not_running(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("correct horse battery\n")
    data = tmp_path / "node"
    made = doorwatch(
        "init", "--data-dir", str(data), "--venue", "The Swan",
        "--admin-user", "admin", "--password-file", str(pw),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    scan = tmp_path / "scan.json"
    scan.write_text(json.dumps(INNOCENT))
    error = one_line_error(run_door("--data-dir", str(data), "--file", str(scan)), EXIT_NOT_RUNNING)
    assert error.startswith(f"doorwatch: the node in {data} is not running")
    missing = tmp_path / "nowhere"
    error = one_line_error(
        run_door("--data-dir", str(missing), "--file", str(scan)), EXIT_NOT_RUNNING
    )
    assert error.startswith(f"doorwatch: there is no Doorwatch node in {missing}")


def test_help_has_an_example() -> None:
    done = run_door("--help")
    assert done.returncode == 0
    assert "Example: doorwatch door --file scan.json" in done.stdout
    assert "--same-person" in done.stdout
