"""`doorwatch status`: what the node is, who it is connected to; and a health check.

``status --check`` is for systemd and monitoring. It exits

- 0 when the node runs and is not isolated: a peer is connected now, or the
  last contact with any peer (or the daemon's start, if later) is at most
  ``--isolated-after`` seconds ago. A node in no network yet, or whose
  networks have no other admitted member, passes: it has nobody to be
  cut off from, and it still answers every scan from local data. Pass
  ``--require-peers`` to fail such a node instead.
- 3 when the node is not running;
- 4 when it is isolated for longer than the threshold (or has no peers
  with ``--require-peers``);
- 1 when the node cannot be asked (e.g. permission denied on the socket).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from doorwatch.cli._client import EXIT_ISOLATED, NodeClient
from doorwatch.cli._options import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    JsonOption,
    PasswordFileOption,
    UserOption,
    format_ago,
    format_duration,
    parse_duration,
)
from doorwatch.cli._output import echo_json, reported
from doorwatch.node._health import isolated_for


def health(
    status: dict[str, Any], now: int, isolated_after: int, require_peers: bool
) -> dict[str, Any]:
    """The verdict of ``status --check`` from a ``node.status`` result."""
    started = now - int(status.get("uptime_s", 0))
    isolated, why = isolated_for(status.get("peers", []), now=now, started_at=started)
    if isolated is None:
        ok = not require_peers
        why = "no other venue in any network yet" if status.get("networks") else "in no network yet"
        return {"healthy": ok, "isolated_s": None, "reason": why}
    return {"healthy": isolated <= isolated_after, "isolated_s": isolated, "reason": why}


def status(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Health check: exit 0 if running and not isolated, 3 if not running, "
            "4 if isolated from every peer for longer than --isolated-after.",
        ),
    ] = False,
    isolated_after: Annotated[
        str,
        typer.Option(
            help="With --check: how long without any connected peer before failing, "
            "in seconds or with a unit (90s, 10m, 2h, 1d)."
        ),
    ] = "10m",
    require_peers: Annotated[
        bool,
        typer.Option(
            "--require-peers", help="With --check: fail a node with no other venue to reach."
        ),
    ] = False,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the node's venue, peer id, networks, peers (with last contact) and alert counts.

    With --check, a health check for systemd or monitoring (exit codes 0, 3, 4).
    A node in no network yet passes the check (nothing to be isolated from)
    unless --require-peers is given.

    Example: doorwatch status --check --isolated-after 15m
    """
    with reported():
        threshold = parse_duration(isolated_after, "--isolated-after")
    with reported(), NodeClient.open(data_dir, user=user, password_file=password_file) as c:
        result: dict[str, Any] = c.call("node.status")
    now = int(time.time())
    if check:
        verdict = health(result, now, threshold, require_peers)
        if json_:
            echo_json({"venue": result["venue"], **verdict})
        elif verdict["healthy"]:
            typer.echo(f"OK: {result['venue']} is running ({verdict['reason']})")
        else:
            if verdict["isolated_s"] is None:
                why = verdict["reason"]
            else:
                why = (
                    f"no peer connected for {format_duration(verdict['isolated_s'])} "
                    f"(threshold {format_duration(threshold)})"
                )
            typer.echo(f"ISOLATED: {result['venue']}: {why}")
        if not verdict["healthy"]:
            raise typer.Exit(EXIT_ISOLATED)
        return
    if json_:
        echo_json(result)
        return
    print_status(result, now)


def print_status(s: dict[str, Any], now: int) -> None:
    counts = s.get("counts", {})
    typer.echo(
        f"Venue      {s['venue']}  (Doorwatch {s['version']}, up {format_duration(s['uptime_s'])})"
    )
    typer.echo(f"Peer id    {s['short_id']}")
    typer.echo(f"           {s['peer_id']}")
    for addr in s.get("listen_addresses") or ["(not listening)"]:
        typer.echo(f"Listening  {addr}")
    if url := s.get("console_url"):
        typer.echo(f"Console    {url}")
    if fp := s.get("console_fingerprint"):
        typer.echo(f"           certificate SHA-256 {fp}")
    networks = s.get("networks", [])
    if not networks:
        typer.echo("Networks   none yet (create one, or join with an invite: doorwatch network)")
    for n in networks:
        role = ", authority" if n.get("authority") else ""
        typer.echo(f"Network    {n['name']} ({n['members']} members{role})  {n['network_id']}")
    peers = s.get("peers", [])
    if networks and not peers:
        typer.echo("Peers      none yet")
    for p in peers:
        if p.get("refused"):
            state = f"refused: {p['refused']}"
        elif p.get("connected"):
            state = "connected"
        else:
            state = f"last seen {format_ago(p.get('last_seen'), now)}"
        typer.echo(f"Peer       {p['venue']:<24} {p['short_id']:<24} {state}")
    if h := s.get("health"):
        # The same words the consoles show; amber when matches may be incomplete.
        typer.secho(
            f"Health     {h['message']}",
            fg=None if h["state"] in ("ok", "alone") else "yellow",
        )
    typer.echo(
        f"Alerts     {counts.get('alerts_originated_active', 0)} active from this venue, "
        f"{counts.get('alerts_received_active', 0)} received"
    )
    if alarms := counts.get("disclosure_alarms_7d"):
        typer.secho(
            f"Disclosure {alarms} identity-check limit(s) or alarm(s) in the last 7 days: "
            "someone may be guessing; see `doorwatch audit --action disclosure.limit_reached` "
            "and `--action disclosure.alarm`",
            fg="yellow",
        )
    if loading := s.get("loading"):
        typer.echo(f"Loading    network alerts: {loading['done']} of {loading['total']}")
