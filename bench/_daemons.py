"""Networks of real daemons for the network benchmarks (separate `doorwatch run` processes).

``network`` makes ``count`` nodes in one network, every one connected to
every other, and reports how long each phase took. To keep a 50-node
network quick to form on a small machine it avoids paying Python's start-up
for every step: nodes are initialised in this process (``init_node``, what
``doorwatch init`` calls), invites are issued and joins run over the local
socket (``network.invite`` / ``network.join``, what ``doorwatch network
invite|join`` call when the daemon runs), and ``workers`` nodes start and
join at a time. Only the authority's ``network create`` runs the CLI.

Every socket call goes through one logged-in client per node (``Node.call``):
a login verifies an Argon2id hash (64 MiB, tens of ms), too dear to repeat
per poll.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doorwatch.crypto import TEST_ONLY_COST
from doorwatch.node._setup import init_node
from doorwatch.node._storage_key import Passphrase
from doorwatch.node.testing import PASSPHRASE, PASSWORD, Daemon, RpcClient, doorwatch

JOIN_ATTEMPTS = 8
MESH_WAIT = 120.0
# What bench nodes are made with (``init_node``'s arguments besides the directory and
# the venue): the
# test nodes' passphrase (``Daemon`` gives it to the daemons) and, explicitly, the
# test-only Argon2id cost, since the benches measure the network, not the key derivation
# at start-up (a venue's node pays ``STORAGE_KEY_COST``, under a second, once a start).
BENCH_INIT: dict[str, Any] = {
    "admin_user": "admin",
    "password": PASSWORD,
    "passphrase": Passphrase(PASSPHRASE, "bench"),
    "cost": TEST_ONLY_COST,
}


def cli(*args: str) -> str:
    done = doorwatch(*args)
    if done.returncode != 0:
        raise SystemExit(f"doorwatch {args[0]} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@dataclass
class Node:
    """A daemon and one logged-in socket client (thread-safe through a lock)."""

    daemon: Daemon
    venue: str
    _client: RpcClient | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pid(self) -> int:
        assert self.daemon.proc is not None
        return self.daemon.proc.pid

    def start(self, *extra: str) -> float:
        """Start the daemon; return the seconds until its socket answered."""
        t0 = time.perf_counter()
        try:
            self.daemon.start(*extra)
        except AssertionError:
            # Daemon.start gives up after 30 s; on a machine this loaded start-up can take
            # longer: keep waiting while the process lives.
            proc = self.daemon.proc
            if proc is None or proc.poll() is not None:
                raise
            wait_for(self._socket_answers, timeout=300.0, step=0.1)
        return time.perf_counter() - t0

    def _socket_answers(self) -> bool:
        try:
            RpcClient(self.daemon.data_dir / "doorwatch.sock").close()
        except OSError:
            return False
        return True

    def call_raw(self, method: str, **params: Any) -> dict[str, Any]:
        """The JSON-RPC reply (``result`` or ``error``)."""
        with self._lock:
            if self._client is None:
                self._client = self.daemon.client()
            return self._client.call(method, **params)

    def call(self, method: str, **params: Any) -> Any:
        reply = self.call_raw(method, **params)
        if "error" in reply:
            raise SystemExit(f"{self.venue}: {method} failed: {reply['error']}")
        return reply["result"]

    def status(self) -> dict[str, Any]:
        result = self.call("node.status")
        assert isinstance(result, dict)
        return result

    def received(self) -> int:
        return int(self.status()["counts"]["alerts_received_active"])

    def connected(self) -> int:
        return sum(bool(p["connected"]) for p in self.status()["peers"])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        with self._lock:
            self._client = None  # Daemon.stop closes it
            if self.daemon.proc is not None:
                self.daemon.stop(sig)

    def rss_mib(self) -> float:
        return rss_mib(self.pid)

    def log_events(self, since_line: int = 0) -> Iterator[dict[str, Any]]:
        for line in self.daemon.log_lines()[since_line:]:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def new_node(root: Path, name: str, venue: str) -> Node:
    init_node(root / name, venue=venue, **BENCH_INIT, now=int(time.time()))
    return Node(Daemon(root / name, root / f"{name}.log"), venue)


def wait_for(check: Callable[[], bool], timeout: float = 600.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("not reached in time")
        time.sleep(step)


@dataclass
class Formed:
    nodes: list[Node]
    network_id: str
    seconds: dict[str, float]

    def describe(self) -> str:
        s = self.seconds
        return (
            f"{len(self.nodes)} daemons formed one network in {s['total']:.1f} s "
            f"(init {s['init']:.1f} s, authority {s['authority']:.1f} s, "
            f"start + join {s['join']:.1f} s with {s['join retries']:.0f} retried joins, "
            f"mesh {s['mesh']:.1f} s: {s['links']:.0f} of {s['full mesh']:.0f} links up)"
        )


@contextmanager
def network(root: Path, count: int, *, workers: int = 4, mesh: bool = True) -> Iterator[Formed]:
    """``count`` running daemons in one network (node 0 the authority), stopped on the way
    out whatever happens; with ``mesh``, wait (at most ``MESH_WAIT`` s) until every one is
    connected to every other.

    A join that fails (the inviting node unreachable within the join's 20 s timeout,
    which happens on an overloaded machine) is retried with a new invite, up to
    ``JOIN_ATTEMPTS`` in all; the retries are counted in ``Formed.seconds["join retries"]``."""
    seconds: dict[str, float] = {}
    nodes: list[Node] = []
    retries = 0
    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(workers) as pool:
            nodes += pool.map(lambda i: new_node(root, f"n{i}", f"Venue {i}"), range(count))
        t1 = time.perf_counter()
        seconds["init"] = t1 - t0
        authority = nodes[0]
        data = str(authority.daemon.data_dir)
        network_id = cli("network", "create", "--data-dir", data, "--name", "Bench")
        authority.start()
        t2 = time.perf_counter()
        seconds["authority"] = t2 - t1

        def enrol(node: Node) -> None:
            nonlocal retries
            node.start()
            for attempt in range(JOIN_ATTEMPTS):
                token = authority.call("network.invite", venue=node.venue)["token"]
                reply = node.call_raw("network.join", token=token)
                if "error" not in reply:
                    return
                retries += 1
                if attempt == JOIN_ATTEMPTS - 1:
                    raise SystemExit(f"{node.venue} could not join: {reply['error']}")
                time.sleep(2.0 * (attempt + 1))

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(enrol, nodes[1:]))
        t3 = time.perf_counter()
        seconds["join"] = t3 - t2
        if mesh:  # at most MESH_WAIT s: gossip needs a connected graph, not a full mesh
            deadline = time.monotonic() + MESH_WAIT
            for node in nodes:
                while node.connected() < count - 1 and time.monotonic() < deadline:
                    time.sleep(0.5)
        links = sum(node.connected() for node in nodes)
        seconds["links"] = links / 2
        seconds["full mesh"] = count * (count - 1) / 2
        t4 = time.perf_counter()
        seconds["mesh"] = t4 - t3
        seconds["total"] = t4 - t0
        seconds["join retries"] = retries
        yield Formed(nodes, network_id, seconds)
    finally:
        stop_all(nodes)


def stop_all(nodes: list[Node]) -> None:
    """Stop every daemon still running (SIGTERM, in parallel: a loaded daemon can take
    seconds to shut down)."""

    def stop(node: Node) -> None:
        try:
            node.stop()
        except Exception as exc:  # stop the others whatever happened
            print(f"stopping {node.venue}: {exc!r}")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(stop, nodes))


def document(n: int) -> dict[str, Any]:
    """A distinct synthetic passport for alert number ``n``."""
    return {
        "document_type": "passport",
        "document_number": f"B{n:08d}",
        "given_names": f"Given{n:06d}",
        "surname": f"Surname{n:07d}",
        "date_of_birth": f"19{60 + n % 40}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "expiry_date": "2031-01-01",
        "issuing_country": "GBR",
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
