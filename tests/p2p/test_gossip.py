"""GossipSub between real loopback hosts: delivery, validation, scoring, batching."""

from __future__ import annotations

import itertools

import pytest
import trio

from doorwatch.node._p2p_errors import PeerUnreachable
from doorwatch.node._p2p_gossip import Gossip, GossipConfig, decode_batch, encode_batch
from doorwatch.node._p2p_host import P2PHost

from .conftest import Libp2pErrors, Membership

TOPIC = "/doorwatch/net/testnet/1"


class Node:
    def __init__(self, membership: Membership, config: GossipConfig | None = None) -> None:
        self.host = P2PHost(membership.new_member(), admit=membership.admit)
        self.received: list[tuple[str, bytes]] = []
        self.arrived = trio.Event()
        self.gossip = Gossip(
            self.host, TOPIC, validate=self._validate, on_item=self._on_item, config=config
        )

    @staticmethod
    def _validate(origin: str, item: bytes) -> bool:
        return not item.startswith(b"BAD")

    async def _on_item(self, origin: str, item: bytes) -> None:
        self.received.append((origin, item))
        self.arrived.set()


async def _line(nodes: list[Node]) -> None:
    """Connect n0-n1-...-nk and wait until each sees its neighbours on the topic."""
    for left, right in itertools.pairwise(nodes):
        await right.host.connect(left.host.peer_id, left.host.listen_addrs)
    for i, node in enumerate(nodes):
        neighbours = {n.host.peer_id for n in nodes[max(0, i - 1) : i + 2] if n is not node}
        while not neighbours <= set(node.gossip.topic_peers()):
            await trio.sleep(0.05)


async def _wait_items(node: Node, count: int) -> None:
    while len(node.received) < count:
        await trio.sleep(0.02)


def test_batch_round_trip_and_malformed_batches() -> None:
    items = [b"", b"a", b"x" * 1000]
    assert decode_batch(encode_batch(items), max_item=1000) == items
    assert decode_batch(encode_batch(items), max_item=999) is None
    assert decode_batch(b"", max_item=10) is None
    assert decode_batch(b"\x02", max_item=10) is None
    assert decode_batch(encode_batch([b"abc"])[:-1], max_item=10) is None


async def test_message_reaches_every_host_through_relays(membership: Membership) -> None:
    nodes = [Node(membership) for _ in range(4)]
    with trio.fail_after(30):
        async with nodes[0].host, nodes[1].host, nodes[2].host, nodes[3].host:
            await _line(nodes)
            await nodes[0].gossip.publish(b"alert-1")
            for node in nodes[1:]:
                await _wait_items(node, 1)
                assert node.received == [(nodes[0].host.peer_id, b"alert-1")]
            assert nodes[0].received == []  # own messages are not delivered back


async def test_invalid_message_is_not_forwarded(membership: Membership) -> None:
    a, b, c = (Node(membership) for _ in range(3))
    with trio.fail_after(30):
        async with a.host, b.host, c.host:
            await _line([a, b, c])
            await a.gossip.publish(b"BAD envelope")
            while a.gossip.status().published_messages < 1:
                await trio.sleep(0.01)
            await a.gossip.publish(b"good envelope")
            await _wait_items(c, 1)
            await _wait_items(b, 1)
            await trio.sleep(0.5)
            assert b.received == [(a.host.peer_id, b"good envelope")]
            assert c.received == [(a.host.peer_id, b"good envelope")]
            assert b.gossip.status().invalid_messages == 1
            assert c.gossip.status().invalid_messages == 0  # it never saw the bad one


async def test_burst_is_batched_without_loss(membership: Membership) -> None:
    a, b = Node(membership), Node(membership)
    with trio.fail_after(30):
        async with a.host, b.host:
            await _line([a, b])
            items = [f"item-{i}".encode() for i in range(500)]
            for item in items:
                await a.gossip.publish(item)
            await _wait_items(b, len(items))
            assert [item for _, item in b.received] == items
            assert a.gossip.status().published_messages < 100


async def test_member_flooding_invalid_messages_is_disconnected(
    membership: Membership, libp2p_errors: Libp2pErrors
) -> None:
    # one item per message, so every invalid item is its own pubsub message
    config = GossipConfig(max_publish_rate=200.0, coalesce_seconds=0.0, max_batch=16)
    flooder, victim = Node(membership, config), Node(membership)
    with trio.fail_after(30):
        async with flooder.host, victim.host:
            await _line([flooder, victim])
            for i in range(120):  # more than the fifty that disconnect_score tolerates
                await flooder.gossip.publish(b"BAD %d" % i)
            while flooder.host.peer_id in victim.host.connected_peers():
                await trio.sleep(0.1)
            assert victim.gossip.status().peers_banned == 1
            assert victim.host.gate.status().banned == [flooder.host.peer_id]
            assert victim.received == []
            flooder.host.unblock(victim.host.peer_id)
            with pytest.raises(PeerUnreachable):  # the ban holds at the gate
                await flooder.host.connect(victim.host.peer_id, victim.host.listen_addrs)


async def test_failing_item_handler_does_not_stop_delivery(membership: Membership) -> None:
    a, b = Node(membership), Node(membership)
    original = b.gossip._on_item

    async def fragile(origin: str, item: bytes) -> None:
        if item == b"poison":
            raise RuntimeError("bug in the consumer")
        await original(origin, item)

    b.gossip._on_item = fragile
    with trio.fail_after(30):
        async with a.host, b.host:
            await _line([a, b])
            await a.gossip.publish(b"poison")
            await a.gossip.publish(b"fine")
            await _wait_items(b, 1)
            assert b.received == [(a.host.peer_id, b"fine")]
            assert b.gossip.status().received_items == 2
            assert b.gossip.handler_errors == 1
