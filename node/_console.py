"""The web console: staff pages served by the node itself (ASGI on Hypercorn's trio worker).

One contract, no second path to the data: every action of a page is a
JSON-RPC call run by the node's own ``Dispatcher`` with the page's own
``Session``, so the method handlers, role checks and audit are the socket
API's. Logging in is ``session.login`` (Argon2id, lockout, audit). What
the console adds is the web's share of security:

- a session cookie (HttpOnly, SameSite=Strict, Secure under HTTPS; no
  lifetime, so it ends with the browser) naming a server-side session that
  ends after ``IDLE_S`` without use, or with the staff login's own expiry;
  a new session id at login;
- a CSRF token, given to the page in a JSON answer and held in its memory
  only, required in ``X-CSRF-Token`` on every POST (and every POST must be
  JSON, from the console's own origin);
- a strict Content-Security-Policy (scripts and styles from the node only, no
  inline script, ``frame-ancestors 'none'``), nothing from another host;
- nothing personal in a URL (photos are named by their random scan id), in
  the log or in the browser's storage; every API answer and photo is sent
  with ``Cache-Control: no-store``.

Live updates: ``/api/events`` is a server-sent event stream of the scans of
the lane the console logged in at, and of their ``match.updated`` changes
(``_console_hub``).

Loopback addresses are served over HTTP; any other address over HTTPS only
(``_console_tls``): ``http://`` in front of a non-loopback ``console_listen``
is refused at start-up.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import ipaddress
import json
import secrets
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

from doorwatch.node._api_server import Dispatcher, Session
from doorwatch.node._console_hub import DEFAULT_LANE, ConsoleHub
from doorwatch.node._errors import ApiError, NodeError, Unauthenticated
from doorwatch.node._failures import failure_trace
from doorwatch.node._jsonrpc import Request
from doorwatch.node._roles import Role

__all__ = [
    "IDLE_S",
    "LOGIN_REFUSED",
    "ConsoleAddress",
    "ConsoleError",
    "ConsoleServer",
    "parse_listen",
]

log = structlog.get_logger("doorwatch.console")

IDLE_S: Final = 30 * 60
"""A console session unused this long ends (a scan on its lane counts as use)."""
MAX_SESSIONS: Final = 2000
MAX_BODY: Final = 1024 * 1024
KEEPALIVE_S: Final = 15.0
STATIC_DIR: Final = Path(__file__).with_name("console")
STATIC: Final = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/console.js": ("console.js", "text/javascript; charset=utf-8"),
    "/static/console.css": ("console.css", "text/css; charset=utf-8"),
    "/static/manage.js": ("manage.js", "text/javascript; charset=utf-8"),
    "/static/notices.js": ("notices.js", "text/javascript; charset=utf-8"),
    "/static/pages.js": ("pages.js", "text/javascript; charset=utf-8"),
}
MANAGER_PAGES: Final = {
    "/manage": ("manage.html", "text/html; charset=utf-8"),
    "/notices": ("notices.html", "text/html; charset=utf-8"),
}
MANAGER_ROLE: Final = Role.SUPERVISOR
QR_ROLE: Final = Role.SUPER_ADMINISTRATOR  # who issues invites (network.invite)
LOGIN_REFUSED: Final = "Login refused: check your user name and password, or ask a supervisor."
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
UNATTENDED: Final = frozenset({"node.health"})
"""Methods a page calls by itself on a timer: they do not count as use, so a tablet left
logged in still ends its session after ``IDLE_S``."""
LANE_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.-")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class ConsoleError(NodeError):
    """The console cannot be served as configured (the operator's to fix)."""


@dataclass(frozen=True)
class ConsoleAddress:
    host: str
    port: int
    tls: bool


def parse_listen(text: str) -> ConsoleAddress:
    """``console_listen``: ``[http://|https://]HOST:PORT``; HTTPS off loopback, always."""
    scheme = None
    for prefix in ("http://", "https://"):
        if text.startswith(prefix):
            scheme, text = prefix[:-3], text[len(prefix) :]
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConsoleError(f"console_listen: {text!r} is not HOST:PORT (e.g. 127.0.0.1:8470)")
    if host == "localhost":
        loopback = True
    else:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            raise ConsoleError(
                f"console_listen: {host!r} is not an IP address; give one of this machine's "
                "addresses, or localhost"
            ) from None
    if scheme == "http" and not loopback:
        raise ConsoleError(
            f"console_listen: the console is served over plain HTTP on loopback only, and "
            f"{host} is not a loopback address; drop http:// to serve it over HTTPS"
        )
    return ConsoleAddress(host, int(port_text), tls=scheme == "https" or not loopback)


@dataclass(eq=False)
class _WebSession:
    sid: str
    csrf: str
    api: Session
    lane: str = DEFAULT_LANE
    last_used: float = field(default_factory=time.monotonic)


class _Reply(Exception):
    """An HTTP answer other than 200, raised from deep in a request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ConsoleServer:
    def __init__(
        self,
        dispatcher: Dispatcher,
        hub: ConsoleHub,
        address: ConsoleAddress,
        *,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        idle_s: float = IDLE_S,
    ) -> None:
        if address.tls and (certfile is None or keyfile is None):
            raise ConsoleError("console_listen: HTTPS needs a certificate and its key")
        self.dispatcher = dispatcher
        self.hub = hub
        self.address = address
        self.certfile = certfile
        self.keyfile = keyfile
        self.idle_s = idle_s
        self.url: str | None = None
        self._sessions: OrderedDict[str, _WebSession] = OrderedDict()
        self._static = {
            path: ((STATIC_DIR / name).read_bytes(), ctype)
            for path, (name, ctype) in STATIC.items()
        }
        self._hostnames = {"localhost", socket.gethostname().lower(), socket.getfqdn().lower()}
        self._manager_pages = {
            path: ((STATIC_DIR / name).read_bytes(), ctype)
            for path, (name, ctype) in MANAGER_PAGES.items()
        }

    # -- serving ----------------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        config = HypercornConfig()
        host = self.address.host
        port = self.address.port
        config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
        config.accesslog = None  # paths and addresses are nobody's business in the log
        config.errorlog = None  # the app logs its own failures (where, never what)
        config.include_server_header = False
        config.keep_alive_timeout = 75
        if self.address.tls:
            config.certfile = str(self.certfile)
            config.keyfile = str(self.keyfile)
        async with trio.open_nursery() as nursery:
            try:
                bound: list[str] = await nursery.start(self._hypercorn, config)
            except (OSError, BaseExceptionGroup) as exc:
                error = _os_error(exc)
                if error is None:
                    raise
                raise ConsoleError(
                    f"console_listen: cannot listen on {self.address.host}:{self.address.port} "
                    f"({error.strerror or error})"
                ) from None
            self.url = bound[0] + "/"
            log.info("console.listening", url=self.url)
            task_status.started(self.url)

    async def _hypercorn(
        self, config: HypercornConfig, *, task_status: trio.TaskStatus[list[str]]
    ) -> None:
        await hypercorn_serve(self, config, task_status=task_status, mode="asgi")  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        try:
            self._check_host(scope)
            await self._route(scope, receive, send)
        except _Reply as reply:
            await _json(send, reply.status, {"error": reply.message})
        except Exception as exc:
            log.error("console.internal_error", **failure_trace(exc))
            with contextlib.suppress(Exception):
                await _json(send, 500, {"error": "internal error; see the node's log"})

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        if method == "GET" and path in self._static:
            body, ctype = self._static[path]
            await _send(send, 200, body, ctype, cache="no-cache")
            return
        if method == "GET" and path in self._manager_pages:
            # Not even the page for door staff (its data is role-checked call by call).
            web = self._session(scope)
            if web is None or web.api.role is None:
                await _send(send, 303, b"", "text/plain", cache="no-store", location="/")
                return
            self._authorise(web, MANAGER_ROLE, "the manager pages")
            body, ctype = self._manager_pages[path]
            await _send(send, 200, body, ctype, cache="no-store")
            return
        if method == "GET" and path == "/api/session":
            await self._session_info(scope, send)
            return
        if method == "GET" and path == "/api/events":
            await self._events(scope, receive, send)
            return
        if method == "GET" and path.startswith("/api/scan-photo/"):
            await self._scan_photo(scope, send, path.removeprefix("/api/scan-photo/"))
            return
        if method == "POST" and path in ("/api/login", "/api/logout", "/api/rpc", "/api/qr"):
            web = self._session(scope, touch=False)
            if web is None:
                raise _Reply(403, "Your page is out of date; reload it.")
            posted = await self._post_body(scope, receive, web)
            if path != "/api/rpc" or posted.get("method") not in UNATTENDED:
                self._touch(web)
            if path == "/api/login":
                await self._login(scope, send, web, posted)
            elif path == "/api/qr":
                await self._qr(send, web, posted)
            elif path == "/api/logout":
                self._end(web)
                await _json(send, 200, {"logged_out": True}, cookie=self._cookie(scope, ""))
            else:
                await self._rpc(send, web, posted)
            return
        raise _Reply(404, "There is no such page.")

    def _check_host(self, scope: Scope) -> None:
        """Only an address, localhost or this machine's name: a page of another site
        whose name was made to point here (DNS rebinding) is not answered."""
        host = _headers(scope).get("host", "")
        name = host[1:].partition("]")[0] if host.startswith("[") else host.rpartition(":")[0]
        name = (name or host).lower()
        if name in self._hostnames:
            return
        try:
            ipaddress.ip_address(name)
        except ValueError:
            raise _Reply(421, "Open the console at the address doorwatch status shows.") from None

    # -- sessions ---------------------------------------------------------------------------

    def _cookie_name(self) -> str:
        # __Host-: the browser keeps it to this host and path, and only if Secure.
        return "__Host-doorwatch" if self.address.tls else "doorwatch"

    def _cookie(self, scope: Scope, sid: str) -> str:
        parts = [f"{self._cookie_name()}={sid}", "Path=/", "HttpOnly", "SameSite=Strict"]
        if self.address.tls:
            parts.append("Secure")
        if not sid:
            parts.append("Max-Age=0")
        return "; ".join(parts)

    def _session(self, scope: Scope, *, touch: bool = True) -> _WebSession | None:
        sid = _cookies(scope).get(self._cookie_name())
        web = None if sid is None else self._sessions.get(sid)
        if web is None:
            return None
        if time.monotonic() - web.last_used > self.idle_s:
            self._end(web)
            return None
        if touch:
            self._touch(web)
        return web

    def _touch(self, web: _WebSession) -> None:
        web.last_used = time.monotonic()
        self._sessions.move_to_end(web.sid)

    def _new_session(self, api: Session | None = None) -> _WebSession:
        web = _WebSession(
            sid=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), api=api or Session()
        )
        self._sessions[web.sid] = web
        if len(self._sessions) > MAX_SESSIONS:
            # The least recently used page that is not logged in goes first: a flood of
            # new visitors must not log staff out.
            victim = next((w for w in self._sessions.values() if w.api.role is None), None)
            if victim is None:
                victim = next(iter(self._sessions.values()))
            self._end(victim)
        return web

    def _end(self, web: _WebSession) -> None:
        self._sessions.pop(web.sid, None)
        _logout(web.api)

    def _user(self, web: _WebSession) -> dict[str, object] | None:
        s = web.api
        if s.role is None:
            return None
        return {"username": s.username, "role": s.role.value, "lane": web.lane}

    async def _session_info(self, scope: Scope, send: Send) -> None:
        web = self._session(scope)
        cookie = None
        if web is None:
            web = self._new_session()
            cookie = self._cookie(scope, web.sid)
        await _json(send, 200, {"csrf": web.csrf, "user": self._user(web)}, cookie=cookie)

    async def _post_body(self, scope: Scope, receive: Receive, web: _WebSession) -> dict[str, Any]:
        headers = _headers(scope)
        token = headers.get("x-csrf-token", "")
        if not hmac.compare_digest(token.encode(), web.csrf.encode()):
            raise _Reply(403, "Your page is out of date; reload it.")
        origin = headers.get("origin")
        scheme = "https" if self.address.tls else "http"
        if origin is not None and origin != f"{scheme}://{headers.get('host', '')}":
            raise _Reply(403, "Requests from another site are refused.")
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise _Reply(415, "The console sends JSON.")
        raw = await _read_body(receive)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise _Reply(400, "The request is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _Reply(400, "The request must be a JSON object.")
        return body

    async def _login(
        self, scope: Scope, send: Send, web: _WebSession, body: dict[str, Any]
    ) -> None:
        lane = str(body.get("lane") or DEFAULT_LANE).strip() or DEFAULT_LANE
        if len(lane) > 64 or not set(lane) <= LANE_CHARS:
            raise _Reply(400, "Door: use letters, digits, spaces, dots, dashes (at most 64).")
        params = {"username": body.get("username"), "password": body.get("password")}
        # Failed logins slow down their source (node/_login_throttle.py): here, the
        # browser's address, so a guesser at one tablet does not slow the others.
        client = scope.get("client")
        api = Session(source=f"web:{client[0]}" if client else "web:unknown")
        try:
            await self.dispatcher.call(api, Request(id=None, method="session.login", params=params))
        except ApiError:
            # One sentence for every refusal (wrong name, wrong password, locked,
            # disabled, a blank field): the audit log has which.
            raise _Reply(401, LOGIN_REFUSED) from None
        # A new session id at login: one planted before it is worth nothing.
        self._end(web)
        new = self._new_session(api)
        new.lane = lane
        await _json(
            send,
            200,
            {"csrf": new.csrf, "user": self._user(new)},
            cookie=self._cookie(scope, new.sid),
        )

    async def _rpc(self, send: Send, web: _WebSession, body: dict[str, Any]) -> None:
        method = body.get("method")
        params = body.get("params", {})
        if not isinstance(method, str) or not isinstance(params, dict):
            raise _Reply(400, "A call names a method and gives its params as an object.")
        if method == "session.login":
            raise _Reply(400, "Log in through the login form.")
        try:
            result = await self.dispatcher.call(
                web.api, Request(id=None, method=method, params=params)
            )
        except Unauthenticated as exc:
            await _json(send, 401, {"error": exc.message, "code": int(exc.code)})
            return
        except ApiError as exc:
            await _json(send, 200, {"error": exc.message, "code": int(exc.code)})
            return
        await _json(send, 200, {"result": result})

    # -- live updates and photos ----------------------------------------------------------

    def _follower(self, scope: Scope) -> _WebSession:
        web = self._session(scope)
        if web is None:
            raise _Reply(401, "Log in first.")
        self._authorise(web, Role.DOOR_STAFF, "the door console")
        return web

    def _authorise(self, web: _WebSession, role: Role, what: str) -> None:
        try:
            self.dispatcher.authorise(web.api, role, what)
        except ApiError as exc:
            raise _Reply(401 if isinstance(exc, Unauthenticated) else 403, exc.message) from None

    async def _events(self, scope: Scope, receive: Receive, send: Send) -> None:
        web = self._follower(scope)

        async def hang_up(cancel: trio.CancelScope) -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            cancel.cancel()

        # Following before the answer starts: once the page sees the stream open, no
        # scan of its lane can be missed.
        with self.hub.follow(web.lane) as follower:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": _security_headers("text/event-stream", cache="no-store"),
                }
            )
            async with trio.open_nursery() as nursery:
                nursery.start_soon(hang_up, nursery.cancel_scope)
                await send({"type": "http.response.body", "body": b": ok\n\n", "more_body": True})
                while True:
                    event = None
                    with trio.move_on_after(KEEPALIVE_S):
                        event = await follower.receive.receive()
                    if web.sid not in self._sessions or web.api.role is None:
                        await _sse(send, "ended", {})
                        break
                    if event is None:
                        if time.monotonic() - web.last_used > self.idle_s:
                            self._end(web)
                            await _sse(send, "ended", {})
                            break
                        await send(
                            {"type": "http.response.body", "body": b": ka\n\n", "more_body": True}
                        )
                        continue
                    web.last_used = time.monotonic()  # a busy door is not an idle one
                    await _sse(send, *event)
                nursery.cancel_scope.cancel()
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _qr(self, send: Send, web: _WebSession, body: dict[str, Any]) -> None:
        """An invite token drawn as a QR code (SVG), for the invited venue's phone to read.
        Only a picture of text the page already holds (from ``network.invite``)."""
        self._authorise(web, QR_ROLE, "drawing an invite's QR code")
        text = body.get("text")
        if not isinstance(text, str) or not 0 < len(text) <= 8192:
            raise _Reply(400, "text: give the invite, at most 8,192 characters.")
        import segno  # only here: nothing else in the console needs it

        buf = io.BytesIO()
        segno.make(text, error="m", micro=False).save(
            buf, kind="svg", scale=6, border=4, dark="#000", light="#fff"
        )
        await _send(send, 200, buf.getvalue(), "image/svg+xml", cache="no-store")

    async def _scan_photo(self, scope: Scope, send: Send, scan_id: str) -> None:
        web = self._follower(scope)
        photo = self.hub.scan_photo(scan_id, web.lane)
        if photo is None:
            raise _Reply(404, "No photo for that scan.")
        await _send(send, 200, photo, "image/jpeg", cache="no-store")


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError of a failed bind, also from inside (nested) exception groups."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _os_error(inner)
            if found is not None:
                return found
    return None


def _logout(api: Session) -> None:
    api.username = api.role = api.expires_at = None


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _cookies(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope["headers"]:
        if k.lower() == b"cookie":
            for part in v.decode("latin-1").split(";"):
                name, _, value = part.strip().partition("=")
                out.setdefault(name, value)
    return out


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Reply(400, "The request was cut short.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _Reply(413, "The request is over 1 MiB.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _security_headers(ctype: str, *, cache: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", ctype.encode()),
        (b"cache-control", cache.encode()),
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]


async def _send(
    send: Send,
    status: int,
    body: bytes,
    ctype: str,
    *,
    cache: str,
    cookie: str | None = None,
    location: str | None = None,
) -> None:
    headers = _security_headers(ctype, cache=cache)
    headers.append((b"content-length", str(len(body)).encode()))
    if cookie is not None:
        headers.append((b"set-cookie", cookie.encode()))
    if location is not None:
        headers.append((b"location", location.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Send, status: int, obj: object, *, cookie: str | None = None) -> None:
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    await _send(send, status, body, "application/json", cache="no-store", cookie=cookie)


async def _sse(send: Send, kind: str, data: dict[str, object]) -> None:
    text = f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
    await send({"type": "http.response.body", "body": text.encode(), "more_body": True})
