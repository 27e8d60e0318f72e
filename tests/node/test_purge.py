"""Retention: expiry, automatic deletion, review reminders, visit and ban purges, raw bytes."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import structlog
import trio

from doorwatch.node._alerts import DAY
from doorwatch.node._config import NodeConfig
from doorwatch.node._purge import purge_once
from doorwatch.node._roles import Role
from doorwatch.node._venue_testing import VenueHarness, venue_harness

CANARY = "Zebulonquartermaine"


def doc(**changes: Any) -> dict[str, Any]:
    base = {
        "document_type": "passport",
        "document_number": "C4N4RY001",
        "given_names": "Canary",
        "surname": CANARY,
        "date_of_birth": "1988-02-29",
        "expiry_date": "2031-01-01",
        "issuing_country": "GBR",
    }
    base.update(changes)
    return base


async def purge(h: VenueHarness) -> Any:
    return await purge_once(
        h.store,
        h.venue.engine,
        now=h.clock.now(),
        visit_retention_days=h.venue.config.visit_retention_days,
        database=h.database,
    )


async def test_expired_alert_is_inactive_and_its_personal_data_purged(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="bag")
        aid = made["alert_id"]
        h.clock.advance(14 * DAY - 1)
        assert (await purge(h)).expired == []
        assert (await h.call("scan.submit", document=doc()))["verdict"] == "check"
        h.clock.advance(1)
        report = await purge(h)
        assert report.expired == [aid]
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
        assert got["status"] == "expired"
        assert got["version"] == 2
        assert got["subject"] is None
        assert got["reason"] is None
        assert not got["has_photo"]
        assert (await h.call("scan.submit", document=doc(document_number="N2")))["matches"] == []
        assert (await h.call("node.status"))["counts"]["alerts_originated_active"] == 0
        audit = await h.call("audit.query", Role.ADMINISTRATOR, alert_id=aid)
        expired = [e for e in audit if e["action"] == "alert.expired"]
        assert len(expired) == 1
        assert expired[0]["actor"] == "doorwatch"


async def test_alerts_older_than_twelve_months_are_deleted(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call(
            "alert.create",
            document=doc(),
            category="theft",
            reason="r",
            expires_at=h.clock.now() + 365 * DAY,
        )
        h.clock.advance(300 * DAY)
        await h.call("alert.review", Role.SUPERVISOR, alert_id=made["alert_id"])
        h.clock.advance(65 * DAY)
        report = await purge(h)
        assert made["alert_id"] in report.deleted
        assert await h.call("alert.list") == []


async def test_alert_not_updated_for_twelve_months_is_deleted(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        h.clock.advance(20 * DAY)
        await purge(h)  # expired now; the tombstone stays
        assert [a["status"] for a in await h.call("alert.list")] == ["expired"]
        h.clock.advance(345 * DAY)
        report = await purge(h)
        assert report.deleted == [made["alert_id"]]
        assert await h.call("alert.list") == []


async def test_review_reminders_are_audited_once_and_listed_as_overdue(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call(
            "alert.create",
            document=doc(),
            category="theft",
            reason="r",
            expires_at=h.clock.now() + 300 * DAY,
        )
        aid = made["alert_id"]
        h.clock.advance(89 * DAY)
        assert (await purge(h)).reminded == []
        assert (await h.call("alert.list"))[0]["review_overdue"] is False
        h.clock.advance(DAY)
        assert (await purge(h)).reminded == [aid]
        assert (await purge(h)).reminded == []
        assert (await h.call("alert.list"))[0]["review_overdue"] is True
        audit = await h.call("audit.query", Role.ADMINISTRATOR, action="alert.review_overdue")
        assert [e["alert_id"] for e in audit] == [aid]
        await h.call("alert.review", Role.SUPERVISOR, alert_id=aid)
        listed = (await h.call("alert.list"))[0]
        assert listed["review_overdue"] is False
        assert listed["review_due"] == h.clock.now() + 90 * DAY


async def test_visits_past_retention_and_expired_bans_are_deleted(tmp_path: Path) -> None:
    config = NodeConfig(venue="The Crown", visit_retention_days=7)
    async with venue_harness(tmp_path, config=config) as h:
        old = await h.call("scan.submit", document=doc())
        await h.call(
            "ban.add",
            Role.SUPER_ADMINISTRATOR,
            document=doc(),
            reason="r",
            expires_at=h.clock.now() + 3 * DAY,
        )
        h.clock.advance(3 * DAY)
        report = await purge(h)
        assert len(report.bans_expired) == 1
        assert report.visits_deleted == 0
        assert await h.call("ban.list", Role.SUPERVISOR) == []
        recent = await h.call("scan.submit", document=doc())
        assert recent["verdict"] == "admit"
        h.clock.advance(4 * DAY + 1)
        assert (await purge(h)).visits_deleted == 1
        left = await h.call("visits.export", Role.ADMINISTRATOR, **{"from": 0, "to": 2**37})
        assert [v["scan_id"] for v in left["visits"]] == [recent["scan_id"]]
        assert old["scan_id"] not in str(left)


def raw_files(database: Path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-shm"):
        path = database.with_name(database.name + suffix)
        if path.exists():
            data += path.read_bytes()
    return data


def canaries() -> list[bytes]:
    return [CANARY.encode(), CANARY.upper().encode(), CANARY.lower().encode(), b"SECRET-REASON"]


async def test_purged_data_is_gone_from_the_database_file_and_wal(tmp_path: Path) -> None:
    photo = b"\xff\xd8\xff\xe0" + (CANARY.encode() + b"-pixels-") * 400
    async with venue_harness(tmp_path) as h:
        scan = await h.call("scan.submit", document=doc(photo=base64.b64encode(photo).decode()))
        made = await h.call(
            "alert.create", scan_id=scan["scan_id"], category="theft", reason="SECRET-REASON"
        )
        await h.call("alert.annotate", Role.SUPERVISOR, alert_id=made["alert_id"], text=CANARY)
        await h.call(
            "ban.add",
            Role.SUPER_ADMINISTRATOR,
            document=doc(),
            reason="SECRET-REASON",
            expires_at=h.clock.now() + 5 * DAY,
        )
        blobs: list[bytes] = await h.store.run(
            lambda conn: [
                bytes(b)
                for row in conn.execute(
                    "SELECT identity, photo, details FROM alerts "
                    "UNION ALL SELECT identity, reason, NULL FROM bans "
                    "UNION ALL SELECT identity, NULL, NULL FROM visits "
                    "UNION ALL SELECT text, NULL, NULL FROM alert_annotations"
                )
                for b in row
                if b is not None
            ]
        )
        assert len(blobs) == 7
        before = raw_files(h.database)
        # Encrypted at rest: never in the clear, even before the purge...
        for canary in canaries():
            assert canary not in before
        # ...but the encrypted rows are there to be purged.
        for blob in blobs:
            assert blob[16:64] in before
        h.clock.advance(h.venue.config.visit_retention_days * DAY + 1)
        report = await purge(h)
        assert report.expired
        assert report.bans_expired
        assert report.visits_deleted == 1
        after = raw_files(h.database)
        assert tmp_path.joinpath("doorwatch.sqlite-wal").stat().st_size == 0
        for canary in canaries():
            assert canary not in after
        for blob in blobs:
            assert blob[16:64] not in after


async def test_withdrawn_alert_keeps_its_record_until_its_expiry(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="bag")
        aid = made["alert_id"]
        await h.call("alert.withdraw", Role.SUPERVISOR, alert_id=aid)
        h.clock.advance(14 * DAY - 1)
        assert (await purge(h)).purged_withdrawn == []
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
        assert got["subject"]["surname"] == CANARY
        h.clock.advance(1)
        report = await purge(h)
        assert report.purged_withdrawn == [aid]
        assert report.expired == []
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
        assert (got["status"], got["version"]) == ("withdrawn", 2)
        assert got["subject"] is None
        assert got["reason"] is None
        assert (await purge(h)).purged_withdrawn == []
        audit = await h.call("audit.query", Role.ADMINISTRATOR, action="alert.purged")
        assert [(e["alert_id"], e["actor"]) for e in audit] == [(aid, "doorwatch")]
        after = raw_files(h.database)
        for canary in canaries():
            assert canary not in after


async def test_deleted_alert_is_gone_from_the_database_file_and_wal(tmp_path: Path) -> None:
    photo = b"\xff\xd8\xff\xe0" + (CANARY.encode() + b"-pixels-") * 400
    async with venue_harness(tmp_path) as h:
        made = await h.call(
            "alert.create",
            document=doc(),
            category="theft",
            reason="SECRET-REASON",
            photo=base64.b64encode(photo).decode(),
        )
        await h.call("alert.annotate", Role.SUPERVISOR, alert_id=made["alert_id"], text=CANARY)
        blobs: list[bytes] = await h.store.run(
            lambda conn: [
                bytes(b)
                for row in conn.execute(
                    "SELECT identity, photo, details FROM alerts "
                    "UNION ALL SELECT text, NULL, NULL FROM alert_annotations"
                )
                for b in row
                if b is not None
            ]
        )
        assert len(blobs) == 4
        await h.call("alert.delete", Role.SUPER_ADMINISTRATOR, alert_id=made["alert_id"])
        after = raw_files(h.database)
        assert tmp_path.joinpath("doorwatch.sqlite-wal").stat().st_size == 0
        for blob in blobs:
            assert blob[16:64] not in after


async def test_an_alert_that_fails_is_logged_by_id_and_the_others_are_purged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from doorwatch.node import _alerts

    async with venue_harness(tmp_path) as h:
        bad = await h.call("alert.create", document=doc(), category="theft", reason="r")
        good = await h.call(
            "alert.create", document=doc(surname="Other"), category="theft", reason="r"
        )
        purge_personal = _alerts.purge_personal

        def failing(conn: Any, alert_id: str, *, now: int) -> None:
            if alert_id == bad["alert_id"]:
                raise ValueError(f"cannot purge {CANARY}")
            purge_personal(conn, alert_id, now=now)

        monkeypatch.setattr(_alerts, "purge_personal", failing)
        h.clock.advance(15 * DAY)
        with structlog.testing.capture_logs() as logs:
            report = await purge(h)
        assert report.expired == [good["alert_id"]]
        assert [f.alert_id for f in report.failed] == [bad["alert_id"]]
        errors = [e for e in logs if e["log_level"] == "error"]
        assert [(e["event"], e["alert_id"], e["error"]) for e in errors] == [
            ("purge.alert_failed", bad["alert_id"], "ValueError")
        ]
        assert CANARY not in repr(logs)
        # The failed alert's changes were undone (still active, not half-expired)...
        statuses = {a["alert_id"]: a["status"] for a in await h.call("alert.list")}
        assert statuses == {bad["alert_id"]: "active", good["alert_id"]: "expired"}
        # ...and the next pass, the fault gone, expires it.
        monkeypatch.setattr(_alerts, "purge_personal", purge_personal)
        assert (await purge(h)).expired == [bad["alert_id"]]


async def test_the_scheduler_logs_a_failing_pass_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from doorwatch.node import _purge

    async with venue_harness(tmp_path) as h:
        await h.call("alert.create", document=doc(), category="theft", reason="r")
        h.clock.advance(15 * DAY)
        real_pass = _purge.purge_pass
        passes: list[str] = []

        def flaky(conn: Any, **kw: Any) -> _purge.PurgeReport:
            passes.append("failed" if not passes else "ran")
            if passes[-1] == "failed":
                raise RuntimeError(f"the disk holding {CANARY} is full")
            return real_pass(conn, **kw)

        monkeypatch.setattr(_purge, "purge_pass", flaky)
        with structlog.testing.capture_logs() as logs:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    lambda: _purge.run_scheduler(
                        h.store,
                        h.venue.engine,
                        h.clock,
                        visit_retention_days=31,
                        database=h.database,
                        interval_s=0.01,
                    )
                )
                with trio.fail_after(20):
                    while "ran" not in passes:
                        await trio.sleep(0.01)
                nursery.cancel_scope.cancel()
        assert (await h.call("alert.list"))[0]["status"] == "expired"
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [(e["event"], e["error"]) for e in errors] == [("purge.pass_failed", "RuntimeError")]
    assert CANARY not in repr(logs)
