"""Propagation of a new alert to every node of an N-node loopback network of daemons.

N real daemons (separate ``doorwatch run`` processes on 127.0.0.1) form one
network (``bench._daemons.network``: set-up time printed apart, phase by
phase). Each repeat creates one alert at a random node over its socket and
measures the time from just before ``alert.create`` until every other node has
committed it: each daemon logs ``alerts.received`` with the alert's id and a
microsecond UTC timestamp the moment the gossiped alert is stored and matched
against, and the bench reads the logs (same machine, same clock), so measuring
costs the daemons nothing and adds no polling interval. At the end each node's
``node.status`` count is checked against the number of alerts it should hold.

    python -m bench propagation                       # 50 nodes, 50 alerts (set-up: minutes)
    python -m bench propagation --nodes 5 --repeats 5 # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import random
import statistics
import tempfile
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


class _LogTail:
    """The ``alerts.received`` lines a daemon's log gains, read from where it was left."""

    def __init__(self, node: Node) -> None:
        self.path = node.daemon.log_path
        self.offset = self.path.stat().st_size
        self.partial = b""

    def arrivals(self) -> dict[str, float]:
        """Alert id -> Unix time the daemon logged it stored, for lines new since last call."""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        out: dict[str, float] = {}
        for line in lines:
            if b'"alerts.received"' not in line:
                continue
            try:  # the daemon's stderr shares the file: skip what is not its JSON log
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict) or event.get("event") != "alerts.received":
                continue
            at = dt.datetime.fromisoformat(event["timestamp"]).timestamp()
            for alert_id in event["alert_ids"]:
                out.setdefault(alert_id, at)
        return out


def _arrivals(tails: dict[int, _LogTail], alert_id: str, timeout: float) -> dict[int, float]:
    """Node index -> Unix time each node logged ``alert_id`` stored (those within timeout)."""
    deadline = time.monotonic() + timeout
    got: dict[int, float] = {}
    while True:
        for i, tail in tails.items():
            if i in got:
                continue  # its log is not read again for this alert
            at = tail.arrivals().get(alert_id)
            if at is not None:
                got[i] = at
        if len(got) == len(tails) or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def _daemon_cpu(nodes: list[Node], seconds: float) -> float:
    """Cores the daemons use together, measured over ``seconds`` of wall time."""
    before = sum(cpu_seconds(n.pid) for n in nodes)
    time.sleep(seconds)
    return (sum(cpu_seconds(n.pid) for n in nodes) - before) / seconds


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench propagation")
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30.0)
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
    latencies: list[float] = []  # every delivery
    last: list[float] = []  # the slowest node of each alert
    missing = 0
    busy_cpu = busy_wall = 0.0
    originated = [0] * len(nodes)
    loop_cpu0, loop_wall0 = sum(cpu_seconds(n.pid) for n in nodes), time.perf_counter()
    for r in range(args.repeats):
        origin = rng.randrange(len(nodes))
        originated[origin] += 1
        tails = {i: _LogTail(nodes[i]) for i in range(len(nodes)) if i != origin}
        cpu0 = sum(cpu_seconds(n.pid) for n in nodes)
        wall0 = time.perf_counter()
        start = time.time()
        made = nodes[origin].call(
            "alert.create",
            document=document(1_000_000 + r),
            category="theft",
            reason="bench",
        )
        got = _arrivals(tails, made["alert_id"], args.timeout)
        busy_wall += time.perf_counter() - wall0
        busy_cpu += sum(cpu_seconds(n.pid) for n in nodes) - cpu0
        delays = [at - start for at in got.values()]
        missing += len(tails) - len(delays)
        latencies.extend(delays)
        if len(delays) == len(tails):
            last.append(max(delays))
        time.sleep(0.5)
    loop_cpu = sum(cpu_seconds(n.pid) for n in nodes) - loop_cpu0
    loop_wall = time.perf_counter() - loop_wall0
    # What one alert costs the network, over the idle baseline (the pauses included).
    per_alert = (loop_cpu - idle * loop_wall) / args.repeats
    # The logs against each node's own count: every alert not its own, received.
    short = [n.venue for i, n in enumerate(nodes) if n.received() != args.repeats - originated[i]]
    rss = [n.rss_mib() for n in nodes]
    load = load_average()
    ms = [x * 1000 for x in latencies]
    last_ms = [x * 1000 for x in last]
    agree = "yes" if not short else "NO: " + ", ".join(short)
    print(
        f"nodes={args.nodes} repeats={args.repeats} deliveries={len(ms)} missing={missing}; "
        f"every node.status count as expected: {agree}"
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
    # The target is about the whole network: the time until EVERY node has the alert.
    ok = last_ms and pct(last_ms, 0.99) < 2000 and not missing and not short
    print(f"target p99 < 2 s until every node has it: {'meets' if ok else 'MISSES'}")
    print(
        f"daemons during measurement: {busy_cpu / max(busy_wall, 1e-9):.2f} "
        f"cores; load average after {load}"
    )
    print(
        f"CPU one alert costs the network over idle: {per_alert:.2f} s "
        f"({per_alert / max(args.nodes - 1, 1) * 1000:.1f} ms per receiving node)"
    )
    print(f"RSS per daemon: median {statistics.median(rss):.0f} MiB, max {max(rss):.0f} MiB")
