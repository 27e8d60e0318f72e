"""Errors of the peer-to-peer layer. libp2p and trio exceptions are mapped to
these once, where they are caught (``_p2p_streams``, ``_p2p_host``); nothing
above this layer sees a libp2p exception.

Messages name the peer (its public peer id) and the rule, never a payload.
"""

from __future__ import annotations

from doorwatch.node._errors import NodeError


class P2PError(NodeError):
    """Base class of every peer-to-peer error."""


class InvalidAddress(P2PError):
    def __init__(self, field: str) -> None:
        super().__init__(f"{field}: not a valid TCP multiaddr (e.g. /ip4/127.0.0.1/tcp/4001)")


class PeerUnreachable(P2PError):
    """No connection to the peer could be made (or it was refused)."""

    def __init__(self, peer_id: str, why: str = "no address answered") -> None:
        self.peer_id = peer_id
        super().__init__(f"peer {peer_id} is unreachable: {why}")


class PeerRefused(PeerUnreachable):
    """Our own membership gate refuses this peer; nothing was sent."""

    def __init__(self, peer_id: str, reason: str) -> None:
        super().__init__(peer_id, f"refused by the membership gate ({reason})")
        self.reason = reason


class RequestTimeout(P2PError):
    def __init__(self, peer_id: str, protocol: str, seconds: float) -> None:
        self.peer_id = peer_id
        super().__init__(f"{protocol} request to {peer_id} timed out after {seconds:g} s")


class FrameTooLarge(P2PError):
    """A frame is over its cap (``cap`` None: the peer refused ours as too large)."""

    def __init__(self, what: str, announced: int, cap: int | None) -> None:
        self.announced = announced
        self.cap = cap
        if cap is None:
            super().__init__(f"{what}: the peer refused a frame of {announced} bytes as too large")
        else:
            super().__init__(f"{what}: frame of {announced} bytes exceeds the cap of {cap} bytes")


class RemoteClosed(P2PError):
    """The peer closed or reset the stream before a complete answer."""

    def __init__(self, peer_id: str, protocol: str) -> None:
        self.peer_id = peer_id
        super().__init__(f"{protocol}: {peer_id} closed the stream before a complete answer")


class RemoteError(P2PError):
    """The peer's handler failed; it answered with an error frame."""

    def __init__(self, peer_id: str, protocol: str, message: str) -> None:
        self.peer_id = peer_id
        self.remote_message = message
        super().__init__(f"{protocol}: {peer_id} answered with an error: {message}")


class GossipPayloadTooLarge(P2PError):
    def __init__(self, size: int, cap: int) -> None:
        super().__init__(f"gossip item: {size} bytes exceeds the cap of {cap} bytes")
