"""`doorwatch demo --console`: after the story the three venues stay up, each console's
address and logins are printed, and a scan typed at the demo reaches The Bell's console."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import TABLET, Shots

READY = "the nodes run until you press Ctrl-C"


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A directory with a short path (pytest's are too deep for the nodes' Unix sockets)."""
    path = Path(tempfile.mkdtemp(prefix="dwc-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_demo_console_keeps_the_venues_up_for_a_person(
    short_tmp: Path, browser: Any, shots: Shots
) -> None:
    from playwright.sync_api import expect

    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "doorwatch.cli",
            "demo",
            "--console",
            "--data-dir",
            str(short_tmp / "d"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdin is not None
    assert demo.stdout is not None
    out: list[str] = []
    try:
        for line in demo.stdout:
            out.append(line)
            if READY in line:
                break
        text = "".join(out)
        assert READY in text, text
        consoles = dict(re.findall(r"^\s+(The \w+)\s+(http://127\.0\.0\.1:\d+/)$", text, re.M))
        assert set(consoles) == {"The Crown", "The Swan", "The Bell"}
        logins = re.findall(r"log in as door / (\S+) \(door staff\)", text)
        assert len(logins) == 3
        bell_password = logins[2]

        page = browser.new_context(**TABLET).new_page()
        page.goto(consoles["The Bell"])
        page.get_by_label("User name").fill("door")
        page.get_by_label("Password").fill(bell_password)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#link")).to_have_text("Live")

        demo.stdin.write("\n")  # the subject, scanned at The Bell's door
        demo.stdin.flush()
        expect(page.locator("#verdict-word")).to_have_text("CHECK", timeout=30_000)
        expect(
            page.get_by_role("heading", name="Are these two people the same person?")
        ).to_be_visible(timeout=30_000)
        shots.take(page, "demo-bell")
        page.context.close()
    finally:
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, "".join(out) + rest
    assert "Stopped the nodes of The Crown, The Swan, The Bell." in rest
