"""The socket-client commands against one real daemon: what a user sees.

One module-scoped daemon ("The Crown") keeps the run short; tests that
change state make their own alerts, users and bans. Commands run in-process
(typer's runner: the same code from argument parsing to exit code, without
an interpreter start per command); the last test runs one as a process.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from doorwatch.cli import app
from doorwatch.node._datadir import COOKIE_NAME
from doorwatch.node.testing import PASSWORD, Daemon, RpcClient, doorwatch, sample_document

DAY = 86400


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, input: str | None = None) -> Done:
    """Run `doorwatch ARGS` in this process, as a user would see it (``input``: typed in)."""
    result = CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)
    return Done(result.exit_code, result.stdout, result.stderr)


class Node:
    def __init__(self, daemon: Daemon, base: Path) -> None:
        self.daemon = daemon
        self.data = str(daemon.data_dir)
        self.base = base
        self.pw = base / "pw"
        self.rpc: RpcClient | None = None

    def run(self, *args: str, input: str | None = None) -> Done:
        """`doorwatch ARGS --data-dir D` (logged in with the cookie)."""
        return cli(*args, "--data-dir", self.data, input=input)

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, (args, done.stderr)
        assert done.stderr == ""
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def fails(self, *args: str, code: int = 1, input: str | None = None) -> str:
        done = self.run(*args, input=input)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("doorwatch: ")
        assert "Traceback" not in done.stderr
        return lines[0]

    def call(self, method: str, **params: object) -> Any:
        """A call on the socket as the super administrator (set-up, not the thing tested)."""
        if self.rpc is None:
            self.rpc = self.daemon.client()
        return self.rpc.result(method, **params)

    def new_alert(self, surname: str) -> str:
        made = self.call(
            "alert.create",
            document=sample_document(surname=surname, document_number=f"D{surname}"),
            category="threatening_behaviour",
            reason="threatened door staff",
        )
        return str(made["alert_id"])


def initialised(base: Path, venue: str) -> Path:
    """`doorwatch init` a node in base/node (super administrator admin, password in base/pw)."""
    pw = base / "pw"
    pw.write_text(PASSWORD + "\n")
    data = base / "node"
    done = doorwatch("init", "--data-dir", str(data), "--venue", venue, "--admin-user", "admin",
                     "--password-file", str(pw))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return data


@pytest.fixture(scope="module")
def crown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    base = tmp_path_factory.mktemp("crown")
    daemon = Daemon(initialised(base, "The Crown"), base / "daemon.log")
    daemon.start()
    node = Node(daemon, base)
    node.call("user.add", username="door1", role="door_staff", password=PASSWORD)
    node.call("user.add", username="sup1", role="supervisor", password=PASSWORD)
    yield node
    daemon.stop(signal.SIGKILL)
    assert daemon.unexpected_errors() == []


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised node whose daemon is not running."""
    return initialised(tmp_path_factory.mktemp("stopped"), "The Swan")


# -- status ---------------------------------------------------------------------------------


def test_status_shows_the_venue_identity_and_counts(crown: Node) -> None:
    # Logged in with the cookie the daemon wrote, where the command line looks for it.
    cookie = Path(crown.data) / COOKIE_NAME
    assert stat.S_IMODE(cookie.stat().st_mode) == 0o600
    out = crown.ok("status")
    full = crown.call("node.status")
    assert "The Crown" in out
    assert full["short_id"] in out
    assert full["peer_id"] in out
    assert "Networks   none yet" in out
    assert "active from this venue" in out
    status = crown.json("status")
    assert status["venue"] == "The Crown"
    assert status["counts"]["alerts_originated_active"] >= 0


def test_status_check_passes_a_node_in_no_network(crown: Node) -> None:
    assert crown.ok("status", "--check").startswith("OK: The Crown is running (in no network")
    verdict = crown.json("status", "--check")
    assert verdict["healthy"] is True
    done = crown.run("status", "--check", "--require-peers")
    assert done.returncode == 4
    assert done.stdout.startswith("ISOLATED: The Crown: in no network yet")


def test_status_as_a_staff_user_and_with_a_wrong_password(crown: Node) -> None:
    assert "The Crown" in crown.ok("status", "--user", "door1", "--password-file", str(crown.pw))
    wrong = crown.base / "wrong"
    wrong.write_text("not the password\n")
    message = crown.fails("status", "--user", "door1", "--password-file", str(wrong))
    assert "password" in message
    message = crown.fails("status", "--password-file", str(crown.pw))
    assert message == "doorwatch: --password-file needs --user (the staff user it belongs to)"


# -- users ----------------------------------------------------------------------------------


def test_user_add_list_passwd_disable(crown: Node) -> None:
    newpw = crown.base / "door2.pw"
    newpw.write_text("a new password 2\n")
    out = crown.ok(
        "user", "add", "door2", "--role", "door_staff", "--new-password-file", str(newpw)
    )
    assert out == "Added door2 (door_staff)\n"
    users = {u["username"]: u for u in crown.json("user", "list")}
    assert users["door2"]["role"] == "door_staff"
    assert users["door2"]["disabled"] is False
    assert "door2" in crown.ok("user", "list")
    # door2 logs in with the new password, and changes it
    other = crown.base / "door2b.pw"
    other.write_text("another password\n")
    as_door2 = ("--user", "door2", "--password-file", str(newpw))
    out = crown.ok("user", "passwd", "door2", "--new-password-file", str(other), *as_door2)
    assert out == "Changed the password of door2\n"
    crown.fails("status", *as_door2)  # the old password no longer works
    assert crown.ok("user", "disable", "door2") == "Disabled door2\n"
    listed = crown.ok("user", "list").splitlines()
    assert any(line.split()[:3] == ["door2", "door_staff", "disabled"] for line in listed)


def test_user_commands_refuse_bad_input(crown: Node) -> None:
    pw = str(crown.pw)
    message = crown.fails("user", "add", "door3", "--role", "bouncer", "--new-password-file", pw)
    assert "role" in message
    message = crown.fails("user", "add", "door1", "--role", "door_staff", "--new-password-file", pw)
    assert "door1" in message  # already taken
    message = crown.fails("user", "disable", "nobody")
    assert message.startswith("doorwatch: username")
    short = crown.base / "short.pw"
    short.write_text("short\n")
    message = crown.fails("user", "passwd", "door1", "--new-password-file", str(short))
    assert "password" in message
    missing = crown.fails("user", "passwd", "door1", "--new-password-file", "/nonexistent/pw")
    assert missing.startswith("doorwatch: --new-password-file: cannot read")
    as_door = ("--user", "door1", "--password-file", pw)
    message = crown.fails("user", "list", *as_door)
    assert "administrator" in message  # the role is too low


# -- alerts ---------------------------------------------------------------------------------


def test_alert_list_and_show(crown: Node) -> None:
    alert_id = crown.new_alert("Listed")
    rows = crown.json("alert", "list")
    assert alert_id in [a["alert_id"] for a in rows]
    out = crown.ok("alert", "list", "--status", "active")
    assert alert_id in out
    assert "threatening_behaviour" in out
    shown = crown.ok("alert", "show", alert_id)
    assert "threatened door staff" in shown
    assert "Listed" in shown  # the subject, for a supervisor
    detail = crown.json("alert", "show", alert_id)
    assert detail["alert_id"] == alert_id
    assert detail["subject"]["surname"] == "Listed"
    assert crown.ok("alert", "list", "--status", "withdrawn").find(alert_id) == -1


def test_alert_amend_annotate_review_dispute_withdraw(crown: Node) -> None:
    alert_id = crown.new_alert("Changed")
    as_sup = ("--user", "sup1", "--password-file", str(crown.pw))
    expires = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 30 * DAY))
    out = crown.ok(
        "alert", "amend", alert_id, "--notes", "CCTV kept", "--expires", expires, *as_sup
    )
    assert out.startswith(f"Amended alert {alert_id}: now version 2, active, expires {expires}")
    r = crown.json("alert", "annotate", alert_id, "Seen again, left quietly", *as_sup)
    assert r["version"] == 3
    r = crown.json("alert", "review", alert_id, "--note", "still justified", *as_sup)
    assert r["version"] == 4
    detail = crown.json("alert", "show", alert_id)
    assert detail["notes"] == "CCTV kept"
    assert [a["text"] for a in detail["annotations"]] == ["Seen again, left quietly"]
    assert detail["reviews"][0]["reviewer"] == "sup1"
    out = crown.ok("alert", "dispute", alert_id, "--note", "complaint by email", *as_sup)
    assert "suspended" in out
    out = crown.ok("alert", "withdraw", alert_id, *as_sup)
    assert out.startswith(f"Withdrew alert {alert_id}")
    assert "withdrawn" in out
    assert "withdrawn (version 6)" in crown.ok("alert", "show", alert_id)
    assert alert_id not in crown.ok("alert", "list", "--status", "active")


def test_alert_commands_refuse_bad_input(crown: Node) -> None:
    alert_id = crown.new_alert("Refused")
    assert crown.fails("alert", "show", "no-such-alert").startswith("doorwatch: alert_id")
    message = crown.fails("alert", "amend", alert_id, "--expires", "next tuesday")
    assert message.startswith("doorwatch: --expires: give a date")
    message = crown.fails("alert", "amend", alert_id)
    assert "at least one of" in message
    far = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 800 * DAY))
    assert "expires_at" in crown.fails("alert", "amend", alert_id, "--expires", far)
    assert "status" in crown.fails("alert", "list", "--status", "lost")
    as_door = ("--user", "door1", "--password-file", str(crown.pw))
    assert "supervisor" in crown.fails("alert", "withdraw", alert_id, *as_door)
    assert crown.run("alert", "annotate", alert_id).returncode == 2  # missing TEXT: usage


def test_alert_reinstate_after_a_dispute(crown: Node) -> None:
    alert_id = crown.new_alert("Reinstated")
    as_sup = ("--user", "sup1", "--password-file", str(crown.pw))
    crown.ok("alert", "dispute", alert_id, "--note", "complaint by email", *as_sup)
    out = crown.ok("alert", "reinstate", alert_id, "--note", "CCTV reviewed")
    assert out.startswith(f"Reinstated alert {alert_id}: now version 3, active")
    detail = crown.json("alert", "show", alert_id)
    assert detail["status"] == "active"
    texts = [str(a["text"]) for a in detail["annotations"]]
    assert texts[0].startswith("Disputed by the subject")
    assert "CCTV reviewed" in texts[-1]
    assert "alert.reinstated" in [e["action"] for e in crown.json("audit", "--alert", alert_id)]


def test_alert_reinstate_refuses_an_active_alert_and_a_supervisor(crown: Node) -> None:
    alert_id = crown.new_alert("Not-Disputed")
    message = crown.fails("alert", "reinstate", alert_id)
    assert "suspended" in message
    crown.ok("alert", "dispute", alert_id)
    as_sup = ("--user", "sup1", "--password-file", str(crown.pw))
    assert "administrator" in crown.fails("alert", "reinstate", alert_id, *as_sup)
    assert crown.json("alert", "show", alert_id)["status"] == "suspended"
    assert crown.fails("alert", "reinstate", "no-such-alert").startswith("doorwatch: alert_id")


def test_alert_delete_asks_first_and_erases(crown: Node) -> None:
    alert_id = crown.new_alert("Erased")
    done = crown.run("alert", "delete", alert_id, input="n\n")
    assert done.returncode == 1
    assert "erases its record" in done.stderr
    assert "cannot be undone" in done.stderr
    assert done.stderr.rstrip().endswith(
        "doorwatch: alert delete: not confirmed, nothing was deleted (--yes skips the question)"
    )
    no_answer = crown.run("alert", "delete", alert_id)  # the end of input is not a yes
    assert no_answer.returncode == 1
    assert crown.json("alert", "show", alert_id)["alert_id"] == alert_id
    done = crown.run("alert", "delete", alert_id, input="y\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (  # (the runner echoes the typed-in answer first)
        f"Deleted alert {alert_id}: its record is erased and a tombstone goes to the network; "
        "only the audit entries remain."
    )
    assert crown.fails("alert", "show", alert_id).startswith("doorwatch: alert_id")
    assert alert_id not in [a["alert_id"] for a in crown.json("alert", "list")]
    actions = [e["action"] for e in crown.json("audit", "--alert", alert_id)]
    assert "alert.deleted" in actions


def test_alert_delete_with_yes_and_its_refusals(crown: Node) -> None:
    alert_id = crown.new_alert("Erased-Yes")
    as_sup = ("--user", "sup1", "--password-file", str(crown.pw))
    message = crown.fails("alert", "delete", alert_id, "--yes", *as_sup)
    assert "super_administrator" in message
    assert crown.json("alert", "delete", alert_id, "--yes") == {
        "alert_id": alert_id,
        "deleted": True,
    }
    assert crown.fails("alert", "delete", alert_id, "--yes").startswith("doorwatch: alert_id")


# -- bans -----------------------------------------------------------------------------------


def test_ban_add_by_flags_and_by_scan_list_remove(crown: Node) -> None:
    until = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 90 * DAY))
    person = sample_document(surname="Banned-Flags", document_number="B1")
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in person.items()]
    out = crown.ok("ban", "add", "--reason", "assaulted staff", "--expires", until, *flags)
    assert out.startswith(f"Banned until {until}")
    scan = crown.call("scan.submit", document=person)
    assert scan["verdict"] == "refuse"
    assert "banned_here" in scan["reasons"]
    other = crown.call("scan.submit", document=sample_document(surname="Banned-Scan"))
    r = crown.json(
        "ban",
        "add",
        "--scan-id",
        other["scan_id"],
        "--reason",
        "theft",
        "--expires",
        until,
    )
    bans = {b["ban_id"]: b for b in crown.json("ban", "list")}
    assert {b["subject"]["surname"] for b in bans.values()} >= {"Banned-Flags", "Banned-Scan"}
    assert "Banned-Scan" in crown.ok("ban", "list")
    assert crown.ok("ban", "remove", r["ban_id"]) == f"Removed ban {r['ban_id']}\n"
    assert r["ban_id"] not in {b["ban_id"] for b in crown.json("ban", "list")}


def test_ban_commands_refuse_bad_input(crown: Node) -> None:
    until = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 90 * DAY))
    message = crown.fails("ban", "add", "--reason", "r", "--expires", until)
    assert message.startswith("doorwatch: name the person's ID document")
    message = crown.fails(
        "ban", "add", "--reason", "r", "--expires", until, "--surname", "X", "--date-of-birth",
        "1990-02-30", "--document-number", "1", "--document-type", "passport",
        "--expiry-date", "2030-01-01", "--issuing-country", "GBR",
    )  # fmt: skip
    assert "date_of_birth" in message
    assert "1990-02-30" not in message
    assert "ban_id" in crown.fails("ban", "remove", "no-such-ban")
    assert "--expires" in crown.fails("ban", "add", "--reason", "r", "--expires", "soon")


# -- audit, visits, subject access -----------------------------------------------------------


def test_audit_filters_by_user_alert_and_time(crown: Node) -> None:
    alert_id = crown.new_alert("Audited")
    crown.ok("alert", "show", alert_id, "--user", "sup1", "--password-file", str(crown.pw))
    entries = crown.json("audit", "--alert", alert_id)
    assert entries
    assert all(e["alert_id"] == alert_id for e in entries)
    assert "alert.viewed" in [e["action"] for e in entries]
    mine = crown.json("audit", "--actor", "sup1")
    assert mine
    assert all(e["actor"] == "sup1" for e in mine)
    assert crown.json("audit", "--until", "2000-01-01") == []
    future = crown.ok("audit", "--since", str(int(time.time()) + DAY))
    assert future == "No audit entries match.\n"
    text = crown.ok("audit", "--alert", alert_id, "--action", "alert.viewed")
    assert text.count("\n") == 1
    assert "sup1 alert.viewed" in text
    assert crown.fails("audit", "--since", "yesterday").startswith("doorwatch: --since:")


def test_visits_export_to_csv_file_and_json(crown: Node) -> None:
    start = int(time.time()) - 1
    crown.call("scan.submit", document=sample_document(surname="Visitor-One"))
    crown.call("scan.submit", document=sample_document(surname="Visitor-Two"))
    end = int(time.time()) + 2
    out_file = crown.base / "visits.csv"
    out = crown.ok("visits", "export", "--from", str(start), "--to", str(end), "-o", str(out_file))
    assert out.startswith("Wrote ")
    assert str(out_file) in out
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert {"Visitor-One", "Visitor-Two"} <= {r["subject_surname"] for r in rows}
    assert all(r["verdict"] in ("admit", "check", "refuse") for r in rows)
    exported = json.loads(
        crown.ok("visits", "export", "--from", str(start), "--to", str(end), "--format", "json")
    )
    assert exported["from"] == start
    assert len(exported["visits"]) == len(rows)
    actions = [e["action"] for e in crown.json("audit", "--action", "visits.exported")]
    assert len(actions) >= 2


def test_visits_export_refuses_bad_input(crown: Node) -> None:
    message = crown.fails("visits", "export", "--from", "2026-11-22", "--to", "2026-11-21")
    assert message == "doorwatch: --to must be after --from"
    message = crown.fails("visits", "export", "--from", "1", "--to", "2", "--format", "xls")
    assert message == "doorwatch: --format must be csv or json"
    assert crown.run("visits", "export", "--from", "1").returncode == 2


def test_sar_export_by_file_and_by_flags(crown: Node) -> None:
    person = sample_document(surname="Subject-Access", document_number="SAR1")
    crown.call("scan.submit", document=person)
    id_file = crown.base / "id.json"
    id_file.write_text(json.dumps(person))
    result = json.loads(crown.ok("sar", "export", "--document", str(id_file)))
    assert len(result["visits"]) == 1
    assert result["visits"][0]["subject"]["surname"] == person["surname"]
    out_file = crown.base / "sar.json"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in person.items()]
    out = crown.ok("sar", "export", *flags, "--output", str(out_file))
    assert out.startswith("Wrote 1 visits, 0 bans, 0 alerts")
    assert json.loads(out_file.read_text())["visits"] == result["visits"]
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600


def test_sar_export_refuses_bad_input(crown: Node) -> None:
    bad = crown.base / "bad.json"
    bad.write_text("[1, 2]")
    message = crown.fails("sar", "export", "--document", str(bad))
    assert message.endswith("must hold a JSON object")
    message = crown.fails("sar", "export", "--document", str(bad), "--surname", "X")
    assert "not both" in message
    message = crown.fails("sar", "export", "--surname", "Only")
    assert "document" in message


# -- config while the node runs --------------------------------------------------------------


def test_config_set_on_a_running_node_says_restart(crown: Node) -> None:
    out = crown.ok("config", "set", "visit_retention_days", "14")
    assert "restart it" in out
    shown = {k["key"]: k for k in crown.json("config", "show")["keys"]}
    assert shown["visit_retention_days"]["value"] == 14


# -- the node not running --------------------------------------------------------------------

NOT_RUNNING = [
    ("status",),
    ("status", "--check"),
    ("user", "list"),
    ("user", "add", "x", "--role", "door_staff", "--new-password-file", "{pw}"),
    ("user", "disable", "x"),
    ("user", "passwd", "x", "--new-password-file", "{pw}"),
    ("alert", "list"),
    ("alert", "show", "a"),
    ("alert", "amend", "a", "--notes", "n"),
    ("alert", "annotate", "a", "text"),
    ("alert", "review", "a"),
    ("alert", "dispute", "a"),
    ("alert", "withdraw", "a"),
    ("alert", "reinstate", "a"),
    ("alert", "delete", "a", "--yes"),
    ("alert", "delete", "a"),
    ("ban", "list"),
    ("ban", "add", "--reason", "r", "--expires", "2030-01-01", "--surname", "X"),
    ("ban", "remove", "b"),
    ("audit",),
    ("visits", "export", "--from", "1", "--to", "2"),
    ("sar", "export", "--surname", "X"),
]


@pytest.mark.parametrize("args", NOT_RUNNING, ids=[" ".join(a[:2]) for a in NOT_RUNNING])
def test_commands_say_the_node_is_not_running(stopped: Path, args: tuple[str, ...]) -> None:
    pw = stopped.parent / "pw"
    done = cli(*(a.format(pw=pw) for a in args), "--data-dir", str(stopped))
    assert done.returncode == 3, done.stderr
    assert done.stderr == (
        f"doorwatch: the node in {stopped} is not running; start it with "
        f"`doorwatch run --data-dir {stopped}`\n"
    )


def test_a_command_as_a_process(crown: Node, stopped: Path) -> None:
    done = doorwatch("alert", "list", "--json", "--data-dir", crown.data)
    assert done.returncode == 0
    assert isinstance(json.loads(done.stdout), list)
    done = doorwatch("status", "--check", "--data-dir", str(stopped))
    assert done.returncode == 3
    assert done.stderr.startswith(f"doorwatch: the node in {stopped} is not running")
