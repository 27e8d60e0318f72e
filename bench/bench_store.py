"""Durable writes per second through the node's store (group commit, synchronous=FULL).

Usage: python -m bench store [--writes N] [--concurrency C]
Each write is one audit-log row, acknowledged only after its transaction
commits; C tasks write concurrently, as scans arriving at once would.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import trio

from doorwatch.node._audit import record
from doorwatch.node._store import AsyncStore


async def _run(path: Path, writes: int, concurrency: int) -> tuple[float, int, list[float]]:
    latencies: list[float] = []
    async with AsyncStore.open(path) as store:
        per_task = writes // concurrency

        async def writer(k: int) -> None:
            for i in range(per_task):
                t = time.perf_counter()
                await store.run(record, at=i, actor=f"bench-{k}", action="bench.write")
                latencies.append(time.perf_counter() - t)

        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for k in range(concurrency):
                nursery.start_soon(writer, k)
        elapsed = time.perf_counter() - started
        return elapsed, store.transactions, latencies


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench store", description=__doc__)
    parser.add_argument("--writes", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    args = parser.parse_args(argv)
    print(f"{'concurrency':>11} {'writes/s':>10} {'txns':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for c in args.concurrency:
        with tempfile.TemporaryDirectory() as tmp:
            n = args.writes if c > 1 else min(args.writes, 3000)
            elapsed, txns, lat = trio.run(_run, Path(tmp) / "bench.sqlite", n, c)
            lat.sort()
            done = len(lat)
            print(
                f"{c:>11} {done / elapsed:>10.0f} {txns:>7} "
                f"{lat[done // 2] * 1e3:>8.2f} {lat[int(done * 0.99)] * 1e3:>8.2f}"
            )
