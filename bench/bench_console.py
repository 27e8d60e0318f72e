"""The web console: first load of the door console, and how soon a verdict appears on it.

Usage: python -m bench console [--loads N] [--rounds N]

One real daemon (``doorwatch run``) on loopback, and Debian's Chromium driven by
Playwright (launched as the tests launch it). Measured:

- first load over HTTP, without a browser: a new connection, then the page, its
  script and style and ``/api/session`` (what the browser fetches before it can
  show the login form);
- first load in the browser (a new browser context each time: nothing cached):
  by the browser's own clock, from the start of the navigation until the page's
  script has asked ``/api/session`` and shown the login form (its
  ``doorwatch-ready`` performance mark); and as Playwright sees it, from
  ``page.goto`` until the form is visible (adds Playwright's own round trips);
- verdict latency: a door console logged in at lane ``main``; a scanner
  submits a scan over the socket (as scanner software does); from the moment
  ``scan.submit`` has returned to the scanner until the verdict is in the
  page's DOM and a frame has been drawn (the page's ``Date.now()`` against
  this process's ``time.time()``: one machine, one clock). Negative values
  mean the console showed the verdict before the scanner had read its answer.

Targets (issue 13): first load under 200 ms; the verdict under 100 ms after
``scan.submit`` returns.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench._daemons import load_average, new_node
from doorwatch.node.testing import CHROMIUM, CHROMIUM_ARGS, PASSWORD, RpcClient, sample_document

OBSERVE = """() => {
  window.__t = null;
  new MutationObserver(() => {
    if (window.__t === null) {
      requestAnimationFrame(() => { if (window.__t === null) { window.__t = Date.now(); } });
    }
  }).observe(document.getElementById("verdict"),
             { attributes: true, childList: true, subtree: true, characterData: true });
}"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _line(name: str, ms: list[float], target: float | None = None) -> str:
    text = (
        f"  {name:<34} p50 {_pct(ms, 0.5):7.1f} ms   p99 {_pct(ms, 0.99):7.1f} ms   "
        f"max {max(ms):7.1f} ms   mean {statistics.fmean(ms):7.1f} ms"
    )
    if target is not None:
        text += f"   ({'meets' if _pct(ms, 0.99) < target else 'MISSES'} p99 < {target:g} ms)"
    return text


def _http_first_load(url: str) -> float:
    parts = urlsplit(url)
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        for path in ("/", "/static/console.css", "/static/console.js", "/api/session"):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, (path, response.status)
    finally:
        conn.close()
    return (time.perf_counter() - t0) * 1000


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench console")
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="dwb-") as tmp:
        node = new_node(Path(tmp), "n", "The Crown")
        node.start()
        try:
            node.call("user.add", username="door1", role="door_staff", password=PASSWORD)
            url = node.status()["console_url"]
            print(f"console {url}; load average {load_average()}")
            http_ms = [_http_first_load(url) for _ in range(args.loads)]
            print(_line("first load, HTTP (4 requests)", http_ms, 200))
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page_ms: list[float] = []
                    ready_ms: list[float] = []
                    for _ in range(args.loads):
                        context = browser.new_context()
                        page = context.new_page()
                        t0 = time.perf_counter()
                        page.goto(url)
                        page.get_by_label("User name").wait_for(state="visible")
                        page_ms.append((time.perf_counter() - t0) * 1000)
                        ready = page.evaluate(
                            "() => performance.getEntriesByName('doorwatch-ready')[0].startTime"
                        )
                        ready_ms.append(float(ready))
                        context.close()
                    print(_line("first load, browser's own clock", ready_ms, 200))
                    print(_line("first load, as Playwright sees it", page_ms))

                    page = browser.new_page()
                    page.goto(url)
                    page.get_by_label("User name").fill("door1")
                    page.get_by_label("Password").fill(PASSWORD)
                    page.keyboard.press("Enter")
                    page.locator("#link").get_by_text("Live").wait_for()
                    page.evaluate(OBSERVE)
                    scanner = RpcClient(node.daemon.data_dir / "doorwatch.sock")
                    scanner.result("session.login", username="door1", password=PASSWORD)
                    submit_ms: list[float] = []
                    verdict_ms: list[float] = []
                    for _ in range(args.rounds):
                        page.evaluate("() => { window.__t = null; }")
                        t0 = time.perf_counter()
                        scanner.result("scan.submit", document=sample_document(), lane="main")
                        returned = time.time() * 1000
                        submit_ms.append((time.perf_counter() - t0) * 1000)
                        page.wait_for_function("() => window.__t !== null")
                        shown = page.evaluate("() => window.__t")
                        verdict_ms.append(float(shown) - returned)
                    scanner.close()
                    print(_line("scan.submit round trip (socket)", submit_ms))
                    print(_line("verdict on the console after it", verdict_ms, 100))
                finally:
                    browser.close()
        finally:
            node.stop()
