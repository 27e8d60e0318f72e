"""Is this node's view of the network's alerts complete? The verdict behind the consoles'
isolation indicator (``node.health``, ``node.status``'s ``health``) and ``status --check``.

A node answers every scan from what it holds; what it can miss are alerts made
elsewhere while it was cut off. So the question is about peers: is any member
connected now, when was the last contact, when did the last anti-entropy sync
with one of them complete, and are the received alerts still loading after a
start. A node with no other member to reach is ``alone``, not isolated: there
is nobody it could be missing alerts from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Literal

__all__ = [
    "ISOLATED_AFTER_S",
    "NOT_SYNCED_AFTER_S",
    "HealthState",
    "assess",
    "isolated_for",
]

ISOLATED_AFTER_S: Final = 10 * 60
"""No member connected for longer than this: ``isolated`` (``status --check``'s default)."""
NOT_SYNCED_AFTER_S: Final = 15 * 60
"""Members connected but no sync completed for longer than this: ``not_synced``. A sync
runs on every connection and every 30 s or so (``_sync_service``), so this is many
failed rounds in a row."""

HealthState = Literal["ok", "alone", "loading", "isolated", "not_synced"]


def isolated_for(
    peers: Iterable[Mapping[str, object]], *, now: int, started_at: int
) -> tuple[int | None, str]:
    """``(seconds without any admitted member connected, why)``, the seconds being None
    when there is no admitted member at all and 0 while one is connected. The last
    contact counts from the node's start at the latest (a restart is not an outage)."""
    admitted = [p for p in peers if p.get("refused") is None]
    if not admitted:
        return None, "no other venue in any network yet"
    if any(p.get("connected") for p in admitted):
        return 0, "connected"
    seen = [int(t) for p in admitted if isinstance(t := p.get("last_seen"), int)]
    return max(0, now - max([started_at, *seen])), "no peer connected"


def assess(
    *,
    peers: Iterable[Mapping[str, object]],
    in_network: bool,
    now: int,
    started_at: int,
    last_synced_at: int | None,
    loading: Mapping[str, object] | None,
) -> dict[str, object]:
    """The ``health`` object of ``node.status`` (see docs/api.md)."""
    listed = list(peers)
    admitted = [p for p in listed if p.get("refused") is None]
    isolated_s, _ = isolated_for(listed, now=now, started_at=started_at)
    seen = [int(t) for p in admitted if isinstance(t := p.get("last_seen"), int)]
    state: HealthState
    if loading is not None:
        state = "loading"
        message = (
            "Alerts from other venues are still loading after a restart: matches may be "
            "incomplete until they are in."
        )
    elif isolated_s is None:
        state = "alone"
        message = (
            "No other venue in the network yet."
            if in_network
            else "This venue is in no network yet: only its own alerts are checked."
        )
    elif isolated_s > ISOLATED_AFTER_S:
        state = "isolated"
        message = (
            f"No other venue reachable for {_duration(isolated_s)}: alerts made since may "
            "be missing here."
        )
    elif isolated_s == 0 and now - max(started_at, last_synced_at or 0) > NOT_SYNCED_AFTER_S:
        state = "not_synced"
        since = max(started_at, last_synced_at or 0)
        message = (
            f"Connected, but alerts not brought up to date for {_duration(now - since)}: "
            "alerts made elsewhere may be missing here."
        )
    else:
        state = "ok"
        message = "Connected to the network; alerts up to date."
        if isolated_s:
            message = (
                f"No other venue reachable for {_duration(isolated_s)} (a short break is normal)."
            )
    return {
        "state": state,
        "message": message,
        "connected": sum(1 for p in admitted if p.get("connected")),
        "members": len(admitted),
        "isolated_s": isolated_s,
        "last_contact_at": max(seen) if seen else None,
        "last_synced_at": last_synced_at,
    }


def _duration(seconds: int) -> str:
    minutes = seconds // 60
    if minutes < 60:
        return f"{max(1, minutes)} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{hours // 24} days"
