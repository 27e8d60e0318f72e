"""`doorwatch network ...`: create a network, invite venues, join, list, revoke.

Every command works whether or not the node runs. If its daemon runs (it
holds the data directory's lock), the command asks it over the local socket,
logged in with the cookie the daemon writes in the data directory (so the
daemon picks up the change at once, and an invite carries the addresses it
actually listens on). Otherwise the command opens the database itself while
holding the lock, so the daemon cannot start half-way through; an invite made
offline carries the configured listen addresses, which must name a fixed port.

Output: human-readable text on stdout; with --json, one JSON document.
`network create` prints only the network id, `network invite` only the token,
so scripts can capture them. Errors: one line on stderr, exit code 1.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import trio
import typer

from doorwatch.cli._logging import configure_logging
from doorwatch.cli._output import fail
from doorwatch.crypto import CryptoError
from doorwatch.node import NodeError
from doorwatch.node import _network_admin as admin
from doorwatch.node._datadir import DataDir
from doorwatch.node._errors import DataDirLocked
from doorwatch.node._network import join_network
from doorwatch.node._setup import load_identity, load_node_config, load_storage_key
from doorwatch.node._store import open_database

T = TypeVar("T")
COOKIE_NAME = "doorwatch.cookie"

network_app = typer.Typer(
    help="Form and administer networks of venues (works with the node running or stopped).",
    no_args_is_help=True,
)

DataDirOption = Annotated[
    Path,
    typer.Option("--data-dir", envvar="DOORWATCH_DATA_DIR", help="The node's data directory."),
]
NetworkOption = Annotated[
    str | None, typer.Option("--network", help="Network id (when the node is in several).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


class _RpcFailed(Exception):
    pass


def _rpc(d: DataDir, method: str, params: dict[str, object], timeout: float = 60) -> Any:
    """One call to the running daemon, logged in with its cookie."""
    try:
        cookie = d.read_secret(COOKIE_NAME).decode()
    except (OSError, NodeError):
        raise _RpcFailed("the node is running but its login cookie is not readable") from None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(d.socket))
        buf = b""
        replies = []
        for rid, (m, p) in enumerate(
            [("session.login", {"cookie": cookie}), (method, params)], start=1
        ):
            sock.sendall(
                json.dumps({"jsonrpc": "2.0", "id": rid, "method": m, "params": p}).encode() + b"\n"
            )
            while b"\n" not in buf:
                data = sock.recv(65536)
                if not data:
                    raise _RpcFailed("the node closed the connection")
                buf += data
            line, buf = buf.split(b"\n", 1)
            reply = json.loads(line)
            if "error" in reply:
                raise _RpcFailed(str(reply["error"].get("message", "the node refused")))
            replies.append(reply["result"])
        return replies[-1]
    except OSError as exc:
        raise _RpcFailed(f"cannot talk to the running node: {exc.strerror or exc}") from None
    finally:
        sock.close()


@contextmanager
def _node(data_dir: Path) -> Iterator[DataDir | None]:
    """Yield None if the daemon runs (use the socket), else the locked data dir."""
    d = DataDir(data_dir)
    try:
        d.lock()
    except DataDirLocked:
        yield None
        return
    except NodeError as exc:
        fail(str(exc))
    try:
        yield d
    finally:
        d.unlock()


def _offline(d: DataDir, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    conn = open_database(d.database)
    try:
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            return fn(conn, *args, **kwargs)
    finally:
        conn.close()


def _guard(fn: Callable[[], T]) -> T:
    configure_logging("console", level="ERROR")
    # The joiner's short-lived libp2p host: its log lines are not for the user
    # (the outcome is reported in one line).
    libp2p_log = logging.getLogger("libp2p")
    libp2p_log.handlers[:] = [logging.NullHandler()]
    libp2p_log.propagate = False
    try:
        return fn()
    except _RpcFailed as exc:
        fail(str(exc))
    except (NodeError, CryptoError) as exc:
        fail(str(exc))


_DURATION = re.compile(r"^(\d+)([smhd])$")


def _seconds(text: str) -> int:
    m = _DURATION.match(text.strip())
    if m is None:
        fail("--expires-in: give a number and a unit, e.g. 30m, 24h or 7d")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


@network_app.command()
def create(
    data_dir: DataDirOption,
    name: Annotated[str, typer.Option(help="The network's name, e.g. 'Northampton Pubwatch'.")],
    jurisdiction: Annotated[
        str, typer.Option(help="Where members are (ISO 3166, e.g. GB or GB-ENG).")
    ] = admin.DEFAULT_JURISDICTION,
) -> None:
    """Create a network on this node (it holds the network authority key); print its id.

    Example: doorwatch network create --data-dir /var/lib/doorwatch --name "Town Pubwatch"
    """

    def go() -> str:
        with _node(data_dir) as d:
            if d is None:
                r = _rpc(
                    DataDir(data_dir),
                    "network.create",
                    {"name": name, "jurisdiction": jurisdiction},
                )
                return str(r["network_id"])
            return _offline(
                d,
                admin.create_network,
                identity=load_identity(d),
                storage_key=load_storage_key(d),
                venue=load_node_config(d).venue,
                name=name,
                jurisdiction=jurisdiction,
                now=int(time.time()),
            )

    typer.echo(_guard(go))


@network_app.command()
def invite(
    data_dir: DataDirOption,
    venue: Annotated[str, typer.Option(help="The invited venue's name, as members will see it.")],
    groups: Annotated[
        str, typer.Option(help="Comma-separated groups besides 'all', e.g. committee,door")
    ] = "",
    expires_in: Annotated[str, typer.Option(help="How long the invite stays valid.")] = "24h",
    network: NetworkOption = None,
) -> None:
    """Print a one-time invite token (dwinv1-...) for a venue to join.

    Example: doorwatch network invite --data-dir D --venue "The Swan" --groups door
    """
    group_list = [g.strip() for g in groups.split(",") if g.strip()]
    seconds = _seconds(expires_in)

    def go() -> str:
        with _node(data_dir) as d:
            if d is None:
                r = _rpc(
                    DataDir(data_dir),
                    "network.invite",
                    {
                        "venue": venue,
                        "groups": group_list,
                        "expires_in_s": seconds,
                        "network_id": network,
                    },
                )
                return str(r["token"])
            identity = load_identity(d)
            listen = load_node_config(d).listen
            if any(a.endswith("/tcp/0") for a in listen):
                fail(
                    "the node is not running and listens on a port chosen at start-up; "
                    "start it (doorwatch run) or configure a fixed listen port"
                )
            now = int(time.time())
            network_id = _offline(d, admin.choose_network, network, authority=True)
            token = _offline(
                d,
                admin.issue_invite,
                storage_key=load_storage_key(d),
                network_id=network_id,
                venue=venue,
                groups=group_list,
                bootstrap_addrs=[f"{a}/p2p/{identity.peer_id}" for a in listen],
                expires_at=now + seconds,
                now=now,
            )
            return token.encode()

    typer.echo(_guard(go))


@network_app.command()
def join(
    token: Annotated[str, typer.Argument(help="The invite token (dwinv1-...).")],
    data_dir: DataDirOption,
) -> None:
    """Join a network with an invite token, while the inviting node runs.

    Exits 0 only once this node holds its certificate and group keys.
    Example: doorwatch network join dwinv1-... --data-dir /var/lib/doorwatch
    """

    def go() -> str:
        with _node(data_dir) as d:
            if d is None:
                r = _rpc(DataDir(data_dir), "network.join", {"token": token})
                return str(r["network_id"])
            conn = open_database(d.database)
            try:

                async def store_run(fn: Callable[..., T], *a: object, **kw: object) -> T:
                    with conn:
                        conn.execute("BEGIN IMMEDIATE")
                        return fn(conn, *a, **kw)

                run: Callable[..., Awaitable[object]] = store_run
                return trio.run(
                    lambda: join_network(
                        run,
                        token_text=token,
                        identity=load_identity(d),
                        storage_key=load_storage_key(d),
                        now=int(time.time()),
                    )
                )
            finally:
                conn.close()

    network_id = _guard(go)
    typer.echo(f"Joined network {network_id}")


@network_app.command()
def members(
    data_dir: DataDirOption, network: NetworkOption = None, json_: JsonOption = False
) -> None:
    """List the network's members: venue, peer id, groups, validity, last seen, revoked."""

    def go() -> dict[str, Any]:
        with _node(data_dir) as d:
            if d is None:
                r: dict[str, Any] = _rpc(
                    DataDir(data_dir), "network.members", {"network_id": network}
                )
                return r
            network_id = _offline(d, admin.choose_network, network)
            peer_id = load_identity(d).peer_id
            rows = _offline(d, admin.members, network_id, peer_id)
            return {"network_id": network_id, "members": [m.to_json() for m in rows]}

    result = _guard(go)
    if json_:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(f"Network {result['network_id']}")
    for m in result["members"]:
        seen = m["last_seen"]
        seen_text = "this node" if m["self"] else (_ago(seen) if seen else "never")
        flags = " REVOKED" if m["revoked"] else ""
        typer.echo(
            f"{m['venue']:<24} {m['short_id']:<24} {','.join(m['groups']):<16} "
            f"until {time.strftime('%Y-%m-%d', time.gmtime(m['valid_until']))}  "
            f"last seen {seen_text}{flags}  {m['peer_id']}"
        )


def _ago(at: int) -> str:
    delta = max(0, int(time.time()) - at)
    return f"{delta}s ago" if delta < 120 else time.strftime("%Y-%m-%d %H:%M", time.gmtime(at))


@network_app.command()
def revoke(
    peer_id: Annotated[str, typer.Argument(help="The member's peer id.")],
    data_dir: DataDirOption,
    network: NetworkOption = None,
) -> None:
    """Revoke a member (authority node): new revocation list, group keys rotated."""

    def go() -> int:
        with _node(data_dir) as d:
            if d is None:
                r = _rpc(
                    DataDir(data_dir), "network.revoke", {"peer_id": peer_id, "network_id": network}
                )
                return int(r["revocation_serial"])
            network_id = _offline(d, admin.choose_network, network, authority=True)
            rl = _offline(
                d,
                admin.revoke_member,
                storage_key=load_storage_key(d),
                network_id=network_id,
                peer_id=peer_id,
                now=int(time.time()),
            )
            return rl.serial

    serial = _guard(go)
    typer.echo(f"Revoked {peer_id} (revocation list serial {serial}); group keys rotated")
