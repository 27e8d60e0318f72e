"""GossipSub on one topic per network, with validation, scoring and batching.

Theory of operation. Each network has one topic. Outgoing items (envelopes,
revocation lists, presence records: opaque bytes here) go into a bounded
queue; a pump coalesces whatever is queued (up to ``max_batch`` bytes) into
ONE pubsub message and publishes at most ``max_publish_rate`` messages per
second, so py-libp2p's 32-entry per-peer outbound queues and 32-entry
subscription channel (rpc_queue.py ``OutBoundQueueSize``, pubsub.py
``SUBSCRIPTION_CHANNEL_SIZE``) and its per-forwarder rate limit never see
bursts. A batch is ``0x01 || (u32 length || item)*``.

Before py-libp2p forwards a message it runs our validator: the origin (the
signed ``from`` of the message; py-libp2p's strict signing checks it) must pass
the membership gate, the batch must decode within the caps, and the
injected ``validate(origin_peer_id, item)`` must accept every item. A batch
with one bad item is rejected whole (one origin signed all of it), is not
delivered and is not forwarded.

Scoring. py-libp2p 0.8.1 ships every score weight at 0 and every threshold
at -inf, and its scorer never disconnects anyone (pubsub/score.py). We set
the P4 (invalid messages) weight (not P5: see below), a publish
threshold below which a forwarder's messages are dropped unvalidated, and
run our own check each heartbeat: a peer whose score falls below
``disconnect_score`` is banned in the membership gate for ``ban_seconds``
and disconnected. (The ban must live in our gate: py-libp2p forgets a peer's
score when it disconnects, gossipsub.py ``remove_peer``.)
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
import trio
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, PROTOCOL_ID_V12, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.pubsub.score import ScoreParams, TopicScoreParams

from doorwatch.node._p2p_errors import GossipPayloadTooLarge
from doorwatch.node._p2p_host import P2PHost

log = structlog.get_logger("doorwatch.p2p.gossip")

Validate = Callable[[str, bytes], bool]
OnItem = Callable[[str, bytes], Awaitable[None]]

_BATCH_VERSION = 1
_U32 = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class GossipConfig:
    heartbeat_interval: int = 1  # seconds; py-libp2p's default is 120
    degree: int = 6
    degree_low: int = 4
    degree_high: int = 12
    max_item: int = 64 * 1024
    max_batch: int = 512 * 1024
    queue_items: int = 4096
    coalesce_seconds: float = 0.02  # wait this long for more items before a publish
    max_publish_rate: float = 20.0  # our own messages per second
    # py-libp2p's spam protection drops (and logs a WARNING for) messages from
    # one forwarder above this rate per topic; a relay forwards for everyone.
    max_forwarded_per_second: float = 1000.0
    invalid_message_weight: float = 1.0
    invalid_message_decay: float = 0.95  # per heartbeat
    # A member whose view lags (a certificate, a revocation or a key epoch not
    # yet synced) forwards a few messages this node refuses; a flood is
    # thousands. Fifty recent invalid messages tell the two apart.
    publish_threshold: float = -50.0
    disconnect_score: float = -50.0
    ban_seconds: float = 600.0


def encode_batch(items: list[bytes]) -> bytes:
    return bytes([_BATCH_VERSION]) + b"".join(_U32.pack(len(i)) + i for i in items)


def decode_batch(data: bytes, *, max_item: int) -> list[bytes] | None:
    """The items of a batch, or None if it is malformed or an item is too large."""
    if not data or data[0] != _BATCH_VERSION:
        return None
    items, pos, end = [], 1, len(data)
    while pos < end:
        if end - pos < _U32.size:
            return None
        (length,) = _U32.unpack_from(data, pos)
        pos += _U32.size
        if length > max_item or length > end - pos:
            return None
        items.append(data[pos : pos + length])
        pos += length
    return items if items else None


@dataclass(frozen=True, slots=True)
class GossipStatus:
    topic: str
    published_items: int
    published_messages: int
    received_items: int
    invalid_messages: int
    peers_banned: int
    topic_peers: int


class Gossip:
    """One network's topic on a ``P2PHost``. Create it before the host starts."""

    def __init__(
        self,
        host: P2PHost,
        topic: str,
        *,
        validate: Validate,
        on_item: OnItem,
        config: GossipConfig | None = None,
    ) -> None:
        self._host = host
        self.topic = topic
        self._validate = validate
        self._on_item = on_item
        self.config = cfg = config or GossipConfig()
        score = ScoreParams(
            p4_invalid_messages=TopicScoreParams(
                weight=cfg.invalid_message_weight, cap=1000.0, decay=cfg.invalid_message_decay
            ),
            # Behaviour penalties (GRAFT during backoff and the like) are off: an
            # honest member whose host is rebuilt on a join reconnects inside its
            # peers' backoff, and with them on, a growing network banned its own
            # members (bench propagation, 20 and 50 nodes). Bans are for invalid
            # messages only.
            p5_behavior_penalty_weight=0.0,
            publish_threshold=cfg.publish_threshold,
            gossip_threshold=cfg.publish_threshold,
            graylist_threshold=cfg.publish_threshold * 2,
        )
        self.router = GossipSub(
            protocols=[PROTOCOL_ID_V12, PROTOCOL_ID_V11],
            degree=cfg.degree,
            degree_low=cfg.degree_low,
            degree_high=cfg.degree_high,
            heartbeat_interval=cfg.heartbeat_interval,
            heartbeat_initial_delay=0.1,
            score_params=score,
            spam_protection_enabled=True,
            max_messages_per_topic_per_second=cfg.max_forwarded_per_second,
            # All test nodes share 127.0.0.1; venues are admitted by certificate.
            eclipse_protection_enabled=False,
            # "Adaptive gossip" moves the mesh degree bounds with a health score
            # every heartbeat; on a busy 50-venue network it swung them up and down,
            # every swing a round of GRAFT and PRUNE (and GRAFTs inside the prune
            # back-off: "GRAFT flood detected"). Fixed bounds keep the mesh still.
            adaptive_gossip_enabled=False,
        )
        self.pubsub = Pubsub(host.libp2p, self.router, strict_signing=True)
        host.add_service(self.pubsub)
        host.add_service(self.router)
        host.add_task(self._run)
        self._send, self._receive = trio.open_memory_channel[bytes](cfg.queue_items)
        self._self_id = host.peer_id
        self.published_items = 0
        self.published_messages = 0
        self.received_items = 0
        self.invalid_messages = 0
        self.peers_banned = 0
        self.handler_errors = 0
        self._subscribed = trio.Event()

    # -- API -------------------------------------------------------------------------

    async def publish(self, item: bytes) -> None:
        """Queue ``item`` for gossip; waits while the queue is full (back-pressure)."""
        self._check_size(item)
        await self._send.send(item)

    def publish_nowait(self, item: bytes) -> bool:
        """Queue ``item``; False (nothing queued) if the queue is full."""
        self._check_size(item)
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            return False
        return True

    def topic_peers(self) -> list[str]:
        """Peers known to be subscribed to this topic."""
        return sorted(p.to_base58() for p in self.pubsub.peer_topics.get(self.topic, ()))

    def mesh_peers(self) -> list[str]:
        return sorted(p.to_base58() for p in self.router.mesh.get(self.topic, ()))

    def score(self, peer_id: str) -> float:
        scorer = self.router.scorer
        return 0.0 if scorer is None else scorer.score(ID.from_base58(peer_id), [self.topic])

    async def wait_subscribed(self) -> None:
        await self._subscribed.wait()

    def status(self) -> GossipStatus:
        return GossipStatus(
            topic=self.topic,
            published_items=self.published_items,
            published_messages=self.published_messages,
            received_items=self.received_items,
            invalid_messages=self.invalid_messages,
            peers_banned=self.peers_banned,
            topic_peers=len(self.pubsub.peer_topics.get(self.topic, ())),
        )

    # -- internals ---------------------------------------------------------------------

    def _check_size(self, item: bytes) -> None:
        cap = min(self.config.max_item, self.config.max_batch - 1 - _U32.size)
        if len(item) > cap:
            raise GossipPayloadTooLarge(len(item), cap)

    def _validator(self, forwarder: ID, msg: rpc_pb2.Message) -> bool:
        try:
            origin = ID(msg.from_id).to_base58()
        except Exception:
            self.invalid_messages += 1
            return False
        if origin == self._self_id:
            return True
        if self._host.gate.reason_to_refuse(origin) is not None:
            self.invalid_messages += 1
            return False
        items = decode_batch(msg.data, max_item=self.config.max_item)
        ok = items is not None
        if items is not None:
            try:
                ok = all(self._validate(origin, item) for item in items)
            except Exception as exc:  # a validator bug rejects, it does not crash
                log.warning("gossip validator failed", error=type(exc).__name__)
                ok = False
        if not ok:
            self.invalid_messages += 1
            # Peer ids only: the payload never goes in a log line.
            log.warning("invalid gossip rejected", origin=origin, forwarder=forwarder.to_base58())
        return ok

    async def _run(self) -> None:
        self.pubsub.set_topic_validator(self.topic, self._validator, False)
        await self.pubsub.wait_until_ready()
        subscription = await self.pubsub.subscribe(self.topic)
        self._subscribed.set()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pump)
            nursery.start_soon(self._police)
            while True:
                msg = await subscription.get()
                origin = ID(msg.from_id).to_base58()
                if origin == self._self_id:
                    continue
                items = decode_batch(msg.data, max_item=self.config.max_item) or []
                for item in items:
                    self.received_items += 1
                    try:
                        await self._on_item(origin, item)
                    except Exception as exc:  # one bad item must not stop the node's gossip
                        self.handler_errors += 1
                        log.warning("gossip item handler failed", error=type(exc).__name__)

    async def _pump(self) -> None:
        cfg = self.config
        interval = 1.0 / cfg.max_publish_rate
        pending: bytes | None = None
        while True:
            first = pending if pending is not None else await self._receive.receive()
            pending = None
            batch, size = [first], 1 + _U32.size + len(first)
            deadline = trio.current_time() + cfg.coalesce_seconds
            with trio.move_on_at(deadline):
                while True:
                    item = await self._receive.receive()
                    if size + _U32.size + len(item) > cfg.max_batch:
                        pending = item
                        break
                    batch.append(item)
                    size += _U32.size + len(item)
            while pending is None and size < cfg.max_batch:
                try:
                    item = self._receive.receive_nowait()
                except trio.WouldBlock:
                    break
                if size + _U32.size + len(item) > cfg.max_batch:
                    pending = item
                    break
                batch.append(item)
                size += _U32.size + len(item)
            await self.pubsub.publish(self.topic, encode_batch(batch))
            self.published_items += len(batch)
            self.published_messages += 1
            await trio.sleep(interval)

    async def _police(self) -> None:
        cfg = self.config
        while True:
            await trio.sleep(cfg.heartbeat_interval)
            scorer = self.router.scorer
            if scorer is None:
                continue
            for peer in list(self.pubsub.peers):
                if scorer.score(peer, [self.topic]) < cfg.disconnect_score:
                    peer_id = peer.to_base58()
                    self._host.gate.ban(peer_id, cfg.ban_seconds, "gossip score too low")
                    self.peers_banned += 1
                    log.warning("peer banned for invalid gossip", peer_id=peer_id)
                    await self._host.drop(peer_id)
