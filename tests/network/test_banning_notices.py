"""A Pubwatch banning notice end to end, with four real daemons and a rogue member.

The Crown (K, the network authority), The Swan (A), The Anchor (B) and The Bell (C) are
daemons; the authority puts A, B and C on the committee (K is on it as the network's
creator), so A's nomination goes to K, B and C: three eligible, two upholds needed,
three votes for a quorum. The Rogue (R) is a member whose node runs in this process and
injects crafted votes over gossip: forged, dated after the deadline, a second different
vote of B's pseudonym, one of A's own pseudonym (the nominator), and one of a key off
the committee. Every daemon refuses every one of them, and the tally stays at two.

Then: C's vote decides it, the ban is shown at all four doors after "same person"
("Refuse: Pubwatch ban until DATE", no details asked for), A writes the notice letter;
A records the subject's appeal, K and B reject on appeal, the ban is
cancelled everywhere and the next match at C gets the alert's details again.
"""

from __future__ import annotations

import base64
import gc
import json
import sqlite3
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pytest
import trio

from doorwatch.cli._notices import door_gap
from doorwatch.crypto import NetworkPolicy, NodeIdentity, voter_identity
from doorwatch.node._datadir import DataDir
from doorwatch.node._network import encode_item, gossip_topic
from doorwatch.node._network_store import network_policy
from doorwatch.node._notice_service import refuse_text
from doorwatch.node._p2p_gossip import encode_batch
from doorwatch.node._setup import load_identity
from doorwatch.node._storage_key import Passphrase, load_storage_key
from doorwatch.node.testing import PASSPHRASE, Daemon, sample_document
from doorwatch.protocol import cast_vote, encode

from .conftest import Nodes
from .test_alert_gossip import received
from .test_ladder_daemons import Scanner
from .test_misbehaving import in_thread, rogue, until
from .test_network_daemons import cli, connected_venues, invite, peer_id, status, wait_for
from .test_three_venues import ALERT

DAY = 86400
INVALID_PARAMS, FORBIDDEN, NOT_FOUND, CONFLICT = -32602, 1002, 1003, 1004
SUMMARY = "Threw a glass at a member of staff on 28 November; police attended"


@pytest.fixture(autouse=True)
def _rogue_sockets(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The rogue runs in this process: py-libp2p leaves a closed host's TCP sockets to the
    garbage collector, and captured log records may still hold its connections."""
    yield
    caplog.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def four_venues(nodes: Nodes, *a_joins: str) -> tuple[Daemon, Daemon, Daemon, Daemon, Daemon]:
    k = nodes.new("k", "The Crown")
    cli("network", "create", "--data-dir", str(k.data_dir), "--name", "Town Pubwatch")
    k.start()
    a, b, c = nodes.new("a", "The Swan"), nodes.new("b", "The Anchor"), nodes.new("c", "The Bell")
    for node in (a, b, c):
        node.start()
    for node, venue, extra in (
        (a, "The Swan", a_joins),
        (b, "The Anchor", ()),
        (c, "The Bell", ()),
    ):
        cli("network", "join", invite(k, venue, *extra), "--data-dir", str(node.data_dir))
    r = nodes.new("r", "The Rogue")  # joins, never runs as a daemon
    cli("network", "join", invite(k, "The Rogue"), "--data-dir", str(r.data_dir))
    venues = {"The Crown", "The Swan", "The Anchor", "The Bell"}
    for node in (k, a, b, c):
        wait_for(
            "every venue is connected to the three others",
            lambda n=node: venues <= connected_venues(n) | {status(n)["venue"]},
        )
    return k, a, b, c, r


def committee_and_alert(
    at: dict[str, Scanner], members: tuple[Daemon, ...], others: tuple[Daemon, ...]
) -> str:
    """The authority (``at["k"]``) puts ``members`` on the committee; every venue holds
    the new policy; A makes the alert, and the ``others`` receive it. Its id."""
    for node in members:
        at["k"].result("network.roles", peer_id=peer_id(node), committee=True)
    serial = at["k"].result("network.policy")["serial"]
    for s in at.values():
        wait_for(
            "the committee's policy reaches every venue",
            lambda s=s: s.result("network.policy")["serial"] == serial,
        )
    alert_id: str = at["a"].result("alert.create", **ALERT)["alert_id"]
    for node in others:
        wait_for("the alert reaches every venue", lambda n=node: received(n) == 1)
    return alert_id


def error_of(scanner: Scanner, method: str, **params: Any) -> dict[str, Any]:
    reply = scanner.call(method, **params)
    assert "error" in reply, reply
    error: dict[str, Any] = reply["error"]
    return error


def held(scanner: Scanner, notice_id: str) -> dict[str, Any] | None:
    for n in scanner.result("notice.list")["notices"]:
        if n["notice_id"] == notice_id:
            return dict(n)
    return None


def upheld_by_k_b_and_c(at: dict[str, Scanner], notice_id: str) -> None:
    """Every venue holds the nomination; K, B and C uphold it; upheld everywhere."""
    for s in at.values():
        wait_for("every venue holds the nomination", lambda s=s: held(s, notice_id) is not None)
    for name in ("k", "b", "c"):
        at[name].result("notice.vote", notice_id=notice_id, vote="uphold")
    for s in at.values():
        wait_for("upheld everywhere", lambda s=s: held(s, notice_id)["state"] == "upheld")  # type: ignore[index]


def policy_of(node: Daemon) -> NetworkPolicy:
    conn = sqlite3.connect(f"file:{node.data_dir / 'doorwatch.sqlite'}?mode=ro", uri=True)
    try:
        (network_id,) = [r[0] for r in conn.execute("SELECT network_id FROM networks")]
        policy = network_policy(conn, network_id)
    finally:
        conn.close()
    assert policy is not None
    return policy


def pseudonym(node: Daemon, policy: NetworkPolicy) -> NodeIdentity:
    d = DataDir(node.data_dir)
    key = load_storage_key(d, Passphrase(PASSPHRASE, "test")).key
    found = voter_identity(policy, load_identity(d, key))
    assert found is not None
    return found


def refusals(node: Daemon, notice_id: str) -> set[str]:
    codes = set()
    for line in node.log_lines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "notice.refused" and event.get("notice_id") == notice_id:
            codes.add(str(event["code"]))
    return codes


def ban_at_door(scanner: Scanner, *, remote: bool) -> dict[str, Any]:
    """Scan the subject, identity check, photo, "same person": the door's answer."""
    scan = scanner.result("scan.submit", document=sample_document())
    assert scan["verdict"] == "check"
    [match] = scan["matches"]
    if remote:
        assert scanner.update(match["match_id"])["state"] == "identity_confirmed"
    scanner.result("match.photo", match_id=match["match_id"])
    confirmed: dict[str, Any] = scanner.result(
        "match.confirm", match_id=match["match_id"], same_person=True
    )
    return confirmed


def pdf_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        page = doc[0]
        page.render(scale=1.0).to_pil()
        return " ".join(page.get_textpage().get_text_range().split())
    finally:
        doc.close()


def test_nomination_votes_ban_appeal_cancellation(nodes: Nodes) -> None:
    k, a, b, c, r = four_venues(nodes)
    at = {n: Scanner(d) for n, d in (("k", k), ("a", a), ("b", b), ("c", c))}
    try:
        shown = cli("network", "roles", peer_id(a), "--committee", "--data-dir", str(k.data_dir))
        assert shown == "The Swan: committee yes, liaison no"
        for node in (b, c):
            at["k"].result("network.roles", peer_id=peer_id(node), committee=True)
        serial = at["k"].result("network.policy")["serial"]
        for s in at.values():
            wait_for(
                "the committee's policy reaches every venue",
                lambda s=s: s.result("network.policy")["serial"] == serial,
            )
        policy = policy_of(k)
        assert len(policy.committee_voters) == 4

        alert_id = at["a"].result("alert.create", **ALERT)["alert_id"]
        original_expiry = at["a"].result("alert.get", alert_id=alert_id)["expires_at"]
        for node in (k, b, c):
            wait_for("the alert reaches every venue", lambda n=node: received(n) == 1)

        # A lifetime ban needs a reason; over two years is only "lifetime".
        no_reason = error_of(at["a"], "notice.nominate", alert_id=alert_id, summary="x")
        assert no_reason["code"] == INVALID_PARAMS
        assert "lifetime_reason" in no_reason["message"]
        too_long = error_of(
            at["a"], "notice.nominate", alert_id=alert_id, summary="x", duration_days=800
        )
        assert too_long["code"] == INVALID_PARAMS
        assert "lifetime ban" in too_long["message"]
        made = at["a"].result(
            "notice.nominate", alert_id=alert_id, summary=SUMMARY, duration_days=365
        )
        notice_id = made["notice_id"]
        assert made["state"] == "voting"
        assert made["can_vote"] is False  # the nominator does not vote
        # The ban rides on the alert, which A re-issues before its year is out while it is
        # active: no date when doors stop enforcing it (door_gap's sentence: tests/cli).
        assert made["door_until"] is None
        assert made["carriers"] == []
        assert door_gap({**made, "lifetime": True}) == ""
        for s in at.values():
            wait_for("every venue holds the nomination", lambda s=s: held(s, notice_id) is not None)
        # Committee members read the case; the notice itself carries no photo.
        assert at["b"].result("notice.get", notice_id=notice_id)["summary"] == SUMMARY
        assert at["b"].result("notice.get", notice_id=notice_id)["door_until"] is None

        # The nominator cannot vote on its own nomination.
        own = error_of(at["a"], "notice.vote", notice_id=notice_id, vote="uphold")
        assert own["code"] == FORBIDDEN
        at["k"].result("notice.vote", notice_id=notice_id, vote="uphold")
        at["b"].result("notice.vote", notice_id=notice_id, vote="uphold", reason="seen it")
        for s in at.values():
            wait_for(
                "two upholds counted everywhere",
                lambda s=s: held(s, notice_id)["rounds"][0]["tally"]["uphold"] == 2,  # type: ignore[index]
            )
        # B cannot change its vote.
        again = error_of(at["b"], "notice.vote", notice_id=notice_id, vote="reject")
        assert again["code"] == CONFLICT
        assert "duplicate" in again["message"]

        # The rogue's votes: every daemon refuses every one.
        nomination_at = held(at["a"], notice_id)["nominated_at"]  # type: ignore[index]
        deadline = nomination_at + policy.notice_vote_days * DAY
        raw_notice = bytes.fromhex(notice_id)

        def vote(key: NodeIdentity, choice: str, at_time: int) -> bytes:
            return encode(
                cast_vote(
                    key,
                    network_id=policy.network_id,
                    notice_id=raw_notice,
                    round=0,
                    vote=choice,  # type: ignore[arg-type]
                    now=at_time,
                )
            )

        now = int(time.time())
        good_c = cast_vote(
            pseudonym(c, policy),
            network_id=policy.network_id,
            notice_id=raw_notice,
            round=0,
            vote="uphold",
            now=now,
        )
        flipped = bytearray(good_c.signature)
        flipped[3] ^= 1
        crafted = [
            vote(pseudonym(c, policy), "uphold", deadline + 60),  # late
            vote(pseudonym(b, policy), "reject", now),  # a second, different vote: duplicate
            vote(pseudonym(a, policy), "uphold", now),  # the nominator's own: self-interested
            # Refused by the gossip validator already (and not forwarded):
            encode(good_c.model_copy(update={"signature": bytes(flipped)})),  # forged
            vote(NodeIdentity.from_seed(bytes(32)), "uphold", now),  # off the committee
        ]
        expected = {"forged", "late", "duplicate", "self_interested", "not_committee"}

        async def inject() -> None:
            async with rogue(r.data_dir, set()) as rogue_node:
                (network_id,) = rogue_node.networks
                net = rogue_node.networks[network_id]
                await until(
                    "the rogue is connected",
                    lambda: (
                        rogue_node.host is not None
                        and all(rogue_node.host.is_connected(peer_id(n)) for n in (k, a, b, c))
                    ),
                )
                for _ in range(30):
                    # One pubsub message each: a batch with one invalid item is refused
                    # whole, before the others reach the book.
                    for f in crafted:
                        await net.gossip.pubsub.publish(
                            gossip_topic(network_id), encode_batch([encode_item("notice", f)])
                        )
                    done = await in_thread(
                        lambda: all(refusals(n, notice_id) >= expected for n in (k, a, b, c))
                    )
                    if done:
                        return
                    await trio.sleep(1.0)
                raise AssertionError(
                    {n.data_dir.name: refusals(n, notice_id) for n in (k, a, b, c)}
                )

        trio.run(inject)
        for s in at.values():
            view = held(s, notice_id)
            assert view is not None
            assert view["state"] == "voting"
            assert view["rounds"][0]["tally"]["uphold"] == 2
            assert view["rounds"][0]["tally"]["reject"] == 0

        # C's vote makes the quorum: upheld by two of the three eligible.
        at["c"].result("notice.vote", notice_id=notice_id, vote="reject")
        for s in at.values():
            wait_for("upheld everywhere", lambda s=s: held(s, notice_id)["state"] == "upheld")  # type: ignore[index]
        # The nominating venue reads the reasons given, with no voter named.
        assert at["a"].result("notice.get", notice_id=notice_id)["reasons"] == ["seen it"]
        assert at["c"].result("notice.get", notice_id=notice_id)["reasons"] is None
        until_ts = held(at["a"], notice_id)["until"]  # type: ignore[index]
        assert until_ts is not None
        assert abs(until_ts - (now + 365 * DAY)) < 3600
        # The ban rides on A's alert: its expiry moves to the ban's end (or as far as an
        # alert may live, a year from its creation), and the new version reaches C.
        carrier = at["a"].result("alert.get", alert_id=alert_id)
        assert carrier["expires_at"] == min(until_ts, carrier["created_at"] + 365 * DAY)
        assert carrier["expires_at"] > original_expiry

        # At every door, after "same person": the ban, not the alert's details.
        for name, scanner in at.items():
            answer = ban_at_door(scanner, remote=name != "a")
            assert "details" not in answer, name
            assert answer["banned"]["refuse"] == refuse_text(until_ts), name
            assert answer["banned"]["refuse"].startswith("Refuse: Pubwatch ban until ")

        letter = at["a"].result("notice.letter", notice_id=notice_id, kind="notice")
        text = pdf_text(base64.b64decode(letter["pdf"]))
        for fragment in (
            "Banning Notice",
            "The Anchor",
            "The Bell",
            "The Crown",
            "The Swan",
            "right of appeal",
            "common-law right to refuse admission",
        ):
            assert fragment in text, fragment
        assert error_of(at["b"], "notice.letter", notice_id=notice_id)["code"] == FORBIDDEN

        # The appeal: a fresh vote without the nominator; two rejects cancel the ban.
        at["a"].result("notice.appeal", notice_id=notice_id, grounds="I was not there that night")

        def state(s: Scanner) -> str:
            return str((held(s, notice_id) or {}).get("state"))

        for s in at.values():
            wait_for("the appeal reaches every venue", lambda s=s: state(s) == "appealed")
        assert at["c"].result("notice.get", notice_id=notice_id)["appeal_grounds"] == (
            "I was not there that night"
        )
        own = error_of(at["a"], "notice.vote", notice_id=notice_id, vote="uphold")
        assert own["code"] == FORBIDDEN  # nor on its appeal
        at["k"].result("notice.vote", notice_id=notice_id, vote="reject")
        at["b"].result("notice.vote", notice_id=notice_id, vote="reject")
        for s in at.values():
            wait_for("cancelled everywhere", lambda s=s: held(s, notice_id)["state"] == "cancelled")  # type: ignore[index]

        # The ban is gone at the doors: a match goes up the ladder to the details again.
        answer = ban_at_door(at["c"], remote=True)
        assert "banned" not in answer
        assert answer["details"]["reason"] == "carried a knife"

        listed = cli("notice", "list", "--data-dir", str(c.data_dir))
        assert notice_id in listed
        assert "cancelled" in listed
        pdf = k.data_dir.parent / "outcome.pdf"
        cli(
            "notice",
            "letter",
            notice_id,
            "--appeal-outcome",
            "-o",
            str(pdf),
            "--data-dir",
            str(a.data_dir),
        )
        text = pdf_text(pdf.read_bytes())
        assert "banning notice is cancelled" in text
        assert "common-law right to refuse admission" in text
    finally:
        for scanner in at.values():
            scanner.close()


def test_a_ban_expires_at_every_door_on_its_date(
    nodes: Nodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-day ban, nominated by a venue off the committee: upheld, shown at the door,
    then every node's (demonstration) clock moves two days on: expired everywhere, and
    the next match gets the alert's details."""
    monkeypatch.setenv("DOORWATCH_DEMO_CLOCK", "1")
    k, a, b, c, _ = four_venues(nodes, "--groups", "door")
    daemons = {"k": k, "a": a, "b": b, "c": c}
    at = {n: Scanner(d) for n, d in daemons.items()}
    try:
        shown = cli("network", "policy", "--notice-vote-days", "7", "--data-dir", str(k.data_dir))
        assert "7 days to vote" in shown
        alert_id = committee_and_alert(at, (b, c), (k, b, c))
        # An alert only for group "door" cannot carry a ban for every member.
        narrow = at["a"].result("alert.create", **ALERT, groups=["door"])["alert_id"]
        refused = error_of(
            at["a"], "notice.nominate", alert_id=narrow, summary=SUMMARY, duration_days=1
        )
        assert refused["code"] == INVALID_PARAMS
        assert "travels only to group door" in refused["message"]
        at["a"].result("alert.withdraw", alert_id=narrow, note="test")
        made = at["a"].result(
            "notice.nominate", alert_id=alert_id, summary=SUMMARY, duration_days=1
        )
        notice_id = made["notice_id"]
        assert made["rounds"][0]["deadline"] == made["nominated_at"] + 7 * DAY
        assert made["rounds"][0]["tally"]["eligible"] == 3  # A is off the committee
        upheld_by_k_b_and_c(at, notice_id)
        assert "banned" in ban_at_door(at["c"], remote=True)

        for s in at.values():
            s.result("clock.advance", seconds=2 * DAY)
            s.close()
        at = {n: Scanner(d) for n, d in daemons.items()}  # the clock move ended the sessions
        for s in at.values():
            assert held(s, notice_id)["state"] == "expired"  # type: ignore[index]
        answer = ban_at_door(at["c"], remote=True)
        assert "banned" not in answer
        assert answer["details"]["reason"] == "carried a knife"
    finally:
        for scanner in at.values():
            scanner.close()


def test_a_two_year_ban_outlives_the_alert_it_was_nominated_on(
    nodes: Nodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alert lives a year, a ban up to two: 340 days on, A re-issues the subject's alert
    and says the ban rides on it; 30 days later the nominated alert has expired at every
    venue, and a match on the new one still shows the ban at every door."""
    monkeypatch.setenv("DOORWATCH_DEMO_CLOCK", "1")
    k, a, b, c, _ = four_venues(nodes)
    daemons = {"k": k, "a": a, "b": b, "c": c}
    at = {n: Scanner(d) for n, d in daemons.items()}

    def advance(seconds: int) -> int:
        # The nominator last: its renewal, made at its new time, is not ahead of the others.
        nonlocal at
        for name in ("k", "b", "c", "a"):
            now: int = at[name].result("clock.advance", seconds=seconds)["now"]
            at[name].close()
        at = {n: Scanner(d) for n, d in daemons.items()}  # the move ended the sessions
        return now

    def renewed_certificates(s: Scanner, now: int) -> bool:
        members = s.result("network.members")["members"]
        return all(m["valid_until"] > now + 300 * DAY for m in members)

    try:
        alert_id = committee_and_alert(at, (b, c), (k, b, c))
        made = at["a"].result(
            "notice.nominate", alert_id=alert_id, summary=SUMMARY, duration_days=730
        )
        notice_id = made["notice_id"]
        assert made["door_until"] is None  # its alert is active: it will be re-issued
        upheld_by_k_b_and_c(at, notice_id)
        until_ts = held(at["a"], notice_id)["until"]  # type: ignore[index]
        nominated = at["a"].result("alert.get", alert_id=alert_id)
        assert nominated["expires_at"] == nominated["created_at"] + 365 * DAY

        now = advance(340 * DAY)
        for s in at.values():  # the hub re-issues them within 30 days of their end
            wait_for("certificates renewed", lambda s=s: renewed_certificates(s, now))
        wait_for(
            "A re-issues the alert and the ban moves to it",
            lambda: len(held(at["a"], notice_id)["carriers"]) == 1,  # type: ignore[index]
        )
        [renewed_id] = held(at["a"], notice_id)["carriers"]  # type: ignore[index]
        for name in ("k", "b", "c"):
            wait_for(
                "the ban's new alert reaches every venue",
                lambda n=name: held(at[n], notice_id)["carriers"] == [renewed_id],  # type: ignore[index]
            )
        renewed = at["a"].result("alert.get", alert_id=renewed_id)
        assert renewed["subject"] == nominated["subject"]
        assert renewed["reason"] == nominated["reason"]
        assert renewed["category"] == nominated["category"]
        assert renewed["created_by"] == "pubwatch-committee"
        assert renewed["expires_at"] == renewed["created_at"] + 365 * DAY  # the ban goes on
        # The old alert goes two days later; the new one's creation is audited.
        assert at["a"].result("alert.get", alert_id=alert_id)["expires_at"] == (
            renewed["created_at"] + 2 * DAY
        )
        [entry] = [
            e
            for e in at["a"].result("audit.query", alert_id=renewed_id)
            if e["action"] == "alert.renewed_for_ban"
        ]
        assert entry["detail"]["notice_id"] == notice_id
        assert entry["detail"]["renews"] == alert_id
        assert at["a"].result("notice.get", notice_id=notice_id)["door_until"] is None
        for node in (k, b, c):
            wait_for("both alerts held meanwhile", lambda n=node: received(n) == 2)

        advance(30 * DAY)  # 370 days on: the nominated alert is past its year everywhere
        # Gone at A too: an alert made more than 12 months ago is deleted (agreement 6.7.4).
        assert error_of(at["a"], "alert.get", alert_id=alert_id)["code"] == NOT_FOUND
        for node in (k, b, c):
            wait_for("only the new alert is held", lambda n=node: received(n) == 1)
        for name, scanner in at.items():
            assert held(scanner, notice_id)["state"] == "upheld", name  # type: ignore[index]
            answer = ban_at_door(scanner, remote=name != "a")
            assert "details" not in answer, name
            assert answer["banned"]["refuse"] == refuse_text(until_ts), name

        # Withdrawn, the new alert is not re-issued again: the ban stops at the doors, and
        # the nominating venue is told when.
        at["a"].result("alert.withdraw", alert_id=renewed_id, note="wrong person")
        withdrawn_at = at["a"].result("alert.get", alert_id=renewed_id)["updated_at"]
        assert at["a"].result("notice.get", notice_id=notice_id)["door_until"] == withdrawn_at
        shown = cli("notice", "show", notice_id, "--data-dir", str(a.data_dir))
        assert f"re-issued as alert: {renewed_id}" in shown
        assert "Member doors enforce this ban only until " in shown
        assert "no longer active" in shown
        wait_for("the withdrawal reaches C", lambda: received(c) == 0)
        assert at["c"].result("scan.submit", document=sample_document())["verdict"] == "admit"
    finally:
        for scanner in at.values():
            scanner.close()


def test_the_police_liaison_reads_the_case_and_records_an_appeal(nodes: Nodes) -> None:
    """Five daemons: the licensing officer's node is the liaison. It reads the case
    (sealed to it), cannot vote, and records the subject's appeal (sent c/o the police,
    as the procedure asks); every venue then sees the appeal's fresh vote."""
    k, a, b, c, _ = four_venues(nodes)
    officer = nodes.new("l", "Licensing Officer")
    officer.start()
    cli("network", "join", invite(k, "Licensing Officer"), "--data-dir", str(officer.data_dir))
    at = {n: Scanner(d) for n, d in (("k", k), ("a", a), ("b", b), ("c", c), ("l", officer))}
    try:
        wait_for(
            "the officer's node is connected to the four venues",
            lambda: (
                {"The Crown", "The Swan", "The Anchor", "The Bell"} <= connected_venues(officer)
            ),
        )
        roles = at["k"].result("network.roles", peer_id=peer_id(officer), liaison=True)
        assert (roles["liaison"], roles["committee"]) == (True, False)

        def a_knows_the_liaison() -> bool:
            return any(m["liaison"] for m in at["a"].result("network.members")["members"])

        wait_for("the swan holds the liaison's certificate", a_knows_the_liaison)
        alert_id = committee_and_alert(at, (b, c), (k, b, c, officer))
        made = at["a"].result(
            "notice.nominate", alert_id=alert_id, summary=SUMMARY, duration_days=90
        )
        notice_id = made["notice_id"]
        wait_for("the officer holds the nomination", lambda: held(at["l"], notice_id) is not None)
        seen = at["l"].result("notice.get", notice_id=notice_id)
        assert seen["summary"] == SUMMARY  # the case is sealed to the liaison too
        assert seen["can_vote"] is False
        assert error_of(at["l"], "notice.vote", notice_id=notice_id, vote="uphold")["code"] == (
            FORBIDDEN
        )
        for name in ("k", "b", "c"):
            at[name].result("notice.vote", notice_id=notice_id, vote="uphold")
        for s in at.values():
            wait_for("upheld everywhere", lambda s=s: held(s, notice_id)["state"] == "upheld")  # type: ignore[index]

        # A venue that neither nominated nor is the liaison cannot record an appeal.
        outsider = error_of(at["b"], "notice.appeal", notice_id=notice_id, grounds="not me")
        assert outsider["code"] in (FORBIDDEN, CONFLICT), outsider
        lodged = at["l"].result(
            "notice.appeal", notice_id=notice_id, grounds="I was not there that night"
        )
        assert lodged["state"] == "appealed"

        def state(s: Scanner) -> str:
            return str((held(s, notice_id) or {}).get("state"))

        for s in at.values():
            wait_for("the appeal reaches every venue", lambda s=s: state(s) == "appealed")
        # The committee reads the grounds and votes afresh; the nominator still cannot.
        assert at["b"].result("notice.get", notice_id=notice_id)["appeal_grounds"] == (
            "I was not there that night"
        )
        assert error_of(at["a"], "notice.vote", notice_id=notice_id, vote="uphold")["code"] == (
            FORBIDDEN
        )
        at["b"].result("notice.vote", notice_id=notice_id, vote="reject")

        def rejects(s: Scanner) -> int:
            rounds = (held(s, notice_id) or {}).get("rounds", [])
            return int(rounds[1]["tally"]["reject"]) if len(rounds) > 1 else 0

        for s in at.values():
            wait_for("the appeal's vote is counted everywhere", lambda s=s: rejects(s) == 1)
    finally:
        for scanner in at.values():
            scanner.close()
