"""Catch-up: a venue offline while alerts changed, consistent again after it restarts.

Three real daemons (separate processes, 127.0.0.1): A (the network
authority), B and C. First every node holds a base of ``steps[0]`` alerts.
Then, for each step, C stops; A creates ``n`` alerts and withdraws ``n / 10``
older ones that C holds (B receives it all by gossip); after 6 s (past
GossipSub's message cache, so that nothing reaches C by gossip) C starts
again, and the clock runs from its socket being ready until its count of
received active alerts equals A's. Bytes are the alert syncs' own
(``sync.done`` lines in the logs: reconciliation, fetch and push), to be
compared with the number of differences while A's total keeps growing.

    python -m bench catchup [--steps 100,1000] [--workers 4]
    python -m bench catchup --steps 10000        # the issue's figure (slow to set up)
"""

from __future__ import annotations

import argparse
import json
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doorwatch.node.testing import PASSWORD, Daemon, doorwatch


def cli(*args: str) -> str:
    done = doorwatch(*args)
    if done.returncode != 0:
        raise SystemExit(f"doorwatch {args[0]} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def new_node(root: Path, name: str, venue: str) -> Daemon:
    pw = root / "pw"
    pw.write_text(PASSWORD + "\n")
    data = root / name
    cli(
        "init",
        "--data-dir",
        str(data),
        "--venue",
        venue,
        "--admin-user",
        "admin",
        "--password-file",
        str(pw),
    )
    return Daemon(data, root / f"{name}.log")


def call(node: Daemon, method: str, **params: Any) -> Any:
    client = node.client()
    try:
        return client.result(method, **params)
    finally:
        client.close()
        node.clients.remove(client)


def status(node: Daemon) -> dict[str, Any]:
    result = call(node, "node.status")
    assert isinstance(result, dict)
    return result


def received(node: Daemon) -> int:
    return int(status(node)["counts"]["alerts_received_active"])


def wait_for(check: Callable[[], bool], timeout: float = 600.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("not reached in time")
        time.sleep(step)


def form_network(root: Path, count: int) -> list[Daemon]:
    """``count`` running daemons in one network, every one connected to every other."""
    a = new_node(root, "n0", "Venue 0")
    cli("network", "create", "--data-dir", str(a.data_dir), "--name", "Bench")
    a.start()
    nodes = [a]
    for i in range(1, count):
        node = new_node(root, f"n{i}", f"Venue {i}")
        node.start()
        token = cli("network", "invite", "--data-dir", str(a.data_dir), "--venue", f"Venue {i}")
        cli("network", "join", token, "--data-dir", str(node.data_dir))
        nodes.append(node)
    for node in nodes:
        wait_for(
            lambda n=node: sum(p["connected"] for p in status(n)["peers"]) == count - 1,
            timeout=120.0,
            step=0.25,
        )
    return nodes


def document(n: int) -> dict[str, Any]:
    return {
        "document_type": "passport",
        "document_number": f"B{n:08d}",
        "given_names": f"Given{n:06d}",
        "surname": f"Surname{n:07d}",
        "date_of_birth": f"19{60 + n % 40}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "expiry_date": "2031-01-01",
        "issuing_country": "GBR",
    }


def make_changes(node: Daemon, start: int, n: int, workers: int, withdraw: list[str]) -> list[str]:
    """Create ``n`` alerts and withdraw the alerts ``withdraw``, with ``workers`` socket
    clients; return the new alerts' ids."""
    made: list[str] = []

    def work(k: int) -> None:
        client = node.client()
        try:
            for i in range(start + k, start + n, workers):
                result = client.result(
                    "alert.create", document=document(i), category="theft", reason="bench"
                )
                assert isinstance(result, dict)
                made.append(str(result["alert_id"]))
            for alert_id in withdraw[k::workers]:
                client.result("alert.withdraw", alert_id=alert_id)
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return made


def sync_bytes(node: Daemon, since_line: int) -> tuple[int, int]:
    """(bytes, records fetched or pushed) of the alert syncs logged after line ``since_line``."""
    total = fetched = 0
    for line in node.log_lines()[since_line:]:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "sync.done":
            total += int(event.get("bytes", 0))
            fetched += int(event.get("fetched", 0)) + int(event.get("pushed", 0))
    return total, fetched


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench catchup")
    parser.add_argument("--steps", default="100,1000", help="alerts created per offline spell")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # B stays online throughout, as a venue network would have someone online.
        a, b, c = form_network(root, 3)
        try:
            print(
                f"{'differ':>8} {'A made':>8} {'setup s':>8} {'catch-up s':>10} "
                f"{'sync bytes':>11} {'bytes/change':>12} {'moved':>8}"
            )
            # A base of alerts every node holds; each step withdraws a tenth of the
            # older ones while C is away (tombstones C must fetch) and adds new ones.
            live = make_changes(a, 0, steps[0], args.workers, [])
            made = steps[0]
            wait_for(lambda: received(c) == len(live))
            for n in steps:
                c.stop(signal.SIGTERM)
                for node in (a, b):  # until both have dropped C: nothing queued for it
                    wait_for(lambda n=node: sum(p["connected"] for p in status(n)["peers"]) == 1)
                t0 = time.perf_counter()
                withdraw, live = live[: n // 10], live[n // 10 :]
                live += make_changes(a, made, n, args.workers, withdraw)
                setup = time.perf_counter() - t0
                made += n
                expected = status(a)["counts"]["alerts_originated_active"]
                wait_for(lambda want=expected: received(b) == want)  # A has published it all
                # Past GossipSub's message cache (a few heartbeats of 1 s), so that
                # what C gets on reconnecting comes from the sync, not from IHAVE gossip.
                time.sleep(6)
                changes = n + n // 10  # records that differ: new alerts and tombstones
                lines = [len(node.log_lines()) for node in (a, b, c)]
                c.start()
                t1 = time.perf_counter()
                wait_for(lambda want=expected: received(c) == want)
                elapsed = time.perf_counter() - t1
                time.sleep(2)  # let every sync finish and log
                figures = [sync_bytes(node, at) for node, at in zip((a, b, c), lines, strict=True)]
                sent = sum(f[0] for f in figures)
                fetched = sum(f[1] for f in figures)
                print(
                    f"{changes:>8} {made:>8} {setup:>8.1f} {elapsed:>10.2f} "
                    f"{sent:>11,} {sent / changes:>12.0f} {fetched:>8}"
                )
        finally:
            for node in (a, b, c):
                if node.proc is not None:
                    node.stop(signal.SIGTERM)
