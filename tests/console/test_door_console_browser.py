"""The door console in a real browser, against two real venues: the demo story at a
tablet, with the scans submitted through the socket API as a scanner does."""

from __future__ import annotations

import base64
import re
import signal
from pathlib import Path
from typing import Any

from doorwatch.cli._photos import synthetic_portrait
from doorwatch.node.testing import PASSWORD, Daemon, follow, sample_document

from ..network.test_network_daemons import cli, connected_venues, invite, status, wait_for
from .conftest import TABLET, Shots, add_user, console_url, init_node

INNOCENT = {
    "surname": "Okonkwo",
    "given_names": "Ada",
    "date_of_birth": "1988-01-09",
    "document_number": "118822771",
}
WAIT_MS = 30_000


def _network(root: Path) -> tuple[Daemon, Daemon]:
    crown = init_node(root, "crown", "The Crown")
    cli("network", "create", "--data-dir", str(crown.data_dir), "--name", "Town")
    crown.start()
    swan = init_node(root, "swan", "The Swan")
    swan.start()
    cli("network", "join", invite(crown, "The Swan"), "--data-dir", str(swan.data_dir))
    wait_for("The Swan connects to The Crown", lambda: connected_venues(swan) == {"The Crown"})
    return crown, swan


def test_the_door_console_follows_a_scan_up_the_ladder(
    tmp_path: Path, browser: Any, shots: Shots
) -> None:
    crown, swan = _network(tmp_path)
    try:
        _story(crown, swan, browser, shots)
    finally:
        for node in (crown, swan):
            if node.proc is not None:
                node.stop(signal.SIGTERM)
    assert crown.unexpected_errors() == []
    assert swan.unexpected_errors() == []


def _story(crown: Daemon, swan: Daemon, browser: Any, shots: Shots) -> None:
    from playwright.sync_api import expect

    subject_photo = synthetic_portrait(11)
    scanned_photo = synthetic_portrait(11)
    made = crown.client().result(
        "alert.create",
        document=sample_document(),
        category="weapon",
        reason="carried a knife",
        photo=base64.b64encode(subject_photo).decode(),
    )
    assert isinstance(made, dict)
    wait_for(
        "the alert reaches The Swan", lambda: status(swan)["counts"]["alerts_received_active"] == 1
    )
    add_user(swan, "door1", "door_staff")
    url = console_url(swan)

    context = browser.new_context(**TABLET)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url)

    # A wrong password: one sentence, no hint which part was wrong.
    page.get_by_label("User name").fill("door1")
    page.get_by_label("Password").fill("not the password")
    page.get_by_label("Door").fill("front")
    page.get_by_role("button", name="Log in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(re.compile(r"^[^.]+\.$"))
    text = alert.inner_text()
    assert "password" in text  # names both, blames neither
    assert "user name" in text
    shots.take(page, "login-refused")
    problems.clear()  # the refused login's 401 is the browser's own console noise

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Waiting for the next scan at door")).to_be_visible()
    expect(page.locator("#link")).to_have_text("Live")
    shots.take(page, "waiting")
    # No personal data, nor anything else, in the browser's storage.
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    [cookie] = context.cookies()
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"

    scanner = swan.client("door1")
    innocent = scanner.result("scan.submit", document=sample_document(**INNOCENT), lane="front")
    assert isinstance(innocent, dict)
    verdict = page.locator("#verdict")
    expect(verdict).to_have_class(re.compile(r"\badmit\b"), timeout=WAIT_MS)
    expect(page.locator("#verdict-word")).to_have_text("ADMIT")
    expect(page.locator("#verdict-age")).to_have_text(re.compile(r"^Age \d+$"))
    expect(page.locator("#match")).to_be_hidden()
    shots.take(page, "admit")

    scan = scanner.result(
        "scan.submit",
        document=sample_document(photo=base64.b64encode(scanned_photo).decode()),
        lane="front",
    )
    assert isinstance(scan, dict)
    [match] = scan["matches"]
    expect(verdict).to_have_class(re.compile(r"\bcheck\b"), timeout=WAIT_MS)
    expect(page.locator("#verdict-word")).to_have_text("CHECK")
    expect(page.locator("#band")).to_contain_text(match["harm_band"].upper())
    # The ladder, live: identity confirmed, then the photos side by side.
    expect(page.locator('#ladder li[data-step="identity"]')).to_have_class("done", timeout=WAIT_MS)
    expect(page.locator('#ladder li[data-step="photo"]')).to_have_class("done", timeout=WAIT_MS)
    scan_img, alert_img = page.locator("#photo-scan"), page.locator("#photo-alert")
    for img in (scan_img, alert_img):
        expect(img).to_be_visible()
        page.wait_for_function(
            "(el) => el.complete && el.naturalWidth > 0", arg=img.element_handle()
        )
    left, right = scan_img.bounding_box(), alert_img.bounding_box()
    assert left is not None
    assert right is not None
    assert abs(left["y"] - right["y"]) < 1  # side by side
    assert left["x"] + left["width"] <= right["x"]
    assert left["height"] >= 250  # large enough to compare faces at arm's length
    question = page.get_by_role("heading", name="Are these two people the same person?")
    expect(question).to_be_visible()
    expect(page.locator("#decision")).to_be_hidden()  # first the question, then the decision
    shots.take(page, "photos")

    page.get_by_role("button", name="Yes, the same person").click()
    details = page.locator("#details")
    expect(details).to_be_visible(timeout=WAIT_MS)
    expect(details).to_contain_text("carried a knife")
    # The category as the manager pages name it, not its code.
    expect(details).to_contain_text("Carrying a weapon (knife, bladed article, offensive weapon)")
    expect(details).to_contain_text("The Crown")
    expect(page.locator("#verdict-word")).to_have_text("ALERT")
    shots.take(page, "details")

    page.get_by_label("Note (optional)").fill("left without trouble")
    page.get_by_role("button", name="Refuse tonight").click()
    expect(page.get_by_role("status").filter(has_text="Recorded")).to_have_text(
        "Recorded: refused tonight."
    )
    shots.take(page, "decided")

    audit = swan.client().result("audit.query", action="admission.decided")
    assert isinstance(audit, list)
    [decided] = audit
    assert decided["actor"] == "door1"
    assert decided["detail"] == {"scan_id": scan["scan_id"], "admitted": False}
    entries = swan.client().result("audit.query", actor="door1")
    assert isinstance(entries, list)
    actions = [e["action"] for e in entries]
    assert "disclosure.details.details_received" in actions  # the console's own session
    assert problems == []  # no CSP violation, no script error
    context.close()

    # The same customer scanned again and again at another lane: past this venue's own
    # budget of identity checks (3 a day per alert) the node asks no one, and the
    # managers see it on their first page.
    assert status(swan)["counts"]["disclosure_alarms_7d"] == 0
    for _ in range(3):
        scanner.result("scan.submit", document=sample_document(), lane="back")
    wait_for(
        "The Swan's own limit is reached",
        lambda: status(swan)["counts"]["disclosure_alarms_7d"] == 1,
    )
    add_user(swan, "sup1", "supervisor")
    manager = browser.new_context(**TABLET).new_page()
    manager.goto(url)
    manager.get_by_label("User name").fill("sup1")
    manager.get_by_label("Password").fill(PASSWORD)
    manager.get_by_role("button", name="Log in").click()
    follow(manager, "Manager pages")
    warning = manager.locator("#alarms")
    expect(warning).to_be_visible(timeout=WAIT_MS)
    expect(warning).to_contain_text("1 identity-check limit or alarm in the last 7 days")
    expect(warning).to_contain_text("someone may be guessing")
    shots.take(manager, "manager-alarm")
    manager.context.close()


def test_every_control_has_a_name_and_a_44px_target(
    tmp_path: Path, browser: Any, shots: Shots
) -> None:
    node = init_node(tmp_path, "node", "The Swan")
    node.start()
    try:
        add_user(node, "door1", "door_staff")
        context = browser.new_context(**TABLET)
        page = context.new_page()
        page.goto(console_url(node))
        page.get_by_label("User name").fill("door1")
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")  # usable with a keyboard
        expect_waiting(page)
        node.client("door1").result(
            "scan.submit", document=sample_document(date_of_birth="2012-01-01")
        )
        from playwright.sync_api import expect

        expect(page.locator("#verdict-word")).to_have_text("REFUSE", timeout=WAIT_MS)
        expect(page.locator("#verdict-reasons")).to_contain_text("Under 18")
        shots.take(page, "refuse")
        for button in page.get_by_role("button").all():
            if not button.is_visible():
                continue
            box = button.bounding_box()
            assert box is not None
            assert box["height"] >= 44, button.inner_text()
            assert box["width"] >= 44, button.inner_text()
            assert button.inner_text().strip() or button.get_attribute("aria-label")
        for field in page.locator("input, textarea").all():
            if field.is_visible():
                label = page.locator(f'label[for="{field.get_attribute("id")}"]')
                assert label.count() == 1
        context.close()
    finally:
        node.stop(signal.SIGTERM)
    assert node.unexpected_errors() == []


def expect_waiting(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_text("Waiting for the next scan at door")).to_be_visible()
    expect(page.locator("#link")).to_have_text("Live")


def test_a_supervisor_types_an_id_in_and_reports_an_incident(
    node: Daemon, browser: Any, shots: Shots
) -> None:
    from playwright.sync_api import expect

    staff = browser.new_context(**TABLET).new_page()
    staff.goto(console_url(node))
    staff.get_by_label("User name").fill("door1")
    staff.get_by_label("Password").fill(PASSWORD)
    staff.keyboard.press("Enter")
    expect_waiting(staff)
    expect(staff.get_by_role("button", name="Type in an ID")).to_be_hidden()
    staff.context.close()

    page = browser.new_context(**TABLET).new_page()
    page.goto(console_url(node))
    page.get_by_label("User name").fill("sup1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Door").fill("back")
    page.keyboard.press("Enter")
    expect_waiting(page)
    page.get_by_role("button", name="Type in an ID").click()
    page.get_by_label("Document", exact=True).select_option("driving_licence")
    page.get_by_label("Document number").fill("PEMBE907045JL9AB")
    page.get_by_label("Given names").fill("Jordan Lee")
    page.get_by_label("Surname").fill("Pemberton-Hale")
    page.get_by_label("Date of birth").fill("1995-07-04")
    page.get_by_label("Expiry date").fill("2031-01-01")
    shots.take(page, "typed-form")
    page.get_by_role("button", name="Check this ID").click()
    expect(page.locator("#verdict-word")).to_have_text("ADMIT", timeout=WAIT_MS)
    expect(page.locator("#verdict-reasons")).to_contain_text("Typed in by hand")
    expect(page.locator("#typed")).to_be_hidden()

    page.get_by_role("button", name="Report an incident").click()
    page.get_by_label("Category").select_option("theft")
    page.get_by_label("What happened").fill("took a phone from the bar")
    shots.take(page, "report")
    page.get_by_role("button", name="Make the alert").click()
    expect(page.locator("#report-status")).to_contain_text("Alert made")
    alerts = node.client().result("alert.list")
    assert isinstance(alerts, list)
    [made] = alerts
    assert made["created_by"] == "sup1"
    assert made["category"] == "theft"
    visits = node.client().result("visits.export", **{"from": 0, "to": 253402300799})
    assert isinstance(visits, dict)
    [visit] = visits["visits"]
    assert "typed" in visit["reasons"]
    assert visit["staff"] == "sup1"
    page.context.close()


def test_the_console_over_https_with_the_node_stopping_under_it(
    tmp_path: Path, browser: Any, shots: Shots
) -> None:
    from playwright.sync_api import expect

    node = init_node(tmp_path, "node", "The Swan")
    node.start("--console-listen", "0.0.0.0:0")
    try:
        add_user(node, "door1", "door_staff")
        url = console_url(node)
        assert url.startswith("https://")
        port = url.rsplit(":", 1)[1].rstrip("/")
        context = browser.new_context(**TABLET, ignore_https_errors=True)
        page = context.new_page()
        page.goto(f"https://127.0.0.1:{port}/")
        page.get_by_label("User name").fill("door1")
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        expect_waiting(page)
        [cookie] = context.cookies()
        assert cookie["name"].startswith("__Host-")
        assert cookie["secure"]
        node.client("door1").result("scan.submit", document=sample_document())
        expect(page.locator("#verdict-word")).to_have_text("ADMIT", timeout=WAIT_MS)
        # The node stops with the page's event stream open: a clean stop, and the
        # page says it lost the node.
        assert node.stop(signal.SIGTERM) == 0
        expect(page.locator("#link")).to_have_text("Reconnecting…", timeout=WAIT_MS)
        shots.take(page, "https-node-stopped")
        context.close()
    finally:
        if node.proc is not None:
            node.stop(signal.SIGTERM)
    assert node.unexpected_errors() == []
