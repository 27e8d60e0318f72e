"""The membership gate: which peers may hold a connection to this node.

Theory of operation. py-libp2p 0.8.1 has no peer-id allow-list (its
``ConnectionGate`` filters IP addresses only). The remote peer id is first
known, authenticated, at the end of the Noise XX handshake. ``GatedNoise``
subclasses the Noise transport and, once ``secure_inbound`` /
``secure_outbound`` has produced the secure connection, asks the gate; a
refused peer has its secure connection closed and the handshake fails with
libp2p's ``HandshakeFailure``, so the upgrader never reaches the stream muxer
and no protocol stream (identify, pubsub, ours) is ever served to it.

The decision is ``admit(peer_id) -> None | reason`` (injected: the node checks
certificates and revocations there), preceded by a local penalty box
(``ban``) used to disconnect misbehaving members for a while. Every refusal is
logged with the peer id and the reason only, and counted.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import structlog
from libp2p.abc import IRawConnection, ISecureConn
from libp2p.peer.id import ID
from libp2p.security.exceptions import HandshakeFailure
from libp2p.security.noise.transport import Transport as NoiseTransport

log = structlog.get_logger("doorwatch.p2p.gate")

Admit = Callable[[str], str | None]
Direction = Literal["inbound", "outbound", "reevaluate", "dial"]


@dataclass(frozen=True, slots=True)
class GateStatus:
    """Counters for ``node.status``."""

    admitted: int
    refused: int
    refused_by_reason: dict[str, int]
    banned: list[str]


class MembershipGate:
    """Decides, and counts, whether a peer may be connected."""

    def __init__(self, admit: Admit, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._admit = admit
        self._monotonic = monotonic
        self._bans: dict[str, tuple[float, str]] = {}
        self.admitted = 0
        self.refused = 0
        self.refused_by_reason: Counter[str] = Counter()

    def reason_to_refuse(self, peer_id: str) -> str | None:
        """``None`` if ``peer_id`` may be connected now, else why not. Counts nothing."""
        ban = self._bans.get(peer_id)
        if ban is not None:
            until, reason = ban
            if self._monotonic() < until:
                return reason
            del self._bans[peer_id]
        try:
            return self._admit(peer_id)
        except Exception as exc:  # the admit callback must never open the gate
            return f"admission check failed ({type(exc).__name__})"

    def check(self, peer_id: str, direction: Direction) -> str | None:
        """Decide, then log and count a refusal."""
        reason = self.reason_to_refuse(peer_id)
        if reason is None:
            self.admitted += 1
        else:
            self.refused += 1
            self.refused_by_reason[reason] += 1
            log.warning("peer refused", peer_id=peer_id, reason=reason, direction=direction)
        return reason

    def ban(self, peer_id: str, seconds: float, reason: str) -> None:
        """Refuse ``peer_id`` for ``seconds`` whatever ``admit`` says."""
        self._bans[peer_id] = (self._monotonic() + seconds, reason)

    def unban(self, peer_id: str) -> None:
        self._bans.pop(peer_id, None)

    def status(self) -> GateStatus:
        now = self._monotonic()
        return GateStatus(
            admitted=self.admitted,
            refused=self.refused,
            refused_by_reason=dict(self.refused_by_reason),
            banned=sorted(p for p, (until, _) in self._bans.items() if until > now),
        )


class GatedNoise(NoiseTransport):
    """Noise XX that fails the handshake for peers the gate refuses."""

    def __init__(self, *args: object, gate: MembershipGate, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.gate = gate

    async def _enforce(self, conn: ISecureConn, direction: Direction) -> ISecureConn:
        peer_id = conn.get_remote_peer().to_base58()
        reason = self.gate.check(peer_id, direction)
        if reason is not None:
            await conn.close()
            raise HandshakeFailure(f"peer {peer_id} refused by the membership gate")
        return conn

    async def secure_inbound(self, conn: IRawConnection) -> ISecureConn:
        return await self._enforce(await super().secure_inbound(conn), "inbound")

    async def secure_outbound(self, conn: IRawConnection, peer_id: ID) -> ISecureConn:
        return await self._enforce(await super().secure_outbound(conn, peer_id), "outbound")
