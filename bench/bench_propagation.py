"""Propagation of a new alert to every node of an N-node loopback network of daemons.

N real daemons (separate processes on 127.0.0.1) form one network. Each
repeat creates one alert at a random node over its socket and measures the
time until every other node counts it among its received active alerts (one
polling thread per node, every 10 ms, so figures include up to ~10 ms of
polling and the socket round trip).

    python -m bench propagation [--nodes 5] [--repeats 20] [--seed 1]
    python -m bench propagation --nodes 50      # the issue's figure (about 4 GB of RAM)
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.bench_catchup import call, document, form_network
from doorwatch.node.testing import Daemon


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _rss_mib(node: Daemon) -> float:
    assert node.proc is not None
    try:
        with open(f"/proc/{node.proc.pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _wait_count(node: Daemon, target: int, arrivals: list[float], timeout: float) -> None:
    client = node.client()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            counts = client.result("node.status")["counts"]  # type: ignore[index]
            if counts["alerts_received_active"] >= target:
                arrivals.append(time.perf_counter())
                return
            time.sleep(0.01)
    finally:
        client.close()
        node.clients.remove(client)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench propagation")
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        nodes = form_network(Path(tmp), args.nodes)
        print(f"{args.nodes} daemons formed one network in {time.perf_counter() - t0:.1f} s")
        expected = [0] * len(nodes)
        latencies: list[float] = []
        missing = 0
        try:
            for r in range(args.repeats):
                origin = rng.randrange(len(nodes))
                others = [i for i in range(len(nodes)) if i != origin]
                arrivals: dict[int, list[float]] = {i: [] for i in others}
                for i in others:
                    expected[i] += 1
                threads = [
                    threading.Thread(
                        target=_wait_count,
                        args=(nodes[i], expected[i], arrivals[i], args.timeout),
                    )
                    for i in others
                ]
                for t in threads:
                    t.start()
                start = time.perf_counter()
                call(
                    nodes[origin],
                    "alert.create",
                    document=document(1_000_000 + r),
                    category="theft",
                    reason="bench",
                )
                for t in threads:
                    t.join()
                for i in others:
                    if arrivals[i]:
                        latencies.append(arrivals[i][0] - start)
                    else:
                        missing += 1
            rss = [_rss_mib(n) for n in nodes]
        finally:
            for node in nodes:
                if node.proc is not None:
                    node.stop(signal.SIGTERM)
    ms = [x * 1000 for x in latencies]
    print(
        f"nodes={args.nodes} repeats={args.repeats} deliveries={len(ms)} missing={missing}\n"
        f"alert.create to received at every other node: p50 {_pct(ms, 0.5):.0f} ms, "
        f"p99 {_pct(ms, 0.99):.0f} ms, max {max(ms):.0f} ms, mean {statistics.mean(ms):.0f} ms\n"
        f"RSS per daemon: median {statistics.median(rss):.0f} MiB, max {max(rss):.0f} MiB"
    )
