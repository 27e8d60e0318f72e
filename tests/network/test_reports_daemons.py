"""Reports on a seeded network of real daemons: The Swan (A) and The Bell (C) record
incidents, refusals and a disclosure up the whole ladder; each reads its own report (text,
JSON, and a PDF rendered back to images); A and C share their counts, The Anchor (B) and
the authority (The Crown) do not; B makes the Pubwatch meeting's report from what the
others shared. Then a member whose node runs in this process sends C malformed, relayed,
forged, replayed and unsuppressed shares, and each is refused with its reason."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import trio

from doorwatch.crypto import NodeIdentity, canonical_pack
from doorwatch.node._p2p_errors import RemoteError
from doorwatch.node._report_share import REPORT_PROTOCOL
from doorwatch.node.testing import Daemon, sample_document
from doorwatch.protocol import ReportCount, ReportCounts, encode, purpose_for, sign_message

from .conftest import Nodes
from .test_alert_gossip import received
from .test_ladder_daemons import Scanner
from .test_misbehaving import network, rogue
from .test_network_daemons import cli, wait_for
from .test_three_venues import ALERT, three_venues

TODAY = dt.datetime.now(dt.UTC).date()
FROM = (TODAY - dt.timedelta(days=1)).isoformat()
TO = (TODAY + dt.timedelta(days=2)).isoformat()


def person(n: int) -> dict[str, Any]:
    return sample_document(
        surname=f"Testperson{chr(ord('a') + n)}",
        given_names="Sam",
        document_number=f"{500000000 + n}",
    )


def incident(scanner: Scanner, n: int, category: str) -> None:
    scanner.result(
        "alert.create", document=person(n), category=category, reason="seen", groups=["door"]
    )


def refuse_at_door(scanner: Scanner, n: int, admitted: bool = False) -> None:
    scan = scanner.result("scan.submit", document=person(100 + n))
    scanner.result("admission.decide", scan_id=scan["scan_id"], admitted=admitted)


def report(node: Daemon, *args: str) -> Any:
    out = cli("report", "--from", FROM, "--to", TO, "--data-dir", str(node.data_dir), *args)
    return json.loads(out) if "--format" in args and "json" in args else out


def figures(r: dict[str, Any]) -> dict[str, str]:
    return {f["key"]: f["text"] for f in r["figures"]}


def harm(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(h["category"], h["count_text"], h["harm_text"]) for h in r["harm"]]


def test_venue_and_network_reports(nodes: Nodes, tmp_path: Path) -> None:
    a, b, c = three_venues(nodes)
    at_a, at_c = Scanner(a), Scanner(c)
    try:
        # A: 6 thefts and one knife (ALERT's subject); C: 5 thefts and 2 cases of false ID.
        for n in range(6):
            incident(at_a, n, "theft")
        at_a.result("alert.create", **ALERT, groups=["door"])
        for n in range(6, 11):
            incident(at_c, n, "theft")
        for n in range(11, 13):
            incident(at_c, n, "false_id")
        for n in range(3):
            refuse_at_door(at_a, n)
        refuse_at_door(at_a, 3, admitted=True)
        # C meets the knife's subject: identity check, photo, details from A.
        wait_for("A's alerts reach C", lambda: received(c) == 7)
        scan = at_c.result("scan.submit", document=sample_document())
        [match] = scan["matches"]  # the knife's subject, no one else
        assert at_c.update(match["match_id"])["state"] == "identity_confirmed"
        at_c.result("match.photo", match_id=match["match_id"])
        at_c.result("match.confirm", match_id=match["match_id"], same_person=True)
    finally:
        at_a.close()
        at_c.close()

    # Each venue's own report: exact counts, ranked by harm (one knife, 90 days, over six
    # thefts, 9 days).
    ra = report(a, "--format", "json")
    assert harm(ra) == [("weapon", "1", "90"), ("theft", "6", "9")]
    assert ra["total_incidents_text"] == "7"
    assert sum(m["count_low"] for m in ra["months"]) == 7
    fa = figures(ra)
    assert (fa["refusals"], fa["photos_released"], fa["details_released"]) == ("3", "1", "1")
    assert fa["photos_received"] == "0"
    rc = report(c, "--format", "json")
    assert harm(rc) == [("false_id", "2", "20"), ("theft", "5", "7.5")]
    fc = figures(rc)
    assert (fc["photos_received"], fc["details_received"], fc["refusals"]) == ("1", "1", "0")
    text = report(a)
    assert "Carrying a weapon" in text
    assert "Counts only" in text
    # No person in any report: not the subject's name, nor a document number.
    for r in (json.dumps(ra), json.dumps(rc), text):
        assert ALERT["document"]["surname"] not in r
        assert "Testperson" not in r
        assert ALERT["document"]["document_number"] not in r

    pdf_path = tmp_path / "swan.pdf"
    assert "Wrote" in report(a, "--format", "pdf", "--output", str(pdf_path))
    pdf = pdfium.PdfDocument(pdf_path)
    assert len(pdf) == 2
    first = pdf[0].get_textpage().get_text_range()
    assert "The Swan: incidents and harm" in first
    assert first.index("Carrying a weapon") < first.index("Theft")
    for i in range(len(pdf)):
        pdf[i].render(scale=1.0).to_pil().save(tmp_path / f"swan-{i}.png")
    png_path = tmp_path / "swan-charts.png"
    report(a, "--format", "png", "--output", str(png_path))
    assert png_path.read_bytes().startswith(b"\x89PNG")

    # A and C share their counts; what A shared is suppressed (its one knife is "<5").
    shared_a = report(a, "--share")
    assert re.search(r"incidents\s+weapon\s+<5\n", shared_a)
    assert re.search(r"incidents\s+theft\s+6\n", shared_a)
    assert "The Bell: received" in shared_a
    report(c, "--share")

    # B, which shared nothing, makes the meeting's report from A's and C's shares.
    rb = report(b, "--network", "--format", "json")
    assert harm(rb) == [
        ("weapon", "<5", "90-360"),
        ("false_id", "<5", "10-40"),
        ("theft", "11", "16.5"),
    ]
    venues = {v["venue"]: (v["shared"], v["incidents_text"]) for v in rb["venues"]}
    assert venues == {
        "The Swan": (True, "7-10"),
        "The Bell": (True, "6-9"),
        "The Anchor": (False, "-"),
        "The Crown": (False, "-"),
    }
    assert "Not shared for this period: The Anchor, The Crown." in rb["notes"]
    assert figures(rb)["refusals"] == "<5"
    meeting = tmp_path / "meeting.pdf"
    report(b, "--network", "--format", "pdf", "--output", str(meeting))
    pdf = pdfium.PdfDocument(meeting)
    first = pdf[0].get_textpage().get_text_range()
    assert "Shared by 2 of 4 venues" in first
    assert "NOT SHARED" in first
    for i in range(len(pdf)):
        pdf[i].render(scale=1.0).to_pil().save(tmp_path / f"meeting-{i}.png")


# -- a misbehaving member -------------------------------------------------------------------


def unsuppressed_frame(identity: NodeIdentity, network_id: str, period: tuple[int, int]) -> bytes:
    """A share with a count of 3 in the clear (the model refuses to build one), signed."""
    body: dict[str, Any] = {
        "v": 1,
        "type": "report.counts",
        "network_id": network_id,
        "venue": identity.peer_id,
        "period_from": period[0],
        "period_to": period[1],
        "issued_at": period[0],
        "counts": [{"measure": "incidents", "key": "theft", "value": 3}],
    }
    signature = identity.sign(purpose_for("report.counts"), canonical_pack(body))
    return canonical_pack({**body, "signature": signature})


def test_bad_shares_are_refused(nodes: Nodes) -> None:
    net = network(nodes)
    period = (1_790_000_000, 1_790_000_000 + 30 * 86400)

    async def main() -> None:
        async with rogue(net.b_dir, refuse=set()) as b:
            (network_id,) = b.networks
            assert b.rr is not None
            rr = b.rr

            def counts(issued_at: int, value: int | None = 9) -> ReportCounts:
                return sign_message(
                    ReportCounts(
                        network_id=network_id,
                        venue=b.identity.peer_id,
                        period_from=period[0],
                        period_to=period[1],
                        issued_at=issued_at,
                        counts=(ReportCount(measure="incidents", key="theft", value=value),),
                        signature=bytes(64),
                    ),
                    b.identity,
                )

            async def push(frame: bytes) -> str:
                with trio.fail_after(30):
                    while True:
                        try:
                            return (
                                await rr.request(net.c_id, REPORT_PROTOCOL, frame, timeout=10)
                            ).decode()
                        except RemoteError as exc:
                            return exc.remote_message
                        except Exception:
                            await trio.sleep(0.3)

            assert "malformed" in await push(b"\x93not a share")
            other = NodeIdentity.generate()
            relayed = sign_message(
                counts(period[0]).model_copy(update={"venue": other.peer_id}), other
            )
            assert "only its own counts" in await push(encode(relayed))
            forged = counts(period[0]).model_copy(
                update={"counts": (ReportCount(measure="incidents", key="theft", value=90),)}
            )
            assert "signature" in await push(encode(forged))
            assert "malformed" in await push(unsuppressed_frame(b.identity, network_id, period))
            good = encode(counts(period[0]))
            assert await push(good) == "stored"
            assert "replayed or stale" in await push(good)
            assert await push(encode(counts(period[0] + 1, value=None))) == "stored"

    trio.run(main)
    refused = [line for line in net.c.log_lines() if "report.share_refused" in line]
    assert len(refused) == 5
    # C holds the Rogue's newest share only: "<5" thefts.
    rc = json.loads(
        cli(
            "report",
            "--network",
            "--from",
            str(period[0]),
            "--to",
            str(period[1]),
            "--format",
            "json",
            "--data-dir",
            str(net.c.data_dir),
        )
    )
    assert harm(rc) == [("theft", "<5", "1.5-6")]
    assert {v["venue"]: v["shared"] for v in rc["venues"]} == {
        "The Rogue": True,
        "The Bell": False,
        "The Crown": False,
    }
