"""The console's web sessions in process: the ASGI app called directly, with a dispatcher
whose session.login stands in for the node's (the real one is tested against daemons)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio

from doorwatch.node import _console
from doorwatch.node._api_models import LoginParams, LoginResult, NoParams, StatusCounts
from doorwatch.node._api_server import Dispatcher, Method, Session
from doorwatch.node._console import ConsoleAddress, ConsoleServer
from doorwatch.node._console_hub import ConsoleHub
from doorwatch.node._errors import Unauthenticated
from doorwatch.node._roles import Role


def _app(idle_s: float) -> ConsoleServer:
    dispatcher = Dispatcher()

    async def login(session: Session, p: LoginParams) -> LoginResult:
        if p.password != "right":
            raise Unauthenticated("refused")
        session.username, session.role = p.username, Role.DOOR_STAFF
        return LoginResult(username=p.username or "", role="door_staff", expires_at=2**40)

    async def counts(session: Session, p: NoParams) -> StatusCounts:
        return StatusCounts(alerts_originated_active=1, alerts_received_active=2)

    dispatcher.add(Method("session.login", LoginParams, LoginResult, login, role=None))
    dispatcher.add(Method("test.counts", NoParams, StatusCounts, counts))
    dispatcher.add(Method("node.health", NoParams, StatusCounts, counts))
    return ConsoleServer(
        dispatcher, ConsoleHub(), ConsoleAddress("127.0.0.1", 0, tls=False), idle_s=idle_s
    )


class Browser:
    def __init__(self, app: ConsoleServer, host: str = "127.0.0.1:8470") -> None:
        self.app = app
        self.host = host
        self.cookie = ""
        self.csrf = ""

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        raw = b"" if body is None else json.dumps(body).encode()
        headers = [(b"host", self.host.encode()), (b"content-type", b"application/json")]
        if self.cookie:
            headers.append((b"cookie", self.cookie.encode()))
        headers.append((b"x-csrf-token", self.csrf.encode()))
        scope = {"type": "http", "method": method, "path": path, "headers": headers}
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        start = sent[0]
        for name, value in start["headers"]:
            if name == b"set-cookie":
                self.cookie = value.decode().split(";")[0]
        return start["status"], json.loads(sent[1]["body"])

    async def login(self, password: str = "right") -> int:
        _, info = await self.call("GET", "/api/session")
        self.csrf = info["csrf"]
        status, answer = await self.call(
            "POST", "/api/login", {"username": "door1", "password": password}
        )
        if status == 200:
            self.csrf = answer["csrf"]
        return status


async def test_a_session_ends_after_its_idle_time() -> None:
    app = _app(idle_s=0.2)
    browser = Browser(app)
    assert await browser.login() == 200
    status, answer = await browser.call("POST", "/api/rpc", {"method": "test.counts"})
    assert answer["result"]["alerts_received_active"] == 2
    await trio.sleep(0.3)
    status, answer = await browser.call("POST", "/api/rpc", {"method": "test.counts"})
    assert status == 403  # the session is gone: the page must reload and log in
    _, info = await browser.call("GET", "/api/session")
    assert info["user"] is None


async def test_a_page_asking_for_the_network_health_on_a_timer_still_idles_out() -> None:
    app = _app(idle_s=1.0)
    browser = Browser(app)
    assert await browser.login() == 200
    for _ in range(4):  # the door console's indicator, asking by itself
        await trio.sleep(0.15)
        status, _ = await browser.call("POST", "/api/rpc", {"method": "node.health"})
        assert status == 200
    await trio.sleep(0.6)  # 1.2 s after the login, 0.6 s after the last question
    status, _ = await browser.call("POST", "/api/rpc", {"method": "node.health"})
    assert status == 403  # nobody used the page: the session ended


async def test_login_gives_a_new_session_id_and_token() -> None:
    app = _app(idle_s=600)
    browser = Browser(app)
    _, info = await browser.call("GET", "/api/session")
    planted, before = browser.cookie, info["csrf"]
    browser.csrf = before
    status, answer = await browser.call(
        "POST", "/api/login", {"username": "door1", "password": "right"}
    )
    assert status == 200
    assert browser.cookie != planted
    assert answer["csrf"] != before
    # The id from before the login is worth nothing now.
    attacker = Browser(app)
    attacker.cookie, attacker.csrf = planted, before
    status, _ = await attacker.call("POST", "/api/rpc", {"method": "test.counts"})
    assert status == 403


async def test_a_refused_login_leaves_the_session_logged_out() -> None:
    app = _app(idle_s=600)
    browser = Browser(app)
    assert await browser.login("wrong") == 401
    status, _ = await browser.call("POST", "/api/rpc", {"method": "test.counts"})
    assert status == 401


async def test_a_flood_of_new_visitors_logs_nobody_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_console, "MAX_SESSIONS", 3)
    app = _app(idle_s=600)
    staff = Browser(app)
    assert await staff.login() == 200
    for _ in range(10):
        await Browser(app).call("GET", "/api/session")
    status, answer = await staff.call("POST", "/api/rpc", {"method": "test.counts"})
    assert status == 200
    assert answer["result"]["alerts_originated_active"] == 1


async def test_a_page_reached_by_another_name_is_not_answered() -> None:
    app = _app(idle_s=600)
    for host in ("127.0.0.1:8470", "[::1]:8470", "localhost:8470", "192.168.1.10"):
        status, _ = await Browser(app, host).call("GET", "/api/session")
        assert status == 200, host
    # DNS rebinding: a site's name made to point at the node.
    status, answer = await Browser(app, "evil.example:8470").call("GET", "/api/session")
    assert status == 421
    assert "csrf" not in answer
