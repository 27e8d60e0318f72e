"""The local API methods of the node's own half: sessions, status, users, audit.

Each method has a pydantic model of its parameters (the JSON schema in
docs/api.md is generated from them) and the lowest role that may call it.
"""

from __future__ import annotations

import hmac
import time
from typing import Literal

import trio
from pydantic import BaseModel, ConfigDict, Field, model_validator

import doorwatch
from doorwatch.crypto import hash_password
from doorwatch.node import _audit, _users
from doorwatch.node._api_server import Dispatcher, Method, Session
from doorwatch.node._clock import Clock
from doorwatch.node._config import NodeConfig
from doorwatch.node._errors import ApiError, InvalidParams, Unauthenticated
from doorwatch.node._roles import Role
from doorwatch.node._store import AsyncStore

LOCAL_ADMIN = "local-admin"

Username = str


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoginParams(_Params):
    username: str | None = Field(default=None, min_length=1, max_length=64)
    password: str | None = Field(default=None, max_length=1024)
    cookie: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _one_way(self) -> LoginParams:
        if self.cookie is None and (self.username is None or self.password is None):
            raise ValueError("give username and password, or cookie")
        if self.cookie is not None and (self.username is not None or self.password is not None):
            raise ValueError("give username and password, or cookie, not both")
        return self


class NoParams(_Params):
    pass


class UserAddParams(_Params):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    role: Literal["door_staff", "supervisor", "administrator", "super_administrator"]
    password: str = Field(max_length=1024)


class UserNameParams(_Params):
    username: str = Field(min_length=1, max_length=64)


class PasswdParams(_Params):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(max_length=1024)


class AuditQueryParams(_Params):
    actor: str | None = None
    alert_id: str | None = None
    action: str | None = None
    since: int | None = None
    until: int | None = None
    limit: int = Field(default=200, ge=1, le=10000)


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
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.peer_id = peer_id
        self.short_id = short_id
        self._cookie = cookie
        self._started = time.monotonic()

    def register(self, dispatcher: Dispatcher) -> None:
        for method in (
            Method("session.login", LoginParams, self.login, role=None),
            Method("node.status", NoParams, self.status, role=Role.DOOR_STAFF),
            Method("user.add", UserAddParams, self.user_add, role=Role.SUPER_ADMINISTRATOR),
            Method("user.list", NoParams, self.user_list, role=Role.ADMINISTRATOR),
            Method(
                "user.disable", UserNameParams, self.user_disable, role=Role.SUPER_ADMINISTRATOR
            ),
            Method("user.passwd", PasswdParams, self.user_passwd, role=Role.DOOR_STAFF),
            Method("audit.query", AuditQueryParams, self.audit_query, role=Role.ADMINISTRATOR),
        ):
            dispatcher.add(method)

    async def login(self, session: Session, p: LoginParams) -> object:
        now = self.clock.now()
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
            stored = await self.store.run(_users.stored_hash, p.username)
            ok = await trio.to_thread.run_sync(_users.verify_login_password, stored, p.password)
            user = await self.store.run(
                _users.finish_login, username=p.username, password_ok=ok, now=now
            )
            if isinstance(user, ApiError):
                raise user
            username, role = user.username, user.role
        session.username, session.role = username, role
        session.expires_at = now + self.config.session_hours * 3600
        return {"username": username, "role": role.value, "expires_at": session.expires_at}

    async def status(self, session: Session, p: NoParams) -> object:
        return {
            "venue": self.config.venue,
            "peer_id": self.peer_id,
            "short_id": self.short_id,
            "version": doorwatch.__version__,
            "uptime_s": int(time.monotonic() - self._started),
            "listen_addresses": [],
            "networks": [],
            "peers": [],
            "counts": {"alerts_originated_active": 0, "alerts_received_active": 0},
        }

    async def user_add(self, session: Session, p: UserAddParams) -> object:
        _users.check_password_rules(p.password)
        password_hash = await trio.to_thread.run_sync(hash_password, p.password)
        user = await self.store.run(
            _users.add_user,
            username=p.username,
            role=Role(p.role),
            password_hash=password_hash,
            now=self.clock.now(),
            actor=_actor(session),
        )
        return user.to_json()

    async def user_list(self, session: Session, p: NoParams) -> object:
        return [u.to_json() for u in await self.store.run(_users.list_users)]

    async def user_disable(self, session: Session, p: UserNameParams) -> object:
        if p.username == session.username:
            raise InvalidParams("username: you cannot disable your own account")
        await self.store.run(
            _users.disable_user, username=p.username, now=self.clock.now(), actor=_actor(session)
        )
        return {"disabled": True}

    async def user_passwd(self, session: Session, p: PasswdParams) -> object:
        if p.username != session.username and session.role != Role.SUPER_ADMINISTRATOR:
            raise InvalidParams(
                "username: only a super administrator may change another user's password"
            )
        _users.check_password_rules(p.password)
        password_hash = await trio.to_thread.run_sync(hash_password, p.password)
        await self.store.run(
            _users.set_password,
            username=p.username,
            password_hash=password_hash,
            now=self.clock.now(),
            actor=_actor(session),
        )
        return {"changed": True}

    async def audit_query(self, session: Session, p: AuditQueryParams) -> object:
        entries = await self.store.run(
            _audit.query,
            actor=p.actor,
            alert_id=p.alert_id,
            action=p.action,
            since=p.since,
            until=p.until,
            limit=p.limit,
        )
        return [e.to_json() for e in entries]


def _actor(session: Session) -> str:
    return session.username or "?"
