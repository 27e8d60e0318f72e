"""A node restarted with thousands of received alerts answers its scanners at once and
loads the alerts behind its open socket (real daemons on 127.0.0.1).

The loader is held by a test hook (``HOLD_LOAD_ENV``: while the file it names exists,
the loader waits before opening alerts), so that what happens "during loading" is a
state the test sets up, not a race it hopes to win.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from doorwatch.node._alert_gossip import HOLD_LOAD_ENV
from doorwatch.node._received_testing import originator_keys, segment_pool, write_received
from doorwatch.node.testing import Daemon

from .conftest import Nodes
from .test_alert_gossip import call, doc, network, received, start
from .test_misbehaving import envelope_version
from .test_network_daemons import cli, status, wait_for

BULK = 3_000


def scan(node: Daemon, n: int) -> dict[str, Any]:
    result = call(node, "scan.submit", document=doc(n))
    assert isinstance(result, dict)
    return result


def test_a_restarted_node_answers_while_loading_and_never_indexes_a_withdrawn_alert(
    nodes: Nodes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, o, b = network(nodes, ("a", "The Crown"), ("o", "The Swan"), ("b", "The Bell"), fixed=True)
    call(a, "alert.create", document=doc(1), category="theft", reason="took a bag")
    gone = call(a, "alert.create", document=doc(2), category="theft", reason="took a coat")
    wait_for("both alerts reach B", lambda: received(b) == 2)
    assert scan(b, 1)["verdict"] == "check"

    # B stops; O, which will never come back, "published" BULK more that B received.
    (net,) = status(a)["networks"]
    o.stop()
    b.stop()
    signer, key = originator_keys(o.data_dir, net["network_id"])
    pool = segment_pool(random.Random(1), 50)
    write_received(b.data_dir / "doorwatch.sqlite", signer, key, pool, BULK)

    hold = tmp_path / "hold"
    hold.touch()
    monkeypatch.setenv(HOLD_LOAD_ENV, str(hold))
    start(b)

    # The socket is open and the records are loaded; the alerts are not indexed yet.
    wait_for("B has rebuilt its replica", lambda: status(b)["loading"]["phase"] == "alerts")
    assert status(b)["loading"] == {"phase": "alerts", "done": 0, "total": BULK + 2}
    assert received(b) == 0
    subject = scan(b, 1)
    assert subject["verdict"] == "check"
    assert subject["reasons"] == ["alerts_loading"]
    assert subject["matches"] == []
    innocent = scan(b, 40)
    assert (innocent["verdict"], innocent["reasons"]) == ("check", ["alerts_loading"])
    shown = cli("status", "--data-dir", str(b.data_dir))
    assert f"Loading    network alerts: 0 of {BULK + 2}" in shown.splitlines()

    # A withdraws one alert while B is loading: B commits the tombstone (version 2)
    # meanwhile.
    assert envelope_version(b, gone["alert_id"]) == 1
    call(a, "alert.withdraw", alert_id=gone["alert_id"])
    wait_for("B commits the withdrawal", lambda: envelope_version(b, gone["alert_id"]) == 2)

    hold.unlink()
    wait_for("B has loaded", lambda: status(b)["loading"] is None)
    assert received(b) == BULK + 1
    subject = scan(b, 1)
    assert subject["verdict"] == "check"
    assert subject["reasons"] == ["possible_alert_match"]
    assert len(subject["matches"]) >= 1  # the alert not withdrawn
    withdrawn = scan(b, 2)
    assert (withdrawn["verdict"], withdrawn["matches"]) == ("admit", [])
    assert "Loading" not in cli("status", "--data-dir", str(b.data_dir))
    loaded = [line for line in b.log_lines() if '"alerts.loaded"' in line]
    assert f'"indexed": {BULK + 1}' in loaded[-1]  # this start's
