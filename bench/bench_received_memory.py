"""Memory and start-up of a daemon holding N received alerts (the issue's figure: 100,000).

Four real daemons (separate processes, 127.0.0.1) form one network: A (the
authority), O (the scripted originator), B and C. O, B and C are stopped.
This process then acts as O: with O's node key and O's key of group ``all``
(read from O's data directory, as its daemon would) it makes N alerts the
way ``AlertReplication`` publishes an own alert (``new_alert_id``, the
header, ``encode_payload`` of segments chosen by ``select_segments``,
``seal_envelope``, ``AlertPublish``) and writes them into B's
``alert_envelopes`` table as the ingest path would after a gossip or sync
delivery (``record_from_message`` -> the row of ``_received_store.save``).
To save time the segment selections come from a pool of ``--distinct``
synthetic people, reused in turn; every alert still has its own id, salt,
nonce, ciphertext and signature (``doorwatch.node._received_testing``).

Then, with O never online again:

1. B starts, then restarts (it opens its socket, then reads, opens and
   indexes every envelope behind it): seconds to the socket, seconds until
   ``node.status`` says loading is over, RSS, and the scans one scanner gets
   answered meanwhile (latency, verdicts: ``check`` while loading).
2. C starts empty and receives all N from B over the network (anti-entropy:
   reconciliation, then ``/doorwatch/fetch/1`` batches through the ingest
   path): time until C counts N received alerts, RSS.
3. C restarts: start-up time, RSS (what a venue's node holds in steady state).

A stays online (it holds every member's address; ports are chosen at
start-up) and, being a member, receives all N alerts by sync as well.

    python -m bench received_memory --alerts 100000    # the issue's figure (15-40 min here)
    python -m bench received_memory --alerts 100000 --no-sync    # steps 1 only
    python -m bench received_memory                    # 10,000 alerts, a few minutes
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._daemons import Node, document, load_average, network, pct, wait_for
from doorwatch.node._received_testing import originator_keys, segment_pool, write_received


@dataclass
class Startup:
    """One start of a daemon on a store of received alerts."""

    socket_s: float  # launch to the socket answering
    loaded_s: float = float("nan")  # launch to node.status saying loading is over
    loading_ms: list[float] = field(default_factory=list)  # scan.submit while loading
    loaded_ms: list[float] = field(default_factory=list)  # the same number, after
    verdicts: Counter[str] = field(default_factory=Counter)  # while loading
    loader: dict[str, Any] = field(default_factory=dict)  # its alerts.loaded log line

    def describe_scans(self) -> str:
        if not self.loading_ms:
            return "no scan answered while loading"
        times = {k: v for k, v in self.loader.items() if k.endswith("_s")}
        return (
            f"loader (wall and event-loop thread CPU seconds): {times}\n"
            f"  scans answered while loading (one scanner, back to back): "
            f"{_latencies(self.loading_ms)}; verdicts {dict(self.verdicts)}\n"
            f"  the same number after loading: {_latencies(self.loaded_ms)}"
        )


def _latencies(ms: list[float]) -> str:
    return (
        f"{len(ms):,} scans, p50 {pct(ms, 0.5):.1f} ms, p99 {pct(ms, 0.99):.1f} ms, "
        f"max {max(ms):.1f} ms"
    )


def _scan(node: Node, i: int) -> tuple[float, dict[str, Any]]:
    t = time.perf_counter()
    scan = node.call("scan.submit", document=document(10_000_000 + i))
    return (time.perf_counter() - t) * 1000, scan


def start_and_scan(node: Node, n: int) -> Startup:
    """Start ``node``, scan (distinct innocent documents) until it has loaded ``n``, then
    scan as many times again."""
    t0 = time.perf_counter()
    lines = len(node.daemon.log_lines())
    run = Startup(socket_s=node.start())
    node.status()  # logs in (Argon2id) before anything is timed
    while node.status().get("loading") is not None:
        for _ in range(5):
            ms, scan = _scan(node, len(run.loading_ms))
            if "alerts_loading" not in scan["reasons"]:
                break  # loaded meanwhile
            run.loading_ms.append(ms)
            run.verdicts[scan["verdict"]] += 1
    run.loaded_s = time.perf_counter() - t0
    wait_for(lambda: node.received() == n, timeout=60)
    run.loaded_ms = [_scan(node, i)[0] for i in range(max(len(run.loading_ms), 1))]
    for event in node.log_events(lines):
        if event.get("event") == "alerts.loaded":
            run.loader = event
    return run


def settled_rss(node: Node, seconds: float = 3.0) -> float:
    """RSS after ``seconds`` of quiet (start-up garbage collected, syncs done)."""
    time.sleep(seconds)
    return node.rss_mib()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench received_memory")
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--distinct", type=int, default=2_000, help="segment selections made")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-sync", action="store_true", help="skip C receiving all of them by sync (slow)"
    )
    args = parser.parse_args(argv)
    n = args.alerts
    print(f"load average before: {load_average()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, network(Path(tmp), 4) as formed:
        a, o, b, c = formed.nodes
        print(formed.describe(), flush=True)
        empty = [node.rss_mib() for node in formed.nodes]
        for node in (o, b, c):
            node.stop()
        t0 = time.perf_counter()
        pool = segment_pool(random.Random(args.seed), args.distinct)
        t1 = time.perf_counter()
        signer, key = originator_keys(o.daemon.data_dir, formed.network_id)
        frames = write_received(b.daemon.data_dir / "doorwatch.sqlite", signer, key, pool, n)
        t2 = time.perf_counter()
        db_mib = (b.daemon.data_dir / "doorwatch.sqlite").stat().st_size / 2**20
        print(
            f"made {args.distinct:,} segment selections in {t1 - t0:.0f} s; sealed, signed and "
            f"stored {n:,} alerts of O in B in {t2 - t1:.0f} s ({frames / n:.0f} bytes a frame; "
            f"B's database {db_mib:.0f} MiB)",
            flush=True,
        )
        rows: list[tuple[str, Startup, float]] = []
        for name in ("B, started on the store holding them", "B, restarted"):
            if rows:
                b.stop()
            run = start_and_scan(b, n)
            rows.append((name, run, settled_rss(b)))
            print(f"{name}: socket after {run.socket_s:.1f} s, loaded after {run.loaded_s:.1f} s")
            print(f"  {run.describe_scans()}", flush=True)
        if not args.no_sync:
            t3 = time.perf_counter()
            c.start()
            wait_for(lambda: c.received() == n, timeout=1800, step=0.5)
            synced = Startup(socket_s=float("nan"), loaded_s=time.perf_counter() - t3)
            rows.append(("C, after receiving by sync", synced, settled_rss(c)))
            print(f"C: received all {n:,} from B in {synced.loaded_s:.1f} s", flush=True)
            print(f"A (online throughout, got {a.received():,} of them too): {a.rss_mib():.0f} MiB")
            c.stop()
            run = start_and_scan(c, n)
            rows.append(("C, restarted", run, settled_rss(c)))
            print(f"C restarted: {run.describe_scans()}")
        load = load_average()
    base = sum(empty) / len(empty)
    print(f"load average after: {load}")
    print(f"an idle member with nothing received: {base:.0f} MiB RSS")
    print(
        f"{'daemon with ' + format(n, ',') + ' received':<38} {'socket s':>9} "
        f"{'loaded s':>9} {'RSS MiB':>8} {'KiB/alert':>10}"
    )
    for name, run, rss in rows:
        print(
            f"{name:<38} {run.socket_s:>9.1f} {run.loaded_s:>9.1f} {rss:>8.0f} "
            f"{(rss - base) * 1024 / n:>10.2f}"
        )
