"""Issue 14 with real daemons: two venues alerting on one person disclose one segment set;
a member's set over the network's privacy budget is refused by every recipient, which
reports the originator and keeps what it already held.

A (the authority) and C run as daemons; B is a member whose node runs in this process
(``test_misbehaving.rogue``) so that it can publish what no up-to-date node would.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from typing import Any

import trio

from doorwatch.crypto import (
    KIND_SEGMENTS,
    KIND_UPDATE,
    EnvelopeHeader,
    new_alert_id,
    seal_envelope,
)
from doorwatch.node._alert_gossip import encode_payload
from doorwatch.node._network import NetworkService, encode_item
from doorwatch.node.testing import Daemon
from doorwatch.protocol import AlertPublish, AlertUpdate, encode
from doorwatch.segments import DEFAULT_BUDGET_BITS, load_disclosure_tables

from .conftest import Nodes
from .test_alert_gossip import call, stored_envelopes, verdict
from .test_misbehaving import (  # noqa: F401 - no_errors_here is an autouse fixture
    SUBJECT,
    envelope_version,
    events_of,
    in_thread,
    network,
    network_id,
    no_errors_here,
    rogue,
    until,
)
from .test_network_daemons import cli, cli_fails, wait_for

WITHIN = [["dd", "17"], ["mm", "05"], ["yy", "90"]]  # SUBJECT's date of birth
ELSE = [["dd", "03"], ["mm", "02"], ["yy", "71"]]  # somebody else's
OVER = [["dd", "17"], ["g12", "OT"], ["mm", "05"], ["s12", "EA"], ["yy", "90"]]


def test_the_sets_used_here_are_within_and_over_the_budget() -> None:
    uk = load_disclosure_tables()
    assert uk.joint_bits((c, v) for c, v in WITHIN) < DEFAULT_BUDGET_BITS
    assert uk.joint_bits((c, v) for c, v in ELSE) < DEFAULT_BUDGET_BITS
    assert uk.joint_bits((c, v) for c, v in OVER) > DEFAULT_BUDGET_BITS + 1


class Alert:
    """One alert of B's, version after version, under B's current group key."""

    def __init__(self, b: NetworkService) -> None:
        self.b = b
        self.raw_id, self.salt = new_alert_id(b.identity.peer_id)
        self.now = int(time.time())

    @property
    def id(self) -> str:
        return self.raw_id.hex()

    def frame(self, version: int, segments: list[list[str]]) -> bytes:
        net = self.b.networks[network_id(self.b)]
        key = net.keyring.current("all")
        assert key is not None
        header = EnvelopeHeader(
            network_id=net.network_id,
            group="all",
            epoch=key.epoch,
            alert_id=self.raw_id,
            alert_salt=self.salt,
            version=version,
            originator=self.b.identity.peer_id,
            created_at=self.now - 60,
            expires_at=self.now + 30 * 86_400,
            kind=KIND_SEGMENTS if version == 1 else KIND_UPDATE,
        )
        envelope = seal_envelope(
            header, encode_payload(segments, "theft", 10.0), key, self.b.identity
        )
        return encode(
            AlertPublish(envelope=envelope) if version == 1 else AlertUpdate(envelope=envelope)
        )

    async def publish(self, version: int, segments: list[list[str]]) -> None:
        net = self.b.networks[network_id(self.b)]
        await net.gossip.publish(encode_item("alert", self.frame(version, segments)))


def audit_entries(node: Daemon, action: str) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{node.data_dir / 'doorwatch.sqlite'}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT alert_id, peer_id FROM audit_log WHERE action = ?", (action,)
        ).fetchall()
    finally:
        conn.close()
    return [(str(r[0]), str(r[1])) for r in rows]


def segments_of(node: Daemon, document: dict[str, Any]) -> list[list[str]]:
    made = call(node, "alert.create", document=document, category="theft", reason="r")
    detail = call(node, "alert.get", alert_id=made["alert_id"])
    return list(detail["segments"])


def test_two_venues_disclose_one_set_and_over_budget_sets_are_refused(nodes: Nodes) -> None:
    net = network(nodes)
    a, c = net.a, net.c

    # Two venues, two documents of one person (another number, a middle name, a licence
    # with a postcode): the same factors, chosen under the network's selection key.
    at_a = segments_of(a, SUBJECT)
    at_c = segments_of(
        c,
        dict(
            SUBJECT,
            document_type="driving_licence",
            document_number="FAIRW905170O99AB",
            given_names="Ottoline Mary",
            postcode="LS6 2AB",
        ),
    )
    assert at_a == at_c

    async def scenario() -> None:
        async with rogue(net.b_dir, set()) as b:
            b_id = b.identity.peer_id
            await until(
                "B connects to A", lambda: b.host is not None and b.host.is_connected(net.a_id)
            )
            since = {"a": len(a.log_lines()), "c": len(c.log_lines())}
            held = Alert(b)
            await held.publish(1, WITHIN)
            await until("C stores B's alert", lambda: envelope_version(c, held.id) == 1)
            await until("A stores B's alert", lambda: envelope_version(a, held.id) == 1)
            before = await in_thread(lambda: verdict(c, SUBJECT))

            await held.publish(2, OVER)  # a new version that discloses too much
            fresh = Alert(b)
            await fresh.publish(1, OVER)  # and a new alert that does
            barrier = Alert(b)
            await barrier.publish(1, ELSE)  # B's next valid alert: the others came first
            for node in (a, c):
                await until("the barrier arrives", lambda n=node: barrier.id in stored_envelopes(n))
                await until(
                    "both refusals are audited",
                    lambda n=node: len(audit_entries(n, "alert.refused_over_budget")) >= 2,
                )

            for name, node in (("a", a), ("c", c)):
                # Nothing over the budget is stored; the version held before stays.
                assert envelope_version(node, held.id) == 1
                assert fresh.id not in stored_envelopes(node)
                assert set(audit_entries(node, "alert.refused_over_budget")) == {
                    (held.id, b_id),
                    (fresh.id, b_id),
                }
                reports = [
                    e for e in events_of(node, since[name]) if e["event"] == "alerts.over_budget"
                ]
                assert {e["alert_id"] for e in reports} == {held.id, fresh.id}
                assert all(e["originator"] == b_id and e["level"] == "warning" for e in reports)
            # C still matches the subject on the version it held.
            assert await in_thread(lambda: verdict(c, SUBJECT)) == before
            assert before[0] == "check"
            assert b.host is not None
            assert b.host.is_connected(net.a_id)  # refused and reported, not banned

    trio.run(scenario)


def policy_of(node: Daemon, *extra: str) -> dict[str, Any]:
    out = cli("network", "policy", "--data-dir", str(node.data_dir), "--json", *extra)
    result = json.loads(out)
    assert isinstance(result, dict)
    return result


def test_a_new_floor_signed_at_the_hub_reaches_members_and_binds_their_alerts(
    nodes: Nodes,
) -> None:
    net = network(nodes)
    a, c = net.a, net.c
    assert policy_of(c)["serial"] == 1
    assert policy_of(c)["anonymity_floor"] == 50
    message = cli_fails(
        "network", "policy", "--anonymity-floor", "500", "--data-dir", str(c.data_dir)
    )
    assert "administers no network" in message  # only the authority signs

    signed = policy_of(a, "--anonymity-floor", "2000")
    assert (signed["serial"], signed["anonymity_floor"]) == (2, 2000)
    wait_for("C holds the new policy", lambda: policy_of(c)["serial"] == 2)
    assert policy_of(c)["budget_bits"] == round(math.log2(67_000_000 / 2000), 2)
    made = call(c, "alert.create", document=SUBJECT, category="theft", reason="r")
    detail = call(c, "alert.get", alert_id=made["alert_id"])
    assert detail["anonymity_set"] >= 2000 * (1 - 1e-9)
    entries = audit_entries(a, "network.policy_signed")
    assert len(entries) == 1
