"""Propagation of a new alert to every node of an N-node loopback network of daemons.

N real daemons (separate ``doorwatch run`` processes on 127.0.0.1) form one
network (``bench._daemons.network``: set-up time printed apart, phase by
phase). Each repeat creates one alert at a random node over its socket and
measures the time until every other node counts it among its received active
alerts: one polling thread per node calls ``node.status`` every ``--poll-ms``
over a logged-in socket client, so a figure includes up to one poll interval
and the socket round trip. Polling itself costs the daemons CPU (printed).

    python -m bench propagation                       # 50 nodes, 20 alerts (set-up: minutes)
    python -m bench propagation --nodes 5 --repeats 5 # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench._daemons import (
    Formed,
    Node,
    cpu_seconds,
    document,
    load_average,
    network,
    pct,
)


def _wait_count(
    node: Node, target: int, start: threading.Event, out: list[float], timeout: float, poll: float
) -> None:
    start.wait()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.received() >= target:
            out.append(time.perf_counter())
            return
        time.sleep(poll)


def _daemon_cpu(nodes: list[Node], seconds: float) -> float:
    """Cores the daemons use together, measured over ``seconds`` of wall time."""
    before = sum(cpu_seconds(n.pid) for n in nodes)
    time.sleep(seconds)
    return (sum(cpu_seconds(n.pid) for n in nodes) - before) / seconds


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench propagation")
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--poll-ms", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=4, help="nodes joining at a time")
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds to wait after forming, before measuring"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="make the nodes (and keep their logs) in this new directory",
    )
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    print(f"load average before: {load_average()}", flush=True)
    with (
        contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory()
    ) as tmp:
        if args.keep:
            args.keep.mkdir(parents=True)
        with network(Path(tmp), args.nodes, workers=args.workers) as formed:
            _measure(args, rng, formed)


def _measure(args: argparse.Namespace, rng: random.Random, formed: Formed) -> None:
    nodes = formed.nodes
    print(formed.describe(), flush=True)
    time.sleep(args.settle)  # let the gossip meshes settle over a few heartbeats
    idle = _daemon_cpu(nodes, 5.0)
    print(f"daemons idle: {idle:.2f} cores together; load average {load_average()}")
    expected = [0] * len(nodes)
    latencies: list[float] = []  # every delivery
    last: list[float] = []  # the slowest node of each alert
    missing = 0
    busy_cpu = busy_wall = 0.0
    for r in range(args.repeats):
        origin = rng.randrange(len(nodes))
        others = [i for i in range(len(nodes)) if i != origin]
        arrivals: dict[int, list[float]] = {i: [] for i in others}
        go = threading.Event()
        threads = []
        for i in others:
            expected[i] += 1
            threads.append(
                threading.Thread(
                    target=_wait_count,
                    args=(
                        nodes[i],
                        expected[i],
                        go,
                        arrivals[i],
                        args.timeout,
                        args.poll_ms / 1000,
                    ),
                )
            )
        for t in threads:
            t.start()
        cpu0 = sum(cpu_seconds(n.pid) for n in nodes)
        start = time.perf_counter()
        go.set()
        nodes[origin].call(
            "alert.create",
            document=document(1_000_000 + r),
            category="theft",
            reason="bench",
        )
        for t in threads:
            t.join()
        busy_wall += time.perf_counter() - start
        busy_cpu += sum(cpu_seconds(n.pid) for n in nodes) - cpu0
        got = [arrivals[i][0] - start for i in others if arrivals[i]]
        missing += len(others) - len(got)
        latencies.extend(got)
        if len(got) == len(others):
            last.append(max(got))
        time.sleep(0.5)
    rss = [n.rss_mib() for n in nodes]
    load = load_average()
    ms = [x * 1000 for x in latencies]
    last_ms = [x * 1000 for x in last]
    print(
        f"nodes={args.nodes} repeats={args.repeats} deliveries={len(ms)} missing={missing} "
        f"poll={args.poll_ms:.0f} ms"
    )
    print(
        f"alert.create to received, each delivery: p50 {pct(ms, 0.5):.0f} ms, "
        f"p99 {pct(ms, 0.99):.0f} ms, max {max(ms):.0f} ms, mean {statistics.mean(ms):.0f} ms"
    )
    if last_ms:
        print(
            f"until EVERY node has it (per alert): p50 {pct(last_ms, 0.5):.0f} ms, "
            f"p99 {pct(last_ms, 0.99):.0f} ms, max {max(last_ms):.0f} ms "
            f"over {len(last_ms)} alerts"
        )
    verdict = "meets" if ms and pct(ms, 0.99) < 2000 and not missing else "MISSES"
    print(f"target p99 < 2 s: {verdict}")
    print(
        f"daemons during measurement (polling included): {busy_cpu / max(busy_wall, 1e-9):.2f} "
        f"cores; load average after {load}"
    )
    print(f"RSS per daemon: median {statistics.median(rss):.0f} MiB, max {max(rss):.0f} MiB")
