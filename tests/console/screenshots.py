"""The guides' screenshots (docs/img/console-*.png, manager-*.png), taken from real daemons.

    python -m doorwatch.tests.console.screenshots [OUT_DIR]     (default: docs/img)

The browser tests' fixtures and steps, told as one story for the guides: two
venues in a network (The Crown makes an alert, The Swan's door recognises
the person), with the demo's synthetic people and drawn portraits (Faker's
name lists, no real person). Each screen is what a 10-11 inch tablet shows.
The Crown runs on a demonstration clock, moved on three months for a review
to fall due; at the end The Crown stops and The Swan's clock moves on an
hour, for the isolation indicator.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from doorwatch.cli._demo_people import cast, document
from doorwatch.node._ladder_testing import daemon_pair_with_alert
from doorwatch.node.testing import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Daemon, follow

from .conftest import TABLET, add_user, console_url

WAIT_MS = 30_000


def _page(browser: Any, node: Daemon, username: str, lane: str = "main") -> Any:
    from playwright.sync_api import expect

    page = browser.new_context(**TABLET).new_page()
    page.goto(console_url(node))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Door").fill(lane)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#link")).to_have_text("Live")
    return page


def _fill_document(page: Any, doc: dict[str, Any]) -> None:
    page.get_by_label("Document", exact=True).select_option(doc["document_type"])
    page.get_by_label("Document number").fill(doc["document_number"])
    page.get_by_label("Given names").fill(doc["given_names"])
    page.get_by_label("Surname").fill(doc["surname"])
    page.get_by_label("Date of birth").fill(doc["date_of_birth"])
    page.get_by_label("Expiry date").fill(doc["expiry_date"])


def story(out: Path, root: Path, browser: Any) -> None:
    from playwright.sync_api import expect

    def shot(page: Any, name: str, *, full_page: bool = False) -> None:
        page.screenshot(path=str(out / f"{name}.png"), full_page=full_page)
        print(f"{out / name}.png")

    people = cast(2026, dt.date.today())
    subject = document(people.subject)
    at_the_swan = document(people.subject_misread)  # the same ID, read by another scanner
    innocent = document(people.innocent)
    alert = {
        "document": subject,
        "category": "assault_injury",
        "reason": "Punched another customer at closing time; police called.",
        "notes": "CCTV kept (camera 2).",
        "expires_at": int(time.time()) + 200 * 86400,
    }
    with daemon_pair_with_alert(root, alert) as (crown, swan, _):
        add_user(swan, "door1", "door_staff")
        add_user(swan, "sup1", "supervisor")
        add_user(crown, "manager", "administrator")

        # -- the door console at The Swan ------------------------------------------------
        page = browser.new_context(**TABLET).new_page()
        page.goto(console_url(swan))
        page.get_by_label("User name").fill("door1")
        page.get_by_label("Password").fill("not the password")
        page.get_by_label("Door").fill("front")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("Login refused")
        shot(page, "console-login")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#link")).to_have_text("Live")
        expect(page.locator("#health")).to_have_text("Network OK")
        shot(page, "console-waiting")

        scanner = swan.client("door1")
        scanner.result("scan.submit", document=innocent, lane="front")
        expect(page.locator("#verdict-word")).to_have_text("ADMIT", timeout=WAIT_MS)
        shot(page, "console-admit")

        scanner.result("scan.submit", document=at_the_swan, lane="front")
        expect(page.locator("#verdict-word")).to_have_text("CHECK", timeout=WAIT_MS)
        expect(page.locator("#question")).to_be_visible(timeout=WAIT_MS)
        page.wait_for_function(
            "() => [...document.querySelectorAll('#photos img')]"
            ".every((i) => i.complete && i.naturalWidth > 0)"
        )
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, "console-check")
        page.locator("#question").scroll_into_view_if_needed()
        page.evaluate("document.querySelector('#photos').scrollIntoView({block: 'start'})")
        shot(page, "console-photos")
        page.get_by_role("button", name="Yes, the same person").click()
        expect(page.locator("#details")).to_be_visible(timeout=WAIT_MS)
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, "console-alert")
        page.get_by_label("Note (optional)").fill("Refused politely; left without trouble.")
        page.get_by_role("button", name="Refuse tonight").click()
        expect(page.locator("#decision-status")).to_have_text("Recorded: refused tonight.")
        page.evaluate("document.querySelector('#details').scrollIntoView({block: 'start'})")
        shot(page, "console-details")
        page.context.close()

        sup = _page(browser, swan, "sup1", lane="front")
        sup.get_by_role("button", name="Type in an ID").click()
        _fill_document(sup, innocent)
        shot(sup, "console-typed")
        sup.get_by_role("button", name="Check this ID").click()
        expect(sup.locator("#verdict-reasons")).to_contain_text("Typed in by hand", timeout=WAIT_MS)
        sup.get_by_role("button", name="Report an incident").click()
        sup.get_by_label("Category").select_option("disorder")
        sup.get_by_label("What happened").fill("Refused to leave at closing; shouted at staff.")
        shot(sup, "console-report")
        sup.context.close()

        # -- the manager pages at The Swan: received alerts, counted ------------------------
        swan_admin = _page(browser, swan, "admin")
        follow(swan_admin, "Manager pages")
        expect(swan_admin.locator("#received-table")).to_be_visible()
        shot(swan_admin, "manager-received")
        swan_admin.context.close()

        # -- the manager pages at The Crown, three months on ---------------------------------
        rpc = crown.client()
        scan = rpc.result("scan.submit", document=innocent)
        assert isinstance(scan, dict)
        rpc.result(
            "ban.add",
            scan_id=scan["scan_id"],
            reason="Fighting in the car park",
            expires_at=int(time.time()) + 200 * 86400,  # still on after the clock moves
        )
        rpc.result("clock.advance", seconds=92 * 86400)  # the alert's review falls due
        rpc = crown.client()  # the login before has expired on the node's clock
        # The jump makes the last sync 92 days old, until the next one (30 s or so).
        while rpc.result("node.health")["state"] != "ok":  # type: ignore[index]
            time.sleep(0.5)

        admin = _page(browser, crown, "admin")
        follow(admin, "Manager pages")
        expect(admin.locator("#review-reminder")).to_be_visible()
        shot(admin, "manager-alerts")
        admin.locator("#alerts-table tbody tr").first.get_by_role("button", name="Open").click()
        expect(admin.locator("#alert-detail")).to_be_visible()
        shot(admin, "manager-alert-open")
        admin.get_by_role("tab", name="Audit log").click()
        expect(admin.locator("#audit-message")).to_contain_text("newest first")
        shot(admin, "manager-audit")
        admin.get_by_role("tab", name="Staff").click()
        expect(admin.locator("#staff-table")).to_be_visible()
        shot(admin, "manager-staff")
        admin.get_by_role("tab", name="Bans").click()
        expect(admin.locator("#bans-table")).to_be_visible()
        shot(admin, "manager-bans")
        admin.get_by_role("tab", name="Exports").click()
        today = dt.date.today().isoformat()
        admin.get_by_label("From (date)").fill(today)
        admin.get_by_label("Until (date)").fill(today)
        shot(admin, "manager-exports")
        admin.get_by_role("tab", name="Node and network").click()
        admin.get_by_label("Venue's name").fill("The Anchor")
        admin.get_by_role("button", name="Make the invite").click()
        qr = admin.get_by_role("img", name="QR code of the invite")
        admin.wait_for_function(
            "(el) => el.complete && el.naturalWidth > 0", arg=qr.element_handle()
        )
        admin.locator("#invite-box").scroll_into_view_if_needed()
        shot(admin, "manager-invite")
        admin.context.close()

        # -- The Crown goes away: The Swan's pages say matches may be incomplete --------------
        crown.stop()
        client = swan.client()
        while any(p["connected"] for p in client.result("node.status")["peers"]):  # type: ignore[index]
            time.sleep(0.25)
        client.result("clock.advance", seconds=3600)
        door = _page(browser, swan, "door1", lane="front")
        expect(door.locator("#health")).to_have_class("health bad")
        shot(door, "console-isolated")
        door.context.close()
        sup = _page(browser, swan, "sup1")  # a supervisor: no invite form above the venues
        follow(sup, "Manager pages")
        sup.get_by_role("tab", name="Node and network").click()
        expect(sup.locator("#health-banner")).to_be_visible()
        expect(sup.locator("#peers-table")).to_contain_text("last seen")
        shot(sup, "manager-node", full_page=True)
        sup.context.close()


def main() -> None:
    import os

    from playwright.sync_api import sync_playwright

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img")
    out.mkdir(parents=True, exist_ok=True)
    os.environ["DOORWATCH_DEMO_CLOCK"] = "1"
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            story(out, Path(tmp), browser)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
