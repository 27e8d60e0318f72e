"""The isolation verdict behind the consoles' indicator (node/_health.py)."""

from __future__ import annotations

from doorwatch.node._health import ISOLATED_AFTER_S, NOT_SYNCED_AFTER_S, assess

NOW = 1_800_000_000
STARTED = NOW - 86_400


def peer(connected: bool, last_seen: int | None = None, refused: str | None = None) -> dict:
    return {"connected": connected, "last_seen": last_seen, "refused": refused}


def verdict(peers: list[dict], *, synced: int | None = NOW - 30, loading=None, in_network=True):
    return assess(
        peers=peers,
        in_network=in_network,
        now=NOW,
        started_at=STARTED,
        last_synced_at=synced,
        loading=loading,
    )


def test_a_connected_synced_node_is_ok() -> None:
    v = verdict([peer(True, NOW), peer(False, NOW - 5000)])
    assert (v["state"], v["connected"], v["members"], v["isolated_s"]) == ("ok", 1, 2, 0)


def test_no_member_connected_for_long_is_isolated_and_says_for_how_long() -> None:
    v = verdict([peer(False, NOW - 3 * 3600), peer(False, None)])
    assert v["state"] == "isolated"
    assert v["isolated_s"] == 3 * 3600
    assert v["last_contact_at"] == NOW - 3 * 3600
    assert "3 h" in str(v["message"])


def test_a_short_break_is_not_yet_isolation() -> None:
    v = verdict([peer(False, NOW - ISOLATED_AFTER_S + 60)])
    assert v["state"] == "ok"
    assert v["isolated_s"] == ISOLATED_AFTER_S - 60


def test_isolation_counts_from_the_start_at_the_latest() -> None:
    v = assess(
        peers=[peer(False, NOW - 10 * 86_400)],
        in_network=True,
        now=NOW,
        started_at=NOW - 120,
        last_synced_at=None,
        loading=None,
    )
    assert (v["state"], v["isolated_s"]) == ("ok", 120)


def test_refused_members_do_not_count() -> None:
    v = verdict([peer(True, NOW, refused="certificate revoked")])
    assert (v["state"], v["members"], v["isolated_s"]) == ("alone", 0, None)


def test_connected_but_not_synced_for_long() -> None:
    v = verdict([peer(True, NOW)], synced=NOW - NOT_SYNCED_AFTER_S - 60)
    assert v["state"] == "not_synced"
    v = verdict([peer(True, NOW)], synced=None)  # up a day, never synced
    assert v["state"] == "not_synced"


def test_loading_comes_first_and_a_node_alone_is_not_isolated() -> None:
    loading = {"phase": "alerts", "done": 1, "total": 9}
    assert verdict([peer(False, NOW - 86_000)], loading=loading)["state"] == "loading"
    assert verdict([], in_network=False)["state"] == "alone"
    assert "no network" in str(verdict([], in_network=False)["message"])
