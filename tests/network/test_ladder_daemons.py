"""The disclosure ladder across real daemons: the alert travels by gossip, the ladder by
request/response streams, and the scanner hears ``match.updated`` on its connection."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import time
from typing import Any

from doorwatch.node.testing import PASSWORD, Daemon, sample_document

from .conftest import Nodes
from .test_network_daemons import WAIT, cli, connected_venues, invite, status, wait_for

PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(200 * 1024)


class Scanner:
    """A scanner's connection: JSON-RPC calls, with notifications kept aside as they come."""

    def __init__(self, node: Daemon) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(WAIT)
        self.sock.connect(str(node.data_dir / "doorwatch.sock"))
        self.buf = b""
        self.next_id = 1
        self.notifications: list[dict[str, Any]] = []
        self.call("session.login", username="admin", password=PASSWORD)

    def _line(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("the node closed the connection")
            self.buf += data
        raw, self.buf = self.buf.split(b"\n", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        rid = self.next_id
        self.next_id += 1
        line = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        self.sock.sendall(json.dumps(line).encode() + b"\n")
        while True:
            message = self._line()
            if "id" not in message:
                self.notifications.append(message)
                continue
            assert message["id"] == rid
            return message

    def result(self, method: str, **params: Any) -> Any:
        reply = self.call(method, **params)
        assert "error" not in reply, reply
        return reply["result"]

    def update(self, match_id: str) -> dict[str, Any]:
        """The next match.updated notification for ``match_id``."""
        deadline = time.monotonic() + WAIT
        while True:
            for n in self.notifications:
                if n["params"]["match_id"] == match_id:
                    self.notifications.remove(n)
                    assert n["method"] == "match.updated"
                    params: dict[str, Any] = n["params"]
                    return params
            assert time.monotonic() < deadline, "no match.updated notification"
            self.notifications.append(self._line())

    def close(self) -> None:
        self.sock.close()


def disclosures(scanner: Scanner, alert_id: str) -> list[dict[str, Any]]:
    entries = scanner.result("audit.query", alert_id=alert_id)
    return [e for e in entries if e["action"].startswith("disclosure.")]


def two_venues(nodes: Nodes) -> tuple[Daemon, Daemon]:
    """The Crown (network authority) and The Swan, running and connected."""
    a = nodes.new("a", "The Crown")
    cli("network", "create", "--data-dir", str(a.data_dir), "--name", "Town")
    a.start()
    b = nodes.new("b", "The Swan")
    b.start()
    cli("network", "join", invite(a, "The Swan"), "--data-dir", str(b.data_dir))
    wait_for("B connects to A", lambda: connected_venues(b) == {"The Crown"})
    return a, b


def test_ladder_across_daemons(nodes: Nodes) -> None:
    a, b = two_venues(nodes)

    at_a, at_b = Scanner(a), Scanner(b)
    try:
        made = at_a.result(
            "alert.create",
            document=sample_document(),
            category="weapon",
            reason="carried a knife",
            photo=base64.b64encode(PHOTO).decode(),
        )
        alert_id = made["alert_id"]
        wait_for(
            "the alert reaches B",
            lambda: status(b)["counts"]["alerts_received_active"] == 1,
        )

        # An innocent customer: no match, and nothing is asked of The Crown.
        innocent = at_b.result(
            "scan.submit",
            document=sample_document(
                surname="Okonkwo",
                given_names="Ada",
                date_of_birth="1988-01-09",
                document_number="118822771",
            ),
        )
        assert innocent["verdict"] == "admit"
        assert disclosures(at_a, alert_id) == []

        scan = at_b.result("scan.submit", document=sample_document())
        [match] = scan["matches"]
        assert match["state"] == "checking"
        assert at_b.update(match["match_id"])["state"] == "identity_confirmed"
        shown = at_b.result("match.photo", match_id=match["match_id"])
        assert base64.b64decode(shown["photo"]) == PHOTO
        confirmed = at_b.result("match.confirm", match_id=match["match_id"], same_person=True)
        assert confirmed["details"]["reason"] == "carried a knife"
        assert confirmed["details"]["originating_venue"] == "The Crown"

        assert [e["action"] for e in disclosures(at_a, alert_id)] == [
            "disclosure.identity_check.requested",
            "disclosure.identity_check.answered",
            "disclosure.photo.requested",
            "disclosure.photo.answered",
            "disclosure.details.requested",
            "disclosure.details.answered",
        ]
        assert "disclosure.details.details_received" in [
            e["action"] for e in disclosures(at_b, alert_id)
        ]
    finally:
        at_a.close()
        at_b.close()

    # The Crown stops: a new match says plainly that the originator is unreachable.
    a.stop()
    wait_for("B notices A is gone", lambda: connected_venues(b) == set())
    at_b = Scanner(b)
    try:
        scan = at_b.result("scan.submit", document=sample_document())
        [match] = scan["matches"]
        assert at_b.update(match["match_id"])["state"] == "originator_unreachable"
        reply = at_b.call("match.photo", match_id=match["match_id"], timeout_s=3)
        assert reply["error"]["code"] == 1005
        assert "The Crown" in reply["error"]["message"]
    finally:
        at_b.close()


def test_a_flood_of_matches_does_not_push_out_the_one_a_door_acts_on(nodes: Nodes) -> None:
    a, b = two_venues(nodes)
    at_a, door, flooder = Scanner(a), Scanner(b), Scanner(b)
    try:
        at_a.result(
            "alert.create",
            document=sample_document(),
            category="weapon",
            reason="carried a knife",
            photo=base64.b64encode(PHOTO).decode(),
        )
        wait_for("the alert reaches B", lambda: status(b)["counts"]["alerts_received_active"] == 1)
        [match] = door.result("scan.submit", document=sample_document())["matches"]
        assert door.update(match["match_id"])["state"] == "identity_confirmed"
        shown = door.result("match.photo", match_id=match["match_id"])
        assert base64.b64decode(shown["photo"]) == PHOTO

        # More typed scans of the subject than the ladder holds matches (256): the
        # originator's rate limit soon refuses their checks; none pushes the door's out.
        flood = [
            m
            for _ in range(300)
            for m in flooder.result("scan.submit", document=sample_document())["matches"]
        ]
        assert len(flood) == 300
        assert "busy" not in {m["state"] for m in flood}  # only a few await a door
        for m in flood:  # every check has ended (the originator answers them one by one)
            flooder.update(m["match_id"])

        confirmed = door.result("match.confirm", match_id=match["match_id"], same_person=True)
        assert confirmed["details"]["reason"] == "carried a knife"
    finally:
        for scanner in (at_a, door, flooder):
            scanner.close()


def test_the_identity_check_budget_survives_sigkill(nodes: Nodes) -> None:
    """A door that keeps scanning one alert's subject runs out of identity checks, and
    killing its node does not give them back (issue 14: limits persist in SQLite)."""
    a, b = two_venues(nodes)
    at_a = Scanner(a)
    alert_id = at_a.result(
        "alert.create", document=sample_document(), category="theft", reason="took a till"
    )["alert_id"]
    wait_for("the alert reaches B", lambda: status(b)["counts"]["alerts_received_active"] == 1)

    def scan_state(node: Daemon) -> dict[str, Any]:
        door = Scanner(node)
        try:
            scan = door.result("scan.submit", document=sample_document())
            [match] = scan["matches"]
            return door.update(match["match_id"])
        finally:
            door.close()

    states = [scan_state(b)["state"] for _ in range(4)]
    # RequesterLimits: three identity checks a day per alert from one venue.
    assert states == ["identity_confirmed"] * 3 + ["rate_limited"]
    b.stop(signal.SIGKILL)
    b.start()
    wait_for(
        "B has loaded its received alerts again",
        lambda: status(b)["loading"] is None and status(b)["counts"]["alerts_received_active"] == 1,
    )
    after = scan_state(b)
    assert after["state"] == "rate_limited"
    assert "this venue's own limit" in after["message"]
    requested = [
        e
        for e in disclosures(at_a, alert_id)
        if e["action"] == "disclosure.identity_check.requested"
    ]
    assert len(requested) == 3
    at_a.close()
