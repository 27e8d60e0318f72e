"""`doorwatch demo`: the whole Doorwatch story on three real nodes, narrated.

One command, no configuration, loopback only. It creates a Pubwatch of three
venues in a temporary directory, starts three real `doorwatch run`
processes, and tells the story with real calls to their local sockets: the
network is formed, staff at The Crown create an alert from a scan, gossip
carries it to the other venues, an innocent customer at The Bell gets a
green tick without any request leaving The Bell, the subject arrives at The
Bell and the disclosure ladder runs (statistical match, private identity
check, photo side by side, the operator's confirmation, the details, the
decision), the subject disputes the alert and the revision propagates, the
alert expires on a fast-forwarded clock, and each node's status is shown.

Every step checks that it did what it says; the demo exits 0 only if all of
them did, else it names the step that failed and why in one sentence and
exits 1. Its processes are stopped and reaped on every way out (SIGTERM, then
SIGKILL after a grace period), Ctrl-C included; the temporary directory is
removed unless --keep or --data-dir is given (then each node's made-up storage
key passphrase is left beside its directory, so that it can be run again).

The customers are synthetic (generated names, drawn portraits): the subject's
name is printed once, at the start, and no other personal data is printed.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from doorwatch.cli._demo_nodes import (
    READY_TIMEOUT_S,
    DemoFailed,
    DemoNode,
    stop_all,
    wait_until,
)
from doorwatch.cli._demo_people import Cast, cast, document
from doorwatch.cli._output import debug, fail
from doorwatch.cli._photos import PhotoError, side_by_side
from doorwatch.node._categories import BY_CODE
from doorwatch.node._errors import NodeError
from doorwatch.node._setup import init_node
from doorwatch.node._storage_key import Passphrase, sealing_cost
from doorwatch.segments import Identity, age_on

NETWORK_NAME = "Demo Pubwatch"
GROUP = "door"
MANAGER = "manager"
DOOR = "door"
CATEGORY = "threatening_behaviour"
REASON = "Threatened door staff after being refused entry"
NOTES = "CCTV kept (camera 3)"
MESH_TIMEOUT_S = 45.0
STEP_TIMEOUT_S = 20.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


class Narrator:
    """Numbered steps, each followed by its checks (✓) or the one that failed (✗)."""

    def __init__(self, echo: Callable[[str], None] = typer.echo) -> None:
        self.echo = echo
        self.number = 0
        self.title = ""
        encoding = getattr(sys.stdout, "encoding", None) or "ascii"
        try:
            "✓✗".encode(encoding)
            self.tick, self.cross = "✓", "✗"
        except (UnicodeEncodeError, LookupError):
            self.tick, self.cross = "OK", "XX"

    def step(self, title: str) -> None:
        self.number += 1
        self.title = title
        self.echo(f"{self.number:>2}. {title}")

    def ok(self, text: str, ms: float | None = None) -> None:
        timing = "" if ms is None else f"  ({ms:,.0f} ms)"
        self.echo(f"    {self.tick} {text}{timing}")

    def note(self, text: str) -> None:
        self.echo(f"      {text}")

    def failed(self, why: str) -> None:
        self.echo(f"    {self.cross} {why}")


@contextmanager
def timed() -> Iterator[Callable[[], float]]:
    """Milliseconds spent in the ``with`` block (read after it: the clock stopped at its end)."""
    start = time.monotonic()
    end: float | None = None

    def elapsed() -> float:
        return ((time.monotonic() if end is None else end) - start) * 1000

    try:
        yield elapsed
    finally:
        end = time.monotonic()


@dataclass
class Demo:
    root: Path
    photo_out: Path | None
    seed: int
    say: Narrator
    nodes: dict[str, DemoNode] = field(default_factory=dict)
    network_id: str = ""
    alert_id: str = ""
    expires_at: int = 0
    started_at: int = 0
    created_t0: float = 0.0  # time.monotonic() when alert.create was sent
    people: Cast | None = None

    @property
    def a(self) -> DemoNode:
        return self.nodes["A"]

    @property
    def b(self) -> DemoNode:
        return self.nodes["B"]

    @property
    def c(self) -> DemoNode:
        return self.nodes["C"]

    def run(self) -> None:
        today = dt.datetime.now(dt.UTC).date()
        people = self.people = cast(self.seed, today)
        self.say.echo(
            "Doorwatch demo: a Pubwatch of three venues on this computer, with real node "
            "processes talking over loopback only."
        )
        self.say.echo(
            f"The subject, {people.subject_name}, is synthetic: a generated name and a drawn "
            "portrait, not a real person. No other personal data is printed."
        )
        self.say.echo("")
        self.set_up()
        self.start_nodes()
        self.form_network()
        self.create_alert(people, today)
        self.gossip()
        self.innocent_customer(people)
        scan_id, match_id = self.subject_arrives(people)
        self.identity_check(match_id)
        self.photo(people, match_id)
        self.confirm(match_id)
        self.decide(scan_id)
        self.audited()
        self.dispute()
        self.revision_propagates(people)
        self.fast_forward()
        self.expired_everywhere()
        self.status()

    # -- the steps --------------------------------------------------------------------------

    def set_up(self) -> None:
        self.say.step("Three venues of a Pubwatch are set up, each with its own keys and database")
        self.started_at = int(time.time())
        with timed() as ms:
            for letter, venue, dirname in (
                ("A", "The Crown", "crown"),
                ("B", "The Swan", "swan"),
                ("C", "The Bell", "bell"),
            ):
                node = DemoNode(letter, venue, self.root / dirname, secrets.token_urlsafe(12))
                node.check_socket_path()
                try:
                    node.peer_id = init_node(
                        node.data_dir,
                        venue=venue,
                        admin_user=MANAGER,
                        password=node.password,
                        passphrase=Passphrase(node.passphrase, "the demo's own"),
                        cost=sealing_cost(),
                        now=int(time.time()),
                    )
                except NodeError as exc:
                    raise DemoFailed(f"doorwatch init failed for {venue}: {exc}") from None
                node.users[MANAGER] = node.password
                self.nodes[letter] = node
        self.say.ok(
            "The Crown (A), The Swan (B) and The Bell (C): node keys, an encrypted database "
            "(its key sealed under a passphrase the demo makes up) and a manager login each",
            ms(),
        )
        self.say.note(f"in {self.root}")

    def start_nodes(self) -> None:
        self.say.step("Each venue starts its node: a real `doorwatch run` process on 127.0.0.1")
        with timed() as ms:
            for node in self.nodes.values():
                node.start()
            deadline = time.monotonic() + READY_TIMEOUT_S
            for node in self.nodes.values():
                node.wait_ready(deadline)
        pids = ", ".join(f"{n.venue} {n.proc.pid}" for n in self.nodes.values() if n.proc)
        self.say.ok(f"three nodes answer on their sockets (pids: {pids})", ms())
        self.say.note("their clocks can be fast-forwarded (DOORWATCH_DEMO_CLOCK=1, demo only)")
        with timed() as ms:
            for node in (self.a, self.c):
                password = secrets.token_urlsafe(12)
                node.client(MANAGER).ask(
                    "user.add", username=DOOR, role="door_staff", password=password
                )
                node.users[DOOR] = password
        self.say.ok("door staff logins added at The Crown and The Bell (role door_staff)", ms())

    def form_network(self) -> None:
        self.say.step(f"The Crown creates the network {NETWORK_NAME!r}; The Swan and The Bell join")
        with timed() as ms:
            made = self.a.client(MANAGER).ask("network.create", name=NETWORK_NAME)
            self.network_id = str(made["network_id"])
        self.say.ok(f"network {self.network_id} created; The Crown holds its authority key", ms())
        for node, groups in ((self.b, []), (self.c, [GROUP])):
            with timed() as ms:
                invite = self.a.client(MANAGER).ask(
                    "network.invite", venue=node.venue, groups=groups, expires_in_s=600
                )
                node.client(MANAGER).ask("network.join", token=invite["token"])
            shown = ", ".join(["all", *groups])
            self.say.ok(f"{node.venue} invited (one-time token) and joined; groups: {shown}", ms())
        with timed() as ms:
            self.a.client(MANAGER).ask("network.group_add", group=GROUP, members=[self.a.peer_id])
        self.say.ok(
            f"The Crown joins the {GROUP!r} group too (its certificate re-issued): "
            f"The Crown and The Bell are in {GROUP!r}, The Swan is not",
            ms(),
        )
        venues = {n.venue for n in self.nodes.values()}

        def ready() -> bool:
            for node in self.nodes.values():
                if self.connected(node) != venues - {node.venue}:
                    return False
            for node in (self.b, self.c):
                listed = node.client(MANAGER).ask("network.members")["members"]
                groups = {m["venue"]: m["groups"] for m in listed}
                if set(groups) != venues or GROUP not in groups["The Crown"]:
                    return False
            networks = self.c.client(MANAGER).ask("node.status")["networks"]
            return any(GROUP in n["group_epochs"] for n in networks)

        ms_ready = wait_until(
            "every venue connecting to the two others with the same membership",
            ready,
            MESH_TIMEOUT_S,
            0.1,
        )
        self.say.ok(
            "every venue is connected to the two others and holds the same certificates; "
            f"The Bell holds the {GROUP!r} group key",
            ms_ready,
        )

    def create_alert(self, people: Cast, today: dt.date) -> None:
        subject = people.subject
        self.say.step("At The Crown, door staff scan a customer, who then threatens them")
        door = self.a.client(DOOR)
        with timed() as ms:
            scan = door.ask("scan.submit", document=document(subject))
        expect(scan["verdict"] == "admit", f"The Crown's verdict was {scan['verdict']}, not admit")
        kind = subject.document_type.value.replace("_", " ")
        self.say.ok(
            f"green tick: admitted (age {age_on(subject, today)}, UK {kind}, document photo)",
            ms(),
        )
        category = BY_CODE[CATEGORY]
        self.created_t0 = time.monotonic()
        with timed() as ms:
            made = door.ask(
                "alert.create",
                scan_id=scan["scan_id"],
                category=CATEGORY,
                reason=REASON,
                notes=NOTES,
                groups=[GROUP],
            )
        self.alert_id = str(made["alert_id"])
        self.expires_at = int(made["expires_at"])
        days = round((self.expires_at - time.time()) / 86400)
        self.say.ok(
            f"alert {self.alert_id[:12]}… created from the scan: {category.label.lower()} "
            f"(harm {category.harm:g}), for the {GROUP!r} group, expires in {days} days",
            ms(),
        )
        detail = self.a.client(MANAGER).ask("alert.get", alert_id=self.alert_id)
        expect(detail["has_photo"], "The Crown's alert has no photo, though the scan had one")
        self.say.note(
            f"only {len(detail['segments'])} fragments of the identity are shared (on "
            f"average {detail['anonymity_set']:,.0f} people in the UK would share them, "
            "an expectation from population tables); the identity, "
            "photo and details stay at The Crown, encrypted"
        )

    def gossip(self) -> None:
        self.say.step("Gossip carries the sealed alert to the other venues (times from 'create')")
        start = self.created_t0
        at_c: float | None = None
        at_b: float | None = None

        def arrived() -> bool:
            nonlocal at_c, at_b
            now_ms = (time.monotonic() - start) * 1000
            if at_c is None and self.counts(self.c)["alerts_received_active"] == 1:
                at_c = now_ms
            if at_b is None and self.b.stored_record(self.alert_id) is not None:
                at_b = now_ms
            return at_c is not None and at_b is not None

        wait_until("the alert reaching The Bell and The Swan", arrived, STEP_TIMEOUT_S)
        self.say.ok(f"The Bell (in the {GROUP!r} group) can match it at its door", at_c)
        expect(
            self.counts(self.b)["alerts_received_active"] == 0,
            "The Swan could read an alert sealed to a group it is not in",
        )
        self.say.ok(
            f"The Swan (not in {GROUP!r}) stores the sealed copy but cannot open it: "
            "0 alerts to match at its door",
            at_b,
        )

    def innocent_customer(self, people: Cast) -> None:
        self.say.step("At The Bell, an innocent customer is scanned")
        ms = self.green_tick_at_c(people.innocent, "the innocent customer")
        self.say.ok("green tick: admitted, no match, answered from The Bell's own data", ms)
        time.sleep(0.3)  # a request, had one been started, would be on its way by now
        for node in (self.a, self.c):
            expect(
                not self.disclosures(node),
                f"{node.venue}'s audit log shows a disclosure request for an innocent customer",
            )
        self.say.ok("no request left The Bell: neither audit log has a disclosure entry")

    def subject_arrives(self, people: Cast) -> tuple[str, str]:
        self.say.step("The subject arrives at The Bell; its scanner reads the document differently")
        self.say.note("read differences: " + "; ".join(people.misreads or ["none"]))
        door = self.c.client(DOOR)
        with timed() as ms:
            scan = door.ask("scan.submit", document=document(people.subject_misread))
        expect(
            scan["verdict"] == "check" and len(scan["matches"]) == 1,
            f"The Bell's verdict was {scan['verdict']} with {len(scan['matches'])} match(es), "
            "not one possible match",
        )
        match = scan["matches"][0]
        expect(match["state"] == "checking", f"the match is {match['state']}, not checking")
        self.say.ok(
            f"amber: a statistical match with an alert ({match['score']:.1f} bits of evidence, "
            f"{match['harm_band']} harm); no name is shown",
            ms(),
        )
        return str(scan["scan_id"]), str(match["match_id"])

    def identity_check(self, match_id: str) -> None:
        self.say.step("The Bell asks The Crown, privately, whether it is really the subject")
        with timed() as ms:
            update = self.c.client(DOOR).next_update(match_id, STEP_TIMEOUT_S)
        expect(
            update["state"] == "identity_confirmed",
            f"the identity check ended {update['state']}: {update.get('message', '')}".rstrip(": "),
        )
        self.say.ok("identity confirmed (private equality test, match.updated)", ms())
        self.say.note(
            "The Crown learned nothing about the customer; The Bell learned only 'the same'"
        )

    def photo(self, people: Cast, match_id: str) -> None:
        self.say.step("The Crown releases the subject's photo to The Bell, and only to it")
        with timed() as ms:
            shown = self.c.client(DOOR).ask("match.photo", match_id=match_id, timeout_s=10)
        encoded = shown.get("photo")
        expect(encoded is not None, "The Crown sent no photo")
        photo = base64.b64decode(encoded)
        expect(photo == people.subject_photo, "the photo received is not the alert's photo")
        self.say.ok(f"photo received, sealed to The Bell ({len(photo) / 1024:.0f} KiB)", ms())
        scanned = people.subject_misread.photo
        if self.photo_out is None:
            handle, name = tempfile.mkstemp(prefix="doorwatch-demo-side-by-side-", suffix=".png")
            os.close(handle)
            self.photo_out = Path(name)
        try:
            side_by_side(
                scanned,
                photo,
                self.photo_out,
                "The Bell: scanned now",
                "The Crown: alert photo",
            )
        except PhotoError as exc:
            raise DemoFailed(f"the side-by-side picture could not be made: {exc}") from None
        with open(self.photo_out, "rb") as f:
            expect(f.read(8) == PNG_SIGNATURE, f"{self.photo_out} is not a PNG picture")
        self.say.ok(f"side by side for the door operator: {self.photo_out}")

    def confirm(self, match_id: str) -> None:
        self.say.step("The operator answers 'Are these two people the same person?': yes")
        with timed() as ms:
            done = self.c.client(DOOR).ask("match.confirm", match_id=match_id, same_person=True)
        details = done["details"]
        expect(
            details["originating_venue"] == "The Crown" and details["reason"] == REASON,
            "the details received are not The Crown's alert",
        )
        self.say.ok("The Crown released the alert's details to The Bell", ms())
        created = dt.datetime.fromtimestamp(details["created_at"], dt.UTC).strftime("%d %b %Y")
        label = BY_CODE[details["category"]].label if details["category"] in BY_CODE else "?"
        self.say.note(
            f"{label} (harm {details['harm']:g}), The Crown, {created}: {details['reason']!r}"
        )

    def decide(self, scan_id: str) -> None:
        self.say.step("The operator talks to the customer and records the decision")
        with timed() as ms:
            done = self.c.client(DOOR).ask(
                "admission.decide",
                scan_id=scan_id,
                admitted=False,
                note="Refused tonight after talking to the customer",
            )
        expect(done == {"recorded": True}, "The Bell did not record the decision")
        self.say.ok("not admitted tonight: The Bell recorded the decision and its note", ms())
        self.say.note("an alert is not a ban: the decision was the operator's")

    def audited(self) -> None:
        self.say.step("Both venues' audit logs hold every step of the disclosure")
        expected = [
            f"disclosure.{step}.{outcome}"
            for step in ("identity_check", "photo", "details")
            for outcome in ("requested", "answered")
        ]
        at_a = self.disclosures(self.a)
        expect(
            [e["action"] for e in at_a] == expected,
            "The Crown's audit log does not show exactly one identity check, photo and details",
        )
        expect(
            all(e["peer_id"] == self.c.peer_id for e in at_a),
            "The Crown's audit log names another venue than The Bell",
        )
        self.say.ok("The Crown: The Bell asked for an identity check, the photo and the details")
        at_c = self.disclosures(self.c)
        expect(
            "disclosure.details.details_received" in [e["action"] for e in at_c],
            "The Bell's audit log does not record the details received",
        )
        expect(
            all(e["actor"] == DOOR for e in at_c),
            "The Bell's audit log does not name the door operator on every step",
        )
        self.say.ok(f"The Bell: {len(at_c)} entries, each naming its door operator ({DOOR!r})")

    def dispute(self) -> None:
        self.say.step("The subject disputes the alert; The Crown's manager records the dispute")
        with timed() as ms:
            changed = self.a.client(MANAGER).ask(
                "alert.dispute", alert_id=self.alert_id, note="The subject disputes the incident"
            )
        expect(
            changed["status"] == "suspended" and changed["version"] == 2,
            f"the alert is {changed['status']} at version {changed['version']}, not suspended",
        )
        detail = self.a.client(MANAGER).ask("alert.get", alert_id=self.alert_id)
        expect(
            any(
                str(n["text"] or "").startswith("Disputed by the subject")
                for n in detail["annotations"]
            ),
            "The Crown's alert is not annotated as disputed by the subject",
        )
        self.say.ok("alert suspended and annotated 'Disputed by the subject' (version 2)", ms())

    def revision_propagates(self, people: Cast) -> None:
        self.say.step("The revision reaches the other venues")
        start = time.monotonic()
        seen: dict[str, float] = {}

        def arrived() -> bool:
            for node in (self.b, self.c):
                if node.letter not in seen and node.stored_record(self.alert_id) == (
                    2,
                    "suspended",
                ):
                    seen[node.letter] = (time.monotonic() - start) * 1000
            return len(seen) == 2 and self.counts(self.c)["alerts_received_active"] == 0

        wait_until("the suspension reaching The Bell and The Swan", arrived, STEP_TIMEOUT_S)
        self.say.ok("The Bell holds version 2, suspended: it no longer matches", seen["C"])
        self.say.ok("The Swan holds version 2 (still sealed)", seen["B"])
        ms = self.green_tick_at_c(people.subject_misread, "the subject scanned again")
        self.say.ok("the subject scanned again at The Bell: green tick, no match", ms)

    def fast_forward(self) -> None:
        days = (self.expires_at - int(time.time())) // 86400 + 1
        self.say.step(f"Fast-forward {days} days: the alert's expiry date passes")
        seconds = self.expires_at - int(time.time()) + 60
        with timed() as ms:
            for node in self.nodes.values():
                moved = node.client(MANAGER).ask("clock.advance", seconds=seconds)
                expect(
                    moved["now"] > self.expires_at,
                    f"{node.venue}'s clock did not pass the expiry",
                )
                node.forget_sessions()  # the move ended every 12-hour session
        self.say.ok(
            "the three nodes' clocks moved forward (clock.advance, demo mode only); "
            "each ran its retention pass",
            ms(),
        )

    def expired_everywhere(self) -> None:
        self.say.step("The alert expires and disappears everywhere")

        def purged_at_a() -> bool:
            listed = self.a.client(MANAGER).ask("alert.list")
            mine = [a for a in listed if a["alert_id"] == self.alert_id]
            return bool(mine) and mine[0]["status"] == "expired"

        def gone_everywhere() -> bool:
            return purged_at_a() and all(
                record is None or record[1] == "withdrawn"
                for record in (n.stored_record(self.alert_id) for n in (self.b, self.c))
            )

        wait_until("the expiry reaching every venue", gone_everywhere, STEP_TIMEOUT_S)
        detail = self.a.client(MANAGER).ask("alert.get", alert_id=self.alert_id)
        expect(
            detail["subject"] is None and not detail["has_photo"] and detail["reason"] is None,
            "The Crown still holds the expired alert's personal data",
        )
        expect(
            self.counts(self.a)["alerts_originated_active"] == 0,
            "The Crown still counts the alert as active",
        )
        self.say.ok("The Crown: expired; the subject's identity, photo and details are deleted")
        for node in (self.c, self.b):
            expect(
                self.counts(node)["alerts_received_active"] == 0,
                f"{node.venue} still has an alert to match",
            )
            left = (
                "nothing is left of it"
                if node.stored_record(self.alert_id) is None
                else "only its signed tombstone is left (no content)"
            )
            self.say.ok(f"{node.venue}: {left}; nothing to match")

    def status(self) -> None:
        self.say.step("`status` of each node")
        venues = {n.venue for n in self.nodes.values()}
        self.say.note(
            f"{'venue':<10} {'short id':<26} {'peers':>5} {'own alerts':>10} "
            f"{'received':>8} {'uptime':>7}"
        )
        for node in self.nodes.values():
            s = node.client(MANAGER).ask("node.status")
            peers = {p["venue"] for p in s["peers"] if p["connected"]}
            counts = s["counts"]
            self.say.note(
                f"{s['venue']:<10} {s['short_id']:<26} {len(peers):>5} "
                f"{counts['alerts_originated_active']:>10} "
                f"{counts['alerts_received_active']:>8} {s['uptime_s']:>6}s"
            )
            expect(
                peers == venues - {node.venue},
                f"{node.venue} is connected to {len(peers)} venue(s), not the two others",
            )
        self.say.ok("every node still connected to the two others; no alert left active")
        errors = {n.venue: n.error_lines() for n in self.nodes.values()}
        for venue, lines in errors.items():
            expect(not lines, f"the node of {venue} logged an error: {lines[0] if lines else ''}")
        self.say.ok("no node logged an error")

    def console_tour(self) -> None:
        """``--console``: the venues stay up; a fresh alert, and each venue's console."""
        assert self.people is not None
        people = self.people
        self.say.step("The venues stay up: their web consoles, for you to click through")
        door = self.a.client(DOOR)
        scan = door.ask("scan.submit", document=document(people.subject))
        made = door.ask(
            "alert.create",
            scan_id=scan["scan_id"],
            category=CATEGORY,
            reason=REASON,
            notes=NOTES,
            groups=[GROUP],
        )
        wait_until(
            "the new alert reaching The Bell",
            lambda: self.counts(self.c)["alerts_received_active"] == 1,
            MESH_TIMEOUT_S,
        )
        self.say.ok(f"a new alert {str(made['alert_id'])[:12]}… about the subject, at The Bell")
        for node in self.nodes.values():
            if DOOR not in node.users:
                password = secrets.token_urlsafe(12)
                node.client(MANAGER).ask(
                    "user.add", username=DOOR, role="door_staff", password=password
                )
                node.users[DOOR] = password
        for node in self.nodes.values():
            url = node.client(MANAGER).ask("node.status")["console_url"]
            self.say.note(f"{node.venue:<10} {url}")
            self.say.note(
                f"{'':<10} log in as {DOOR} / {node.users[DOOR]} (door staff) or "
                f"{MANAGER} / {node.users[MANAGER]} (super administrator), door: main"
            )
        self.say.note(
            "open The Bell's console, log in as door, then press Enter here to scan the "
            "subject at The Bell's door (i and Enter: the innocent customer)"
        )
        self.say.ok("the nodes run until you press Ctrl-C")

    def scanner(self) -> None:
        """``--console``: The Bell's scanner, one scan a line typed (until Ctrl-C)."""
        assert self.people is not None
        door = self.c.client(DOOR)
        while True:
            line = sys.stdin.readline()
            if not line:  # no terminal: the consoles stay up until Ctrl-C
                while True:
                    time.sleep(3600)
            innocent = line.strip().lower().startswith("i")
            person = self.people.innocent if innocent else self.people.subject_misread
            scan = door.ask("scan.submit", document=document(person), lane="main")
            who = "the innocent customer" if innocent else "the subject"
            self.say.note(f"scanned {who} at The Bell: {scan['verdict']} (see its console)")

    # -- reading the nodes ------------------------------------------------------------------

    def green_tick_at_c(self, person: Identity, who: str) -> float:
        """Scan ``person`` at The Bell, expecting admit with no match; the milliseconds taken."""
        with timed() as ms:
            scan = self.c.client(DOOR).ask("scan.submit", document=document(person))
        expect(
            scan["verdict"] == "admit" and not scan["matches"],
            f"{who} got {scan['verdict']} with {len(scan['matches'])} match(es), not a green tick",
        )
        return ms()

    def connected(self, node: DemoNode) -> set[str]:
        s = node.client(MANAGER).ask("node.status")
        return {p["venue"] for p in s["peers"] if p["connected"]}

    def counts(self, node: DemoNode) -> dict[str, int]:
        counts: dict[str, int] = node.client(MANAGER).ask("node.status")["counts"]
        return counts

    def disclosures(self, node: DemoNode) -> list[dict[str, Any]]:
        entries = node.client(MANAGER).ask("audit.query", since=self.started_at, limit=10_000)
        return [e for e in entries if str(e["action"]).startswith("disclosure.")]


def expect(ok: object, why: str) -> None:
    if not ok:
        raise DemoFailed(why)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def demo_command(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Keep the three venues here (a new or empty directory) instead of a "
            "temporary directory that is removed at the end.",
        ),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the temporary directory (nodes' data and logs).")
    ] = False,
    photo_out: Annotated[
        Path | None,
        typer.Option(
            "--photo-out",
            help="Where to write the side-by-side picture (PNG). Default: a new file in the "
            "system's temporary directory, kept after the demo.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Which synthetic customers to use (any integer).")] = 7,
    console: Annotated[
        bool,
        typer.Option(
            "--console",
            help="After the story, keep the three venues running and print each venue's web "
            "console address and logins, until Ctrl-C.",
        ),
    ] = False,
) -> None:
    """Run the whole Doorwatch story on three real nodes on this computer, narrated.

    Creates a Pubwatch of three venues, starts three `doorwatch run` processes
    on 127.0.0.1 and shows, with real calls: the network formed, an alert
    created from a scan, gossip, an innocent customer admitted with no request
    leaving the venue, the subject matched and checked step by step (photo
    side by side, confirmation, details, decision), a dispute propagating, and
    expiry on a fast-forwarded clock. Takes about half a minute.

    Exit codes: 0 every step did what it says; 1 a step failed (named, with
    why); 130 interrupted. The nodes are always stopped.

    Example: doorwatch demo --keep
    """
    if data_dir is not None:
        if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
            fail(f"--data-dir {data_dir} must be a new or empty directory")
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        root = data_dir.resolve()
    else:
        root = Path(tempfile.mkdtemp(prefix="dw-demo-"))
    say = Narrator()
    demo = Demo(root=root, photo_out=photo_out, seed=seed, say=say)
    # Ctrl-C and SIGTERM end the demo through its clean-up, even where the
    # shell started it with SIGINT ignored.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    previous_int = signal.signal(signal.SIGINT, _raise_interrupt)
    code = 0
    start = time.monotonic()
    try:
        try:
            demo.run()
            if console:
                demo.console_tour()
                try:
                    demo.scanner()
                except KeyboardInterrupt:
                    say.echo("")  # the person is done: not a failure
        except DemoFailed as exc:
            say.failed(str(exc))
            code = EXIT_FAILED
        except KeyboardInterrupt:
            say.failed("interrupted")
            code = EXIT_INTERRUPTED
        except Exception as exc:  # a fault of the demo itself: still clean up, still say so
            say.failed(f"the demo itself failed ({type(exc).__name__})")
            code = EXIT_FAILED
            if debug():
                raise
    finally:
        # Cleaning up is not interrupted: a second Ctrl-C must not leave nodes behind.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for node in demo.nodes.values():
                node.forget_sessions()
            running = [n.venue for n in demo.nodes.values() if n.proc is not None]
            killed = stop_all(demo.nodes.values())
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
        if data_dir is None and not keep:
            shutil.rmtree(root, ignore_errors=True)
    seconds = time.monotonic() - start
    say.echo("")
    if running:
        how = f" ({', '.join(killed)} had to be killed)" if killed else ""
        say.echo(f"Stopped the nodes of {', '.join(running)}{how}.")
    if data_dir is not None or keep:
        for node in demo.nodes.values():  # synthetic data: the passphrase may sit beside it
            passphrase = node.data_dir.with_name(f"{node.data_dir.name}.passphrase")
            fd = os.open(passphrase, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(node.passphrase + "\n")
        say.echo(
            f"Kept the venues' data and logs in {root} (to run a node again: "
            "DOORWATCH_PASSPHRASE_FILE=<its directory>.passphrase doorwatch run --data-dir ...)"
        )
    if code == 0:
        say.echo(
            f"Demo complete: all {say.number} steps {say.tick} in {seconds:.1f} s. "
            f"The side-by-side picture: {demo.photo_out}"
        )
        return
    if code == EXIT_FAILED:
        say.echo(f"Demo FAILED at step {say.number} ({say.title}) after {seconds:.1f} s.")
        if data_dir is None and not keep:
            say.echo("Run it again with --keep to keep the nodes' data and logs.")
    raise typer.Exit(code)
