"""Local API methods for network administration (used by `doorwatch network ...`
when the node runs): ``network.create``, ``network.invite``, ``network.join``,
``network.members``, ``network.revoke``. Super administrator (or the local
cookie) only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from pydantic import Field

from doorwatch.crypto import CryptoError
from doorwatch.node import _network_admin as admin
from doorwatch.node._api_models import Params, Result
from doorwatch.node._api_server import Dispatcher, MethodSpec, Session
from doorwatch.node._errors import Conflict, InvalidParams, NotFound
from doorwatch.node._network import NetworkService, join_network
from doorwatch.node._network_errors import NetworkError, UnknownMember, UnknownNetwork
from doorwatch.node._roles import Role

T = TypeVar("T")


class CreateParams(Params):
    name: str = Field(min_length=1, max_length=120)
    jurisdiction: str = Field(
        default=admin.DEFAULT_JURISDICTION, pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$"
    )


class CreateResult(Result):
    network_id: str


class InviteParams(Params):
    venue: str = Field(min_length=1, max_length=120)
    groups: list[str] = Field(default_factory=list, max_length=32)
    expires_in_s: int = Field(default=86400, ge=1, le=30 * 86400)
    network_id: str | None = None


class InviteResult(Result):
    token: str
    network_id: str
    expires_at: int


class JoinParams(Params):
    token: str = Field(min_length=1, max_length=8192)


class JoinResult(Result):
    network_id: str
    joined: Literal[True]


class MembersParams(Params):
    network_id: str | None = None


class MemberResult(Result):
    venue: str
    peer_id: str
    short_id: str
    groups: list[str]
    committee: bool
    key_manager: bool
    valid_until: int
    last_seen: int | None
    revoked: bool
    self: bool


class MembersResult(Result):
    network_id: str
    members: list[MemberResult]


class RevokeParams(Params):
    peer_id: str = Field(min_length=1, max_length=128)
    network_id: str | None = None


class RevokeResult(Result):
    network_id: str
    revocation_serial: int


_ADMIN = Role.SUPER_ADMINISTRATOR
CREATE = MethodSpec(
    "network.create",
    CreateParams,
    CreateResult,
    role=_ADMIN,
    summary="Create a network whose authority key this node holds.",
)
INVITE = MethodSpec(
    "network.invite",
    InviteParams,
    InviteResult,
    role=_ADMIN,
    summary="Issue a one-time invite token for a venue.",
)
JOIN = MethodSpec(
    "network.join",
    JoinParams,
    JoinResult,
    role=_ADMIN,
    summary="Join a network with an invite token.",
)
MEMBERS = MethodSpec(
    "network.members",
    MembersParams,
    MembersResult,
    role=_ADMIN,
    summary="List a network's members.",
)
REVOKE = MethodSpec(
    "network.revoke",
    RevokeParams,
    RevokeResult,
    role=_ADMIN,
    summary="Revoke a member and rotate the group keys.",
)
SPECS = (CREATE, INVITE, JOIN, MEMBERS, REVOKE)


async def _mapped(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except (UnknownNetwork, UnknownMember) as exc:
        raise NotFound(str(exc)) from exc
    except NetworkError as exc:
        raise Conflict(str(exc)) from exc
    except CryptoError as exc:
        raise InvalidParams(str(exc)) from exc


class NetworkApi:
    def __init__(self, service: NetworkService, *, venue: str) -> None:
        self.service = service
        self.venue = venue

    def register(self, dispatcher: Dispatcher) -> None:
        for spec, handler in (
            (CREATE, self.create),
            (INVITE, self.invite),
            (JOIN, self.join),
            (MEMBERS, self.members),
            (REVOKE, self.revoke),
        ):
            dispatcher.add(spec.bind(handler))

    async def create(self, session: Session, p: CreateParams) -> CreateResult:
        s = self.service

        async def go() -> str:
            network_id = await s.store.run(
                admin.create_network,
                identity=s.identity,
                storage_key=s.storage_key,
                venue=self.venue,
                name=p.name,
                jurisdiction=p.jurisdiction,
                now=s.clock.now(),
            )
            await s.reload()
            return network_id

        return CreateResult(network_id=await _mapped(go))

    async def invite(self, session: Session, p: InviteParams) -> InviteResult:
        s = self.service
        now = s.clock.now()

        async def go() -> tuple[str, str]:
            network_id = await s.store.run(admin.choose_network, p.network_id, authority=True)
            token = await s.store.run(
                admin.issue_invite,
                storage_key=s.storage_key,
                network_id=network_id,
                venue=p.venue,
                groups=p.groups,
                bootstrap_addrs=s.bootstrap_addrs(),
                expires_at=now + p.expires_in_s,
                now=now,
            )
            await s.refresh()
            return network_id, token.encode()

        network_id, token = await _mapped(go)
        return InviteResult(token=token, network_id=network_id, expires_at=now + p.expires_in_s)

    async def join(self, session: Session, p: JoinParams) -> JoinResult:
        s = self.service

        async def go() -> str:
            network_id = await join_network(
                s.store.run,
                token_text=p.token,
                identity=s.identity,
                storage_key=s.storage_key,
                now=s.clock.now(),
            )
            await s.refresh()
            return network_id

        return JoinResult(network_id=await _mapped(go), joined=True)

    async def members(self, session: Session, p: MembersParams) -> MembersResult:
        s = self.service

        async def go() -> MembersResult:
            network_id = await s.store.run(admin.choose_network, p.network_id)
            rows = await s.store.run(admin.members, network_id, s.identity.peer_id)
            return MembersResult(
                network_id=network_id,
                members=[MemberResult.model_validate(m.to_json()) for m in rows],
            )

        return await _mapped(go)

    async def revoke(self, session: Session, p: RevokeParams) -> RevokeResult:
        s = self.service

        async def go() -> RevokeResult:
            network_id = await s.store.run(admin.choose_network, p.network_id, authority=True)
            rl = await s.store.run(
                admin.revoke_member,
                storage_key=s.storage_key,
                network_id=network_id,
                peer_id=p.peer_id,
                now=s.clock.now(),
            )
            await s.refresh()
            s.announce_membership(network_id)
            return RevokeResult(network_id=network_id, revocation_serial=rl.serial)

        return await _mapped(go)
