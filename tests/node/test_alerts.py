"""Originated alerts: creation rules, lifecycle, roles, audit and notification (in process)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
import structlog
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


async def watched_alert(h: VenueHarness) -> tuple[str, list[str]]:
    """A new alert's id, and the list of change announcements the network half receives."""
    seen: list[str] = []
    h.venue.alert_listeners.append(seen.append)
    made = await h.call("alert.create", document=doc(), category="theft", reason="r")
    return made["alert_id"], seen


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
        (
            {"document": doc(surname="", given_names="")},
            "document.surname",
            ErrorCode.INVALID_PARAMS,
        ),
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
        done = await h.call("alert.amend", Role.SUPER_ADMINISTRATOR, alert_id=aid, groups=["north"])
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
        assert got["groups"] == ["north"]
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


async def test_withdraw_is_a_tombstone_that_keeps_the_record_for_audit(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        aid, seen = await watched_alert(h)
        done = await h.call("alert.withdraw", Role.SUPERVISOR, alert_id=aid, note="paid back")
        assert done["status"] == "withdrawn"
        assert done["version"] == 2
        assert seen == [aid, aid]  # the network half sends the tombstone
        # It stops matching at once...
        assert (await h.call("scan.submit", document=doc()))["verdict"] == "admit"
        assert (await h.call("node.status"))["counts"]["alerts_originated_active"] == 0
        # ...but the record, encrypted, stays for the audit trail (and a SAR).
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
        assert got["status"] == "withdrawn"
        assert got["subject"]["surname"] == CANARY
        assert got["reason"] == "r"
        assert got["review_due"] is None
        assert got["annotations"][-1]["text"] == "Withdrawn: paid back"
        err = await error_of(h, "alert.amend", Role.SUPERVISOR, alert_id=aid, reason="x")
        assert err.code == ErrorCode.CONFLICT
        err = await error_of(h, "alert.withdraw", Role.SUPERVISOR, alert_id=aid)
        assert err.code == ErrorCode.CONFLICT
        err = await error_of(h, "alert.reinstate", Role.SUPER_ADMINISTRATOR, alert_id=aid)
        assert err.code == ErrorCode.CONFLICT


async def test_a_withdrawn_alert_takes_no_further_change_but_can_be_deleted(
    tmp_path: Path,
) -> None:
    async with venue_harness(tmp_path) as h:
        aid, _ = await watched_alert(h)
        await h.call("alert.withdraw", Role.SUPERVISOR, alert_id=aid)
        for method, params in (
            ("alert.amend", {"notes": "n"}),
            ("alert.annotate", {"text": "t"}),
            ("alert.review", {}),
            ("alert.dispute", {}),
            ("alert.withdraw", {}),
        ):
            err = await error_of(h, method, Role.SUPER_ADMINISTRATOR, alert_id=aid, **params)
            assert err.code == ErrorCode.CONFLICT, method
            assert err.message.startswith("alert_id: the alert is withdrawn"), method
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
        assert (got["status"], got["version"]) == ("withdrawn", 2)
        await h.call("alert.delete", Role.SUPER_ADMINISTRATOR, alert_id=aid)
        err = await error_of(h, "alert.get", Role.SUPERVISOR, alert_id=aid)
        assert err.code == ErrorCode.NOT_FOUND


async def test_delete_is_super_administrator_only_and_erases(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        aid, seen = await watched_alert(h)
        for role in (Role.DOOR_STAFF, Role.SUPERVISOR, Role.ADMINISTRATOR):
            err = await error_of(h, "alert.delete", role, alert_id=aid)
            assert err.code == ErrorCode.FORBIDDEN
        assert (await h.call("alert.list"))[0]["status"] == "active"
        await h.call("alert.withdraw", Role.SUPERVISOR, alert_id=aid)  # any status
        assert await h.call("alert.delete", Role.SUPER_ADMINISTRATOR, alert_id=aid) == {
            "deleted": True
        }
        assert seen == [aid, aid, aid]
        err = await error_of(h, "alert.get", Role.SUPERVISOR, alert_id=aid)
        assert err.code == ErrorCode.NOT_FOUND
        assert err.message.startswith("alert_id")
        assert await h.call("alert.list") == []
        err = await error_of(h, "alert.delete", Role.SUPER_ADMINISTRATOR, alert_id=aid)
        assert err.code == ErrorCode.NOT_FOUND
        audit = await h.call("audit.query", Role.ADMINISTRATOR, alert_id=aid)
        assert [e["action"] for e in audit][-1] == "alert.deleted"
        assert audit[-1]["actor"] == "super-administrator"


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
        await h.call("alert.reinstate", Role.SUPER_ADMINISTRATOR, alert_id=aid, note=CANARY)
        await h.call("alert.withdraw", Role.SUPERVISOR, alert_id=aid, note=CANARY)
        audit = await h.call("audit.query", Role.ADMINISTRATOR, alert_id=aid)
    actions = [e["action"] for e in audit]
    assert actions == [
        "alert.created",
        "alert.notified",
        "alert.amended",
        "alert.annotated",
        "alert.reviewed",
        "alert.disputed",
        "alert.reinstated",
        "alert.withdrawn",
    ]
    assert [e["detail"].get("version") for e in audit if e["actor"] != "doorwatch"] == [
        1,
        2,
        3,
        4,
        5,
        6,
        7,
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

    def config(self) -> NodeConfig:
        """A node configuration that emails the super administrator through this sink."""
        return NodeConfig(
            venue="The Crown",
            smtp_host="127.0.0.1",
            smtp_port=self.port,
            super_admin_email="gm@crown.example",
        )

    def close(self) -> None:
        self.server.close()


async def test_super_administrator_is_emailed_of_every_new_alert(tmp_path: Path) -> None:
    sink = SmtpSink()
    config = sink.config()
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
        aid, seen = await watched_alert(h)
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


async def test_concurrent_amendments_both_land(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        aid = made["alert_id"]
        versions: list[int] = []

        async def amend(**change: Any) -> None:
            versions.append(
                (await h.call("alert.amend", Role.SUPERVISOR, alert_id=aid, **change))["version"]
            )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: amend(reason="took two bags"))
            nursery.start_soon(lambda: amend(notes="CCTV kept"))
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
    assert sorted(versions) == [2, 3]
    assert got["version"] == 3
    assert (got["reason"], got["notes"]) == ("took two bags", "CCTV kept")


async def test_amend_with_a_stale_version_is_a_conflict_and_changes_nothing(
    tmp_path: Path,
) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        aid = made["alert_id"]
        read = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
        first = await h.call(
            "alert.amend", Role.SUPERVISOR, alert_id=aid, reason="mine", version=read["version"]
        )
        assert first["version"] == read["version"] + 1
        err = await error_of(
            h,
            "alert.amend",
            Role.SUPERVISOR,
            alert_id=aid,
            reason="theirs",
            version=read["version"],
        )
        assert err.code == ErrorCode.CONFLICT
        assert err.message.startswith("version")
        err = await error_of(h, "alert.amend", Role.SUPERVISOR, alert_id=aid, reason="x", version=0)
        assert err.code == ErrorCode.INVALID_PARAMS
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
        assert (got["reason"], got["version"]) == ("mine", first["version"])
        amended = await h.call("audit.query", Role.ADMINISTRATOR, action="alert.amended")
        assert len(amended) == 1


async def test_reinstate_restores_a_disputed_alert_as_a_new_revision(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        aid, seen = await watched_alert(h)
        err = await error_of(h, "alert.reinstate", Role.SUPER_ADMINISTRATOR, alert_id=aid)
        assert err.code == ErrorCode.CONFLICT  # only a suspended alert
        await h.call("alert.dispute", Role.SUPERVISOR, alert_id=aid)
        assert (await h.call("scan.submit", document=doc()))["verdict"] == "admit"
        for role in (Role.DOOR_STAFF, Role.SUPERVISOR, Role.ADMINISTRATOR):
            err = await error_of(h, "alert.reinstate", role, alert_id=aid)
            assert err.code == ErrorCode.FORBIDDEN, role
        err = await error_of(
            h, "alert.reinstate", Role.SUPER_ADMINISTRATOR, alert_id=aid, version=1
        )
        assert err.code == ErrorCode.CONFLICT
        done = await h.call(
            "alert.reinstate",
            Role.SUPER_ADMINISTRATOR,
            alert_id=aid,
            note="CCTV confirms it",
            version=2,
        )
        assert (done["status"], done["version"]) == ("active", 3)
        assert seen == [aid, aid, aid]
        assert (await h.call("scan.submit", document=doc()))["verdict"] == "check"
        assert (await h.call("node.status"))["counts"]["alerts_originated_active"] == 1
        got = await h.call("alert.get", Role.SUPERVISOR, alert_id=aid)
        texts = [a["text"] for a in got["annotations"]]
        assert texts[0].startswith("Disputed by the subject")  # the dispute stays on record
        assert texts[1].startswith("Reinstated")
        assert texts[1].endswith("CCTV confirms it")
        audit = await h.call("audit.query", Role.ADMINISTRATOR, action="alert.reinstated")
        assert [(e["alert_id"], e["actor"], e["detail"]["version"]) for e in audit] == [
            (aid, "super-administrator", 3)
        ]


async def test_the_administrator_who_made_an_alert_may_reinstate_it(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        creator = h.session(Role.ADMINISTRATOR, "manager")
        made = await h.call_as(
            creator, "alert.create", document=doc(), category="theft", reason="r"
        )
        aid = made["alert_id"]
        await h.call("alert.dispute", Role.SUPERVISOR, alert_id=aid)
        other = h.session(Role.ADMINISTRATOR, "other-manager")
        with pytest.raises(ApiError) as caught:
            await h.call_as(other, "alert.reinstate", alert_id=aid)
        assert caught.value.code == ErrorCode.FORBIDDEN
        done = await h.call_as(creator, "alert.reinstate", alert_id=aid)
        assert done["status"] == "active"
        # An alert that expired while suspended cannot come back.
        await h.call("alert.dispute", Role.SUPERVISOR, alert_id=aid)
        h.clock.advance(15 * DAY)
        with pytest.raises(ApiError) as caught:
            await h.call_as(creator, "alert.reinstate", alert_id=aid)
        assert caught.value.code == ErrorCode.CONFLICT


async def test_two_confirmations_at_once_release_the_details_once(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        scan = await h.call("scan.submit", document=doc())
        mid = scan["matches"][0]["match_id"]
        await h.call("match.photo", match_id=mid)
        outcomes: list[Any] = []

        async def confirm() -> None:
            try:
                outcomes.append(await h.call("match.confirm", match_id=mid, same_person=True))
            except ApiError as exc:
                outcomes.append(exc.code)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(confirm)
            nursery.start_soon(confirm)
        released = [o for o in outcomes if isinstance(o, dict)]
        assert len(released) == 1
        assert released[0]["details"]["reason"] == "r"
        assert [o for o in outcomes if not isinstance(o, dict)] == [ErrorCode.CONFLICT]
        err = await error_of(h, "match.confirm", match_id=mid, same_person=False)
        assert err.code == ErrorCode.CONFLICT
        assert "already been answered" in err.message
        audit = await h.call("audit.query", Role.ADMINISTRATOR, alert_id=made["alert_id"])
    actions = [e["action"] for e in audit]
    assert actions.count("disclosure.details") == 1
    assert "match.dismissed" not in actions


async def test_the_local_ladder_shows_annotations_and_audits_each_step(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        aid = made["alert_id"]
        await h.call("alert.annotate", Role.SUPERVISOR, alert_id=aid, text="seen again")
        first = await h.call("scan.submit", document=doc())
        yes = first["matches"][0]["match_id"]
        await h.call("match.photo", match_id=yes)
        confirmed = await h.call("match.confirm", match_id=yes, same_person=True)
        second = await h.call("scan.submit", document=doc())
        no = second["matches"][0]["match_id"]
        await h.call("match.photo", match_id=no)
        await h.call("match.confirm", match_id=no, same_person=False)
        audit = await h.call("audit.query", Role.ADMINISTRATOR, alert_id=aid)
    [note] = confirmed["details"]["annotations"]
    assert (note["text"], note["origin"], note["author"]) == ("seen again", "local", "supervisor")
    steps = [(e["action"], e["detail"]) for e in audit if e["action"].split(".")[0] != "alert"]
    to_us = {"to": "this venue"}
    assert steps == [
        ("disclosure.photo", {"match_id": yes, "scan_id": first["scan_id"], **to_us}),
        ("disclosure.details", {"match_id": yes, "scan_id": first["scan_id"], **to_us}),
        ("disclosure.photo", {"match_id": no, "scan_id": second["scan_id"], **to_us}),
        ("match.dismissed", {"match_id": no, "scan_id": second["scan_id"]}),
    ]


async def test_a_failing_email_is_logged_and_the_next_one_still_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from doorwatch.node._notify import NewAlertNotice, Notifier

    sink = SmtpSink()
    config = sink.config()
    deliver = Notifier._deliver
    failed: list[str] = []

    def flaky(self: Notifier, notice: NewAlertNotice) -> None:
        if not failed:
            failed.append(notice.alert_id)
            raise UnicodeEncodeError("ascii", CANARY, 0, 1, "a fault quoting personal data")
        deliver(self, notice)

    monkeypatch.setattr(Notifier, "_deliver", flaky)
    try:
        with structlog.testing.capture_logs() as logs:
            async with venue_harness(tmp_path, config=config) as h:
                await h.call("alert.create", document=doc(), category="theft", reason="r")
                second = await h.call(
                    "alert.create", document=doc(surname="Other"), category="theft", reason="r"
                )
                with trio.fail_after(20):
                    while not await h.call(
                        "audit.query", Role.ADMINISTRATOR, action="alert.emailed"
                    ):
                        await trio.sleep(0.05)
                emailed = await h.call("audit.query", Role.ADMINISTRATOR, action="alert.emailed")
    finally:
        sink.close()
    assert [e["alert_id"] for e in emailed] == [second["alert_id"]]
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [(e["event"], e["alert_id"], e["error"]) for e in errors] == [
        ("notify.failed", failed[0], "UnicodeEncodeError")
    ]
    assert CANARY not in repr(logs)
    assert len(sink.messages) == 1


async def test_a_disclosure_limit_reached_is_mailed_to_the_super_administrator(
    tmp_path: Path,
) -> None:
    from doorwatch.node._disclosure_limits import LIMIT_REACHED, Reporter

    sink = SmtpSink()
    peer = "12D3KooWQuillfeatheringtonPeerIdForTheTestOnly1234567"
    alert_id = "ab" * 16
    try:
        async with venue_harness(tmp_path, config=sink.config()) as h:
            reporter = Reporter(h.venue, "originator")
            for _ in range(3):
                await reporter.report(
                    LIMIT_REACHED,
                    "identity checks per requester and alert",
                    peer_id=peer,
                    alert_id=alert_id,
                    actor="network",
                )
            with trio.fail_after(20):
                while not await h.call(
                    "audit.query", Role.ADMINISTRATOR, action="security.emailed"
                ):
                    await trio.sleep(0.05)
            reached = await h.call("audit.query", Role.ADMINISTRATOR, action=LIMIT_REACHED)
    finally:
        sink.close()
    # Every time is audited; the super administrator is mailed once a day per rule and peer.
    assert len(reached) == 3
    assert {e["peer_id"] for e in reached} == {peer}
    [message] = sink.messages
    assert "identity checks per requester and alert" in message
    assert peer in message
    assert alert_id in message
    assert "gm@crown.example" in message


def test_a_ban_rides_on_its_alert_until_the_alert_can_no_longer_carry_it() -> None:
    from dataclasses import replace

    from doorwatch.node._alerts import MAX_LIFETIME, AlertRecord

    made, changed, expiry = 1_000 * DAY, 1_040 * DAY, 1_014 * DAY
    live = AlertRecord(
        id="a" * 32, version=2, status="active", category="theft", harm=1.0,
        created_at=made, updated_at=changed, expires_at=expiry, review_due=None,
        groups=[], created_by="u", segments=[], segment_bits=0.0, anonymity_set=0.0,
        identity=None, photo=None, details=None, purged_at=None,
    )  # fmt: skip
    # Live (even suspended by a dispute): it may be kept up to a year from creation.
    assert live.carries_ban_until() == made + MAX_LIFETIME
    assert replace(live, status="suspended").carries_ban_until() == made + MAX_LIFETIME
    # Expired: it carried the ban to its expiry; withdrawn: to the withdrawal.
    assert replace(live, status="expired").carries_ban_until() == expiry
    assert replace(live, status="withdrawn").carries_ban_until() == changed
