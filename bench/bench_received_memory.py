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
nonce, ciphertext and signature.

Then, with O never online again:

1. B starts (it reads and decrypts every envelope into its scan index):
   start-up time, RSS.
2. C starts empty and receives all N from B over the network (anti-entropy:
   reconciliation, then ``/doorwatch/fetch/1`` batches through the ingest
   path): time until C counts N received alerts, RSS.
3. C restarts: start-up time, RSS (what a venue's node holds in steady state).

A stays online (it holds every member's address; ports are chosen at
start-up) and, being a member, receives all N alerts by sync as well.

    python -m bench received_memory --alerts 100000    # the issue's figure (15-40 min here)
    python -m bench received_memory                    # 10,000 alerts, a few minutes
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from bench._daemons import Node, load_average, network, wait_for
from doorwatch.crypto import (
    KIND_SEGMENTS,
    EnvelopeHeader,
    GroupKey,
    NodeIdentity,
    new_alert_id,
    seal_envelope,
)
from doorwatch.node import _received_store as rdb
from doorwatch.node._alert_gossip import _row, encode_payload
from doorwatch.node._categories import BY_CODE
from doorwatch.node._datadir import DataDir
from doorwatch.node._network_store import group_keys
from doorwatch.node._setup import load_identity, load_storage_key
from doorwatch.node._store import open_database
from doorwatch.protocol import AlertPublish, record_from_message
from doorwatch.segments import (
    identity_keys,
    load_default_tables,
    select_segments,
    synthetic_population,
)

DAY = 86_400
BATCH = 5_000


def originator_keys(data_dir: Path, network_id: str) -> tuple[NodeIdentity, GroupKey]:
    """The node key of a stopped node and its newest key of group ``all``."""
    d = DataDir(data_dir)
    conn = open_database(d.database)
    try:
        keys = group_keys(conn, network_id, load_storage_key(d))
    finally:
        conn.close()
    newest = max((k for k in keys if k.group == "all"), key=lambda k: k.epoch)
    return load_identity(d), newest


def segment_pool(rng: random.Random, distinct: int) -> list[list[list[str]]]:
    tables = load_default_tables()
    people = synthetic_population(rng, distinct, today=dt.date.today())
    return [
        select_segments(identity_keys(p), rng, tables=tables).to_wire()  # type: ignore[misc]
        for p in people
    ]


def write_received(
    target: Path, signer: NodeIdentity, key: GroupKey, pool: list[list[list[str]]], n: int
) -> int:
    """Write ``n`` signed, sealed alerts of ``signer`` into ``target``'s replica; return the
    bytes of their frames."""
    now = int(time.time())
    theft = BY_CODE["theft"]
    conn = open_database(target)
    total = 0
    try:
        for start in range(0, n, BATCH):
            rows = []
            for i in range(start, min(n, start + BATCH)):
                alert_id, salt = new_alert_id(signer.peer_id)
                header = EnvelopeHeader(
                    network_id=key.network_id,
                    group=key.group,
                    epoch=key.epoch,
                    alert_id=alert_id,
                    alert_salt=salt,
                    version=1,
                    originator=signer.peer_id,
                    created_at=now - i % (90 * DAY),
                    expires_at=now + 180 * DAY,
                    kind=KIND_SEGMENTS,
                )
                plaintext = encode_payload(pool[i % len(pool)], theft.code, theft.harm)
                message = AlertPublish(envelope=seal_envelope(header, plaintext, key, signer))
                row = _row(record_from_message(message, now))  # what ingest writes
                total += len(row.message)
                rows.append(row)
            with conn:
                rdb.save(conn, upserts=rows, deletes=[], floors={key.network_id: now})
    finally:
        conn.close()
    return total


def settled_rss(node: Node, seconds: float = 3.0) -> float:
    """RSS after ``seconds`` of quiet (start-up garbage collected, syncs done)."""
    time.sleep(seconds)
    return node.rss_mib()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench received_memory")
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--distinct", type=int, default=2_000, help="segment selections made")
    parser.add_argument("--seed", type=int, default=1)
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
        b_start = b.start()
        wait_for(lambda: b.received() == n, timeout=900)
        b_ready = time.perf_counter() - t2
        b_rss = settled_rss(b)
        print(f"B: socket after {b_start:.1f} s, {n:,} received in index; RSS {b_rss:.0f} MiB")
        t3 = time.perf_counter()
        c.start()
        wait_for(lambda: c.received() == n, timeout=1800, step=0.5)
        c_sync = time.perf_counter() - t3
        c_rss = settled_rss(c)
        b_after = b.rss_mib()
        a_after = a.rss_mib()
        a_received = a.received()
        print(f"C: received all {n:,} from B in {c_sync:.1f} s; RSS {c_rss:.0f} MiB", flush=True)
        c.stop()
        t4 = time.perf_counter()
        c_start = c.start()
        wait_for(lambda: c.received() == n, timeout=900)
        c_ready = time.perf_counter() - t4
        c_rss2 = settled_rss(c)
        load = load_average()
    base = sum(empty) / len(empty)
    print(f"load average after: {load}")
    print(f"an idle member with nothing received: {base:.0f} MiB RSS")
    rows = [
        ("B, loaded from its store", b_start, b_ready - b_start, b_rss),
        ("C, after receiving by sync", float("nan"), c_sync, c_rss),
        ("C, restarted", c_start, c_ready - c_start, c_rss2),
    ]
    print(
        f"{'daemon with ' + format(n, ',') + ' received':<34} {'socket s':>9} "
        f"{'+index s':>9} {'RSS MiB':>8} {'KiB/alert':>10}"
    )
    for name, socket_s, index_s, rss in rows:
        print(
            f"{name:<34} {socket_s:>9.1f} {index_s:>9.1f} {rss:>8.0f} "
            f"{(rss - base) * 1024 / n:>10.2f}"
        )
    print(f"B after serving the sync: {b_after:.0f} MiB")
    print(f"A (online throughout, got {a_received:,} of them too): {a_after:.0f} MiB")
