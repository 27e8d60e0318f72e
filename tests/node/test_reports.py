"""Reports without a network: the pure model (harm ranking, suppression, combining
shares), the report.counts message's rules and signature domain, the checks on a
received share, the venue report from a real database, and the rendering (the PDF
rendered back to images with pypdfium2)."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from pydantic import ValidationError

from doorwatch.crypto import NodeIdentity
from doorwatch.node import _audit, _reports
from doorwatch.node._categories import BY_CODE
from doorwatch.node._errors import ErrorCode
from doorwatch.node._originate import renew_for_ban
from doorwatch.node._report_model import (
    Member,
    Report,
    VenueCounts,
    network_report,
    share_counts,
    venue_report,
)
from doorwatch.node._report_render import render
from doorwatch.node._report_share import ShareRefused, check_share
from doorwatch.node._roles import Role
from doorwatch.node._store import open_database
from doorwatch.node._venue_testing import VenueHarness, venue_harness
from doorwatch.protocol import (
    BanningVote,
    ReportCount,
    ReportCounts,
    decode,
    encode,
    purpose_for,
    sign_message,
    signed_payload,
    verify_message,
)

SEP = int(dt.datetime(2026, 9, 1, tzinfo=dt.UTC).timestamp())
DEC = int(dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp())
NETWORK = "0123456789abcdef"


def counts(incidents: dict[str, int], months: dict[str, int], **figures: int) -> VenueCounts:
    return VenueCounts(SEP, DEC, incidents, months, dict(figures))


def share(identity: NodeIdentity, c: VenueCounts, issued_at: int = DEC + 60) -> ReportCounts:
    return sign_message(
        ReportCounts(
            network_id=NETWORK,
            venue=identity.peer_id,
            period_from=c.period_from,
            period_to=c.period_to,
            issued_at=issued_at,
            counts=share_counts(c),
            signature=bytes(64),
        ),
        identity,
    )


# -- the pure model ------------------------------------------------------------------------


def test_venue_report_ranks_by_harm_not_count() -> None:
    c = counts(
        {"theft": 40, "assault_serious": 1, "disorder": 12},
        {"2026-09": 20, "2026-11": 33},
        refusals=17,
    )
    r = venue_report("The Swan", c, BY_CODE, generated_at=DEC)
    assert [h.category for h in r.harm] == ["assault_serious", "theft", "disorder"]
    serious, theft, disorder = r.harm
    assert (serious.count_text, serious.harm_text) == ("1", "365")
    assert (theft.count_text, theft.harm_text) == ("40", "60")
    assert (disorder.count_text, disorder.harm_text) == ("12", "6")
    assert r.total_incidents_text == "53"
    assert r.total_harm_text == "431"
    assert serious.share == pytest.approx(365 / 431)
    # Every month of the period is listed, the empty one as 0.
    assert [(m.label, m.count_text) for m in r.months] == [
        ("Sep 2026", "20"),
        ("Oct 2026", "0"),
        ("Nov 2026", "33"),
    ]
    figures = {f.key: f.text for f in r.figures}
    assert figures["alerts_created"] == "53"
    assert figures["refusals"] == "17"
    assert figures["pubwatch_bans"] == "not counted yet"


def test_shared_counts_suppress_one_to_four_and_leave_out_zeros() -> None:
    c = counts(
        {"theft": 40, "assault_serious": 1, "weapon": 4, "disorder": 5},
        {"2026-09": 45, "2026-11": 5},
        refusals=3,
        bans_added=0,
    )
    shared = {(x.measure, x.key): x.value for x in share_counts(c)}
    assert shared == {
        ("incidents", "assault_serious"): None,
        ("incidents", "disorder"): 5,
        ("incidents", "theft"): 40,
        ("incidents", "weapon"): None,
        ("incidents_month", "2026-09"): 45,
        ("incidents_month", "2026-11"): 5,
        ("refusals", ""): None,
    }


def test_a_shared_count_from_one_to_four_is_malformed() -> None:
    for value in (1, 4):
        with pytest.raises(ValidationError, match="greater than or equal to 5"):
            ReportCount(measure="incidents", key="theft", value=value)
    ReportCount(measure="incidents", key="theft", value=5)
    ReportCount(measure="incidents", key="theft", value=None)


def test_network_report_combines_ranges_and_names_who_has_not_shared() -> None:
    swan, bell, anchor = NodeIdentity.generate(), NodeIdentity.generate(), NodeIdentity.generate()
    shares = {
        swan.peer_id: share(
            swan, counts({"theft": 30, "assault_serious": 2}, {"2026-10": 32}, refusals=6)
        ),
        bell.peer_id: share(bell, counts({"theft": 8, "weapon": 6}, {"2026-10": 14}, refusals=2)),
    }
    members = [
        Member(swan.peer_id, "The Swan"),
        Member(bell.peer_id, "The Bell"),
        Member(anchor.peer_id, "The Anchor"),
    ]
    r = network_report("Town", SEP, DEC, members, shares, BY_CODE, generated_at=DEC)
    rows = {h.category: h for h in r.harm}
    # The Swan's 2 serious assaults were shared as "<5": the network sees 1 to 4.
    assert (rows["assault_serious"].count_text, rows["assault_serious"].harm_text) == (
        "<5",
        "365-1,460",
    )
    assert (rows["weapon"].count_text, rows["weapon"].harm_text) == ("6", "540")
    assert (rows["theft"].count_text, rows["theft"].harm_text) == ("38", "57")
    assert [h.category for h in r.harm] == ["assault_serious", "weapon", "theft"]
    assert r.total_incidents_text == "45-48"
    assert {f.key: f.text for f in r.figures}["refusals"] == "7-10"
    assert [(v.venue, v.shared) for v in r.venues] == [
        ("The Swan", True),
        ("The Bell", True),
        ("The Anchor", False),
    ]
    assert r.venues[0].incidents_text == "31-34"
    assert "Not shared for this period: The Anchor." in r.notes


# -- the message and its checks -------------------------------------------------------------


class _Membership:
    def __init__(self, members: set[str]) -> None:
        self.members = members

    def admit(self, peer_id: str) -> str | None:
        return None if peer_id in self.members else "no certificate"


class _Net:
    def __init__(self, members: set[str]) -> None:
        self.membership = _Membership(members)


def check(message: object, sender: str, members: set[str], held: int | None = None) -> Any:
    return check_share(
        message,
        sender=sender,
        network=_Net(members),  # type: ignore[arg-type]
        held_issued_at=held,
        now=DEC + 120,
    )


def test_received_share_checks() -> None:
    a, b, outsider = NodeIdentity.generate(), NodeIdentity.generate(), NodeIdentity.generate()
    members = {a.peer_id, b.peer_id}
    good = share(a, counts({"theft": 9}, {"2026-10": 9}))
    assert check(decode(encode(good)), a.peer_id, members) == good
    with pytest.raises(ShareRefused, match="only its own counts"):
        check(good, b.peer_id, members)  # B relays A's share
    with pytest.raises(ShareRefused, match="not a member"):
        check(share(outsider, counts({"theft": 9}, {})), outsider.peer_id, members)
    forged = good.model_copy(update={"counts": ()})
    with pytest.raises(ShareRefused, match="signature"):
        check(forged, a.peer_id, members)
    with pytest.raises(ShareRefused, match="replayed or stale"):
        check(good, a.peer_id, members, held=good.issued_at)
    newer = share(a, counts({"theft": 10}, {}), issued_at=good.issued_at + 1)
    assert check(newer, a.peer_id, members, held=good.issued_at) == newer
    with pytest.raises(ShareRefused, match="future"):
        check(share(a, counts({}, {}), issued_at=DEC + 3600), a.peer_id, members)


def test_report_signature_is_its_own_domain() -> None:
    a = NodeIdentity.generate()
    signed = share(a, counts({"theft": 9}, {}))
    assert purpose_for(signed.type) == "msg-report-counts"
    # The same key signing the same bytes for a vote does not make a valid share.
    vote_signature = a.sign(purpose_for("banning.vote"), signed_payload(signed))
    with pytest.raises(Exception, match="signature does not verify"):
        verify_message(signed.model_copy(update={"signature": vote_signature}))
    assert BanningVote.model_fields["type"].default != signed.type


# -- from a real database -------------------------------------------------------------------


def test_venue_counts_from_the_database(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "node.db")
    try:
        _seed(conn)
        c = _reports.gather(conn, SEP, DEC, now=DEC)
    finally:
        conn.close()
    assert c.incidents == {"theft": 2, "weapon": 1}
    assert c.incidents_by_month == {"2026-09": 2, "2026-11": 1}
    assert c.figures["refusals"] == 1  # the admitted customer is not a refusal
    assert c.figures["photos_released"] == 1
    assert c.figures["details_received"] == 1
    assert c.figures["bans_added"] == 1
    assert c.figures["alerts_withdrawn"] == 1


def _seed(conn: sqlite3.Connection) -> None:
    def add(at: int, action: str, **detail: object) -> None:
        _audit.record(conn, at=at, actor="sup1", action=action, alert_id="a1", detail=detail)

    add(SEP + 10, "alert.created", category="theft")
    add(SEP + 20, "alert.created", category="theft")
    add(DEC - 10, "alert.created", category="weapon")
    add(DEC + 10, "alert.created", category="weapon")  # after the period
    add(SEP - 10, "alert.created", category="theft")  # before it
    add(SEP + 30, "admission.decided", scan_id="s1", admitted=False)
    add(SEP + 40, "admission.decided", scan_id="s2", admitted=True)
    add(SEP + 50, "disclosure.photo.answered", side="originator")
    add(SEP + 60, "disclosure.details.details_received", side="requester")
    add(SEP + 70, "ban.added", ban_id="b1")
    add(SEP + 80, "alert.withdrawn")
    conn.commit()


async def test_report_venue_method_needs_a_supervisor(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as harness:
        await _report_venue_method(harness)


async def _report_venue_method(harness: VenueHarness) -> None:
    await harness.call("alert.create", Role.SUPERVISOR, **_alert("weapon"))
    now = harness.venue.clock.now()
    params = {"period_from": now - 86400, "period_to": now + 86400}
    refused = await harness.error_of("report.venue", Role.DOOR_STAFF, **params)
    assert refused.code == ErrorCode.FORBIDDEN
    result = await harness.call("report.venue", Role.SUPERVISOR, **params)
    report = Report.model_validate(result)
    assert [(h.category, h.count_text) for h in report.harm] == [("weapon", "1")]
    bad = await harness.error_of(
        "report.venue", Role.SUPERVISOR, period_from=now, period_to=now - 1
    )
    assert "period_to" in bad.message


async def test_an_alert_re_issued_for_a_ban_is_not_a_new_incident(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as harness:
        made = await harness.call("alert.create", Role.SUPERVISOR, **_alert("weapon"))
        now = harness.venue.clock.now()
        renewed = await renew_for_ban(
            harness.venue,
            str(NodeIdentity.generate().peer_id),
            made["alert_id"],
            expires_at=now + 86400,
            notice_id="ab" * 16,
        )
        assert renewed is not None
        params = {"period_from": now - 86400, "period_to": now + 86400}
        report = Report.model_validate(
            await harness.call("report.venue", Role.SUPERVISOR, **params)
        )
        assert [(h.category, h.count_text) for h in report.harm] == [("weapon", "1")]


def _alert(category: str) -> dict[str, Any]:
    from doorwatch.node.testing import sample_document

    return {"document": sample_document(), "category": category, "reason": "seen by sup1"}


# -- rendering ------------------------------------------------------------------------------


def sample_network_report() -> Report:
    ids = [NodeIdentity.generate() for _ in range(4)]
    venues = ["The Swan", "The Bell", "The Anchor", "The Crown"]
    shared = [
        counts(
            {"theft": 30, "assault_serious": 2, "disorder": 9, "false_id": 6},
            {"2026-09": 12, "2026-10": 20, "2026-11": 15},
            refusals=40,
            photos_released=6,
        ),
        counts(
            {"theft": 8, "weapon": 6, "drug_supply": 1},
            {"2026-09": 5, "2026-10": 7, "2026-11": 3},
            refusals=12,
        ),
        counts({"disorder": 3}, {"2026-11": 3}, refusals=2),
    ]
    shares = {i.peer_id: share(i, c) for i, c in zip(ids, shared, strict=False)}
    members = [Member(i.peer_id, v) for i, v in zip(ids, venues, strict=True)]
    return network_report("Town Pubwatch", SEP, DEC, members, shares, BY_CODE, generated_at=DEC)


def test_network_report_renders_text_pdf_and_png(tmp_path: Path) -> None:
    report = sample_network_report()
    text = render(report, "text").decode()
    assert "Shared by 3 of 4 venues" in text
    assert "The Crown   NOT SHARED" in text
    assert "<5" in text
    pdf_bytes = render(report, "pdf")
    pdf = pdfium.PdfDocument(io.BytesIO(pdf_bytes))
    assert len(pdf) == 2
    page_text = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    assert "Town Pubwatch: Pubwatch harm report" in page_text[0]
    assert "Drug supply or dealing" in page_text[0]
    assert "NOT SHARED" in page_text[0]
    assert "Not shared for this period: The Crown." in page_text[1]
    assert "Customers refused entry at the door" in page_text[1]
    for i in range(len(pdf)):
        image = pdf[i].render(scale=1.0).to_pil()
        assert image.size[0] > 500
        # Something is drawn: the page is not blank.
        assert image.convert("L").getextrema()[0] < 100
        image.save(tmp_path / f"network-{i}.png")
    png = render(report, "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "network-charts.png").write_bytes(png)
