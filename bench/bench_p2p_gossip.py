"""Gossip propagation on an in-process loopback network of N hosts.

Every host runs a real py-libp2p host (TCP on 127.0.0.1, Noise, yamux,
GossipSub with the node's settings) and connects to a few others (a ring
plus random chords, so messages need relays). Each repeat publishes one item
from a random host and measures the time until every other host has it.

    python -m bench p2p_gossip [--hosts N] [--repeats R] [--degree D] [--seed S]
    python -m bench p2p_gossip --hosts 50
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import time

import trio

from doorwatch.crypto import NodeIdentity
from doorwatch.node._p2p_gossip import Gossip
from doorwatch.node._p2p_host import P2PHost

TOPIC = "/doorwatch/net/bench/1"


def _rss_kib() -> int:
    """Current resident set size (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class _Node:
    def __init__(
        self, identity: NodeIdentity, members: set[str], arrivals: dict[bytes, list[float]]
    ) -> None:
        self.host = P2PHost(identity, admit=lambda p: None if p in members else "no certificate")
        self._arrivals = arrivals
        self.gossip = Gossip(self.host, TOPIC, validate=lambda o, i: True, on_item=self._on_item)

    async def _on_item(self, origin: str, item: bytes) -> None:
        self._arrivals.setdefault(item, []).append(time.perf_counter())


async def _run(hosts: int, repeats: int, degree: int, seed: int) -> None:
    rng = random.Random(seed)
    identities = [NodeIdentity.generate() for _ in range(hosts)]
    members = {i.peer_id for i in identities}
    arrivals: dict[bytes, list[float]] = {}
    rss_before = _rss_kib()
    nodes = [_Node(i, members, arrivals) for i in identities]
    edges = {(i, (i + 1) % hosts) for i in range(hosts)}
    while len(edges) < hosts * degree // 2:
        a, b = rng.sample(range(hosts), 2)
        if (b, a) not in edges:
            edges.add((a, b))
    setup = time.perf_counter()
    async with trio.open_nursery() as nursery:
        started = 0
        stop = trio.Event()

        async def run_node(node: _Node) -> None:
            nonlocal started
            async with node.host:
                started += 1
                await stop.wait()

        for node in nodes:
            nursery.start_soon(run_node, node)
        while started < hosts:
            await trio.sleep(0.05)
        # Every dial costs >= 250 ms in py-libp2p 0.8.1 (happy-eyeballs wait), so dial in parallel.
        async with trio.open_nursery() as dials:
            for a, b in sorted(edges):
                dials.start_soon(
                    nodes[a].host.connect, nodes[b].host.peer_id, nodes[b].host.listen_addrs
                )
        for node in nodes:
            while not node.gossip.topic_peers():
                await trio.sleep(0.05)
        await trio.sleep(2.5)  # let the meshes settle over a few heartbeats
        rss_after = _rss_kib()
        print(
            f"{hosts} hosts, {len(edges)} links, set-up {time.perf_counter() - setup:.1f} s, "
            f"RSS growth {(rss_after - rss_before) / hosts / 1024:.1f} MiB per host"
        )
        last: list[float] = []
        each: list[float] = []
        missing = 0
        for r in range(repeats):
            item = b"bench-%d" % r
            origin = rng.choice(nodes)
            t0 = time.perf_counter()
            await origin.gossip.publish(item)
            with trio.move_on_after(10):
                while len(arrivals.get(item, ())) < hosts - 1:
                    await trio.sleep(0.001)
            got = arrivals.get(item, [])
            missing += hosts - 1 - len(got)
            if got:
                each.extend(t - t0 for t in got)
                last.append(max(got) - t0)
            await trio.sleep(0.05)
        stop.set()
    ms = 1000.0
    print(
        f"time until every host has the item: p50 {_pct(last, 0.5) * ms:.1f} ms, "
        f"p99 {_pct(last, 0.99) * ms:.1f} ms, max {max(last) * ms:.1f} ms over {len(last)} repeats"
    )
    print(
        f"per-host delivery: mean {statistics.fmean(each) * ms:.1f} ms, "
        f"p99 {_pct(each, 0.99) * ms:.1f} ms; deliveries missing: {missing}"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench p2p_gossip", description=__doc__)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--degree", type=int, default=4, help="average links per host")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    trio.run(_run, args.hosts, args.repeats, args.degree, args.seed)
