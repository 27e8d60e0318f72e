"""Sharing signed aggregate counts with the network, for the Pubwatch meeting's report.

Theory of operation. A venue's administrator shares its counts for a period
(``report.share``): the node counts the period (``_reports.gather``),
suppresses counts from 1 to 4 (``_report_model.share_counts``), signs one
``report.counts`` message per network under the purpose
``msg-report-counts`` (``protocol.sign_message``: a signature made for any
other message type never verifies as this one), keeps it, and pushes it to
every other member on ``/doorwatch/report/1``. Whoever makes the network
report (``report.network``) asks every other member for its counts of
exactly that period on the same protocol (a ``report.request``; the answer is
the member's ``report.counts`` or nothing), so a member that was offline at
sharing time is caught up, and combines what it holds.

A received share is kept only if: it decodes as a ``report.counts`` whose
every count is zero-free and either suppressed or at least 5 (the message
model refuses a 1 to 4); the sender is the venue that signed it (a venue
shares only its own counts: nobody relays or re-dates another's); that
venue is a member of the network named; the signature verifies; it is not
dated in the future; and it is newer than the one held for the same venue
and period (a replay, or an older share, is refused). Refusals answer the
sender with the reason and are logged at WARNING with the peer id only.
Nothing in a share is about a person.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import structlog
import trio

from doorwatch.crypto import NodeIdentity
from doorwatch.node._network import NetworkRuntime, NetworkService
from doorwatch.node._p2p_errors import P2PError, RemoteError
from doorwatch.node._p2p_streams import RequestRejected
from doorwatch.node._store import AsyncStore
from doorwatch.protocol import (
    ProtocolError,
    ReportCount,
    ReportCounts,
    ReportRequest,
    decode,
    encode,
    sign_message,
    verify_message,
)

__all__ = [
    "REPORT_PROTOCOL",
    "Delivery",
    "ReportSharing",
    "ShareRefused",
    "check_share",
]

log = structlog.get_logger("doorwatch.report")

REPORT_PROTOCOL: Final = "/doorwatch/report/1"
MAX_SKEW: Final = 300
"""Seconds a share's ``issued_at`` may be ahead of this node's clock."""
MAX_REQUEST: Final = 64 * 1024
TIMEOUT: Final = 8.0


class ShareRefused(Exception):
    """A received share broke a rule; the message says which (it is sent back)."""


def check_share(
    message: object,
    *,
    sender: str,
    network: NetworkRuntime | None,
    held_issued_at: int | None,
    now: int,
) -> ReportCounts:
    """The share, if it may be kept (see the module doc); else ShareRefused."""
    if not isinstance(message, ReportCounts):
        raise ShareRefused("malformed: expected a report.counts message")
    if network is None:
        raise ShareRefused(f"network_id: this node is not in network {message.network_id}")
    if message.venue != sender:
        raise ShareRefused(
            "venue: a venue shares only its own counts (signed by another peer than the sender)"
        )
    if network.membership.admit(sender) is not None:
        raise ShareRefused(f"venue: {sender} is not a member of network {message.network_id}")
    try:
        verify_message(message)
    except ProtocolError:
        raise ShareRefused("signature: the report.counts signature does not verify") from None
    if message.issued_at > now + MAX_SKEW:
        raise ShareRefused("issued_at: the share is dated in the future")
    if held_issued_at is not None and message.issued_at <= held_issued_at:
        raise ShareRefused(
            "issued_at: replayed or stale; this node holds this venue's counts for this "
            f"period issued at {held_issued_at} (only a newer share replaces them)"
        )
    return message


@dataclass(frozen=True)
class Delivery:
    peer_id: str
    venue: str
    delivered: bool
    error: str | None = None


# -- the table -----------------------------------------------------------------------------


def _held(conn: sqlite3.Connection, m: ReportCounts) -> int | None:
    row = conn.execute(
        "SELECT issued_at FROM report_shares WHERE network_id = ? AND venue = ? "
        "AND period_from = ? AND period_to = ?",
        (m.network_id, m.venue, m.period_from, m.period_to),
    ).fetchone()
    return None if row is None else int(row[0])


def _store(conn: sqlite3.Connection, m: ReportCounts, now: int) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO report_shares (network_id, venue, period_from, period_to, "
        "issued_at, received_at, message) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (m.network_id, m.venue, m.period_from, m.period_to, m.issued_at, now, encode(m)),
    )


def held_shares(
    conn: sqlite3.Connection, network_id: str, period_from: int, period_to: int
) -> dict[str, ReportCounts]:
    """Venue peer id -> its share held for exactly this period."""
    rows = conn.execute(
        "SELECT venue, message FROM report_shares WHERE network_id = ? AND period_from = ? "
        "AND period_to = ?",
        (network_id, period_from, period_to),
    ).fetchall()
    out: dict[str, ReportCounts] = {}
    for venue, blob in rows:
        m = decode(bytes(blob))
        assert isinstance(m, ReportCounts)
        out[str(venue)] = m
    return out


# -- the service ---------------------------------------------------------------------------


class ReportSharing:
    """Serves ``/doorwatch/report/1`` and shares and collects counts (see the module doc)."""

    def __init__(self, *, network: NetworkService, store: AsyncStore, identity: NodeIdentity):
        self.network = network
        self.store = store
        self.identity = identity

    def install(self, service: NetworkService) -> None:
        service.register(REPORT_PROTOCOL, self._serve, max_request=MAX_REQUEST)

    async def _serve(self, peer_id: str, request: bytes) -> bytes:
        try:
            message = decode(request)
        except ProtocolError as exc:
            raise self._refused(peer_id, f"malformed: {exc}") from None
        if isinstance(message, ReportRequest):
            return await self._answer(peer_id, message)
        try:
            await self._receive(peer_id, message)
        except ShareRefused as exc:
            raise self._refused(peer_id, str(exc)) from None
        return b"stored"

    def _refused(self, peer_id: str, reason: str) -> RequestRejected:
        log.warning("report.share_refused", peer_id=peer_id, reason=reason)
        return RequestRejected(reason)

    async def _answer(self, peer_id: str, request: ReportRequest) -> bytes:
        net = self.network.networks.get(request.network_id)
        if net is None or net.membership.admit(peer_id) is not None:
            raise self._refused(peer_id, f"network_id: not a member of {request.network_id}")
        held = await self.store.run(
            held_shares, request.network_id, request.period_from, request.period_to
        )
        own = held.get(self.identity.peer_id)
        return b"" if own is None else encode(own)

    async def _receive(
        self, peer_id: str, message: object, *, pulled: bool = False
    ) -> ReportCounts | None:
        """Check and keep one share; None when a pull brought the one already held."""
        network_id = message.network_id if isinstance(message, ReportCounts) else ""
        net = self.network.networks.get(network_id)
        now = self.network.clock.now()

        def keep(conn: sqlite3.Connection) -> ReportCounts | None:
            held = _held(conn, message) if isinstance(message, ReportCounts) else None
            if pulled and isinstance(message, ReportCounts) and message.issued_at == held:
                return None  # the share already held
            share = check_share(message, sender=peer_id, network=net, held_issued_at=held, now=now)
            _store(conn, share, now)
            return share

        share = await self.store.run(keep)
        if share is not None:
            log.info("report.share_stored", peer_id=peer_id, network_id=network_id)
        return share

    # -- sharing and collecting -------------------------------------------------------------

    def members(self, network_id: str) -> list[tuple[str, str]]:
        """(peer id, venue) of every member with a valid certificate, this node included."""
        net = self.network.networks[network_id]
        return sorted(
            (
                (peer, cert.venue)
                for peer, cert in net.certificates.items()
                if net.membership.admit(peer) is None or peer == self.identity.peer_id
            ),
            key=lambda m: m[1],
        )

    async def share(
        self, network_id: str, period_from: int, period_to: int, counts: Sequence[ReportCount]
    ) -> tuple[ReportCounts, list[Delivery]]:
        """Sign, keep and push this venue's counts to every other member of the network."""
        now = self.network.clock.now()
        unsigned = ReportCounts(
            network_id=network_id,
            venue=self.identity.peer_id,
            period_from=period_from,
            period_to=period_to,
            issued_at=now,
            counts=tuple(counts),
            signature=bytes(64),
        )
        signed = sign_message(unsigned, self.identity)

        def keep(conn: sqlite3.Connection) -> None:
            held = _held(conn, signed)
            if held is not None and held >= signed.issued_at:
                # Two shares in one second: the later must still be newer.
                raise ShareRefused("issued_at: shared already this second; try again")
            _store(conn, signed, now)

        await self.store.run(keep)
        frame = encode(signed)
        deliveries: list[Delivery] = []

        async def push(peer: str, venue: str) -> None:
            try:
                await self._request(peer, frame)
            except P2PError as exc:
                deliveries.append(Delivery(peer, venue, False, _why(exc)))
            else:
                deliveries.append(Delivery(peer, venue, True))

        async with trio.open_nursery() as nursery:
            for peer, venue in self.members(network_id):
                if peer != self.identity.peer_id:
                    nursery.start_soon(push, peer, venue)
        deliveries.sort(key=lambda d: d.venue)
        return signed, deliveries

    async def collect(
        self, network_id: str, period_from: int, period_to: int
    ) -> tuple[dict[str, ReportCounts], list[Delivery]]:
        """Ask every other member for its counts of this period; return what is held."""
        request = encode(
            ReportRequest(network_id=network_id, period_from=period_from, period_to=period_to)
        )
        asked: list[Delivery] = []

        async def pull(peer: str, venue: str) -> None:
            try:
                answer = await self._request(peer, request)
            except P2PError as exc:
                asked.append(Delivery(peer, venue, False, _why(exc)))
                return
            if not answer:
                asked.append(Delivery(peer, venue, True, "has not shared this period"))
                return
            try:
                await self._receive(
                    peer, _pulled(answer, network_id, period_from, period_to), pulled=True
                )
            except (ProtocolError, ShareRefused) as exc:
                log.warning("report.share_refused", peer_id=peer, reason=str(exc))
                asked.append(Delivery(peer, venue, False, str(exc)))
                return
            asked.append(Delivery(peer, venue, True))

        async with trio.open_nursery() as nursery:
            for peer, venue in self.members(network_id):
                if peer != self.identity.peer_id:
                    nursery.start_soon(pull, peer, venue)
        held = await self.store.run(held_shares, network_id, period_from, period_to)
        asked.sort(key=lambda d: d.venue)
        return held, asked

    async def _request(self, peer: str, payload: bytes) -> bytes:
        assert self.network.rr is not None
        return await self.network.rr.request(peer, REPORT_PROTOCOL, payload, timeout=TIMEOUT)


def _pulled(answer: bytes, network_id: str, period_from: int, period_to: int) -> ReportCounts:
    """A pull's answer: the counts of exactly the period asked for, else ShareRefused."""
    message = decode(answer)
    if not isinstance(message, ReportCounts) or (
        message.network_id,
        message.period_from,
        message.period_to,
    ) != (network_id, period_from, period_to):
        raise ShareRefused("malformed: not the counts of the period asked for")
    return message


def _why(exc: P2PError) -> str:
    if isinstance(exc, RemoteError):
        return f"refused: {exc.remote_message}"
    return str(exc)
