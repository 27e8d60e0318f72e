"""Forming a network from the command line, with real daemons on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import trio

from doorwatch.crypto import NodeIdentity
from doorwatch.node._p2p_errors import PeerUnreachable
from doorwatch.node._p2p_host import P2PHost
from doorwatch.node.testing import Daemon, doorwatch

from .conftest import Nodes

WAIT = 30.0  # seconds to wait for a state the nodes must reach on their own


def cli(*args: str) -> str:
    done = doorwatch(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def cli_fails(*args: str) -> str:
    done = doorwatch(*args)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def status(node: Daemon) -> dict[str, Any]:
    client = node.client()
    try:
        result = client.result("node.status")
    finally:
        client.close()
        node.clients.remove(client)
    assert isinstance(result, dict)
    return result


def wait_for(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {WAIT} s: {what}")
        time.sleep(0.25)


def members(node: Daemon) -> dict[str, dict[str, Any]]:
    out = json.loads(cli("network", "members", "--data-dir", str(node.data_dir), "--json"))
    return {m["venue"]: m for m in out["members"]}


def connected_venues(node: Daemon) -> set[str]:
    return {p["venue"] for p in status(node)["peers"] if p["connected"]}


def epochs(node: Daemon) -> dict[str, int]:
    (network,) = status(node)["networks"]
    return dict(network["group_epochs"])


def peer_addresses(node: Daemon, venue: str) -> list[str]:
    (peer,) = [p for p in status(node)["peers"] if p["venue"] == venue]
    return list(peer["addresses"])


def peer_id(node: Daemon) -> str:
    return str(status(node)["peer_id"])


def invite(a: Daemon, venue: str, *extra: str) -> str:
    token = cli("network", "invite", "--data-dir", str(a.data_dir), "--venue", venue, *extra)
    assert token.startswith("dwinv1-")
    assert "\n" not in token
    return token


def test_three_venues_form_a_network_and_revoke_one(nodes: Nodes) -> None:
    a = nodes.new("a", "The Crown")
    network_id = cli("network", "create", "--data-dir", str(a.data_dir), "--name", "Town")
    assert len(network_id) == 16
    a.start()

    # B joins offline (its daemon not running) and starts afterwards.
    b = nodes.new("b", "The Swan")
    token_b = invite(a, "The Swan", "--groups", "door")
    out = cli("network", "join", token_b, "--data-dir", str(b.data_dir))
    assert network_id in out
    b.start()

    # C's daemon runs while it joins: the CLI asks it over the socket.
    c = nodes.new("c", "The Bell")
    c.start()
    token_c = invite(a, "The Bell", "--groups", "door")
    cli("network", "join", token_c, "--data-dir", str(c.data_dir))

    venues = {"The Crown", "The Swan", "The Bell"}
    for node in (a, b, c):
        wait_for("every node lists three members", lambda n=node: set(members(n)) == venues)
        wait_for(
            "every node is connected to the two others",
            lambda n=node: connected_venues(n) | {status(n)["venue"]} == venues,
        )
    listed = members(b)
    assert listed["The Swan"]["groups"] == ["all", "door"]
    assert listed["The Crown"]["key_manager"] is True
    assert listed["The Crown"]["last_seen"] is not None
    assert not any(m["revoked"] for m in listed.values())
    assert epochs(b) == {"all": 1, "door": 1}

    # A spent invite is refused, with one clear line.
    d = nodes.new("d", "The Outsider")
    message = cli_fails("network", "join", token_b, "--data-dir", str(d.data_dir))
    assert "refused" in message

    # Revoke C: A and B drop it and move to a new key epoch that C does not get.
    c_id = peer_id(c)
    cli("network", "revoke", c_id, "--data-dir", str(a.data_dir))
    for node in (a, b):
        wait_for("the new epoch reaches A and B", lambda n=node: epochs(n) == {"all": 2, "door": 2})
        wait_for("C is disconnected", lambda n=node: "The Bell" not in connected_venues(n))
        assert members(node)["The Bell"]["revoked"] is True
        (bell,) = [p for p in status(node)["peers"] if p["venue"] == "The Bell"]
        assert bell["refused"] == "certificate revoked"
    wait_for("C is cut off", lambda: connected_venues(c) == set())
    # C was told, and left: its old keys and certificates are gone (test_leave_daemons.py).
    wait_for("C has left the network", lambda: status(c)["networks"] == [])


def test_outsider_is_refused_at_the_connection(nodes: Nodes) -> None:
    a = nodes.new("a", "The Crown")
    cli("network", "create", "--data-dir", str(a.data_dir), "--name", "Town")
    a.start()
    addrs = status(a)["listen_addresses"]
    a_id = peer_id(a)

    async def dial() -> None:
        outsider = P2PHost(NodeIdentity.generate(), admit=lambda _: None, route_logging=False)
        async with outsider:
            try:
                await outsider.connect(a_id, addrs)
            except PeerUnreachable:
                return
            # The handshake may complete on our side before A closes it.
            with trio.fail_after(WAIT):
                while outsider.is_connected(a_id):
                    await trio.sleep(0.05)

    trio.run(dial)
    gate = status(a)["gate"]
    assert gate["refused_by_reason"].get("no certificate", 0) >= 1


def test_bad_invites_are_refused_with_one_line(nodes: Nodes) -> None:
    a = nodes.new("a", "The Crown")
    cli("network", "create", "--data-dir", str(a.data_dir), "--name", "Town")
    a.start()
    b = nodes.new("b", "The Swan")

    message = cli_fails("network", "join", "garbage", "--data-dir", str(b.data_dir))
    assert "not a Doorwatch invite token" in message
    message = cli_fails("network", "join", "dwinv1-abcdef", "--data-dir", str(b.data_dir))
    assert "not a Doorwatch invite token" in message

    token = invite(a, "The Swan", "--expires-in", "1s")
    time.sleep(1.5)
    message = cli_fails("network", "join", token, "--data-dir", str(b.data_dir))
    assert "expired" in message

    message = cli_fails("network", "members", "--data-dir", str(b.data_dir))
    assert "no network" in message

    # The same answers when B's daemon runs (the CLI asks it over the socket).
    b.start()
    message = cli_fails("network", "join", "garbage", "--data-dir", str(b.data_dir))
    assert "not a Doorwatch invite token" in message
    message = cli_fails("network", "join", token, "--data-dir", str(b.data_dir))
    assert "expired" in message
    spent = invite(a, "The Swan")
    cli("network", "join", spent, "--data-dir", str(b.data_dir))
    c = nodes.new("c", "The Bell")
    c.start()
    message = cli_fails("network", "join", spent, "--data-dir", str(c.data_dir))
    assert "refused" in message
    assert status(c)["networks"] == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_members_reconnect_after_the_authority_restarts(nodes: Nodes) -> None:
    a = nodes.new("a", "The Crown")
    cli("network", "create", "--data-dir", str(a.data_dir), "--name", "Town")
    # Stopped, with a listen port chosen at start-up: an offline invite cannot name it.
    message = cli_fails("network", "invite", "--data-dir", str(a.data_dir), "--venue", "X")
    assert "fixed listen port" in message
    listen = f"/ip4/127.0.0.1/tcp/{free_port()}"
    a.start("--listen", listen)
    assert status(a)["listen_addresses"] == [listen]
    b = nodes.new("b", "The Swan")
    b.start()
    cli("network", "join", invite(a, "The Swan"), "--data-dir", str(b.data_dir))
    wait_for("B connects to A", lambda: connected_venues(b) == {"The Crown"})

    a.stop()
    wait_for("B notices A is gone", lambda: connected_venues(b) == set())
    a.start("--listen", listen)
    wait_for("B reconnects to A", lambda: connected_venues(b) == {"The Crown"})
    wait_for("A sees B", lambda: connected_venues(a) == {"The Swan"})
    assert set(members(a)) == {"The Crown", "The Swan"}


def test_members_find_each_other_after_restarts_while_the_authority_is_offline(
    nodes: Nodes,
) -> None:
    # Every node listens on a port chosen at start-up, so a restart moves it.
    # With the key manager (A) offline, no membership bundle relays the new
    # addresses: B's and C's signed presence records must.
    a = nodes.new("a", "The Crown")
    cli("network", "create", "--data-dir", str(a.data_dir), "--name", "Town")
    a.start()
    b = nodes.new("b", "The Swan")
    c = nodes.new("c", "The Bell")
    for node in (b, c):
        node.start()
        cli("network", "join", invite(a, status(node)["venue"]), "--data-dir", str(node.data_dir))
    wait_for("B and C connect", lambda: connected_venues(c) == {"The Crown", "The Swan"})
    wait_for("B knows where C listens", lambda: peer_addresses(b, "The Bell") != [])
    a.stop()
    wait_for("C notices A is gone", lambda: connected_venues(c) == {"The Swan"})

    b.stop()
    b.start()  # a new port, which only B's presence record can tell C
    wait_for("B reaches C at the address it knows", lambda: connected_venues(c) == {"The Swan"})
    new_b = status(b)["listen_addresses"]
    wait_for("C learns B's new address", lambda: peer_addresses(c, "The Swan") == new_b)
    c.stop()
    c.start()  # a new port too: now only C can dial, and only at B's new address
    wait_for("C reconnects to B", lambda: connected_venues(c) == {"The Swan"})
    wait_for("B sees C", lambda: connected_venues(b) == {"The Bell"})
    assert status(b)["listen_addresses"] == new_b


def test_a_revocation_reaches_a_member_through_another_while_the_authority_is_offline(
    nodes: Nodes,
) -> None:
    a = nodes.new("a", "The Crown")
    cli("network", "create", "--data-dir", str(a.data_dir), "--name", "Town")
    a.start()
    others = {"b": "The Swan", "c": "The Bell", "d": "The Anchor"}
    for name, venue in others.items():
        node = nodes.new(name, venue)
        node.start()
        cli("network", "join", invite(a, venue), "--data-dir", str(node.data_dir))
    b, c, d = (nodes.daemons[n] for n in others)
    wait_for("C connects to everyone", lambda: len(connected_venues(c)) == 3)

    c.stop()
    cli("network", "revoke", peer_id(d), "--data-dir", str(a.data_dir))
    wait_for("B learns of the revocation", lambda: members(b)["The Anchor"]["revoked"] is True)
    a.stop()
    c.start()  # the key manager is offline: only B can tell C
    wait_for("C learns of the revocation", lambda: members(c)["The Anchor"]["revoked"] is True)
    wait_for("C is linked to B and not to D", lambda: connected_venues(c) == {"The Swan"})
