"""The manager pages in a real browser: each role sees what the API lets it see."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from doorwatch.cli._photos import synthetic_portrait
from doorwatch.node.testing import PASSWORD, Daemon, follow, sample_document

from .conftest import TABLET, Shots, console_url


def _login(browser: Any, node: Daemon, username: str) -> Any:
    from playwright.sync_api import expect

    page = browser.new_context(**TABLET).new_page()
    page.goto(console_url(node))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#link")).to_have_text("Live")
    return page


def _every_control_named_and_44px(page: Any) -> None:
    for button in page.get_by_role("button").all():
        if button.is_visible():
            box = button.bounding_box()
            assert box is not None
            assert box["height"] >= 44, button.inner_text()
            assert box["width"] >= 44, button.inner_text()
            assert button.inner_text().strip() or button.get_attribute("aria-label")
    for field in page.locator("input, textarea, select").all():
        if field.is_visible():
            assert page.locator(f'label[for="{field.get_attribute("id")}"]').count() == 1


def test_a_tab_pressed_while_the_page_loads_is_not_lost(node: Daemon, browser: Any) -> None:
    """A tab pressed before the page knows its session still opens, and its list
    arrives once the session does (CI once clicked before the listeners were bound)."""
    from playwright.sync_api import expect

    admin = _login(browser, node, "admin")
    held: list[Any] = []

    def hold(route: Any) -> None:
        if route.request.frame.url.endswith("/manage"):
            held.append(route)
        else:  # the door console's own, as it unloads
            route.continue_()

    admin.route("**/api/session", hold)  # the manager page's session waits
    follow(admin, "Manager pages")
    admin.get_by_role("tab", name="Audit log").click()
    expect(admin.get_by_role("tab", name="Audit log")).to_have_attribute("aria-selected", "true")
    expect(admin.locator("#audit")).to_be_visible()
    expect(admin.locator("#alerts")).to_be_hidden()
    expect(admin.locator("#audit-table tbody tr")).to_have_count(0)
    assert len(held) == 1
    held[0].continue_()
    expect(admin.locator("#audit-table")).to_be_visible()
    expect(admin.locator("#audit-table")).to_contain_text("adminlogin")
    expect(admin.locator("#who")).to_have_text("admin (super administrator)")
    expect(admin.get_by_role("tab", name="Audit log")).to_have_attribute("aria-selected", "true")
    admin.context.close()


def test_log_out_from_the_manager_pages_ends_the_session(node: Daemon, browser: Any) -> None:
    from playwright.sync_api import expect

    sup = _login(browser, node, "sup1")
    follow(sup, "Manager pages")
    expect(sup.locator("#who")).to_have_text("sup1 (supervisor)")
    sup.get_by_role("button", name="Log out").click()
    expect(sup.get_by_label("User name")).to_be_visible()  # the door console's login
    sup.goto(console_url(node).rstrip("/") + "/manage")
    expect(sup.get_by_label("User name")).to_be_visible()  # no way back without logging in
    sup.context.close()


def test_manager_pages_by_role(node: Daemon, browser: Any, shots: Shots) -> None:
    from playwright.sync_api import expect

    door = node.client("door1")
    made = door.result(
        "alert.create",
        document=sample_document(),
        category="theft",
        reason="took a till",
        photo=base64.b64encode(synthetic_portrait(3)).decode(),
    )
    assert isinstance(made, dict)

    staff = _login(browser, node, "door1")
    expect(staff.locator("#manage-link")).to_be_hidden()
    staff.context.close()

    sup = _login(browser, node, "sup1")
    follow(sup, "Manager pages")
    table = sup.locator("#alerts-table")
    expect(table).to_be_visible()
    expect(table).to_contain_text("Theft")
    expect(table).to_contain_text("door1")
    expect(table).not_to_contain_text("Pemberton")  # no subject in the list
    shots.take(sup, "alerts")
    sup.get_by_role("tab", name="Audit log").click()
    expect(sup.locator("#audit-message")).to_have_text(
        "The audit log is for administrators and above."
    )
    expect(sup.locator("#audit-table")).to_be_hidden()
    sup.get_by_role("tab", name="Staff").click()
    expect(sup.locator("#staff-message")).to_have_text(
        "Staff accounts are for administrators and above."
    )
    sup.get_by_role("tab", name="Node and network").click()
    expect(sup.locator("#node-facts")).to_contain_text("The Crown")
    expect(sup.locator("#peers-message")).to_have_text("No other venue yet.")
    shots.take(sup, "node")
    sup.context.close()

    admin = _login(browser, node, "admin")
    follow(admin, "Manager pages")
    admin.get_by_role("tab", name="Audit log").click()
    expect(admin.get_by_role("tab", name="Audit log")).to_have_attribute("aria-selected", "true")
    expect(admin.locator("#audit-table")).to_be_visible()
    admin.get_by_label("Who").fill("door1")
    admin.get_by_label("Action").fill("alert.created")
    admin.get_by_role("button", name="Show").click()
    rows = admin.locator("#audit-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("alert.created")
    expect(rows.first).to_contain_text(made["alert_id"][:12])
    expect(admin.locator("#audit-message")).to_have_text(re.compile(r"^1 entry, newest first"))
    shots.take(admin, "audit")

    admin.get_by_role("tab", name="Staff").click()
    expect(admin.locator("#staff-table")).to_contain_text("door1")
    admin.get_by_label("New user name").fill("door2")
    admin.get_by_label("Role").select_option("door_staff")
    admin.get_by_label("First password (8 or more characters)").fill(PASSWORD)
    admin.get_by_role("button", name="Add the account").click()
    expect(admin.locator("#staff-message")).to_have_text("door2 can log in now.")
    door2 = admin.locator("#staff-table tbody tr", has_text="door2")
    door2.get_by_role("button", name="Set a password").click()
    door2.get_by_label("New password for door2").fill("a new door password")
    door2.get_by_role("button", name="Save the password").click()
    expect(admin.locator("#staff-message")).to_have_text(
        "door2 has a new password; their other sessions are ended."
    )
    node.client("door2", "a new door password").close()  # logs in with it
    door2.get_by_role("button", name="Disable").click()
    door2.get_by_role("button", name="Disable: are you sure?").click()
    expect(admin.locator("#staff-message")).to_have_text(
        "door2 is disabled and logged out everywhere."
    )
    shots.take(admin, "staff")
    admin.context.close()
    users = node.client().result("user.list")
    assert isinstance(users, list)
    assert {"username": "door2", "disabled": True}.items() <= next(
        u for u in users if u["username"] == "door2"
    ).items()


def test_a_manager_reviews_an_alert_made_at_the_door_and_sees_it_audited(
    node: Daemon, browser: Any, shots: Shots
) -> None:
    from playwright.sync_api import expect

    # A supervisor makes the alert from a scan at the door console.
    page = _login(browser, node, "sup1")
    node.client("door1").result("scan.submit", document=sample_document())
    expect(page.locator("#verdict-word")).to_have_text("ADMIT", timeout=30_000)
    page.get_by_role("button", name="Report an incident").click()
    page.get_by_label("Category").select_option("disorder")
    page.get_by_label("What happened").fill("refused to leave at closing")
    page.get_by_role("button", name="Make the alert").click()
    expect(page.locator("#report-status")).to_contain_text("Alert made")
    follow(page, "Manager pages")
    row = page.locator("#alerts-table tbody tr")
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Mark reviewed").click()
    expect(page.locator("#alerts-message")).to_have_text("Disorder: reviewed.")
    row.get_by_role("button", name="Add a note").click()
    row.get_by_label("Note for every venue").fill("seen again on Friday")
    row.get_by_role("button", name="Save the note").click()
    expect(page.locator("#alerts-message")).to_have_text("Disorder: note added.")
    expect(row.get_by_role("button", name="Delete")).to_have_count(0)  # super admin only
    row.get_by_role("button", name="Withdraw").click()
    row.get_by_role("button", name="Withdraw: are you sure?").click()
    expect(page.locator("#alerts-message")).to_have_text("Disorder: withdrawn everywhere.")
    expect(row).to_contain_text("Withdrawn")
    shots.take(page, "alert-actions")
    page.context.close()

    admin = _login(browser, node, "admin")
    follow(admin, "Manager pages")
    admin.get_by_role("tab", name="Audit log").click()
    admin.get_by_label("Who").fill("sup1")
    admin.get_by_role("button", name="Show").click()
    table = admin.locator("#audit-table")
    for action in ("alert.created", "alert.reviewed", "alert.annotated", "alert.withdrawn"):
        expect(table).to_contain_text(action)
    shots.take(admin, "audit-of-sup1")
    # The super administrator deletes it for good.
    admin.get_by_role("tab", name="Alerts").click()
    row = admin.locator("#alerts-table tbody tr")
    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Delete for good?").click()
    expect(admin.locator("#alerts-message")).to_have_text(
        "Disorder: deleted; only its audit entries remain."
    )
    assert node.client().result("alert.list") == []
    admin.context.close()


def test_bans_and_the_police_export_by_role(node: Daemon, browser: Any, shots: Shots) -> None:
    import datetime as dt
    import json
    import time

    from playwright.sync_api import expect

    admin_rpc = node.client()
    scan = admin_rpc.result("scan.submit", document=sample_document())
    assert isinstance(scan, dict)
    admin_rpc.result(
        "ban.add",
        scan_id=scan["scan_id"],
        reason="fighting in the car park",
        expires_at=int(time.time()) + 30 * 86400,
    )

    sup = _login(browser, node, "sup1")
    follow(sup, "Manager pages")
    sup.get_by_role("tab", name="Bans").click()
    bans = sup.locator("#bans-table")
    expect(bans).to_contain_text("fighting in the car park")
    expect(bans).to_contain_text("Pemberton-Hale")
    expect(bans.get_by_role("button", name="Lift")).to_have_count(0)  # super administrator only
    sup.get_by_role("tab", name="Exports").click()
    today = dt.date.today().isoformat()
    sup.get_by_label("From (date)").fill(today)
    sup.get_by_label("Until (date)").fill(today)
    sup.locator("#visits-form").get_by_role("button", name="Export and download").click()
    expect(sup.locator("#visits-message")).to_have_text("Exports are for administrators and above.")
    sup.context.close()

    admin = _login(browser, node, "admin")
    follow(admin, "Manager pages")
    admin.get_by_role("tab", name="Exports").click()
    admin.get_by_label("From (date)").fill(today)
    admin.get_by_label("Until (date)").fill(today)
    with admin.expect_download() as got:
        admin.locator("#visits-form").get_by_role("button", name="Export and download").click()
    exported = json.loads(Path(got.value.path()).read_text())
    assert [v["scan_id"] for v in exported["visits"]] == [scan["scan_id"]]
    expect(admin.locator("#visits-message")).to_have_text(
        "1 visit exported; the export is in the audit log."
    )
    shots.take(admin, "police-export")
    # Subject access: the same person, typed from their ID.
    admin.get_by_label("Document", exact=True).select_option("passport")
    admin.get_by_label("Document number").fill("925665416")
    admin.get_by_label("Given names").fill("Jordan Lee")
    admin.get_by_label("Surname").fill("Pemberton-Hale")
    admin.get_by_label("Date of birth").fill("1995-07-04")
    admin.get_by_label("Expiry date").fill("2033-03-01")
    with admin.expect_download() as got:
        admin.locator("#sar-form").get_by_role("button", name="Export and download").click()
    held = json.loads(Path(got.value.path()).read_text())
    assert [v["scan_id"] for v in held["visits"]] == [scan["scan_id"]]
    assert [b["reason"] for b in held["bans"]] == ["fighting in the car park"]
    expect(admin.locator("#sar-message")).to_contain_text("1 visit(s), 1 ban(s), 0 alert(s)")
    admin.get_by_role("tab", name="Bans").click()
    lift = admin.locator("#bans-table").get_by_role("button", name="Lift")
    lift.click()
    admin.locator("#bans-table").get_by_role("button", name="Lift: are you sure?").click()
    expect(admin.locator("#bans-message")).to_have_text("Ban lifted.")
    admin.context.close()
    entries = admin_rpc.result("audit.query", actor="admin")
    assert isinstance(entries, list)
    actions = [e["action"] for e in entries]
    assert "visits.exported" in actions
    assert "sar.exported" in actions
    assert "ban.removed" in actions


def test_an_invite_with_its_qr_code_a_join_and_a_revocation(
    tmp_path: Path, browser: Any, shots: Shots
) -> None:
    import signal

    from playwright.sync_api import expect

    from ..network.test_network_daemons import cli, connected_venues, wait_for
    from .conftest import init_node

    crown = init_node(tmp_path, "crown", "The Crown")
    cli("network", "create", "--data-dir", str(crown.data_dir), "--name", "Town")
    crown.start()
    swan = init_node(tmp_path, "swan", "The Swan")
    swan.start()
    try:
        admin = _login(browser, crown, "admin")
        follow(admin, "Manager pages")
        admin.get_by_role("tab", name="Node and network").click()
        admin.get_by_label("Venue's name").fill("The Swan")
        admin.get_by_role("button", name="Make the invite").click()
        expect(admin.locator("#invite-message")).to_contain_text("Invite for The Swan")
        qr = admin.get_by_role("img", name="QR code of the invite")
        expect(qr).to_be_visible()
        admin.wait_for_function(
            "(el) => el.complete && el.naturalWidth > 0", arg=qr.element_handle()
        )
        token = admin.get_by_label("Invite", exact=True).input_value()
        assert token.startswith("dwinv1-")
        shots.take(admin, "invite")

        cli("network", "join", token, "--data-dir", str(swan.data_dir))
        wait_for("The Swan connects", lambda: connected_venues(crown) == {"The Swan"})
        admin.get_by_role("tab", name="Alerts").click()
        admin.get_by_role("tab", name="Node and network").click()
        swan_row = admin.locator("#peers-table tbody tr", has_text="The Swan")
        expect(swan_row).to_contain_text("Connected")
        swan_row.get_by_role("button", name="Revoke").click()
        swan_row.get_by_role("button", name="Revoke: are you sure?").click()
        expect(admin.locator("#peers-message")).to_have_text(
            "The Swan is revoked; the group keys are being replaced."
        )
        expect(admin.locator("#peers-table")).to_contain_text("revoked")
        shots.take(admin, "revoked")
        admin.context.close()
    finally:
        for node in (crown, swan):
            if node.proc is not None:
                node.stop(signal.SIGTERM)
    assert crown.unexpected_errors() == []


@pytest.fixture
def demo_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    """A node whose clock the test moves forward (clock.advance), with `sup1`."""
    import signal

    from .conftest import add_user, init_node

    monkeypatch.setenv("DOORWATCH_DEMO_CLOCK", "1")
    daemon = init_node(tmp_path, "node", "The Crown")
    daemon.start()
    add_user(daemon, "sup1", "supervisor")
    yield daemon
    if daemon.proc is not None:
        daemon.stop(signal.SIGTERM)
    assert daemon.unexpected_errors() == []


def test_an_alert_due_for_review_is_reminded_opened_changed_disputed_and_reinstated(
    demo_node: Daemon, browser: Any, shots: Shots
) -> None:
    import datetime as dt

    from playwright.sync_api import expect

    node = demo_node
    admin_rpc = node.client()
    now = int(admin_rpc.result("clock.advance", seconds=1)["now"])  # type: ignore[index]
    made = admin_rpc.result(
        "alert.create",
        document=sample_document(),
        category="theft",
        reason="took a till",
        expires_at=now + 300 * 86400,
    )
    assert isinstance(made, dict)
    alert_id = made["alert_id"]
    admin_rpc.result("clock.advance", seconds=92 * 86400)  # past its three-monthly review
    admin_rpc = node.client()  # the login before has expired on the node's clock

    sup = _login(browser, node, "sup1")
    follow(sup, "Manager pages")
    tab = sup.get_by_role("tab", name="Alerts, 1 due for review")
    expect(tab.locator(".count")).to_have_text("1")
    reminder = sup.locator("#review-reminder")
    expect(reminder).to_contain_text("1 alert is due for its three-monthly review")
    expect(reminder).to_contain_text("press Mark reviewed")
    row = sup.locator("#alerts-table tbody tr")
    expect(row).to_contain_text("Review overdue")
    expect(row.get_by_role("button", name="Reinstate")).to_have_count(0)
    shots.take(sup, "review-due")

    # Open it, and change what happened, the notes and the end date.
    row.get_by_role("button", name="Open").click()
    detail = sup.locator("#alert-detail")
    expect(detail).to_contain_text("took a till")
    expect(detail).to_contain_text("Pemberton-Hale")  # its own alert: the subject, on request
    ends = dt.date.fromtimestamp(now + 200 * 86400).isoformat()
    detail.get_by_label("What happened").fill("took the till from the bar")
    detail.get_by_label("Notes for other venues").fill("CCTV kept, camera 3")
    detail.get_by_label("Ends on").fill(ends)
    shots.take(sup, "alert-open")
    _every_control_named_and_44px(sup)
    detail.get_by_role("button", name="Save the changes").click()
    expect(sup.locator("#detail-message")).to_have_text(
        "Theft: changed; the new version goes to every venue."
    )
    expect(detail).to_contain_text("CCTV kept, camera 3")
    got = admin_rpc.result("alert.get", alert_id=alert_id)
    assert isinstance(got, dict)
    assert (got["reason"], got["notes"], got["version"]) == (
        "took the till from the bar",
        "CCTV kept, camera 3",
        2,
    )
    assert dt.date.fromtimestamp(got["expires_at"]).isoformat() == ends

    # Reviewed: the reminder and the badge go.
    row.get_by_role("button", name="Mark reviewed").click()
    expect(sup.locator("#alerts-message")).to_have_text("Theft: reviewed.")
    expect(reminder).to_be_hidden()
    expect(sup.get_by_role("tab", name="Alerts", exact=True).locator(".count")).to_be_hidden()
    expect(detail).to_contain_text("Reviewed")

    # The subject complains: suspended at once; a supervisor cannot reinstate it.
    row.get_by_role("button", name="Subject disputes it").click()
    expect(sup.locator("#alerts-message")).to_have_text(
        "Theft: suspended while the complaint is looked at."
    )
    expect(row).to_contain_text("Suspended")
    expect(row.get_by_role("button", name="Reinstate")).to_have_count(0)
    expect(detail).to_contain_text("Disputed by the subject")
    sup.context.close()

    admin = _login(browser, node, "admin")
    follow(admin, "Manager pages")
    row = admin.locator("#alerts-table tbody tr")
    row.get_by_role("button", name="Reinstate").click()
    expect(admin.locator("#alerts-message")).to_have_text("Theft: active again.")
    expect(row).to_contain_text("Active")
    admin.context.close()
    entries = admin_rpc.result("audit.query", alert_id=alert_id)
    assert isinstance(entries, list)
    by = {(e["actor"], e["action"]) for e in entries}
    for expected in (
        ("sup1", "alert.viewed"),
        ("sup1", "alert.amended"),
        ("sup1", "alert.reviewed"),
        ("sup1", "alert.disputed"),
        ("admin", "alert.reinstated"),
    ):
        assert expected in by, expected
