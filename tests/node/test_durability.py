"""SIGKILL at random moments loses nothing that was acknowledged."""

from __future__ import annotations

import random
import signal
import sqlite3
import threading

from doorwatch.node.testing import Daemon, sample_document

ROUNDS = 8


def test_sigkill_during_writes_loses_nothing_acknowledged(node: Daemon) -> None:
    rng = random.Random(20261123)
    acknowledged: list[str] = []
    scans: list[str] = []  # visits: written through the store's appends
    for round_no in range(ROUNDS):
        node.start()
        assert node.proc is not None
        client = node.client()
        killer = threading.Timer(rng.uniform(0.05, 0.8), node.proc.send_signal, [signal.SIGKILL])
        killer.start()
        i = 0
        try:
            while True:
                name = f"staff-{round_no}-{i}"
                reply = client.call(
                    "user.add", username=name, role="door_staff", password="pw-" * 4
                )
                assert "result" in reply, reply
                acknowledged.append(name)
                reply = client.call("scan.submit", document=sample_document())
                assert "result" in reply, reply
                scans.append(reply["result"]["scan_id"])  # type: ignore[index]
                i += 1
        except (ConnectionError, OSError):
            pass  # killed mid-stream
        killer.join()
        assert node.proc.wait(timeout=30) == -signal.SIGKILL
        node.proc = None
        for c in node.clients:
            c.close()
        node.clients.clear()

        db = sqlite3.connect(node.data_dir / "doorwatch.sqlite")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {r[0] for r in db.execute("SELECT username FROM users")}
        visits = {r[0] for r in db.execute("SELECT scan_id FROM visits")}
        db.close()
        missing = [n for n in acknowledged if n not in stored]
        assert missing == [], f"round {round_no}: acknowledged but lost: {missing}"
        lost = [s for s in scans if s not in visits]
        assert lost == [], f"round {round_no}: scans answered but not recorded: {lost}"

    node.start()
    listed = {u["username"] for u in node.client().result("user.list")}  # type: ignore[union-attr, index]
    assert set(acknowledged) <= listed
    assert len(acknowledged) > ROUNDS  # the test did write something each time
    assert len(scans) > ROUNDS
