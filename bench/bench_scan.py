"""scan.submit over the real socket against a daemon holding N active segment sets.

Usage: python -m bench scan [--alerts N ...] [--clients C ...] [--pipeline D ...]
       [--seconds S] [--write-seconds W] [--cache DIR]

A node is initialised in a temporary directory and N synthetic alerts are
written straight into its database before the daemon starts (the daemon
rebuilds its in-memory index from them, as after any restart). The synthetic
segment sets recombine the templates and values of segment sets selected for
a synthetic population, so templates and value frequencies are realistic
without running the selection N times. The seeded rows carry no identity:
they exist to be matched against, not disclosed. With --cache the seeded node
is kept there and copied on later runs (seeding a million sets takes minutes).

Then scans of synthetic people for S seconds, from C connections with one
request in flight each, and from one connection with D pipelined requests:
scans per second, latency p50/p99/max, and the daemon's CPU time per request
(event-loop thread, other threads), which contention on a shared machine
distorts least. Last, alert.create from 4 and 16 connections for W seconds:
durable alert writes per second (each acknowledged after its commit,
synchronous=FULL), and the group commit's jobs per transaction.

One client thread drives every connection with pre-encoded requests, so the
client costs little next to the daemon (its CPU time per request is printed
too: it runs on the daemon's machine). DOORWATCH_BENCH_PROFILE=FILE runs the
daemon under cProfile (its event-loop thread) and writes FILE when it stops.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import secrets
import selectors
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
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

    def start(self, *extra_args: str) -> None:
        timeout = 600.0
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        # DOORWATCH_BENCH_PROFILE=out.prof: the daemon runs under cProfile (its
        # trio thread; the database worker thread is not profiled).
        profile = os.environ.get("DOORWATCH_BENCH_PROFILE")
        prefix = ["-m", "cProfile", "-o", profile] if profile else []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                *prefix,
                "-m",
                "doorwatch.cli",
                "run",
                "--data-dir",
                str(self.data_dir),
                *extra_args,
            ],
            stdout=log,
            stderr=log,
            env=dict(
                os.environ, DOORWATCH_LOG_FORMAT="json", DOORWATCH_CONSOLE_LISTEN="127.0.0.1:0"
            ),
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


def _request_bodies(method: str, params: list[dict[str, Any]]) -> list[bytes]:
    """Request lines without their id, encoded once: the client must not be the bottleneck."""
    return [
        b',"method":"' + method.encode() + b'","params":' + json.dumps(p).encode() + b"}\n"
        for p in params
    ]


def _drive(
    pool: list[RpcClient], clients: int, depth: int, seconds: float, bodies: list[bytes]
) -> tuple[list[float], Counter[str], float]:
    """``clients`` connections, each with ``depth`` requests in flight, for ``seconds``.

    One thread drives every connection (a selector; Python threads would fight
    over the GIL and measure the client). A request's latency runs from its
    send to its response. Outcomes count verdicts, "ok" or error codes.
    """
    conns = pool[:clients]
    selector = selectors.DefaultSelector()
    rng = random.Random(clients * 1000 + depth)
    sent: dict[tuple[int, int], float] = {}
    buffers = [b""] * clients
    next_id = [1_000_000] * clients
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    def send(k: int) -> None:
        rid = next_id[k]
        next_id[k] += 1
        sent[k, rid] = time.perf_counter()
        line = b'{"jsonrpc":"2.0","id":%d' % rid + rng.choice(bodies)
        conns[k].sock.sendall(line)

    for k, c in enumerate(conns):
        c.sock.setblocking(True)
        selector.register(c.sock, selectors.EVENT_READ, k)
    began = time.perf_counter()
    deadline = began + seconds
    for k in range(clients):
        for _ in range(depth):
            send(k)
    while sent:
        for key, _events in selector.select(timeout=30):
            k = key.data
            data = conns[k].sock.recv(1 << 20)
            if not data:
                raise ConnectionError("the node closed a connection")
            *lines, buffers[k] = (buffers[k] + data).split(b"\n")
            for raw in lines:
                reply = json.loads(raw)
                if "id" not in reply:  # a notification
                    continue
                at = sent.pop((k, reply["id"]))
                now = time.perf_counter()
                latencies.append(now - at)
                if "error" in reply:
                    outcomes[f"error {reply['error']['code']}"] += 1
                else:
                    result = reply["result"]
                    verdict = result.get("verdict") if isinstance(result, dict) else None
                    outcomes[str(verdict or "ok")] += 1
                if now < deadline:
                    send(k)
    elapsed = time.perf_counter() - began
    selector.close()
    return sorted(latencies), outcomes, elapsed


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time of a process so far: its main (event-loop) thread's, and all the rest."""
    tick = os.sysconf("SC_CLK_TCK")

    def used(stat: Path) -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    # The process's total includes threads that have ended (a login's hashing).
    main = used(Path(f"/proc/{pid}/task/{pid}/stat"))
    return main, used(Path(f"/proc/{pid}/stat")) - main


def _measured(
    daemon: Daemon,
    pool: list[RpcClient],
    clients: int,
    depth: int,
    seconds: float,
    bodies: list[bytes],
    what: str,
) -> None:
    """Drive the daemon and print throughput, latency and the daemon's CPU time per request.

    CPU time per request is what contention on a shared machine distorts
    least: its inverse bounds what one uncontended core could serve.
    """
    assert daemon.proc is not None
    before = _cpu_seconds(daemon.proc.pid)
    client_before = time.process_time()
    lat, outcomes, elapsed = _drive(pool, clients, depth, seconds, bodies)
    client_us = (time.process_time() - client_before) / max(1, len(lat)) * 1e6
    after = _cpu_seconds(daemon.proc.pid)
    n = len(lat)
    loop_us = (after[0] - before[0]) / n * 1e6
    other_us = (after[1] - before[1]) / n * 1e6
    print(
        f"{what}: {n / elapsed:6.0f}/s, p50 {_percentile(lat, 0.5) * 1e3:6.2f} ms, "
        f"p99 {_percentile(lat, 0.99) * 1e3:6.2f} ms, max {lat[-1] * 1e3:6.2f} ms; "
        f"daemon CPU/request {loop_us:4.0f} us loop + {other_us:4.0f} us other threads, "
        f"client {client_us:3.0f} us ({n}; {dict(outcomes)})",
        flush=True,
    )


def _node(tmp: Path, n: int, cache: Path | None) -> Path:
    """A node holding ``n`` seeded segment sets: made afresh, or copied from the cache."""
    data = tmp / "node"
    cached = None if cache is None else cache / f"scan-node-{n}"
    if cached is not None and (cached / "doorwatch.sqlite").exists():
        shutil.copytree(cached, data)
        # The copy's writeback would otherwise land in the measured seconds
        # (and behind the daemon's fsyncs).
        os.sync()
        print(f"{n} segment sets from the cache {cached}")
        return data
    rng = random.Random(20261123 + n)
    init_node(data, venue="Bench", admin_user="admin", password=PASSWORD, now=int(time.time()))
    seeded = _seed(data / "doorwatch.sqlite", n, rng)
    print(f"seeded {n} segment sets in {seeded:.1f} s")
    if cached is not None:
        shutil.rmtree(cached, ignore_errors=True)
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(data, cached)
    return data


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench scan", description=__doc__)
    parser.add_argument("--alerts", type=int, nargs="+", default=[100_000])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument(
        "--pipeline", type=int, nargs="*", default=[16], help="requests in flight on one connection"
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--write-seconds", type=float, default=5.0)
    parser.add_argument(
        "--cache", type=Path, default=None, help="keep seeded nodes here and reuse them"
    )
    args = parser.parse_args(argv)
    docs = _documents(random.Random(20261123), 5000)
    scans = _request_bodies("scan.submit", [{"document": d} for d in docs])
    creates = _request_bodies(
        "alert.create", [{"document": d, "category": "theft", "reason": "bench"} for d in docs]
    )
    for n in args.alerts:
        with tempfile.TemporaryDirectory() as tmp:
            data = _node(Path(tmp), n, args.cache)
            daemon = _SlowStartDaemon(data, Path(tmp) / "daemon.log")
            t = time.perf_counter()
            daemon.start()
            print(f"daemon up (index rebuilt from the database) in {time.perf_counter() - t:.1f} s")
            try:
                status = daemon.client().result("node.status")
                held = status["counts"]["alerts_originated_active"]  # type: ignore[index]
                print(f"active segment sets: {held}")
                # Logging in verifies an Argon2id hash: one login per connection, up front.
                pool = [daemon.client() for _ in range(max([4, 16, *args.clients]))]
                print(f"{len(pool)} connections logged in", flush=True)
                _drive(pool, 4, 1, 1.0, scans)  # warm-up
                runs = [(c, 1) for c in args.clients] + [(1, d) for d in args.pipeline]
                for clients, depth in runs:
                    what = f"scan.submit, {clients:2d} conn x {depth:2d} in flight"
                    _measured(daemon, pool, clients, depth, args.seconds, scans, what)
                for clients in (4, 16):
                    what = f"alert.create (durable alert writes), {clients:2d} conn"
                    _measured(daemon, pool, clients, 1, args.write_seconds, creates, what)
            finally:
                daemon.stop(signal.SIGTERM)
            _print_group_commit(daemon)


def _print_group_commit(daemon: Daemon) -> None:
    for line in daemon.log_lines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "store.closed" and event["transactions"]:
            print(
                f"group commit: {event['jobs']} jobs in {event['transactions']} transactions "
                f"({event['jobs'] / event['transactions']:.1f} a transaction on average, "
                f"{event['largest_batch']} at most)"
            )
