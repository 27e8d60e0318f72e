"""scan.submit over the real socket against a daemon holding N active segment sets.

Usage: python -m bench scan [--alerts N] [--clients C] [--seconds S] [--write-seconds W]

A node is initialised in a temporary directory and N synthetic alerts are
written straight into its database before the daemon starts (the daemon
rebuilds its in-memory index from them, as after any restart). The synthetic
segment sets recombine the templates and values of segment sets selected for
a synthetic population, so templates and value frequencies are realistic
without running the selection N times. The seeded rows carry no identity:
they exist to be matched against, not disclosed.

Then C clients, each on its own connection, submit scans of synthetic
people for S seconds: latency p50/p99/max and scans per second. Last, C
clients create alerts for W seconds: durable alert writes per second (each
acknowledged after its commit, synchronous=FULL).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from doorwatch.node._setup import init_node
from doorwatch.node._store import open_database
from doorwatch.node.testing import PASSWORD, Daemon, RpcClient
from doorwatch.segments import (
    DEFAULT_BUDGET_BITS,
    FrequencyTable,
    identity_keys,
    load_default_tables,
    select_segments,
    synthetic_population,
)

POOL = 3000


def _documents(rng: random.Random, n: int) -> list[dict[str, Any]]:
    today = dt.datetime.now(dt.UTC).date()
    people = synthetic_population(rng, n, today=today)
    docs = []
    for p in people:
        d = p.model_dump(mode="json", exclude={"photo"})
        d["expiry_date"] = (today + dt.timedelta(days=900)).isoformat()
        docs.append(d)
    return docs


def _seed(database: Path, n: int, rng: random.Random) -> float:
    started = time.perf_counter()
    tables = load_default_tables()
    today = dt.datetime.now(dt.UTC).date()
    pool = [
        select_segments(identity_keys(p), rng, tables=tables).to_wire()
        for p in synthetic_population(rng, POOL, today=today)
    ]
    values: dict[str, list[str]] = {}
    for wire in pool:
        for code, value in wire:
            values.setdefault(code, []).append(value)
    now = int(time.time())
    conn = open_database(database)
    try:
        conn.execute("BEGIN")
        batch: list[tuple[object, ...]] = []
        for _ in range(n):
            wire = _recombine(pool, values, tables, rng)
            batch.append((secrets.token_hex(16), now, now, now + 300 * 86400, json.dumps(wire)))
            if len(batch) >= 10000:
                _insert(conn, batch)
                batch.clear()
        _insert(conn, batch)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return time.perf_counter() - started


def _recombine(
    pool: list[list[list[str]]],
    values: dict[str, list[str]],
    tables: FrequencyTable,
    rng: random.Random,
) -> list[list[str]]:
    # A template of a real selection, filled with values drawn from the pool,
    # kept only if it carries as much information as a real selection does
    # (within a bit of the budget): a template chosen for rare values and
    # refilled with common ones would match far more people than any alert.
    while True:
        template = rng.choice(pool)
        wire = [[code, rng.choice(values[code])] for code, _v in template]
        bits = tables.joint_bits((code, value) for code, value in wire)
        if DEFAULT_BUDGET_BITS - 1.0 <= bits <= DEFAULT_BUDGET_BITS:
            return wire


def _insert(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    conn.executemany(
        "INSERT INTO alerts (id, version, status, category, harm, created_at, updated_at, "
        "expires_at, groups, created_by, segments, segment_bits, anonymity_set) "
        "VALUES (?, 1, 'active', 'other', 0.0, ?, ?, ?, '[]', 'bench', ?, 0.0, 0.0)",
        rows,
    )


class _SlowStartDaemon(Daemon):
    """A daemon given longer to rebuild a large index before its socket opens."""

    def start(self, timeout: float = 600.0) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "doorwatch.cli", "run", "--data-dir", str(self.data_dir)],
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited early:\n{self.log_path.read_text()}")
            try:
                RpcClient(self.data_dir / "doorwatch.sock").close()
            except OSError:
                time.sleep(0.1)
            else:
                return
        raise RuntimeError(f"daemon did not open its socket within {timeout:.0f} s")


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def _drive(
    daemon: Daemon, clients: int, seconds: float, work: Any
) -> tuple[list[float], Counter[str], float]:
    conns = [daemon.client() for _ in range(clients)]
    latencies: list[list[float]] = [[] for _ in conns]
    outcomes: list[Counter[str]] = [Counter() for _ in conns]
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def loop(k: int) -> None:
        c: RpcClient = conns[k]
        rng = random.Random(k)
        start.wait()
        while time.perf_counter() < deadline[0]:
            t = time.perf_counter()
            outcome = work(c, rng)
            latencies[k].append(time.perf_counter() - t)
            outcomes[k][outcome] += 1

    threads = [threading.Thread(target=loop, args=(k,)) for k in range(clients)]
    for th in threads:
        th.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - began
    all_lat = sorted(x for lat in latencies for x in lat)
    total: Counter[str] = Counter()
    for o in outcomes:
        total.update(o)
    return all_lat, total, elapsed


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench scan", description=__doc__)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--write-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    rng = random.Random(20261123)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "node"
        init_node(data, venue="Bench", admin_user="admin", password=PASSWORD, now=int(time.time()))
        seeded = _seed(data / "doorwatch.sqlite", args.alerts, rng)
        print(f"seeded {args.alerts} segment sets in {seeded:.1f} s")
        docs = _documents(rng, 5000)
        daemon = _SlowStartDaemon(data, Path(tmp) / "daemon.log")
        t = time.perf_counter()
        daemon.start()
        print(f"daemon up (index rebuilt from the database) in {time.perf_counter() - t:.1f} s")
        try:
            status = daemon.client().result("node.status")
            held = status["counts"]["alerts_originated_active"]  # type: ignore[index]
            print(f"active segment sets: {held}")

            def scan(c: RpcClient, r: random.Random) -> str:
                reply = c.call("scan.submit", document=r.choice(docs))
                return str(reply["result"]["verdict"])  # type: ignore[index]

            lat, verdicts, elapsed = _drive(daemon, args.clients, args.seconds, scan)
            n = len(lat)
            print(
                f"scan.submit, {args.clients} clients: {n / elapsed:.0f} scans/s, "
                f"p50 {_percentile(lat, 0.5) * 1e3:.2f} ms, "
                f"p99 {_percentile(lat, 0.99) * 1e3:.2f} ms, max {lat[-1] * 1e3:.2f} ms "
                f"({n} scans; verdicts {dict(verdicts)})"
            )
            lat1, _v, elapsed1 = _drive(daemon, 1, min(args.seconds, 5.0), scan)
            print(
                f"scan.submit, 1 client: {len(lat1) / elapsed1:.0f} scans/s, "
                f"p50 {_percentile(lat1, 0.5) * 1e3:.2f} ms, "
                f"p99 {_percentile(lat1, 0.99) * 1e3:.2f} ms"
            )

            def create(c: RpcClient, r: random.Random) -> str:
                reply = c.call(
                    "alert.create", document=r.choice(docs), category="theft", reason="bench"
                )
                return "ok" if "result" in reply else str(reply["error"]["code"])  # type: ignore[index]

            wlat, made, welapsed = _drive(daemon, args.clients, args.write_seconds, create)
            print(
                f"alert.create, {args.clients} clients: {len(wlat) / welapsed:.0f} durable "
                f"alert writes/s, p50 {_percentile(wlat, 0.5) * 1e3:.2f} ms, "
                f"p99 {_percentile(wlat, 0.99) * 1e3:.2f} ms ({dict(made)})"
            )
        finally:
            daemon.stop(signal.SIGTERM)
