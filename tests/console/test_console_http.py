"""The web console's serving and security, by plain HTTP requests against a real daemon."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import signal
import ssl
from pathlib import Path

from doorwatch.node.testing import Daemon, doorwatch, sample_document

from .conftest import Web, console_url, init_node


def test_pages_carry_a_strict_policy_and_no_store(node: Daemon) -> None:
    web = Web(console_url(node))
    status, headers, body, _ = web.request("GET", "/")
    assert status == 200
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "default-src 'none'" in csp
    assert headers["x-frame-options"] == "DENY"
    # No inline script, nothing from another host.
    html = body.decode()
    assert "<script>" not in html
    assert "http://" not in html
    assert "https://" not in html
    assert 'for="username">User name<' in html
    assert 'for="password">Password<' in html
    status, headers, _, _ = web.request("GET", "/api/session")
    assert headers["cache-control"] == "no-store"


def test_session_cookie_is_httponly_and_strict(node: Daemon) -> None:
    web = Web(console_url(node))
    _, _, _, cookies = web.request("GET", "/api/session")
    [cookie] = cookies
    flags = [p.strip() for p in cookie.split(";")]
    assert "HttpOnly" in flags
    assert "SameSite=Strict" in flags
    assert "Secure" not in flags  # plain HTTP on loopback
    before = dict(web.cookies)
    assert web.login("door1") == 200
    assert web.cookies != before  # a new session id at login


def test_a_wrong_password_gets_one_sentence_that_names_no_part(node: Daemon) -> None:
    web = Web(console_url(node))
    web.session()
    answers = set()
    for username, password in (("door1", "wrong password"), ("nobody", "correct horse")):
        status, answer = web.post("/api/login", {"username": username, "password": password})
        assert status == 401
        answers.add(answer["error"])
    [sentence] = answers
    assert sentence.count(".") == 1
    assert sentence.endswith(".")
    audit = node.client().result("audit.query", action="login.failed")
    assert isinstance(audit, list)
    assert len(audit) == 2  # the same session.login: refusals audited


def test_every_post_needs_the_csrf_token_from_the_same_origin(node: Daemon) -> None:
    web = Web(console_url(node))
    assert web.login("door1") == 200
    good = web.rpc("node.status")
    assert "result" in good
    status, _ = web.post("/api/rpc", {"method": "node.status"}, **{"X-CSRF-Token": ""})
    assert status == 403
    status, _ = web.post("/api/rpc", {"method": "node.status"}, **{"X-CSRF-Token": "not-the-token"})
    assert status == 403
    status, _ = web.post("/api/rpc", {"method": "node.status"}, Origin="http://evil.example")
    assert status == 403
    # A form post (no JSON) is refused even with the token.
    code, _, _, _ = web.request(
        "POST",
        "/api/rpc",
        None,
        {"X-CSRF-Token": web.csrf, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert code == 415
    # The login form too: no token, no login.
    other = Web(console_url(node))
    status, _ = other.post("/api/login", {"username": "door1", "password": "x"})
    assert status == 403


def test_door_staff_cannot_call_a_manager_method(node: Daemon) -> None:
    web = Web(console_url(node))
    assert web.login("door1") == 200
    for method, params in (
        ("audit.query", {}),
        ("user.list", {}),
        ("ban.list", {}),
        ("received.summary", {}),
        ("alert.get", {"alert_id": "0" * 32}),
        ("alert.amend", {"alert_id": "0" * 32, "notes": "x"}),
        ("alert.dispute", {"alert_id": "0" * 32}),
        ("alert.reinstate", {"alert_id": "0" * 32}),
        ("visits.export", {"from": 0, "to": 1}),
        ("user.add", {"username": "x", "role": "door_staff", "password": "p" * 12}),
    ):
        answer = web.rpc(method, **params)
        assert answer["code"] == 1002, (method, answer)
    # What door staff may ask: whether matches may be incomplete (the door's indicator).
    assert web.rpc("node.health")["result"]["state"] == "alone"
    sup = Web(console_url(node))
    assert sup.login("sup1") == 200
    assert "result" in sup.rpc("ban.list")
    assert sup.rpc("received.summary")["result"]["total"] == 0
    # A supervisor cannot reinstate (administrators and up).
    assert sup.rpc("alert.reinstate", alert_id="0" * 32)["code"] == 1002
    # Not even the manager page itself, asked for directly.
    code, _, body, _ = web.request("GET", "/manage")
    assert code == 403
    assert b"manage" not in body.lower() or b"supervisor" in body
    code, _, _, _ = sup.request("GET", "/manage")
    assert code == 200
    # Nor the invite's QR drawing (the super administrator issues invites).
    status, _ = web.post("/api/qr", {"text": "dwinv1-x"})
    assert status == 403
    code, headers, _, _ = Web(console_url(node)).request("GET", "/manage")
    assert code == 303
    assert headers["location"] == "/"


def test_not_logged_in_gets_nothing(node: Daemon) -> None:
    web = Web(console_url(node))
    web.session()
    status, _ = web.post("/api/rpc", {"method": "node.status"})
    assert status == 401
    code, _, _, _ = web.request("GET", "/api/events")
    assert code == 401
    code, _, _, _ = web.request("GET", "/api/scan-photo/abc")
    assert code == 401


def test_logout_ends_the_session(node: Daemon) -> None:
    web = Web(console_url(node))
    assert web.login("door1") == 200
    status, _ = web.post("/api/logout", {})
    assert status == 200
    assert web.session()["user"] is None


def _events(web: Web, conns: list[http.client.HTTPConnection]) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(web.host, web.port, timeout=30)
    conns.append(conn)
    cookie = "; ".join(f"{k}={v}" for k, v in web.cookies.items())
    conn.request("GET", "/api/events", headers={"Cookie": cookie})
    response = conn.getresponse()
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.readline() == b": ok\n"  # the stream is open: the hub knows the lane
    response.readline()
    return response


def _next_event(response: http.client.HTTPResponse) -> tuple[str, dict[str, object]]:
    kind = ""
    while True:
        line = response.readline().decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            return kind, json.loads(line.removeprefix("data: "))


def test_a_console_hears_the_scans_of_its_lane_only(node: Daemon) -> None:
    front, back = Web(console_url(node)), Web(console_url(node))
    assert front.login("door1", lane="front") == 200
    assert back.login("door1", lane="back") == 200
    conns: list[http.client.HTTPConnection] = []
    try:
        _lanes(node, front, back, conns)
    finally:
        for conn in conns:
            conn.close()


def _lanes(node: Daemon, front: Web, back: Web, conns: list[http.client.HTTPConnection]) -> None:
    at_front, at_back = _events(front, conns), _events(back, conns)
    scanner = node.client("door1")
    photo = b"\xff\xd8\xff\xe0" + b"\x01" * 300
    scanned = scanner.result(
        "scan.submit",
        document=sample_document(photo=base64.b64encode(photo).decode()),
        lane="front",
    )
    assert isinstance(scanned, dict)
    other = scanner.result("scan.submit", document=sample_document(), lane="back")
    assert isinstance(other, dict)
    kind, event = _next_event(at_front)
    assert kind == "scan"
    assert event["scan_id"] == scanned["scan_id"]
    assert event["verdict"] == "admit"
    kind, event = _next_event(at_back)
    assert event["scan_id"] == other["scan_id"]  # not the front's scan
    # The scanned photo, for the front's console only, never kept by the browser.
    code, headers, body, _ = front.request("GET", f"/api/scan-photo/{scanned['scan_id']}")
    assert code == 200
    assert body == photo
    assert headers["cache-control"] == "no-store"
    assert headers["content-type"] == "image/jpeg"
    code, _, _, _ = back.request("GET", f"/api/scan-photo/{scanned['scan_id']}")
    assert code == 404


def test_off_loopback_the_console_is_https_with_the_fingerprint_shown(tmp_path: Path) -> None:
    node = init_node(tmp_path, "node", "The Crown")
    node.start("--console-listen", "0.0.0.0:0")
    try:
        url = console_url(node)
        assert url.startswith("https://")
        port = int(url.rsplit(":", 1)[1].rstrip("/"))
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=ctx)
        conn.request("GET", "/api/session")
        response = conn.getresponse()
        der = conn.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
        cookie = response.headers["Set-Cookie"]
        conn.close()
        assert "Secure" in [p.strip() for p in cookie.split(";")]
        assert cookie.startswith("__Host-")
        digest = hashlib.sha256(der).hexdigest().upper()
        shown = ":".join(digest[i : i + 2] for i in range(0, 64, 2))
        out = doorwatch("status", "--data-dir", str(node.data_dir))
        assert out.returncode == 0, out.stderr
        assert f"Console    {url}" in out.stdout
        assert shown in out.stdout
    finally:
        node.stop(signal.SIGTERM)
    assert node.unexpected_errors() == []


def test_plain_http_off_loopback_is_refused_in_one_sentence(tmp_path: Path) -> None:
    node = init_node(tmp_path, "node", "The Crown")
    done = doorwatch(
        "run", "--data-dir", str(node.data_dir), "--console-listen", "http://0.0.0.0:8470"
    )
    assert done.returncode != 0
    [line] = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert "console_listen" in line
    assert "loopback" in line
    assert "HTTPS" in line


def test_a_taken_console_port_stops_the_start_with_one_line(tmp_path: Path) -> None:
    import socket

    node = init_node(tmp_path, "node", "The Crown")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = doorwatch(
            "run", "--data-dir", str(node.data_dir), "--console-listen", f"127.0.0.1:{port}"
        )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"doorwatch: console_listen: cannot listen on 127.0.0.1:{port} (")
