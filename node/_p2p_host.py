"""The node's libp2p host: identity, transport, security, muxer, lifecycle.

Theory of operation. ``P2PHost`` builds a py-libp2p ``BasicHost`` whose key
pair is the node's Ed25519 identity (so the libp2p peer id is
``identity.peer_id``), listening on TCP, with ``GatedNoise`` as the ONLY
security transport (py-libp2p's default also offers TLS, SECIO and plaintext)
and yamux as the only stream muxer. libp2p's auto-connector is switched off:
it redials whatever is in the peerstore (including refused peers) on its own
schedule; the node's ``Dialer`` owns connections instead.

Lifecycle (``async with host:``): py-libp2p services registered by other
layers (Pubsub, GossipSub) start first, then ``BasicHost.run`` listens (an
address it could not listen on is ``ListenFailed``, with the OS's reason:
py-libp2p itself carries on without that listener), then the background
tasks (gossip pump, dialer) start in a nursery. On exit the
tasks are cancelled, ``host.close()`` runs (shielded) while still inside
``BasicHost.run`` (leaving ``run`` without it leaves connections and tasks
behind), then the services stop.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from types import TracebackType
from typing import Any, cast

import multiaddr
import structlog
import trio
from libp2p import new_host
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import Ed25519PrivateKey
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.network.config import ConnectionConfig, RetryConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.tools.anyio_service import background_trio_service

from doorwatch.crypto import NodeIdentity
from doorwatch.node._p2p_errors import InvalidAddress, P2PError, PeerRefused, PeerUnreachable
from doorwatch.node._p2p_gate import Admit, GatedNoise, MembershipGate
from doorwatch.node._p2p_logging import route_libp2p_logging
from doorwatch.node._p2p_tuning import apply as apply_libp2p_tuning


@functools.lru_cache(maxsize=4096)
def _peer_id(peer_id: str) -> ID:
    # Parsing a peer id (base58 and multihash, in Python) is dear next to a dict
    # look-up, and the dialer asks about every member several times a second.
    return ID.from_base58(peer_id)


log = structlog.get_logger("doorwatch.p2p")

DEFAULT_LISTEN = ("/ip4/127.0.0.1/tcp/0",)


def _connection_config() -> ConnectionConfig:
    # Two py-libp2p 0.8.1 defaults a long-running daemon cannot live with:
    # - Stream protocol negotiation is capped at 10 s whatever the caller's own
    #   timeout (network/config.py), so on a loaded machine a request given 20 s
    #   failed after 10 as "could not open a ... stream" (a 50-venue network
    #   could not form). Above our longest request timeout (60 s), ours govern.
    # - The swarm's inbound-connection limiter has max_connections -
    #   min_connections (250) slots and frees none while the host runs
    #   (swarm.py), so after 250 inbound connections in the life of the process
    #   (peers restarting, redialing) every new one was refused. The resource
    #   manager's caps (1,000 connections, 256 established inbound) still apply.
    return ConnectionConfig(
        max_connections=1_000_000,
        inbound_stream_protocol_negotiation_timeout=30.0,
        outbound_stream_protocol_negotiation_timeout=60.0,
    )


# How long a peer's addresses stay in libp2p's peerstore after we add them.
_ADDR_TTL = 3600
# What py-libp2p lets escape from connect/disconnect; mapped to our errors here.
_FOREIGN = (BaseLibp2pError, OSError, trio.BrokenResourceError, trio.ClosedResourceError)


def parse_multiaddr(text: str, field: str = "multiaddr") -> multiaddr.Multiaddr:
    """A TCP multiaddr from text, or ``InvalidAddress`` naming ``field``."""
    try:
        addr = multiaddr.Multiaddr(text)
        protocols = {p.name for p in addr.protocols()}
    except Exception as exc:  # multiaddr raises several unrelated types
        raise InvalidAddress(field) from exc
    if "tcp" not in protocols:
        raise InvalidAddress(field)
    return addr


class ListenFailed(P2PError):
    """The host could not listen on one of its listen addresses: the node does not start."""

    def __init__(self, addr: str, why: str) -> None:
        self.addr = addr
        super().__init__(f"listen: cannot listen on {addr}: {why}")


def listen_failure(addr: multiaddr.Multiaddr) -> str:
    """Why the OS refuses to listen on ``addr`` (py-libp2p logs the reason only at
    DEBUG and reports a bare failure): bind a socket the same way to find out."""
    protocols = {p.name for p in addr.protocols()}
    family = socket.AF_INET6 if "ip6" in protocols else socket.AF_INET
    try:
        host = addr.value_for_protocol("ip6" if family == socket.AF_INET6 else "ip4")
        port = int(addr.value_for_protocol("tcp"))
    except Exception:  # a DNS name or another form we cannot bind here
        return "the address cannot be listened on (use /ip4/... or /ip6/...)"
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        reason = exc.strerror or os.strerror(exc.errno or errno.EINVAL)
        if exc.errno == errno.EADDRNOTAVAIL:
            reason += " (this machine has no such address)"
        return reason
    return "the listener could not start"


def key_pair_from_identity(identity: NodeIdentity) -> KeyPair:
    """The libp2p key pair of a node identity (same Ed25519 seed)."""
    private = Ed25519PrivateKey.from_bytes(identity.to_seed())
    return KeyPair(private, private.get_public_key())


class P2PHost:
    """A running-or-not libp2p host for one node identity."""

    def __init__(
        self,
        identity: NodeIdentity,
        *,
        admit: Admit,
        listen: Sequence[str] = DEFAULT_LISTEN,
        route_logging: bool = True,
    ) -> None:
        if route_logging:
            route_libp2p_logging()
        apply_libp2p_tuning()
        self.identity = identity
        self.peer_id = identity.peer_id
        self.gate = MembershipGate(admit)
        self._listen = [parse_multiaddr(a, "listen") for a in listen]
        key_pair = key_pair_from_identity(identity)
        noise = GatedNoise(
            key_pair, noise_privkey=new_x25519_key_pair().private_key, gate=self.gate
        )
        self._host: IHost = new_host(
            key_pair=key_pair,
            sec_opt={TProtocol(NOISE_PROTOCOL_ID): noise},
            muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
            connection_config=_connection_config(),
        )
        if self._host.get_id().to_base58() != identity.peer_id:
            raise AssertionError("libp2p derived a different peer id from the node key")
        _disable_auto_connector(self._host)
        # One attempt per address per dial: retries and backoff are the Dialer's.
        # (libp2p's default retries 3 times inside one dial_peer, swarm.py _dial_with_retry.)
        cast(Any, self._host.get_network()).retry_config = RetryConfig(max_retries=0)
        self._services: list[Any] = []
        self._tasks: list[Callable[[], Awaitable[None]]] = []
        self._cm: AbstractAsyncContextManager[P2PHost] | None = None
        self.running = False

    # -- composition (before start) ------------------------------------------------

    @property
    def libp2p(self) -> IHost:
        """The underlying py-libp2p host (for the other _p2p_ modules)."""
        return self._host

    def add_service(self, service: Any) -> None:
        """A py-libp2p ``Service`` (Pubsub, GossipSub) to start before listening."""
        if self.running:
            raise RuntimeError("services must be added before the host starts")
        self._services.append(service)

    def add_task(self, task: Callable[[], Awaitable[None]]) -> None:
        """A background task run while the host runs, cancelled on stop."""
        if self.running:
            raise RuntimeError("tasks must be added before the host starts")
        self._tasks.append(task)

    # -- lifecycle ---------------------------------------------------------------

    @asynccontextmanager
    async def _run(self) -> AsyncIterator[P2PHost]:
        failed: ListenFailed | None = None
        async with AsyncExitStack() as stack:
            for service in self._services:
                await stack.enter_async_context(background_trio_service(service))
            async with self._host.run(self._listen):
                try:
                    failed = self._listen_failure()
                    if failed is None:
                        async with trio.open_nursery() as nursery:
                            for task in self._tasks:
                                nursery.start_soon(task)
                            self.running = True
                            log.info(
                                "p2p host listening", peer_id=self.peer_id, addrs=self.listen_addrs
                            )
                            try:
                                yield self
                            finally:
                                self.running = False
                                nursery.cancel_scope.cancel()
                finally:
                    with trio.CancelScope(shield=True):
                        await self._host.close()
        if failed is not None:
            # Raised here, outside py-libp2p's service nurseries, so that callers
            # get the error itself rather than an exception group around it.
            raise failed

    def _listen_failure(self) -> ListenFailed | None:
        # BasicHost.run carries on when a listen address fails (swarm.listen
        # only logs it at DEBUG): the node would run with no listener.
        listening = set(cast(Any, self._host.get_network()).listeners)
        for addr in self._listen:
            if str(addr) not in listening:
                return ListenFailed(str(addr), listen_failure(addr))
        return None

    async def __aenter__(self) -> P2PHost:
        if self._cm is not None:
            raise RuntimeError("a P2PHost runs once")
        self._cm = self._run()
        return await self._cm.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._cm is not None
        return await self._cm.__aexit__(exc_type, exc, tb)

    # -- state ---------------------------------------------------------------------

    @property
    def listen_addrs(self) -> list[str]:
        """The actual listen addresses (port 0 resolved), without /p2p/."""
        return [str(a) for a in self._host.get_transport_addrs()]

    def connected_peers(self) -> list[str]:
        network = self._host.get_network()
        return sorted(
            p.to_base58()
            for p, conns in network.connections.items()
            if any(not c.is_closed for c in conns)
        )

    def is_connected(self, peer_id: str) -> bool:
        conns = self._host.get_network().connections.get(_peer_id(peer_id), [])
        return any(not c.is_closed for c in conns)

    # -- connections -----------------------------------------------------------------

    def add_addrs(self, peer_id: str, addrs: Sequence[str]) -> None:
        parsed = [parse_multiaddr(a, "addrs") for a in addrs]
        self._host.get_peerstore().add_addrs(_peer_id(peer_id), parsed, _ADDR_TTL)

    def unblock(self, peer_id: str) -> None:
        """Lift libp2p's 60 s negative dial cache for ``peer_id`` (swarm.py)."""
        swarm = self._host.get_network()
        unblock = getattr(swarm, "unblock_peer", None)
        if unblock is not None:
            unblock(_peer_id(peer_id))

    async def connect(self, peer_id: str, addrs: Sequence[str] = ()) -> None:
        """Make sure a connection to ``peer_id`` is up (dialing ``addrs`` if needed).

        Raises ``PeerRefused`` (our gate refuses it; nothing is dialed) or
        ``PeerUnreachable``.
        """
        reason = self.gate.reason_to_refuse(peer_id)
        if reason is not None:
            raise PeerRefused(peer_id, reason)
        pid = _peer_id(peer_id)
        parsed = [parse_multiaddr(a, "addrs") for a in addrs]
        try:
            await self._host.connect(PeerInfo(pid, parsed))
        except _FOREIGN as exc:
            raise PeerUnreachable(peer_id, type(exc).__name__) from exc
        if not self.is_connected(peer_id):
            raise PeerUnreachable(peer_id, "the connection closed during set-up")

    async def drop(self, peer_id: str) -> None:
        """Close every connection to ``peer_id`` (it may reconnect if admitted)."""
        try:
            await self._host.disconnect(_peer_id(peer_id))
        except _FOREIGN:
            log.debug("error while dropping a peer", peer_id=peer_id)

    async def reevaluate(self) -> list[str]:
        """Ask the gate again about every connected peer; drop the refused ones.

        Call it after the membership (certificates, revocation list) changed.
        Returns the peer ids dropped.
        """
        dropped = []
        for peer_id in self.connected_peers():
            if self.gate.check(peer_id, "reevaluate") is not None:
                await self.drop(peer_id)
                dropped.append(peer_id)
        return dropped


def _disable_auto_connector(host: IHost) -> None:
    """py-libp2p's AutoConnector dials peerstore peers every 10-30 s while the
    node has fewer than 50 connections (network/auto_connector.py); in a closed
    network that means redialing refused peers. There is no switch, so its
    ``maybe_connect`` is replaced on this instance by a no-op."""
    swarm = host.get_network()
    connector = getattr(swarm, "auto_connector", None)
    if connector is None:
        return

    async def _no_auto_connect() -> None:
        return None

    cast(Any, connector).maybe_connect = _no_auto_connect
