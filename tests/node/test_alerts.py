"""Originated alerts: creation rules, lifecycle, roles, audit and notification (in process)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
import trio

from doorwatch.node._alerts import DAY
from doorwatch.node._config import NodeConfig
from doorwatch.node._errors import ApiError, ErrorCode
from doorwatch.node._roles import Role
from doorwatch.node._venue_testing import VenueHarness, venue_harness

CANARY = "Quillfeatherington"
JPEG = b"\xff\xd8\xff\xe0" + b"photo-bytes" * 10


def doc(**changes: Any) -> dict[str, Any]:
    base = {
        "document_type": "passport",
        "document_number": "123456789",
        "given_names": "Alice May",
        "surname": CANARY,
        "date_of_birth": "1990-05-17",
        "expiry_date": "2030-01-01",
        "issuing_country": "GBR",
    }
    base.update(changes)
    return base


async def error_of(
    h: VenueHarness, method: str, role: Role = Role.DOOR_STAFF, **p: Any
) -> ApiError:
    return await h.error_of(method, role, **p)


async def snapshot(h: VenueHarness) -> tuple[Any, Any]:
    alerts = await h.call("alert.list")
    audit = await h.call("audit.query", Role.ADMINISTRATOR)
    return alerts, len(audit)


async def test_categories_carry_harm_weights(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        cats = await h.call("alert.categories")
    codes = {c["code"]: c for c in cats}
    assert {"common_assault", "sexual_assault", "drug_supply", "theft", "false_id", "other"} <= set(
        codes
    )
    assert 12 <= len(cats) <= 15
    assert codes["drug_supply"]["harm"] > codes["assault_injury"]["harm"] > codes["theft"]["harm"]
    assert all(c["label"] and c["harm"] >= 0 for c in cats)


async def test_create_defaults_to_fourteen_days_without_review(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        now = h.clock.now()
        made = await h.call("alert.create", document=doc(), category="theft", reason="took a bag")
        assert made["expires_at"] == now + 14 * DAY
        assert made["review_due"] is None
        listed = await h.call("alert.list")
        assert [a["alert_id"] for a in listed] == [made["alert_id"]]
        assert listed[0]["status"] == "active"
        assert listed[0]["version"] == 1
        assert listed[0]["created_by"] == "door-staff"
        assert CANARY not in json.dumps(listed)
        status = await h.call("node.status")
        assert status["counts"]["alerts_originated_active"] == 1


async def test_long_alert_gets_three_monthly_review(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        now = h.clock.now()
        made = await h.call(
            "alert.create",
            document=doc(),
            category="assault_injury",
            reason="punched a customer",
            expires_at=now + 200 * DAY,
        )
        assert made["review_due"] == now + 90 * DAY
        h.clock.advance(30 * DAY)
        reviewed = await h.call(
            "alert.review", Role.SUPERVISOR, alert_id=made["alert_id"], note="still needed"
        )
        assert reviewed["review_due"] == h.clock.now() + 90 * DAY
        assert reviewed["version"] == 2
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=made["alert_id"])
        assert got["reviews"] == [
            {"at": h.clock.now(), "reviewer": "supervisor", "note": "still needed"}
        ]


async def test_alerts_are_ranked_by_harm(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        low = await h.call("alert.create", document=doc(), category="theft", reason="r")
        high = await h.call(
            "alert.create", document=doc(surname="Other"), category="drug_supply", reason="r"
        )
        listed = await h.call("alert.list")
    assert [a["alert_id"] for a in listed] == [high["alert_id"], low["alert_id"]]


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"category": "nonsense"}, "category", ErrorCode.INVALID_PARAMS),
        ({"category": 7}, "category", ErrorCode.INVALID_PARAMS),
        ({"reason": ""}, "reason", ErrorCode.INVALID_PARAMS),
        ({"expires_at": "tomorrow"}, "expires_at", ErrorCode.INVALID_PARAMS),
        ({"expires_at": -1}, "expires_at", ErrorCode.INVALID_PARAMS),
        ({"expires_at": "+366d"}, "expires_at", ErrorCode.INVALID_PARAMS),
        ({"photo": "not base64!"}, "photo", ErrorCode.INVALID_PARAMS),
        ({"photo": "iVBORw0KGgo="}, "photo", ErrorCode.INVALID_PARAMS),
        ({"photo": "oversize"}, "photo", ErrorCode.INVALID_PARAMS),
        ({"groups": ["bad name!"]}, "groups.0", ErrorCode.INVALID_PARAMS),
        ({"document": None, "scan_id": "0" * 32}, "scan_id", ErrorCode.NOT_FOUND),
        ({"document": doc(date_of_birth="1990-13-01")}, "document.date_of_birth", -32602),
        ({"document": doc(surname="")}, "document.surname", ErrorCode.INVALID_PARAMS),
        ({"document": doc(extra=1)}, "document.extra", ErrorCode.INVALID_PARAMS),
        ({"scan_id": "abc"}, "params", ErrorCode.INVALID_PARAMS),
        ({"notes": 5}, "notes", ErrorCode.INVALID_PARAMS),
    ],
)
async def test_bad_create_is_refused_and_changes_nothing(
    tmp_path: Path, params: dict[str, Any], field: str, code: int
) -> None:
    async with venue_harness(tmp_path) as h:
        p: dict[str, Any] = {"document": doc(), "category": "theft", "reason": "took a bag"}
        p.update(params)
        if p.get("expires_at") == "+366d":
            p["expires_at"] = h.clock.now() + 366 * DAY
        if p.get("photo") == "oversize":
            import base64

            p["photo"] = base64.b64encode(JPEG + b"x" * (512 * 1024)).decode()
        if p.get("document") is None:
            del p["document"]
        before = await snapshot(h)
        err = await error_of(h, "alert.create", **p)
        assert err.code == code
        assert err.message.startswith(field), err.message
        assert CANARY not in err.message
        assert await snapshot(h) == before


async def test_photo_from_scan_is_kept_encrypted_and_released_on_match(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        import base64

        photo = base64.b64encode(JPEG).decode()
        scan = await h.call("scan.submit", document=doc(photo=photo))
        made = await h.call("alert.create", scan_id=scan["scan_id"], category="theft", reason="r")
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=made["alert_id"])
        assert got["has_photo"] is True
        assert got["subject"]["surname"] == CANARY
        again = await h.call("scan.submit", document=doc())
        assert again["verdict"] == "check"
        match_id = again["matches"][0]["match_id"]
        shown = await h.call("match.photo", match_id=match_id)
        assert shown["photo"] == photo
        assert shown["state"] == "photo_shown"


async def test_amend_bumps_version_and_groups_need_super_administrator(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        aid = made["alert_id"]
        err = await error_of(h, "alert.amend", Role.SUPERVISOR, alert_id=aid, groups=["north"])
        assert err.code == ErrorCode.FORBIDDEN
        err = await error_of(h, "alert.amend", Role.DOOR_STAFF, alert_id=aid, reason="x")
        assert err.code == ErrorCode.FORBIDDEN
        done = await h.call("alert.amend", Role.SUPERVISOR, alert_id=aid, reason="took two bags")
        assert done["version"] == 2
        done = await h.call(
            "alert.amend", Role.SUPER_ADMINISTRATOR, alert_id=aid, groups=["north", "centre"]
        )
        assert done["version"] == 3
        err = await error_of(
            h,
            "alert.amend",
            Role.SUPERVISOR,
            alert_id=aid,
            expires_at=h.clock.now() + 400 * DAY,
        )
        assert err.code == ErrorCode.INVALID_PARAMS
        assert err.message.startswith("expires_at")
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
        assert got["reason"] == "took two bags"
        assert got["groups"] == ["centre", "north"]
        assert got["version"] == 3
        longer = await h.call(
            "alert.amend", Role.SUPERVISOR, alert_id=aid, expires_at=h.clock.now() + 180 * DAY
        )
        assert longer["review_due"] == h.clock.now() + 90 * DAY


async def test_annotation_is_marked_with_venue_and_user(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        aid = made["alert_id"]
        done = await h.call("alert.annotate", Role.SUPERVISOR, alert_id=aid, text="CCTV kept")
        assert done["version"] == 2
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
        assert got["annotations"] == [
            {
                "at": h.clock.now(),
                "origin": "local",
                "venue": "The Crown",
                "author": "supervisor",
                "text": "CCTV kept",
            }
        ]


async def test_dispute_suspends_at_once_and_stops_matching(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        aid = made["alert_id"]
        assert (await h.call("scan.submit", document=doc()))["verdict"] == "check"
        done = await h.call("alert.dispute", Role.SUPERVISOR, alert_id=aid)
        assert done["status"] == "suspended"
        assert done["version"] == 2
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
        assert got["annotations"][0]["text"].startswith("Disputed by the subject")
        assert (await h.call("scan.submit", document=doc()))["verdict"] == "admit"
        assert (await h.call("node.status"))["counts"]["alerts_originated_active"] == 0


async def test_withdraw_leaves_a_tombstone_without_personal_data(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        aid = made["alert_id"]
        done = await h.call("alert.withdraw", Role.SUPERVISOR, alert_id=aid)
        assert done["status"] == "withdrawn"
        assert done["version"] == 2
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
        assert got["subject"] is None
        assert got["reason"] is None
        assert got["segments"]
        assert (await h.call("scan.submit", document=doc()))["verdict"] == "admit"
        err = await error_of(h, "alert.amend", Role.SUPERVISOR, alert_id=aid, reason="x")
        assert err.code == ErrorCode.CONFLICT


async def test_delete_is_super_administrator_only(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        aid = made["alert_id"]
        for role in (Role.DOOR_STAFF, Role.SUPERVISOR, Role.ADMINISTRATOR):
            err = await error_of(h, "alert.delete", role, alert_id=aid)
            assert err.code == ErrorCode.FORBIDDEN
        assert (await h.call("alert.list"))[0]["status"] == "active"
        assert await h.call("alert.delete", Role.SUPER_ADMINISTRATOR, alert_id=aid) == {
            "deleted": True
        }
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
        assert got["subject"] is None
        assert got["status"] == "withdrawn"
        err = await error_of(h, "alert.get", Role.SUPERVISOR, alert_id="f" * 32)
        assert err.code == ErrorCode.NOT_FOUND
        assert err.message.startswith("alert_id")


async def test_door_staff_cannot_read_details(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        err = await error_of(h, "alert.get", alert_id=made["alert_id"])
        assert err.code == ErrorCode.FORBIDDEN


async def test_every_change_is_audited_without_personal_data(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call(
            "alert.create", document=doc(), category="theft", reason=f"{CANARY} took it"
        )
        aid = made["alert_id"]
        await h.call("alert.amend", Role.SUPERVISOR, alert_id=aid, notes=f"{CANARY} again")
        await h.call("alert.annotate", Role.SUPERVISOR, alert_id=aid, text=CANARY)
        await h.call("alert.review", Role.SUPERVISOR, alert_id=aid)
        await h.call("alert.dispute", Role.SUPERVISOR, alert_id=aid, note=CANARY)
        await h.call("alert.withdraw", Role.SUPERVISOR, alert_id=aid)
        audit = await h.call("audit.query", Role.ADMINISTRATOR, alert_id=aid)
    actions = [e["action"] for e in audit]
    assert actions == [
        "alert.created",
        "alert.notified",
        "alert.amended",
        "alert.annotated",
        "alert.reviewed",
        "alert.disputed",
        "alert.withdrawn",
    ]
    assert [e["detail"].get("version") for e in audit if e["actor"] != "doorwatch"] == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    assert CANARY.lower() not in json.dumps(audit).lower()


class SmtpSink:
    """A tiny SMTP server on 127.0.0.1 that keeps the messages it is given."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.messages: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn, conn.makefile("rb") as rfile:
            conn.sendall(b"220 sink\r\n")
            while line := rfile.readline():
                verb = line.split()[0].upper() if line.split() else b""
                if verb == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    body = []
                    while (data := rfile.readline()) not in (b".\r\n", b""):
                        body.append(data.decode())
                    self.messages.append("".join(body))
                    conn.sendall(b"250 kept\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self.server.close()


async def test_super_administrator_is_emailed_of_every_new_alert(tmp_path: Path) -> None:
    sink = SmtpSink()
    config = NodeConfig(
        venue="The Crown",
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        super_admin_email="gm@crown.example",
    )
    try:
        async with venue_harness(tmp_path, config=config) as h:
            made = await h.call("alert.create", document=doc(), category="theft", reason="r")
            with trio.fail_after(20):
                while True:
                    audit = await h.call(
                        "audit.query", Role.ADMINISTRATOR, alert_id=made["alert_id"]
                    )
                    if any(e["action"] == "alert.emailed" for e in audit):
                        break
                    await trio.sleep(0.05)
    finally:
        sink.close()
    assert len(sink.messages) == 1
    message = sink.messages[0]
    assert made["alert_id"] in message
    assert "gm@crown.example" in message
    assert "theft" in message
    assert CANARY not in message


async def test_without_smtp_the_audit_entry_is_the_notification(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        audit = await h.call("audit.query", Role.ADMINISTRATOR, action="alert.notified")
    assert [e["alert_id"] for e in audit] == [made["alert_id"]]


async def test_every_committed_change_is_announced_for_the_network(tmp_path: Path) -> None:
    from doorwatch.node._purge import purge_once

    async with venue_harness(tmp_path) as h:
        seen: list[str] = []
        h.venue.alert_listeners.append(seen.append)
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        aid = made["alert_id"]
        await h.call("alert.amend", Role.SUPERVISOR, alert_id=aid, notes="n")
        await h.call("alert.annotate", Role.SUPERVISOR, alert_id=aid, text="t")
        await h.call("alert.review", Role.SUPERVISOR, alert_id=aid)
        with pytest.raises(ApiError):
            await h.call("alert.amend", Role.SUPERVISOR, alert_id=aid, expires_at=0)
        await h.call("alert.dispute", Role.SUPERVISOR, alert_id=aid)
        other = await h.call(
            "alert.create", document=doc(surname="Other"), category="theft", reason="r"
        )
        h.clock.advance(15 * DAY)
        await purge_once(
            h.store,
            h.venue.engine,
            now=h.clock.now(),
            visit_retention_days=31,
            database=h.database,
            on_change=h.venue.alert_changed,
        )
    # expiry of both (the order of a purge pass is not part of the contract)
    assert sorted(seen[6:]) == sorted([aid, other["alert_id"]])
    assert seen[:6] == [aid] * 5 + [other["alert_id"]]
