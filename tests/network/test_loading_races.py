"""Changes that arrive while a node loads its received alerts win over what it stored.

In process (``ladder_pair``): B's replication is taken back to its state right after a
start (replicas and index empty, loading), its replicas are rebuilt from its store,
and the loader has listed what it will open (and is held there by the test hook),
the originator amends one alert and withdraws another, which B applies through gossip
as usual. The loader must leave the newer version indexed and must not index the
withdrawn alert. With ``LOAD_SLICE_S`` at 0 the loader yields after every record, so
scans and gossip run between any two of them; the outcome checked does not depend on
how they interleave.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from doorwatch.node import _alert_gossip
from doorwatch.node._ladder_testing import ladder_pair
from doorwatch.node._roles import Role

from .test_ladder import create_alert
from .test_replication_repairs import replicating, scan_at_b, until


async def test_an_update_and_a_withdrawal_during_loading_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_alert_gossip, "LOAD_SLICE_S", 0.0)
    with trio.fail_after(120):
        async with (
            ladder_pair(tmp_path) as pair,
            replicating(pair) as r,
            trio.open_nursery() as nursery,
        ):
            rb, nid = r.rb, pair.network_id
            amended, withdrawn = await create_alert(pair), await create_alert(pair)
            received = pair.b.h.venue.received
            await until("B receives both", lambda: {amended, withdrawn} <= set(received))

            # B as just started: nothing in memory, scans say alerts_loading.
            for alert_id in list(received):
                rb._unindex(alert_id)
            rb.replicas.clear()
            rb.start_loading()
            scan = await scan_at_b(pair)
            assert (scan["verdict"], scan["reasons"]) == ("check", ["alerts_loading"])
            await rb.load_replicas()
            records = {"phase": "records", "done": 2, "total": 2}
            assert rb.loading_status() == records
            hold = tmp_path / "hold"
            hold.touch()
            monkeypatch.setenv(_alert_gossip.HOLD_LOAD_ENV, str(hold))
            loaded = trio.Event()

            async def load_alerts() -> None:
                await rb.load_alerts()
                loaded.set()

            nursery.start_soon(load_alerts)
            await until("the loader has listed them", lambda: rb.loading_status() != records)
            assert rb.loading_status() == {"phase": "alerts", "done": 0, "total": 2}

            # The originator changes both while B has not opened them yet.
            await pair.a.h.call(
                "alert.amend", Role.SUPERVISOR, alert_id=amended, notes="seen again"
            )
            await pair.a.h.call("alert.withdraw", Role.SUPERVISOR, alert_id=withdrawn)

            def b_holds_both_changes() -> bool:
                new = rb.replica(nid).record(bytes.fromhex(amended))
                gone = rb.replica(nid).record(bytes.fromhex(withdrawn))
                return new is not None and new.version == 2 and gone is not None and gone.withdrawn

            await until("B applies both changes", b_holds_both_changes)
            async with rb._lock:  # and has committed them and updated its index
                pass
            # Ingest indexes what it applies, loading or not: the new version is matched.
            assert set(received) == {amended}
            scan = await scan_at_b(pair)
            assert scan["reasons"] == ["possible_alert_match", "alerts_loading"]

            hold.unlink()
            await loaded.wait()
            assert rb.loading_status() is None
            assert set(received) == {amended}
            assert received[amended].version == 2
            assert pair.b.h.venue.engine.loading is False
            scan = await scan_at_b(pair)
            assert scan["verdict"] == "check"
            assert scan["reasons"] == ["possible_alert_match"]
            assert len(scan["matches"]) == 1
