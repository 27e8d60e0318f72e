"""Local API methods for network administration (used by `doorwatch network ...`
when the node runs): ``network.create``, ``network.invite``, ``network.join``,
``network.members``, ``network.revoke``, ``network.leave``,
``network.export_authority``, ``network.remove_authority``,
``network.import_authority``, ``network.groups``,
``network.group_add``, ``network.group_remove``, ``network.policy``. Super
administrator (or the local cookie) only.

It also serves ``/doorwatch/revocation/1``: when the hub revokes a member, it
sends that member the signed revocation list before it drops the connection;
the member verifies it and, if the list revokes it, leaves the network (the
same purge as ``network.leave``), audited as ``network.revoked``. A member
can also learn it from a membership sync (``_network_admin.install_bundle``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Literal, TypeVar

import structlog
import trio
from pydantic import Field

from doorwatch.crypto import CryptoError, RevocationList
from doorwatch.node import _network_admin as admin
from doorwatch.node._api_models import Params, Result
from doorwatch.node._api_server import Dispatcher, MethodSpec, Session
from doorwatch.node._errors import Conflict, InvalidParams, NodeError, NotFound
from doorwatch.node._network import NetworkService, join_network
from doorwatch.node._network_errors import (
    BadAuthorityFile,
    GroupError,
    NetworkError,
    UnknownMember,
    UnknownNetwork,
)
from doorwatch.node._p2p_streams import RequestRejected
from doorwatch.node._roles import Role

log = structlog.get_logger("doorwatch.network")

REVOCATION_PROTOCOL = "/doorwatch/revocation/1"
LOCAL_ADMIN = "local-admin"  # the actor of a cookie login (node._local_api)

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
    liaison: bool = False
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


class NetworkParams(Params):
    network_id: str | None = None


class LeaveResult(Result):
    network_id: str
    name: str
    received_deleted: int
    revoked: bool


class ExportAuthorityParams(Params):
    network_id: str | None = None
    passphrase: str | None = Field(default=None, min_length=8, max_length=1024)


class ExportAuthorityResult(Result):
    network_id: str
    document: dict[str, Any]


class RemoveAuthorityResult(Result):
    network_id: str
    removed: Literal[True]


class ImportAuthorityParams(Params):
    document: dict[str, Any]
    passphrase: str | None = Field(default=None, max_length=1024)


class ImportAuthorityResult(Result):
    network_id: str


class GroupParams(Params):
    group: str = Field(min_length=1, max_length=32)
    network_id: str | None = None
    members: list[str] = Field(default_factory=list, max_length=1000)


class GroupResult(Result):
    network_id: str
    group: str
    reissued: list[str]


class GroupsResult(Result):
    network_id: str
    groups: dict[str, list[str]]


class RolesParams(Params):
    peer_id: str = Field(min_length=40, max_length=60, description="The member's peer id")
    network_id: str | None = None
    committee: bool | None = Field(
        default=None, description="On (true) or off (false) the banning committee"
    )
    liaison: bool | None = Field(
        default=None, description="The police licensing officer's node (never on the committee)"
    )


class RolesResult(Result):
    network_id: str
    peer_id: str
    venue: str
    committee: bool
    liaison: bool


class PolicyParams(Params):
    network_id: str | None = None
    anonymity_floor: int | None = Field(
        default=None,
        ge=2,
        le=1_000_000,
        description="Sign a new policy with this anonymity floor (authority node only); "
        "omitted: show the policy held.",
    )
    notice_quorum: int | None = Field(
        default=None, ge=1, le=1000, description="Banning notices: fewest votes for an uphold"
    )
    notice_majority: int | None = Field(
        default=None, ge=50, le=100, description="Uphold takes more than this % of the committee"
    )
    notice_lifetime_majority: int | None = Field(
        default=None, ge=50, le=100, description="The same for a lifetime ban"
    )
    notice_vote_days: int | None = Field(
        default=None, ge=1, le=90, description="How long each vote stays open"
    )
    notice_appeal_suspends: bool | None = Field(
        default=None, description="Whether an appeal suspends the ban"
    )


class PolicyNotices(Result):
    notice_quorum: int
    notice_majority: int
    notice_lifetime_majority: int
    notice_vote_days: int
    notice_appeal_suspends: bool
    committee: int = Field(description="Voting pseudonyms on the roster (committee members)")


class PolicyResult(Result):
    network_id: str
    serial: int
    issued_at: int | None
    anonymity_floor: int
    budget_bits: float
    notices: PolicyNotices


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
LEAVE = MethodSpec(
    "network.leave",
    NetworkParams,
    LeaveResult,
    role=_ADMIN,
    summary="Leave a network: delete every alert received through it, its keys and "
    "certificates, and disconnect from its members.",
)
EXPORT_AUTHORITY = MethodSpec(
    "network.export_authority",
    ExportAuthorityParams,
    ExportAuthorityResult,
    role=_ADMIN,
    summary="Export the network authority key for offline keeping (optionally removing it).",
)
REMOVE_AUTHORITY = MethodSpec(
    "network.remove_authority",
    NetworkParams,
    RemoveAuthorityResult,
    role=_ADMIN,
    summary="Delete the network authority key from this node (after exporting it); "
    "it stays the network's hub.",
)
IMPORT_AUTHORITY = MethodSpec(
    "network.import_authority",
    ImportAuthorityParams,
    ImportAuthorityResult,
    role=_ADMIN,
    summary="Bring an exported network authority key back onto this node.",
)
GROUPS = MethodSpec(
    "network.groups",
    NetworkParams,
    GroupsResult,
    role=_ADMIN,
    summary="List the network's distribution groups and their members' venues.",
)
GROUP_ADD = MethodSpec(
    "network.group_add",
    GroupParams,
    GroupResult,
    role=_ADMIN,
    summary="Add a distribution group, and members to it (their certificates re-issued).",
)
GROUP_REMOVE = MethodSpec(
    "network.group_remove",
    GroupParams,
    GroupResult,
    role=_ADMIN,
    summary="Remove a distribution group from every member's certificate.",
)
POLICY = MethodSpec(
    "network.policy",
    PolicyParams,
    PolicyResult,
    role=_ADMIN,
    summary="Show the network's signed policy (anonymity floor, banning-notice rules), or "
    "sign a new one (authority node).",
)
ROLES = MethodSpec(
    "network.roles",
    RolesParams,
    RolesResult,
    role=_ADMIN,
    summary="Mark a member as on the banning committee or as the police liaison (authority "
    "node): its certificate is re-issued and the policy re-signed with the committee's "
    "voting pseudonyms.",
)
SPECS = (
    CREATE,
    INVITE,
    JOIN,
    MEMBERS,
    REVOKE,
    LEAVE,
    EXPORT_AUTHORITY,
    REMOVE_AUTHORITY,
    IMPORT_AUTHORITY,
    GROUPS,
    GROUP_ADD,
    GROUP_REMOVE,
    POLICY,
    ROLES,
)


async def _mapped(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except (UnknownNetwork, UnknownMember) as exc:
        raise NotFound(str(exc)) from exc
    except (BadAuthorityFile, GroupError) as exc:
        raise InvalidParams(str(exc)) from exc
    except NetworkError as exc:
        raise Conflict(str(exc)) from exc
    except CryptoError as exc:
        raise InvalidParams(str(exc)) from exc


def _actor(session: Session) -> str:
    return session.username or LOCAL_ADMIN


class NetworkApi:
    def __init__(self, service: NetworkService, *, venue: str) -> None:
        self.service = service
        self.venue = venue
        service.extend(self._install)
        if service.rr is not None:  # the host already runs: serve from now on
            self._install(service)

    def register(self, dispatcher: Dispatcher) -> None:
        for spec, handler in (
            (CREATE, self.create),
            (INVITE, self.invite),
            (JOIN, self.join),
            (MEMBERS, self.members),
            (REVOKE, self.revoke),
            (LEAVE, self.leave),
            (EXPORT_AUTHORITY, self.export_authority),
            (REMOVE_AUTHORITY, self.remove_authority),
            (IMPORT_AUTHORITY, self.import_authority),
            (GROUPS, self.groups),
            (GROUP_ADD, self.group_add),
            (GROUP_REMOVE, self.group_remove),
            (POLICY, self.policy),
            (ROLES, self.roles),
        ):
            dispatcher.add(spec.bind(handler))

    def _install(self, service: NetworkService) -> None:
        service.register(
            REVOCATION_PROTOCOL, self._serve_revocation, max_request=4 << 20, timeout=15.0
        )

    # -- revocation notices ---------------------------------------------------------------

    async def _serve_revocation(self, peer_id: str, payload: bytes) -> bytes:
        s = self.service
        try:
            revocations = RevocationList.from_bytes(payload)
            left = await s.store.run(
                admin.apply_revocation_list,
                revocations=revocations,
                self_peer_id=s.identity.peer_id,
                now=s.clock.now(),
            )
        except (CryptoError, NetworkError) as exc:
            raise RequestRejected(f"revocation list refused: {exc}") from exc
        if left is not None:
            log.warning(
                "network.revoked",
                network_id=left.network_id,
                received_deleted=left.received_deleted,
                by=peer_id,
            )
            s.request_refresh()
        return b""

    async def _notify_revoked(self, peer_id: str, revocations: RevocationList) -> None:
        """Tell the revoked member, while it is still admitted, so that it purges."""
        rr = self.service.rr
        if rr is None:
            return
        try:
            await rr.request(peer_id, REVOCATION_PROTOCOL, revocations.to_bytes(), timeout=5.0)
        except NodeError as exc:
            log.info("network.revocation_not_delivered", peer_id=peer_id, error=type(exc).__name__)

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
            listed = []
            for m in rows:
                entry = m.to_json()
                # The database holds last-seen times as of its last save (once a
                # minute); memory has them as of the last sync tick.
                seen = [t for t in (m.last_seen, s.last_seen(m.peer_id)) if t is not None]
                entry["last_seen"] = max(seen) if seen else None
                listed.append(MemberResult.model_validate(entry))
            return MembersResult(network_id=network_id, members=listed)

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
            await self._notify_revoked(p.peer_id, rl)
            await s.refresh()
            s.announce_membership(network_id)
            return RevokeResult(network_id=network_id, revocation_serial=rl.serial)

        return await _mapped(go)

    async def leave(self, session: Session, p: NetworkParams) -> LeaveResult:
        s = self.service

        async def go() -> LeaveResult:
            network_id = await s.store.run(admin.choose_network, p.network_id)
            left = await s.store.run(
                admin.leave_network,
                network_id=network_id,
                self_peer_id=s.identity.peer_id,
                actor=_actor(session),
                now=s.clock.now(),
            )
            await s.refresh()  # forgets it in memory, rebuilds the host without it
            log.info("network.left", network_id=network_id, received_deleted=left.received_deleted)
            return LeaveResult.model_validate(left.to_json())

        return await _mapped(go)

    async def export_authority(
        self, session: Session, p: ExportAuthorityParams
    ) -> ExportAuthorityResult:
        s = self.service

        async def go() -> ExportAuthorityResult:
            network_id = await s.store.run(admin.choose_network, p.network_id, authority=True)
            now = s.clock.now()
            authority, name = await s.store.run(
                admin.export_authority,
                storage_key=s.storage_key,
                network_id=network_id,
                now=now,
                actor=_actor(session),
            )
            document = await trio.to_thread.run_sync(
                partial(
                    admin.authority_document, authority, name=name, passphrase=p.passphrase, now=now
                )
            )
            return ExportAuthorityResult(network_id=network_id, document=document)

        return await _mapped(go)

    async def remove_authority(self, session: Session, p: NetworkParams) -> RemoveAuthorityResult:
        s = self.service

        async def go() -> RemoveAuthorityResult:
            network_id = await s.store.run(admin.choose_network, p.network_id, authority=True)
            await s.store.run(
                admin.remove_authority,
                network_id=network_id,
                now=s.clock.now(),
                actor=_actor(session),
            )
            return RemoveAuthorityResult(network_id=network_id, removed=True)

        return await _mapped(go)

    async def import_authority(
        self, session: Session, p: ImportAuthorityParams
    ) -> ImportAuthorityResult:
        s = self.service

        async def go() -> str:
            authority = await trio.to_thread.run_sync(
                admin.read_authority_file, p.document, p.passphrase
            )
            return await s.store.run(
                admin.import_authority,
                storage_key=s.storage_key,
                authority=authority,
                now=s.clock.now(),
                actor=_actor(session),
            )

        return ImportAuthorityResult(network_id=await _mapped(go))

    async def groups(self, session: Session, p: NetworkParams) -> GroupsResult:
        s = self.service

        async def go() -> GroupsResult:
            network_id = await s.store.run(admin.choose_network, p.network_id, authority=True)
            groups = await s.store.run(admin.list_groups, network_id, s.storage_key)
            return GroupsResult(network_id=network_id, groups=groups)

        return await _mapped(go)

    async def group_add(self, session: Session, p: GroupParams) -> GroupResult:
        return await self._group(admin.add_group, p, members=p.members)

    async def group_remove(self, session: Session, p: GroupParams) -> GroupResult:
        return await self._group(admin.remove_group, p)

    async def policy(self, session: Session, p: PolicyParams) -> PolicyResult:
        s = self.service
        floor = p.anonymity_floor
        rules = {k: getattr(p, k) for k in admin.NOTICE_RULES if getattr(p, k) is not None}
        signing = floor is not None or bool(rules)

        async def go() -> PolicyResult:
            network_id = await s.store.run(admin.choose_network, p.network_id, authority=signing)
            if signing:
                await s.store.run(
                    partial(
                        admin.set_policy,
                        storage_key=s.storage_key,
                        network_id=network_id,
                        anonymity_floor=floor,
                        notice_rules=rules,
                        now=s.clock.now(),
                        actor=_actor(session),
                    )
                )
                await s.refresh()
                s.announce_membership(network_id)
            view = await s.store.run(admin.policy_view, network_id)
            return PolicyResult.model_validate(view.to_json())

        return await _mapped(go)

    async def roles(self, session: Session, p: RolesParams) -> RolesResult:
        s = self.service

        async def go() -> RolesResult:
            network_id = await s.store.run(admin.choose_network, p.network_id, authority=True)
            cert = await s.store.run(
                partial(
                    admin.set_roles,
                    storage_key=s.storage_key,
                    network_id=network_id,
                    peer_id=p.peer_id,
                    committee=p.committee,
                    liaison=p.liaison,
                    now=s.clock.now(),
                    actor=_actor(session),
                )
            )
            await s.refresh()
            s.announce_membership(network_id)
            return RolesResult(
                network_id=network_id,
                peer_id=cert.peer_id,
                venue=cert.venue,
                committee=cert.committee,
                liaison=cert.liaison,
            )

        return await _mapped(go)

    async def _group(
        self, change: Callable[..., admin.GroupChange], p: GroupParams, **extra: object
    ) -> GroupResult:
        s = self.service

        async def go() -> GroupResult:
            network_id = await s.store.run(admin.choose_network, p.network_id, authority=True)
            done = await s.store.run(
                change,
                storage_key=s.storage_key,
                network_id=network_id,
                group=p.group,
                now=s.clock.now(),
                **extra,
            )
            await s.refresh()
            s.announce_membership(network_id)
            return GroupResult.model_validate(done.to_json())

        return await _mapped(go)
