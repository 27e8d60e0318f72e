"""Three venues end to end, as separate daemons on 127.0.0.1.

A ("The Swan") creates an alert for the group "door"; C ("The Bell") is in that
group, B ("The Anchor") is not. (The network authority is a fourth node, "The
Crown": as key manager it holds every group's key, and its certificate names only
"all", so it can neither stand for B nor originate for "door".) B stores and relays
the envelope but cannot read it: the subject scanned at B is admitted, and A is never
asked anything by B. An innocent customer at C asks nothing of A either. The subject
at C goes up the whole ladder: identity check, photo, confirmation, details.
"""

from __future__ import annotations

import base64
import os

from doorwatch.node.testing import Daemon, sample_document

from .conftest import Nodes
from .test_alert_gossip import received, stored_envelopes
from .test_ladder_daemons import Scanner, disclosures
from .test_network_daemons import cli, connected_venues, invite, peer_id, status, wait_for

PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(150 * 1024)
ALERT = {
    "document": sample_document(),
    "category": "weapon",
    "reason": "carried a knife",
    "photo": base64.b64encode(PHOTO).decode(),
}
INNOCENT = sample_document(
    surname="Okonkwo", given_names="Ada", date_of_birth="1988-01-09", document_number="118822771"
)


def three_venues(nodes: Nodes) -> tuple[Daemon, Daemon, Daemon]:
    k = nodes.new("k", "The Crown")
    cli("network", "create", "--data-dir", str(k.data_dir), "--name", "Town")
    k.start()
    a, b, c = nodes.new("a", "The Swan"), nodes.new("b", "The Anchor"), nodes.new("c", "The Bell")
    for node in (a, b, c):
        node.start()
    cli("network", "join", invite(k, "The Swan", "--groups", "door"), "--data-dir", str(a.data_dir))
    cli("network", "join", invite(k, "The Anchor"), "--data-dir", str(b.data_dir))
    cli("network", "join", invite(k, "The Bell", "--groups", "door"), "--data-dir", str(c.data_dir))
    venues = {"The Crown", "The Swan", "The Anchor", "The Bell"}
    for node in (k, a, b, c):
        wait_for(
            "every venue is connected to the three others",
            lambda n=node: connected_venues(n) | {status(n)["venue"]} == venues,
        )
    return a, b, c


def test_alert_for_a_group_across_three_venues(nodes: Nodes) -> None:
    a, b, c = three_venues(nodes)
    at_a, at_b, at_c = Scanner(a), Scanner(b), Scanner(c)
    try:
        made = at_a.result("alert.create", **ALERT, groups=["door"])
        alert_id = made["alert_id"]
        wait_for("the alert reaches C", lambda: received(c) == 1)
        # B, outside "door", holds the envelope (and serves it to others) but reads nothing.
        wait_for("B stores the envelope", lambda: alert_id in stored_envelopes(b))
        assert received(b) == 0
        subject_at_b = at_b.result("scan.submit", document=sample_document())
        assert subject_at_b["verdict"] == "admit"
        assert subject_at_b["matches"] == []

        # An innocent customer at C: no match, nothing asked of A.
        innocent = at_c.result("scan.submit", document=INNOCENT)
        assert innocent["verdict"] == "admit"
        assert innocent["matches"] == []
        assert disclosures(at_a, alert_id) == []

        # The subject at C: the whole ladder with A.
        scan = at_c.result("scan.submit", document=sample_document())
        assert scan["verdict"] == "check"
        [match] = scan["matches"]
        assert at_c.update(match["match_id"])["state"] == "identity_confirmed"
        shown = at_c.result("match.photo", match_id=match["match_id"])
        assert base64.b64decode(shown["photo"]) == PHOTO
        confirmed = at_c.result("match.confirm", match_id=match["match_id"], same_person=True)
        details = confirmed["details"]
        assert details["reason"] == "carried a knife"
        assert details["category"] == "weapon"
        assert details["originating_venue"] == "The Swan"

        at_originator = disclosures(at_a, alert_id)
        assert [e["action"] for e in at_originator] == [
            f"disclosure.{step}.{outcome}"
            for step in ("identity_check", "photo", "details")
            for outcome in ("requested", "answered")
        ]
        # Every disclosure went to C, none to B.
        assert {e["peer_id"] for e in at_originator} == {peer_id(c)}
        assert disclosures(at_b, alert_id) == []
    finally:
        for scanner in (at_a, at_b, at_c):
            scanner.close()
