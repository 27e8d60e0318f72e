"""The banning notices page in a real browser, on four real daemons: A nominates on its
page, B (on the committee) reads the case and votes on its page, the ban is upheld, and
A downloads the notice letter."""

from __future__ import annotations

from typing import Any

from doorwatch.node._notice_service import refuse_text
from doorwatch.node.testing import PASSWORD, Daemon, follow, sample_document

from ..console.conftest import TABLET, Shots, browser, console_url, shots
from .conftest import Nodes
from .test_banning_notices import SUMMARY, committee_and_alert, four_venues, held
from .test_ladder_daemons import Scanner
from .test_network_daemons import wait_for

__all__ = ["browser", "shots"]  # the fixtures, for this module
WAIT_MS = 60_000


def _notices_page(browser: Any, node: Daemon) -> Any:
    from playwright.sync_api import expect

    page = browser.new_context(**TABLET, accept_downloads=True).new_page()
    url = console_url(node)
    page.goto(url)
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#link")).to_have_text("Live")
    # Reached as a manager would: from the manager pages' navigation.
    page.goto(url.rstrip("/") + "/manage")
    follow(page, "Banning notices")
    expect(page.get_by_role("heading", name="Pubwatch banning notices")).to_be_visible()
    return page


def test_nominate_vote_and_letter_on_the_notices_page(
    nodes: Nodes, browser: Any, shots: Shots
) -> None:
    from playwright.sync_api import expect

    k, a, b, c, _ = four_venues(nodes)
    at = {n: Scanner(d) for n, d in (("k", k), ("a", a), ("b", b), ("c", c))}
    try:
        alert_id = committee_and_alert(at, (b, c), (k, b, c))
        page_a = _notices_page(browser, a)
        page_a.get_by_role("button", name="Nominate").click()
        expect(page_a.locator("#nominate-message")).to_have_text(
            "Choose the alert whose subject you nominate."
        )
        choice = page_a.get_by_label("Whose alert (this venue's active alerts)")
        expect(choice.locator("option")).to_have_count(2)  # "Choose an alert" and A's one
        expect(choice.locator(f"option[value='{alert_id}']")).to_contain_text(alert_id[:8])
        surname = sample_document()["surname"]
        expect(choice).not_to_contain_text(surname)  # alerts are named, never people
        choice.select_option(alert_id)
        page_a.get_by_label("What happened (for the committee)").fill(SUMMARY)
        choice.scroll_into_view_if_needed()
        shots.take(page_a, "nominate")
        page_a.get_by_role("button", name="Nominate").click()
        expect(page_a.locator("#nominate-message")).to_contain_text("Nominated")
        expect(page_a.locator("#notices-table")).to_contain_text("The Swan (this venue)")
        [listed] = at["a"].result("notice.list")["notices"]
        notice_id = listed["notice_id"]
        for s in at.values():
            wait_for("every venue holds the nomination", lambda s=s: held(s, notice_id) is not None)

        page_b = _notices_page(browser, b)
        page_b.locator(f"tr[data-notice='{notice_id}']").get_by_role("button", name="Open").click()
        expect(page_b.locator("#detail-summary")).to_contain_text(SUMMARY)
        page_b.get_by_label("Reason (optional, for the nominating venue)").fill("we saw it too")
        shots.take(page_b, "committee-reads-the-case")
        page_b.get_by_role("button", name="Uphold").click()
        expect(page_b.locator("#detail-message")).to_have_text("Your vote (uphold) is recorded.")
        for name in ("k", "c"):
            at[name].result("notice.vote", notice_id=notice_id, vote="uphold")
        wait_for("upheld at A", lambda: held(at["a"], notice_id)["state"] == "upheld")  # type: ignore[index]

        page_a.get_by_role("button", name="Show").click()
        row = page_a.locator(f"tr[data-notice='{notice_id}']")
        expect(row).to_contain_text("upheld")
        row.get_by_role("button", name="Open").click()
        expect(page_a.locator("#detail-summary")).to_contain_text(SUMMARY)
        shots.take(page_a, "upheld-at-the-nominating-venue")
        with page_a.expect_download() as caught:
            page_a.get_by_role("button", name="Notice letter (PDF)").click()
        path = caught.value.path()
        with open(path, "rb") as f:
            assert f.read(5) == b"%PDF-"
        assert caught.value.suggested_filename.startswith("banning-notice-")
        # At C's door console: after "same person", the ban, not the details.
        door = browser.new_context(**TABLET).new_page()
        door.goto(console_url(c))
        door.get_by_label("User name").fill("admin")
        door.get_by_label("Password").fill(PASSWORD)
        door.get_by_label("Door").fill("front")
        door.get_by_role("button", name="Log in").click()
        expect(door.locator("#link")).to_have_text("Live")
        at["c"].result("scan.submit", document=sample_document(), lane="front")
        expect(door.locator('#ladder li[data-step="photo"]')).to_have_class("done", timeout=WAIT_MS)
        door.get_by_role("button", name="Yes, the same person").click()
        expect(door.locator("#verdict-word")).to_have_text("REFUSE", timeout=WAIT_MS)
        until_ts = held(at["c"], notice_id)["until"]  # type: ignore[index]
        expect(door.locator("#ladder-message")).to_have_text(refuse_text(until_ts))
        expect(door.locator("#verdict-reasons")).to_have_text(refuse_text(until_ts))
        expect(door.locator("#details")).to_be_hidden()
        door.locator("#verdict").scroll_into_view_if_needed()
        shots.take(door, "ban-at-the-door")

        # B, on the committee but not the nominator, gets no letter button.
        page_b.get_by_role("button", name="Show").click()
        page_b.locator(f"tr[data-notice='{notice_id}']").get_by_role("button", name="Open").click()
        expect(page_b.locator("#detail-title")).to_contain_text("upheld")
        expect(page_b.get_by_role("button", name="Notice letter (PDF)")).to_have_count(0)
    finally:
        for scanner in at.values():
            scanner.close()
