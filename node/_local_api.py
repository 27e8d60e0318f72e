"""The local API methods of the node's own half: sessions, status, users, audit.

Each method has a pydantic model of its parameters (the JSON schema in
docs/api.md is generated from them) and the lowest role that may call it.

Sessions are the connections' own objects; this module keeps a weak
registry of the logged-in ones so that disabling an account, or changing
its password, ends that user's sessions at once.
"""

from __future__ import annotations

import hmac
import sqlite3
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
import trio

import doorwatch
from doorwatch.crypto import hash_password
from doorwatch.node import (
    _alert_api,
    _audit,
    _door_api,
    _network_api,
    _notice_api,
    _report_api,
    _users,
)
from doorwatch.node._api_models import (
    AuditEntryResult,
    AuditQueryParams,
    AuditQueryResult,
    ChangedResult,
    DisabledResult,
    LoginParams,
    LoginResult,
    NoParams,
    PasswdParams,
    StatusCounts,
    StatusHealth,
    StatusResult,
    UserAddParams,
    UserListResult,
    UserNameParams,
    UserResult,
)
from doorwatch.node._api_server import Dispatcher, MethodSpec, Session
from doorwatch.node._clock import Clock
from doorwatch.node._config import NodeConfig
from doorwatch.node._errors import ApiError, InvalidParams, Unauthenticated
from doorwatch.node._health import assess
from doorwatch.node._login_throttle import LoginGate, LoginThrottle
from doorwatch.node._roles import Role
from doorwatch.node._store import AsyncStore

log = structlog.get_logger("doorwatch.api")

LOCAL_ADMIN = "local-admin"
HASHING_THREADS = 2
"""Argon2id calls at once (each takes tens of milliseconds and 64 MiB)."""

LOGIN = MethodSpec(
    "session.login",
    LoginParams,
    LoginResult,
    role=None,
    summary="Log this connection in as a staff user, or with the local cookie.",
)
STATUS = MethodSpec(
    "node.status",
    NoParams,
    StatusResult,
    summary="The node's identity, addresses, networks, peers and counts.",
)
HEALTH = MethodSpec(
    "node.health",
    NoParams,
    StatusHealth,
    summary="Whether alerts from other venues may be missing here (isolated, loading, not"
    " synced): the door console's indicator.",
)
USER_ADD = MethodSpec(
    "user.add",
    UserAddParams,
    UserResult,
    role=Role.SUPER_ADMINISTRATOR,
    summary="Create a staff login.",
)
USER_LIST = MethodSpec(
    "user.list",
    NoParams,
    UserListResult,
    role=Role.ADMINISTRATOR,
    summary="List staff logins.",
)
USER_DISABLE = MethodSpec(
    "user.disable",
    UserNameParams,
    DisabledResult,
    role=Role.SUPER_ADMINISTRATOR,
    summary="Disable a staff login.",
)
USER_PASSWD = MethodSpec(
    "user.passwd",
    PasswdParams,
    ChangedResult,
    summary="Change your own password (a super administrator: anyone's).",
)
AUDIT_QUERY = MethodSpec(
    "audit.query",
    AuditQueryParams,
    AuditQueryResult,
    role=Role.ADMINISTRATOR,
    summary="Read the audit log, filtered.",
)
SPECS = (
    LOGIN,
    STATUS,
    HEALTH,
    USER_ADD,
    USER_LIST,
    USER_DISABLE,
    USER_PASSWD,
    AUDIT_QUERY,
    *_alert_api.SPECS,
    *_door_api.SPECS,
    *_network_api.SPECS,
    *_report_api.SPECS,
    *_notice_api.SPECS,
)


class LocalApi:
    """The handlers, bound to one node's store, clock and settings."""

    def __init__(
        self,
        *,
        store: AsyncStore,
        clock: Clock,
        config: NodeConfig,
        peer_id: str,
        short_id: str,
        cookie: str,
        counts: Callable[[], Awaitable[StatusCounts]] | None = None,
        network_status: Callable[[], dict[str, Any]] | None = None,
        loading: Callable[[], dict[str, object] | None] | None = None,
        last_synced: Callable[[], int | None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.peer_id = peer_id
        self.short_id = short_id
        self._cookie = cookie
        self.api_token: str | None = None
        # Set once the web console listens (node/_console.py).
        self.console_url: str | None = None
        self.console_fingerprint: str | None = None
        self._counts = counts
        self._network_status = network_status
        self._loading = loading
        self._last_synced = last_synced
        self._started = time.monotonic()
        self._started_at = clock.now()  # on the node's clock, as last contacts are
        # Argon2 hashing and verification run on threads of their own limiter, so
        # a burst of logins cannot take the threads that database work needs.
        self.hashing = trio.CapacityLimiter(HASHING_THREADS)
        self.throttle = LoginThrottle()
        self.login_gate = LoginGate()
        # Logged-in sessions, to end a user's sessions when the account is
        # disabled or its password changed (a connection's end drops its entry).
        self._sessions: weakref.WeakValueDictionary[int, Session] = weakref.WeakValueDictionary()

    def register(self, dispatcher: Dispatcher) -> None:
        for spec, handler in (
            (LOGIN, self.login),
            (STATUS, self.status),
            (HEALTH, self.health),
            (USER_ADD, self.user_add),
            (USER_LIST, self.user_list),
            (USER_DISABLE, self.user_disable),
            (USER_PASSWD, self.user_passwd),
            (AUDIT_QUERY, self.audit_query),
        ):
            dispatcher.add(spec.bind(handler))

    async def login(self, session: Session, p: LoginParams) -> LoginResult:
        now = self.clock.now()
        if session.needs_token and (
            p.token is None
            or self.api_token is None
            or not hmac.compare_digest(p.token.encode(), self.api_token.encode())
        ):
            await self.store.run(_token_refused, at=now, username=p.username)
            raise Unauthenticated(
                "token: connections over TCP must give the API token from the node's api.token file"
            )
        if p.cookie is not None:
            if not hmac.compare_digest(p.cookie.encode(), self._cookie.encode()):
                await self.store.run(
                    _audit.record,
                    at=now,
                    actor=LOCAL_ADMIN,
                    action="login.failed",
                    detail={"why": "wrong cookie"},
                )
                raise Unauthenticated("the cookie does not match this node's; is the node running?")
            await self.store.run(_audit.record, at=now, actor=LOCAL_ADMIN, action="login.cookie")
            username, role = LOCAL_ADMIN, Role.SUPER_ADMINISTRATOR
        else:
            assert p.username is not None
            assert p.password is not None
            # Refused at once, before any Argon2 work: a source that must wait, and a
            # login beyond the bounded queue of password checks.
            self.throttle.check(session.source, p.username)
            self.login_gate.enter()
            try:
                stored = await self.store.run(_users.stored_hash, p.username)
                ok = await trio.to_thread.run_sync(
                    _users.verify_login_password, stored, p.password, limiter=self.hashing
                )
                user = await self.store.run(
                    _users.finish_login, username=p.username, password_ok=ok, now=now
                )
            finally:
                self.login_gate.leave()
            if isinstance(user, ApiError):
                delay = self.throttle.failed(session.source, p.username)
                if delay:
                    log.info("login.throttled", source=session.source, delay_s=delay)
                raise user
            self.throttle.succeeded(session.source, p.username)
            username, role = user.username, user.role
        session.username, session.role = username, role
        session.expires_at = now + self.config.session_hours * 3600
        self._sessions[id(session)] = session
        return LoginResult(username=username, role=role.value, expires_at=session.expires_at)

    def _health(self, net: dict[str, Any], loading: dict[str, object] | None) -> StatusHealth:
        return StatusHealth.model_validate(
            assess(
                peers=net.get("peers", []),
                in_network=bool(net.get("networks")),
                now=self.clock.now(),
                started_at=self._started_at,
                last_synced_at=None if self._last_synced is None else self._last_synced(),
                loading=loading,
            )
        )

    async def health(self, session: Session, p: NoParams) -> StatusHealth:
        net = self._network_status() if self._network_status is not None else {}
        return self._health(net, None if self._loading is None else self._loading())

    async def status(self, session: Session, p: NoParams) -> StatusResult:
        net = self._network_status() if self._network_status is not None else {}
        counts = StatusCounts(alerts_originated_active=0, alerts_received_active=0)
        if self._counts is not None:
            counts = await self._counts()
        loading = None if self._loading is None else self._loading()
        return StatusResult(
            venue=self.config.venue,
            peer_id=self.peer_id,
            short_id=self.short_id,
            version=doorwatch.__version__,
            uptime_s=int(time.monotonic() - self._started),
            listen_addresses=net.get("listen_addresses", []),
            networks=net.get("networks", []),
            peers=net.get("peers", []),
            gate=net.get("gate", {}),
            counts=counts,
            loading=loading,
            console_url=self.console_url,
            console_fingerprint=self.console_fingerprint,
            health=self._health(net, loading),
        )

    async def user_add(self, session: Session, p: UserAddParams) -> UserResult:
        _users.check_password_rules(p.password)
        password_hash = await trio.to_thread.run_sync(
            hash_password, p.password, limiter=self.hashing
        )
        user = await self.store.run(
            _users.add_user,
            username=p.username,
            role=Role(p.role),
            password_hash=password_hash,
            now=self.clock.now(),
            actor=_actor(session),
        )
        return UserResult.model_validate(user.to_json())

    async def user_list(self, session: Session, p: NoParams) -> UserListResult:
        users = await self.store.run(_users.list_users)
        return UserListResult([UserResult.model_validate(u.to_json()) for u in users])

    async def user_disable(self, session: Session, p: UserNameParams) -> DisabledResult:
        if p.username == session.username:
            raise InvalidParams("username: you cannot disable your own account")
        await self.store.run(
            _users.disable_user, username=p.username, now=self.clock.now(), actor=_actor(session)
        )
        self.end_sessions(p.username)
        return DisabledResult(disabled=True)

    async def user_passwd(self, session: Session, p: PasswdParams) -> ChangedResult:
        if p.username != session.username and session.role != Role.SUPER_ADMINISTRATOR:
            raise InvalidParams(
                "username: only a super administrator may change another user's password"
            )
        _users.check_password_rules(p.password)
        password_hash = await trio.to_thread.run_sync(
            hash_password, p.password, limiter=self.hashing
        )
        await self.store.run(
            _users.set_password,
            username=p.username,
            password_hash=password_hash,
            now=self.clock.now(),
            actor=_actor(session),
        )
        # Whoever knew the old password is out; the caller's own session stays.
        self.end_sessions(p.username, keep=session)
        return ChangedResult(changed=True)

    def end_sessions(self, username: str, *, keep: Session | None = None) -> int:
        """Log out every session of ``username`` (but ``keep``): its next call is
        refused as unauthenticated. Returns how many were ended."""
        ended = 0
        for s in list(self._sessions.values()):
            if s.username == username and s is not keep:
                s.username = s.role = s.expires_at = None
                self._sessions.pop(id(s), None)
                ended += 1
        return ended

    async def audit_query(self, session: Session, p: AuditQueryParams) -> AuditQueryResult:
        entries = await self.store.run(
            _audit.query,
            actor=p.actor,
            alert_id=p.alert_id,
            action=p.action,
            since=p.since,
            until=p.until,
            limit=p.limit,
        )
        return AuditQueryResult([AuditEntryResult.model_validate(e.to_json()) for e in entries])


def _actor(session: Session) -> str:
    return session.username or "?"


def _token_refused(conn: sqlite3.Connection, *, at: int, username: str | None) -> None:
    actor = LOCAL_ADMIN if username is None else _users.known_actor(conn, username)
    _audit.record(
        conn,
        at=at,
        actor=actor,
        action="login.failed",
        detail={"why": "missing or wrong API token on TCP"},
    )
