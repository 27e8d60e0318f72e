"""Catch-up: a venue offline while alerts changed, consistent again after it restarts.

Three real daemons (separate processes, 127.0.0.1): A (the network
authority, where the alerts change), B (online throughout, as a venue
network would have someone online) and C (the venue that goes offline). For
each step of ``--changes N``: C is stopped; A makes N changes over its socket
(``workers`` clients): 60 % new alerts, 20 % amendments and 20 % withdrawals
of alerts C holds; B receives them all by gossip; after ``--offline-wait``
seconds (past GossipSub's message cache of a few 1 s heartbeats) C starts
again. C is consistent when its replica (``alert_envelopes``, read-only
from its database) holds exactly A's version and status of every alert of
A; the clock runs from C's process start (start-up, i.e. decrypting what it
holds, is printed apart).

Bytes are counted inside C's process by ``bench/wirecount`` (put on the
daemons' ``PYTHONPATH``): per libp2p protocol, the bytes C's streams read and
wrote (the application's frames above yamux and Noise), so the anti-entropy
streams (``/doorwatch/sync/1`` reconciliation, ``/doorwatch/fetch/1``,
``/doorwatch/push/1``) and gossip (``/meshsub/*``) are told apart, plus
everything C's TCP sockets carried (Noise, yamux and multistream included).
Records moved by sync are the ``sync.done`` log lines of all three nodes.

    python -m bench catchup                    # steps of 200 and 1,000 changes (~2 min)
    python -m bench catchup --changes 10000    # the issue's figure (~7 min, mostly set-up)
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._daemons import Node, document, load_average, network, wait_for
from doorwatch.node.testing import RpcClient

WIRE = Path(__file__).parent / "wirecount"


def replica_state(node: Node, originator: str) -> dict[bytes, tuple[int, str]]:
    """(version, status) per alert of ``originator`` in ``node``'s replica (read-only)."""
    path = node.daemon.data_dir / "doorwatch.sqlite"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT alert_id, version, status FROM alert_envelopes WHERE originator = ?",
            (originator,),
        ).fetchall()
    finally:
        conn.close()
    return {bytes(a): (v, s) for a, v, s in rows}


def own_alerts(node: Node) -> dict[bytes, tuple[int, str]]:
    """(version, status) of every alert ``node`` originated, from its ``alerts`` table: what
    its replica holds once its publisher has caught up (it publishes after each commit)."""
    path = node.daemon.data_dir / "doorwatch.sqlite"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("SELECT id, version, status FROM alerts").fetchall()
    finally:
        conn.close()
    return {bytes.fromhex(i): (v, s) for i, v, s in rows}


def published(node: Node, origin: str) -> dict[bytes, tuple[int, str]]:
    """``node``'s own alerts, once its replica holds every change of them."""
    want: dict[bytes, tuple[int, str]] = {}

    def caught_up() -> bool:
        nonlocal want
        want = own_alerts(node)
        return replica_state(node, origin) == want

    wait_for(caught_up, step=0.2)
    return want


def parallel(node: Node, jobs: list[Callable[[RpcClient], Any]], workers: int) -> list[Any]:
    """Run ``jobs`` over ``workers`` logged-in socket clients of ``node``."""
    results: list[Any] = [None] * len(jobs)

    def work(k: int) -> None:
        client = node.daemon.client()
        try:
            for i in range(k, len(jobs), workers):
                results[i] = jobs[i](client)
        finally:
            client.close()
            node.daemon.clients.remove(client)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def create(n: int) -> Callable[[RpcClient], str]:
    def job(c: RpcClient) -> str:
        result = c.result("alert.create", document=document(n), category="theft", reason="bench")
        assert isinstance(result, dict)
        return str(result["alert_id"])

    return job


def amend(alert_id: str) -> Callable[[RpcClient], str]:
    def job(c: RpcClient) -> str:
        c.result("alert.amend", alert_id=alert_id, reason="bench, amended")
        return alert_id

    return job


def withdraw(alert_id: str) -> Callable[[RpcClient], str]:
    def job(c: RpcClient) -> str:
        c.result("alert.withdraw", alert_id=alert_id)
        return alert_id

    return job


def wire(directory: Path, pid: int) -> dict[str, dict[str, int]]:
    try:
        data: dict[str, dict[str, int]] = json.loads((directory / f"wire-{pid}.json").read_text())
    except (OSError, ValueError):
        return {"in": {}, "out": {}}
    return data


def by_kind(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    """Bytes in + out per kind of traffic."""
    kinds: dict[str, int] = {}
    for direction in ("in", "out"):
        for proto, n in counts.get(direction, {}).items():
            if proto == "tcp":
                kind = "tcp"
            elif proto.startswith("/meshsub/"):
                kind = "gossip"
            elif proto in ("/doorwatch/sync/1", "/doorwatch/fetch/1", "/doorwatch/push/1"):
                kind = "sync"
            elif proto == "/doorwatch/membership/2":
                kind = "membership"
            else:
                kind = "other"
            kinds[kind] = kinds.get(kind, 0) + n
    return kinds


def sync_log(nodes: list[Node], since: list[int]) -> tuple[int, dict[str, int]]:
    """Records fetched or pushed by the syncs logged since the given lines, and the syncs
    that failed, by node and error."""
    moved = 0
    failed: dict[str, int] = {}
    for node, at in zip(nodes, since, strict=True):
        for event in node.log_events(at):
            if event.get("event") == "sync.done":
                moved += int(event.get("fetched", 0)) + int(event.get("pushed", 0))
            elif event.get("event") == "sync.failed":
                key = f"{node.venue}: {event.get('error')}"
                failed[key] = failed.get(key, 0) + 1
    return moved, failed


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench catchup")
    parser.add_argument("--changes", default="200,1000", help="changes per offline spell")
    parser.add_argument("--workers", type=int, default=4, help="socket clients making changes")
    parser.add_argument("--offline-wait", type=float, default=6.0)
    args = parser.parse_args(argv)
    steps = [int(s) for s in args.changes.split(",")]
    print(f"load average before: {load_average()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wire_dir = root / "wire"
        wire_dir.mkdir()
        os.environ["DOORWATCH_BENCH_WIRE_DIR"] = str(wire_dir)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(WIRE), os.environ.get("PYTHONPATH", "")) if p
        )
        live: list[str] = []
        made = 0
        rows = []
        with network(root, 3) as formed:
            a, b, c = formed.nodes
            origin = str(a.status()["peer_id"])
            print(formed.describe(), flush=True)
            for n in steps:
                # Enough live alerts that C holds for this step's amendments and withdrawals.
                t0 = time.perf_counter()
                need = 2 * (n // 5) - len(live)
                if need > 0:
                    live += parallel(a, [create(made + i) for i in range(need)], args.workers)
                    made += need
                want = published(a, origin)
                wait_for(lambda want=want: replica_state(c, origin) == want, step=0.5)
                base = time.perf_counter() - t0
                print(f"step {n:,}: base ready in {base:.0f} s; C stops", flush=True)
                c.stop()
                for node in (a, b):  # until both have dropped C: nothing queued for it
                    wait_for(lambda node=node: node.connected() == 1)
                t1 = time.perf_counter()
                amended, withdrawn = live[: n // 5], live[n // 5 : 2 * (n // 5)]
                fresh = n - 2 * (n // 5)
                jobs = [create(made + i) for i in range(fresh)]
                jobs += [amend(x) for x in amended] + [withdraw(x) for x in withdrawn]
                results = parallel(a, jobs, args.workers)
                live = live[2 * (n // 5) :] + amended + results[:fresh]
                made += fresh
                changing = time.perf_counter() - t1
                print(f"step {n:,}: A made the changes in {changing:.0f} s", flush=True)
                want = published(a, origin)
                wait_for(lambda want=want: replica_state(b, origin) == want, step=0.5)
                time.sleep(args.offline_wait)
                lines = [len(node.daemon.log_lines()) for node in (a, b, c)]
                t2 = time.perf_counter()
                startup = c.start()
                wait_for(lambda want=want: replica_state(c, origin) == want, step=0.1)
                elapsed = time.perf_counter() - t2
                time.sleep(1.0)  # the counters file is written every 0.2 s
                counts = wire(wire_dir, c.pid)
                protos = sorted(set(counts["in"]) | set(counts["out"]))
                kinds = by_kind(counts)
                time.sleep(2.0)  # let every sync finish and log
                moved, failed = sync_log([a, b, c], lines)
                assert c.received() == a.status()["counts"]["alerts_originated_active"]
                rows.append((n, len(want), base + changing, startup, elapsed, kinds, moved))
                print(
                    f"step {n:,} changes: A holds {len(want):,} records; set-up "
                    f"{base:.0f} s + changes {changing:.0f} s ({n / changing:.0f}/s); "
                    f"C consistent {elapsed:.2f} s after launch (start-up {startup:.2f} s); "
                    f"records moved by sync: {moved:,}; failed syncs: {failed}; "
                    f"bytes at C (in, out) per protocol: "
                    f"{ {p: (counts['in'].get(p, 0), counts['out'].get(p, 0)) for p in protos} }",
                    flush=True,
                )
    print(f"load average after: {load_average()}")
    print(
        f"{'changes':>8} {'A holds':>8} {'start s':>8} {'consist. s':>10} {'sync B':>11} "
        f"{'sync B/chg':>10} {'gossip B':>11} {'memb. B':>9} {'tcp B':>11} {'tcp B/chg':>9} "
        f"{'by sync':>8}"
    )
    for n, held, _setup, startup, elapsed, kinds, moved in rows:
        sync, gossip, tcp = kinds.get("sync", 0), kinds.get("gossip", 0), kinds.get("tcp", 0)
        print(
            f"{n:>8,} {held:>8,} {startup:>8.2f} {elapsed:>10.2f} {sync:>11,} {sync / n:>10.0f} "
            f"{gossip:>11,} {kinds.get('membership', 0):>9,} {tcp:>11,} {tcp / n:>9.0f} "
            f"{moved:>8,}"
        )
    verdict = all(r[4] < 30 for r in rows)
    print(f"target: consistent within 30 s of reconnecting: {'meets' if verdict else 'MISSES'}")
