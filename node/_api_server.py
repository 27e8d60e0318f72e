"""The local socket API server: JSON-RPC 2.0 lines over a Unix socket.

Each connection logs in once (``session.login``) and then runs every call as
that staff user. Requests may be pipelined: each runs in its own task (up to
``MAX_IN_FLIGHT`` per connection) and its response carries its id. A broken
line gets an error response and the connection carries on; a client that
hangs up mid-request only loses its own responses. Nothing a client sends
can stop the server or disturb other connections.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket as stdsocket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
import structlog
import trio

from doorwatch.node._errors import (
    ApiError,
    Forbidden,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    ParseError,
    Unauthenticated,
)
from doorwatch.node._failures import failure_trace
from doorwatch.node._jsonrpc import (
    LineReader,
    OversizeLine,
    Request,
    encode_error,
    encode_result,
    parse_request,
)
from doorwatch.node._login_throttle import source_of
from doorwatch.node._roles import Role

log = structlog.get_logger("doorwatch.api")

MAX_IN_FLIGHT = 16
READ_CHUNK = 65536


@dataclass
class Session:
    """Who is calling on one connection."""

    username: str | None = None
    role: Role | None = None
    expires_at: int | None = None
    # Connections over the loopback TCP listener must show the API token
    # (from the 0600 file api.token) in session.login as well.
    needs_token: bool = False
    # Who is at the other end, as the kernel says (``_login_throttle.source_of``):
    # failed logins are throttled per source.
    source: str = "unknown"
    send_lock: trio.Lock = field(default_factory=trio.Lock)
    stream: trio.abc.Stream | None = None

    async def send(self, line: bytes) -> None:
        if self.stream is None:
            return
        # The lock is almost always free: taken without the extra trip through
        # the scheduler that ``async with`` makes (send_all checkpoints anyway).
        try:
            self.send_lock.acquire_nowait()
        except trio.WouldBlock:
            await self.send_lock.acquire()
        try:
            # A client that went away: its responses have nowhere to go.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self.stream.send_all(line)
        finally:
            self.send_lock.release()


Handler = Callable[[Session, Any], Awaitable[pydantic.BaseModel]]


@dataclass(frozen=True)
class MethodSpec:
    """What an API method is, without its implementation: the schema is made from these."""

    name: str
    params: type[pydantic.BaseModel]
    result: type[pydantic.BaseModel]
    # None: callable before login (session.login itself).
    role: Role | None = Role.DOOR_STAFF
    summary: str = ""

    def bind(self, handler: Handler) -> Method:
        return Method(self.name, self.params, self.result, handler, self.role, self.summary)


@dataclass(frozen=True)
class Method:
    """One API method: its parameter and result models (the schema), handler and role."""

    name: str
    params: type[pydantic.BaseModel]
    result: type[pydantic.BaseModel]
    handler: Handler
    # None: callable before login (session.login itself).
    role: Role | None = Role.DOOR_STAFF
    summary: str = ""


class Dispatcher:
    def __init__(self, now: Callable[[], int] | None = None) -> None:
        self._methods: dict[str, Method] = {}
        self._now = now

    def add(self, method: Method) -> None:
        if method.name in self._methods:
            raise ValueError(f"method {method.name} registered twice")
        self._methods[method.name] = method

    @property
    def methods(self) -> dict[str, Method]:
        return dict(self._methods)

    async def call(self, session: Session, request: Request) -> object:
        method = self._methods.get(request.method)
        if method is None:
            raise MethodNotFound(f"there is no method {request.method!r}")
        if method.role is not None:
            self.authorise(session, method.role, request.method)
        try:
            params = method.params.model_validate(request.params)
        except pydantic.ValidationError as exc:
            raise invalid_params(exc) from None
        result = await method.handler(session, params)
        if not isinstance(result, method.result):
            raise TypeError(f"{method.name} returned {type(result).__name__}")
        return result.model_dump(mode="json")

    def authorise(self, session: Session, role: Role, what: str) -> None:
        """Refuse a session that is not logged in, has expired, or is below ``role``
        (the methods' check, also used by the web console for what is not a method)."""
        if session.role is None:
            raise Unauthenticated("log in first with session.login")
        if (
            session.expires_at is not None
            and self._now is not None
            and self._now() >= session.expires_at
        ):
            session.username = session.role = session.expires_at = None
            raise Unauthenticated("your session has expired; log in again")
        if not session.role.at_least(role):
            raise Forbidden(
                f"{what} needs the role {role.value} or higher; "
                f"you are logged in as {session.role.value}"
            )


def invalid_params(exc: pydantic.ValidationError) -> InvalidParams:
    """One sentence naming the first field at fault and the rule; never the value."""
    problems = [
        {"field": ".".join(str(p) for p in err["loc"]) or "params", "rule": err["msg"]}
        for err in exc.errors(include_input=False, include_url=False)
    ]
    first = problems[0]
    return InvalidParams(f"{first['field']}: {first['rule']}", data={"problems": problems})


class ApiServer:
    def __init__(self, dispatcher: Dispatcher, socket_path: Path, *, group: int | None = None):
        self._dispatcher = dispatcher
        self._path = socket_path
        self._group = group
        self.connections = 0

    def _bind(self) -> trio.socket.SocketType:
        # Bind under a temporary name in the 0700 data directory, set the mode,
        # then rename: the socket never exists under its real name with a
        # looser mode, and a stale socket left by a killed daemon is replaced
        # (the caller holds the data directory's lock, so it cannot be live).
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        raw = stdsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
        try:
            raw.bind(os.fspath(tmp))
            if self._group is not None:
                os.chown(tmp, -1, self._group)
                os.chmod(tmp, 0o660)
            else:
                os.chmod(tmp, 0o600)
            os.replace(tmp, self._path)
            raw.listen(128)
        except BaseException:
            raw.close()
            tmp.unlink(missing_ok=True)
            raise
        return trio.socket.from_stdlib_socket(raw)

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        listener = trio.SocketListener(self._bind())
        log.info("api.listening", socket=str(self._path))
        try:
            async with trio.open_nursery() as nursery:
                task_status.started()
                while True:
                    stream = await listener.accept()
                    nursery.start_soon(self._connection, stream)
        finally:
            self._path.unlink(missing_ok=True)
            with trio.CancelScope(shield=True):
                await listener.aclose()

    async def serve_tcp(
        self,
        host: str,
        port: int,
        *,
        task_status: trio.TaskStatus[list[tuple[str, int]]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve the same API on loopback TCP; every connection must log in with the token."""
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the TCP API listens on loopback only, not {host}")
        listeners = await trio.open_tcp_listeners(port, host=host)
        bound = [ls.socket.getsockname()[:2] for ls in listeners]
        log.info("api.listening_tcp", addresses=[f"{h}:{p}" for h, p in bound])
        try:
            async with trio.open_nursery() as nursery:
                task_status.started(bound)
                while True:
                    stream = await listeners[0].accept()
                    nursery.start_soon(self._connection, stream, True)
        finally:
            with trio.CancelScope(shield=True):
                for listener in listeners:
                    await listener.aclose()

    async def _connection(self, stream: trio.SocketStream, needs_token: bool = False) -> None:
        self.connections += 1
        session = Session(stream=stream, needs_token=needs_token, source=source_of(stream.socket))
        reader = LineReader()
        limiter = trio.CapacityLimiter(MAX_IN_FLIGHT)
        try:
            async with trio.open_nursery() as nursery:
                while True:
                    try:
                        data = await stream.receive_some(READ_CHUNK)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        break
                    if not data:
                        break
                    for item in reader.feed(data):
                        if isinstance(item, OversizeLine):
                            await session.send(
                                encode_error(
                                    None,
                                    InvalidRequest(
                                        f"the request line is {item.size} bytes, over the "
                                        "limit of 1 MiB"
                                    ),
                                )
                            )
                            continue
                        token = object()
                        # As for the send lock: a free slot is taken without a
                        # trip through the scheduler (receive_some checkpoints).
                        try:
                            limiter.acquire_on_behalf_of_nowait(token)
                        except trio.WouldBlock:
                            await limiter.acquire_on_behalf_of(token)
                        nursery.start_soon(self._answer, session, item, limiter, token)
        finally:
            self.connections -= 1
            await stream.aclose()

    async def _answer(
        self, session: Session, line: bytes, limiter: trio.CapacityLimiter, token: object
    ) -> None:
        try:
            try:
                request = parse_request(line)
            except ApiError as exc:
                await session.send(encode_error(exc.request_id, exc))
                return
            except Exception as exc:
                # Nothing a client sends may escape this task and stop the server.
                # Where, not what: the message could quote what the client sent.
                log.error("api.unparseable_request", **failure_trace(exc))
                await session.send(encode_error(None, ParseError("the request could not be read")))
                return
            try:
                result = await self._dispatcher.call(session, request)
            except ApiError as exc:
                if not request.is_notification:
                    await session.send(encode_error(request.id, exc))
                return
            except Exception as exc:
                log.error("api.internal_error", method=request.method, **failure_trace(exc))
                if not request.is_notification:
                    await session.send(
                        encode_error(request.id, ApiError("internal error; see the node's log"))
                    )
                return
            if not request.is_notification:
                try:
                    await session.send(encode_result(request.id, result))
                except (TypeError, ValueError) as exc:
                    log.error(
                        "api.unserialisable_result", method=request.method, **failure_trace(exc)
                    )
        finally:
            limiter.release_on_behalf_of(token)
