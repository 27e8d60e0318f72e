"""The originator's end of the disclosure ladder: ``/doorwatch/disclose/1``.

Theory of operation. A member venue whose scanner matched one of this
venue's alerts sends, over one request/response stream per step, an
identity check, then a photo request carrying its proof of a match, then
(after its operator said "same person") a details request. Each request is
decoded with the protocol's bounded codec and handed to the protocol's
``OriginatorSession`` for that (authenticated peer, request id), which makes
every decision: session, alert active, requester in the alert's
distribution, order, proof, rate limits. The session is sans-I/O and its
``OriginatorBackend`` is synchronous, so this module first reads what the
step needs from the store (one transaction) and decrypts it in a worker
thread, then runs the session on that snapshot, persists its audit events
and answers with the encoded reply (sealed to the requester by the session).

Sessions live in memory only (the PET opening must not outlive the
session; see docs/private-equality-test.md), keyed by (peer, request id),
dropped when finished or refused, after ``SESSION_TTL`` seconds, and capped
in number. The rate limiter is one per node, shared by every session; the
hits it counts are committed with the step's audit entries before the answer
leaves and restored at start-up (``_disclosure_hits``), and a limit or alarm
reached is audited and mailed to the super administrator
(``_disclosure_limits``). Only a proof on one of ``PHOTO_LABELS`` releases
the photo.

The PET node secret is ``StorageKey.derive_key("pet")``: nothing new to store
or back up, and it changes only with the storage key.
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import structlog
import trio

from doorwatch.crypto import NodeIdentity
from doorwatch.node import _alerts, _disclosure_hits
from doorwatch.node._disclosure_limits import ALARM, LIMIT_REACHED, Reporter
from doorwatch.node._errors import NotFound
from doorwatch.node._ladder import (
    DISCLOSE_PROTOCOL,
    MAX_DISCLOSE_REQUEST,
    PHOTO_LABELS,
    pet_values,
    record_audit,
)
from doorwatch.node._network import NetworkService
from doorwatch.node._p2p_streams import RequestRejected
from doorwatch.node._subjects import unseal, unseal_identity
from doorwatch.node._venue import ALERT_DETAILS, ALERT_IDENTITY, ALERT_NOTE, ALERT_PHOTO, Venue
from doorwatch.protocol import (
    AlertFacts,
    DetailsRequest,
    IdentityCheckRequest,
    OriginatorSession,
    OriginatorState,
    PhotoRequest,
    ProtocolError,
    RateLimiter,
    RateLimits,
    decode,
    encode,
)

log = structlog.get_logger("doorwatch.ladder")

SESSION_TTL: Final = 15 * 60
MAX_SESSIONS: Final = 4096
ALL_GROUP: Final = "all"
PET_SECRET_PURPOSE: Final = "pet"  # noqa: S105 - a derivation label, not a secret


@dataclass
class _Snapshot:
    """An ``OriginatorBackend`` over what one step needs, read before the session runs."""

    facts: AlertFacts | None
    member: bool
    values: Mapping[str, str] = field(default_factory=dict)
    photo_bytes: bytes = b""
    details_bytes: bytes = b""

    def alert(self, alert_id: bytes, now: int) -> AlertFacts | None:
        return self.facts

    def is_member(self, peer_id: str, groups: frozenset[str], now: int) -> bool:
        return self.member

    def pet_values(self, alert_id: bytes) -> Mapping[str, str]:
        return self.values

    def photo(self, alert_id: bytes) -> bytes:
        return self.photo_bytes

    def details(self, alert_id: bytes) -> bytes:
        return self.details_bytes


@dataclass
class _Backend:
    """The backend a session holds; each step installs its own snapshot before running."""

    current: _Snapshot

    def alert(self, alert_id: bytes, now: int) -> AlertFacts | None:
        return self.current.alert(alert_id, now)

    def is_member(self, peer_id: str, groups: frozenset[str], now: int) -> bool:
        return self.current.is_member(peer_id, groups, now)

    def pet_values(self, alert_id: bytes) -> Mapping[str, str]:
        return self.current.pet_values(alert_id)

    def photo(self, alert_id: bytes) -> bytes:
        return self.current.photo(alert_id)

    def details(self, alert_id: bytes) -> bytes:
        return self.current.details(alert_id)


@dataclass
class _Held:
    session: OriginatorSession
    backend: _Backend
    expires_at: int


class LadderOriginator:
    """Serves the disclosure protocol for this venue's own alerts."""

    def __init__(
        self,
        *,
        venue: Venue,
        network: NetworkService,
        identity: NodeIdentity,
        limits: RateLimits | None = None,
    ) -> None:
        self.venue = venue
        self.network = network
        self.identity = identity
        self.limiter = RateLimiter(limits)
        self.reporter = Reporter(venue, "originator")
        self._secret = venue.key.derive_key(PET_SECRET_PURPOSE)
        self._sessions: OrderedDict[tuple[str, bytes], _Held] = OrderedDict()
        self.served = 0
        self.refused = 0

    async def load(self) -> None:
        """Restore the rate-limit counters committed before this start."""
        now = self.venue.clock.now()
        self.limiter.restore(await self.venue.store.run(_disclosure_hits.load, now), now)

    def install(self, service: NetworkService) -> None:
        service.register(
            DISCLOSE_PROTOCOL,
            self.handle,
            max_request=MAX_DISCLOSE_REQUEST,
            timeout=15.0,
            max_concurrent=32,
        )

    # -- membership ---------------------------------------------------------------------

    def in_distribution(self, peer_id: str, groups: frozenset[str]) -> bool:
        """A valid, unrevoked certificate of a shared network naming one of ``groups``."""
        for net in self.network.networks.values():
            if net.membership.admit(peer_id) is not None:
                continue
            certificate = net.membership.certificate(peer_id)
            if certificate is not None and groups & set(certificate.groups):
                return True
        return False

    # -- the handler ----------------------------------------------------------------------

    async def handle(self, peer_id: str, payload: bytes) -> bytes:
        try:
            request = decode(payload)
        except ProtocolError as exc:
            log.warning("ladder.malformed_request", peer_id=peer_id, code=exc.code.value)
            raise RequestRejected(f"disclosure request refused: {exc.message}") from None
        if not isinstance(request, IdentityCheckRequest | PhotoRequest | DetailsRequest):
            log.warning("ladder.unexpected_message", peer_id=peer_id)
            raise RequestRejected("not a disclosure request")
        v = self.venue
        now = v.clock.now()
        snapshot = await self._snapshot(request, peer_id, now)
        self._expire(now)
        key = (peer_id, request.request_id)
        held = self._sessions.get(key)
        if held is None:
            backend = _Backend(snapshot)
            session = OriginatorSession(
                identity=self.identity,
                pet_node_secret=self._secret,
                backend=backend,
                limiter=self.limiter,
                photo_labels=PHOTO_LABELS,
            )
            held = _Held(session, backend, now + SESSION_TTL)
            if isinstance(request, IdentityCheckRequest):
                self._sessions[key] = held
        else:
            held.backend.current = snapshot
        outcome = held.session.handle(request, peer_id, now)
        if held.session.state in (OriginatorState.DONE, OriginatorState.REFUSED):
            self._sessions.pop(key, None)
        if outcome.error is not None:
            self.refused += 1
            log.info(
                "ladder.refused",
                peer_id=peer_id,
                alert_id=request.alert_id.hex(),
                code=outcome.error.code.value,
            )
        else:
            self.served += 1
        # The hits counted are committed with the audit, before the answer leaves.
        hits = self.limiter.drain()
        await v.store.run(record_audit, outcome.audit, actor="network", hits=hits)
        alert_id = request.alert_id.hex()
        if outcome.limit is not None:
            await self.reporter.report(
                LIMIT_REACHED, outcome.limit, peer_id=peer_id, alert_id=alert_id, actor="network"
            )
        if outcome.alarm is not None:
            await self.reporter.report(
                ALARM, outcome.alarm, peer_id=peer_id, alert_id=alert_id, actor="network"
            )
        return encode(outcome.reply)

    def _expire(self, now: int) -> None:
        while self._sessions and (
            len(self._sessions) > MAX_SESSIONS
            or next(iter(self._sessions.values())).expires_at <= now
        ):
            self._sessions.popitem(last=False)
        if self.served % 256 == 0:
            self.limiter.forget(now)

    async def _snapshot(
        self,
        request: IdentityCheckRequest | PhotoRequest | DetailsRequest,
        peer_id: str,
        now: int,
    ) -> _Snapshot:
        v = self.venue
        alert_id = request.alert_id.hex()

        def load(
            conn: sqlite3.Connection,
        ) -> tuple[_alerts.AlertRecord, list[_alerts.Annotation]] | None:
            try:
                a = _alerts.get(conn, alert_id)
            except NotFound:
                return None
            notes = (
                _alerts.list_annotations(conn, alert_id)
                if isinstance(request, DetailsRequest)
                else []
            )
            return a, notes

        loaded = await v.store.run(load)
        if loaded is None:
            return _Snapshot(facts=None, member=False)
        a, notes = loaded
        groups = frozenset(a.groups) or frozenset({ALL_GROUP})
        active = (
            a.status == "active"
            and a.expires_at > now
            and a.identity is not None
            and a.purged_at is None
        )
        snapshot = _Snapshot(
            facts=AlertFacts(groups=groups, active=active),
            member=self.in_distribution(peer_id, groups),
        )
        if not (active and snapshot.member):
            return snapshot
        if isinstance(request, IdentityCheckRequest):
            snapshot.values = await trio.to_thread.run_sync(self._values, a)
        elif isinstance(request, PhotoRequest):
            snapshot.photo_bytes = await trio.to_thread.run_sync(self._photo, a)
        else:
            snapshot.details_bytes = await trio.to_thread.run_sync(self._details, a, notes)
        return snapshot

    def _values(self, a: _alerts.AlertRecord) -> dict[str, str]:
        assert a.identity is not None
        return pet_values(unseal_identity(self.venue.key, ALERT_IDENTITY, a.identity, a.id))

    def _photo(self, a: _alerts.AlertRecord) -> bytes:
        if a.photo is None:
            return b""
        return unseal(self.venue.key, ALERT_PHOTO, a.photo, a.id)

    def _details(self, a: _alerts.AlertRecord, notes: list[_alerts.Annotation]) -> bytes:
        key = self.venue.key
        details = {"reason": None, "notes": None}
        if a.details is not None:
            details = json.loads(unseal(key, ALERT_DETAILS, a.details, a.id))
        return json.dumps(
            {
                "category": a.category,
                "reason": details["reason"],
                "harm": a.harm,
                "originating_venue": self.venue.config.venue,
                "created_at": a.created_at,
                "expires_at": a.expires_at,
                "notes": details["notes"],
                "annotations": _alerts.annotation_json(
                    notes, lambda blob: unseal(key, ALERT_NOTE, blob, a.id).decode()
                ),
            },
            sort_keys=True,
        ).encode()
