"""The manager pages and the door console of a venue in a network: alerts received from
another venue shown as counts only, and the isolation indicator when the other venue
goes away. Two real daemons."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from doorwatch.node._ladder_testing import daemon_pair_with_alert
from doorwatch.node.testing import PASSWORD, Daemon, follow, sample_document

from .conftest import TABLET, Shots, add_user, console_url


def _login(browser: Any, node: Daemon, username: str) -> Any:
    from playwright.sync_api import expect

    page = browser.new_context(**TABLET).new_page()
    page.goto(console_url(node))
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#link")).to_have_text("Live")
    return page


def test_received_alerts_are_counted_never_listed_and_isolation_is_shown(
    tmp_path: Path, browser: Any, shots: Shots, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect

    monkeypatch.setenv("DOORWATCH_DEMO_CLOCK", "1")  # B's clock is moved past the threshold
    alert = {"document": sample_document(), "category": "assault_serious", "reason": "a fight"}
    with daemon_pair_with_alert(tmp_path, alert) as (a, b, _):
        add_user(b, "door1", "door_staff")
        door = _login(browser, b, "door1")
        expect(door.locator("#health")).to_have_text("Network OK")
        expect(door.locator("#health")).to_have_class("health ok")

        admin = _login(browser, b, "admin")
        follow(admin, "Manager pages")
        expect(admin.locator("#received")).to_contain_text(
            "1 alert from 1 other venue is active here"
        )
        received = admin.locator("#received-table")
        expect(received).to_contain_text("Assault causing serious injury")
        expect(received).to_contain_text("High")
        expect(received).not_to_contain_text("Pemberton")
        expect(admin.locator("#received-bands")).to_have_text(
            "By harm band: 1 high, 0 medium, 0 low."
        )
        expect(admin.locator("#health-banner")).to_be_hidden()
        shots.take(admin, "received")
        admin.get_by_role("tab", name="Node and network").click()
        expect(admin.locator("#node-facts")).to_contain_text("Connected: 1 of 1")
        crown = admin.locator("#peers-table tbody tr", has_text="The Crown")
        expect(crown).to_contain_text("Connected")

        # The Crown goes away, and stays away past the threshold (B's clock moves on).
        a.stop()
        client = b.client()
        deadline = time.monotonic() + 60
        while any(p["connected"] for p in client.result("node.status")["peers"]):  # type: ignore[index]
            assert time.monotonic() < deadline, "B still sees A connected"
            time.sleep(0.25)
        client.result("clock.advance", seconds=3600)

        door.reload()
        health = door.locator("#health")
        expect(health).to_have_text("Matches may be incomplete: no other venue reachable")
        expect(health).to_have_class("health bad")
        shots.take(door, "door-isolated")
        door.context.close()

        admin.reload()
        banner = admin.locator("#health-banner")
        expect(banner).to_contain_text("No other venue reachable for 1 h")
        expect(banner).to_contain_text("Door checks may miss an alert")
        admin.get_by_role("tab", name="Node and network").click()
        expect(admin.locator("#node-facts")).to_contain_text("Isolated: 0 of 1")
        expect(crown).to_contain_text("last seen")
        shots.take(admin, "node-isolated")
        admin.context.close()
