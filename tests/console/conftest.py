"""Fixtures for the web console: a real daemon, its console URL, and a small HTTP client."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import ssl
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from doorwatch.node.testing import CHROMIUM, CHROMIUM_ARGS, PASSWORD, Daemon, doorwatch


def init_node(root: Path, name: str, venue: str) -> Daemon:
    pw = root / "pw"
    pw.write_text(PASSWORD + "\n")
    done = doorwatch(
        "init",
        "--data-dir",
        str(root / name),
        "--venue",
        venue,
        "--admin-user",
        "admin",
        "--password-file",
        str(pw),
    )
    assert done.returncode == 0, done.stderr
    return Daemon(root / name, root / f"{name}.log")


def add_user(node: Daemon, username: str, role: str) -> None:
    admin = node.client()
    admin.result("user.add", username=username, role=role, password=PASSWORD)


def console_url(node: Daemon) -> str:
    status = node.client().result("node.status")
    assert isinstance(status, dict)
    url = status["console_url"]
    assert isinstance(url, str)
    return url


class Web:
    """A browser's requests, by hand: one cookie jar, the CSRF token the page would hold."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or 0
        self.netloc = parts.netloc
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []
        self.csrf = ""

    def _conn(self) -> http.client.HTTPConnection:
        if self.tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # the test checks the fingerprint instead
            return http.client.HTTPSConnection(self.host, self.port, timeout=30, context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def request(
        self,
        method: str,
        path: str,
        body: object | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes, list[str]]:
        conn = self._conn()
        try:
            sent = {"Host": self.netloc}
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                sent["Content-Type"] = "application/json"
            sent.update(headers or {})
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            raw = response.read()
            set_cookies = response.headers.get_all("Set-Cookie") or []
            for line in set_cookies:
                jar: SimpleCookie = SimpleCookie()
                jar.load(line)
                for name, morsel in jar.items():
                    if morsel.value:
                        self.cookies[name] = morsel.value
                    else:
                        self.cookies.pop(name, None)
            hdrs = {k.lower(): v for k, v in response.getheaders()}
            return response.status, hdrs, raw, set_cookies
        finally:
            conn.close()

    def session(self) -> dict[str, Any]:
        status, _, raw, _ = self.request("GET", "/api/session")
        assert status == 200
        info: dict[str, Any] = json.loads(raw)
        self.csrf = info["csrf"]
        return info

    def post(self, path: str, body: object, **headers: str) -> tuple[int, dict[str, Any]]:
        status, _, raw, _ = self.request("POST", path, body, {"X-CSRF-Token": self.csrf, **headers})
        return status, json.loads(raw)

    def login(self, username: str, password: str = PASSWORD, lane: str = "main") -> int:
        self.session()
        status, answer = self.post(
            "/api/login", {"username": username, "password": password, "lane": lane}
        )
        if status == 200:
            self.csrf = answer["csrf"]
        return status

    def rpc(self, method: str, **params: object) -> dict[str, Any]:
        _, answer = self.post("/api/rpc", {"method": method, "params": params})
        return answer


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Daemon]:
    """A started node (super administrator `admin`, door staff `door1`, supervisor `sup1`)."""
    daemon = init_node(tmp_path, "node", "The Crown")
    daemon.start()
    add_user(daemon, "door1", "door_staff")
    add_user(daemon, "sup1", "supervisor")
    yield daemon
    if daemon.proc is not None:
        daemon.stop(signal.SIGTERM)
    assert daemon.unexpected_errors() == []


# A 10-11 inch tablet, landscape, set up for the UK (dates day first).
TABLET: dict[str, Any] = {"viewport": {"width": 1180, "height": 820}, "locale": "en-GB"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (Playwright's own browser download is never
    used: `.ci/run` installs chromium with apt)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Shots:
    """Screenshots of each screen, numbered in the story's order, as test artifacts
    (and copied to $DOORWATCH_SHOTS_DIR when it is set, for a person to look at)."""

    def __init__(self, root: Path, prefix: str) -> None:
        self.root = root
        self.prefix = prefix
        self.root.mkdir(parents=True, exist_ok=True)
        extra = os.environ.get("DOORWATCH_SHOTS_DIR")
        self.extra = Path(extra) if extra else None
        self.n = 0

    def take(self, page: Any, name: str) -> Path:
        self.n += 1
        path = self.root / f"{self.prefix}-{self.n:02d}-{name}.png"
        page.screenshot(path=str(path))  # what the tablet shows, scrolled as it is
        if self.extra is not None:
            self.extra.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.extra / path.name)
        return path


@pytest.fixture
def shots(tmp_path: Path, request: pytest.FixtureRequest) -> Shots:
    name = request.node.name.removeprefix("test_")
    return Shots(tmp_path / "screenshots", "-".join(name.split("_")[:3]))
