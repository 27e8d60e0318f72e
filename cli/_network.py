"""`doorwatch network ...`: create a network, invite venues, join, list, revoke,
leave, move the authority key offline and back, and manage distribution groups.

Every command works whether or not the node runs. If its daemon runs (it
holds the data directory's lock), the command asks it over the local socket,
logged in with the cookie the daemon writes in the data directory (so the
daemon picks up the change at once, and an invite carries the addresses it
actually listens on). Otherwise the command opens the database itself while
holding the lock, so the daemon cannot start half-way through; an invite made
offline carries the configured listen addresses, which must name a fixed port.
Offline, the commands that need the storage key (create, invite, join, revoke,
export-authority, import-authority, group) take its passphrase as `doorwatch
run` does (``cli/_passphrase.py``); members and leave do not need it.

Output: human-readable text on stdout; with --json, one JSON document.
`network create` prints only the network id, `network invite` only the token,
so scripts can capture them. Errors: one line on stderr, exit code 1.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import trio
import typer

from doorwatch.cli._client import ClientError, NodeClient
from doorwatch.cli._logging import configure_logging
from doorwatch.cli._options import DEFAULT_DATA_DIR, DataDirOption, JsonOption
from doorwatch.cli._output import fail
from doorwatch.cli._passphrase import passphrase_for
from doorwatch.crypto import CryptoError, StorageKey
from doorwatch.node import NodeError
from doorwatch.node import _network_admin as admin
from doorwatch.node._datadir import DataDir
from doorwatch.node._errors import DataDirLocked
from doorwatch.node._network import join_network
from doorwatch.node._network_api import LOCAL_ADMIN
from doorwatch.node._node_key import load_node_key, node_peer_id
from doorwatch.node._purge import checkpoint
from doorwatch.node._setup import load_node_config
from doorwatch.node._storage_key import load_storage_key
from doorwatch.node._store import open_database

T = TypeVar("T")

network_app = typer.Typer(
    add_completion=False,
    help="Form and administer networks of venues (works with the node running or stopped).",
    no_args_is_help=True,
)

NetworkOption = Annotated[
    str | None, typer.Option("--network", help="Network id (when the node is in several).")
]
PassphraseFileOption = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help="File whose first line is the passphrase of the authority key file.",
    ),
]
group_app = typer.Typer(
    add_completion=False,
    help="Distribution groups of a network (on the node that created it).",
    no_args_is_help=True,
)
network_app.add_typer(group_app, name="group")


def _rpc(d: DataDir, method: str, params: dict[str, object], timeout: float = 60) -> Any:
    """One call to the running daemon, logged in with its cookie (cli/_client.py)."""
    with NodeClient.open(d.path, timeout=timeout) as client:
        return client.call(method, **params)


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


def _storage_key(d: DataDir) -> StorageKey:
    """The storage key, for a command run while the node is stopped: the passphrase as
    `doorwatch run` takes it, or asked for at a terminal."""
    passphrase = passphrase_for(d.path, load_node_config(d).passphrase_file)
    loaded = load_storage_key(d, passphrase)
    if loaded.migrated:
        typer.echo(
            "note: storage.key held the raw storage key (made by an older Doorwatch); it is "
            "now sealed under the passphrase. Destroy backups made before now.",
            err=True,
        )
    return loaded.key


def _keys(d: DataDir) -> dict[str, Any]:
    """The storage key and the node's identity (sealed under it), for a command that
    acts as the node while it is stopped."""
    key = _storage_key(d)
    loaded = load_node_key(d, key)
    if loaded.migrated:
        typer.echo(
            "note: node.key held the raw identity seed (made by an older Doorwatch); it is "
            "now sealed under the storage key. Destroy backups made before now.",
            err=True,
        )
    return {"identity": loaded.identity, "storage_key": key}


def _guard(fn: Callable[[], T]) -> T:
    configure_logging("console", level="ERROR")
    # The joiner's short-lived libp2p host: its log lines are not for the user
    # (the outcome is reported in one line).
    libp2p_log = logging.getLogger("libp2p")
    libp2p_log.handlers[:] = [logging.NullHandler()]
    libp2p_log.propagate = False
    try:
        return fn()
    except ClientError as exc:
        fail(str(exc), code=exc.exit_code)
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
    name: Annotated[str, typer.Option(help="The network's name, e.g. 'Northampton Pubwatch'.")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
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
                **_keys(d),
                venue=load_node_config(d).venue,
                name=name,
                jurisdiction=jurisdiction,
                now=int(time.time()),
            )

    typer.echo(_guard(go))


@network_app.command()
def invite(
    venue: Annotated[str, typer.Option(help="The invited venue's name, as members will see it.")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    groups: Annotated[
        str, typer.Option(help="Comma-separated groups besides 'all', e.g. committee,door")
    ] = "",
    expires_in: Annotated[str, typer.Option(help="How long the invite stays valid.")] = "24h",
    network: NetworkOption = None,
    qr: Annotated[
        bool, typer.Option("--qr", help="Also print the token as a QR code in the terminal.")
    ] = False,
    qr_png: Annotated[
        Path | None, typer.Option("--qr-png", help="Also save the token as a QR code PNG.")
    ] = None,
) -> None:
    """Print a one-time invite token (dwinv1-...) for a venue to join.

    The token is the first line of the output; --qr adds a QR code below it.
    Example: doorwatch network invite --data-dir D --venue "The Swan" --groups door --qr
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
            peer_id = node_peer_id(d)
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
                storage_key=_storage_key(d),
                network_id=network_id,
                venue=venue,
                groups=group_list,
                bootstrap_addrs=[f"{a}/p2p/{peer_id}" for a in listen],
                expires_at=now + seconds,
                now=now,
            )
            return token.encode()

    token = _guard(go)
    typer.echo(token)
    if qr or qr_png is not None:
        _qr(token, terminal=qr, png=qr_png)


def _qr(token: str, *, terminal: bool, png: Path | None) -> None:
    import segno  # only here: the other commands do not pay for it

    code = segno.make(token, error="m", micro=False)
    if terminal:
        code.terminal(out=sys.stdout, compact=True)
    if png is not None:
        # The token admits whoever holds it in the invited venue's place: the
        # picture is as secret as the token, so owner-only from the start.
        buf = io.BytesIO()
        code.save(buf, kind="png", scale=6, border=4)
        try:
            fd = os.open(png, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(buf.getvalue())
        except OSError as exc:
            fail(f"--qr-png: cannot write {png}: {exc.strerror or exc}")


@network_app.command()
def join(
    token: Annotated[str, typer.Argument(help="The invite token (dwinv1-...).")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
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
                        **_keys(d),
                        now=int(time.time()),
                    )
                )
            finally:
                conn.close()

    network_id = _guard(go)
    typer.echo(f"Joined network {network_id}")


@network_app.command()
def members(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    network: NetworkOption = None,
    json_: JsonOption = False,
) -> None:
    """List the network's members: venue, peer id, groups, validity, last seen, revoked.

    Example: doorwatch network members --data-dir /var/lib/doorwatch --json
    """

    def go() -> dict[str, Any]:
        with _node(data_dir) as d:
            if d is None:
                r: dict[str, Any] = _rpc(
                    DataDir(data_dir), "network.members", {"network_id": network}
                )
                return r
            network_id = _offline(d, admin.choose_network, network)
            peer_id = node_peer_id(d)
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
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    network: NetworkOption = None,
) -> None:
    """Revoke a member (authority node): new revocation list, group keys rotated.

    A running revoked node is told at once and deletes what it received through the
    network.

    Example: doorwatch network revoke 12D3KooW... --data-dir /var/lib/doorwatch
    """

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
                storage_key=_storage_key(d),
                network_id=network_id,
                peer_id=peer_id,
                now=int(time.time()),
            )
            return rl.serial

    serial = _guard(go)
    typer.echo(f"Revoked {peer_id} (revocation list serial {serial}); group keys rotated")


def _either(
    data_dir: Path,
    method: str,
    params: dict[str, object],
    offline: Callable[[DataDir], dict[str, Any]],
) -> dict[str, Any]:
    """The running node's answer to ``method``, or ``offline(d)`` on the locked data
    directory, which answers in the same shape."""

    def go() -> dict[str, Any]:
        with _node(data_dir) as d:
            if d is None:
                r: dict[str, Any] = _rpc(DataDir(data_dir), method, params)
                return r
            return offline(d)

    return _guard(go)


def _now() -> int:
    return int(time.time())


@network_app.command()
def leave(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    network: NetworkOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_: JsonOption = False,
) -> None:
    """Leave a network, deleting every alert received through it.

    Also deletes the network's group keys and certificates and disconnects from its
    members. This venue's own alerts stay here but are no longer shared with that
    network. Audited.

    Example: doorwatch network leave --data-dir /var/lib/doorwatch --yes
    """
    if not yes:
        if not sys.stdin.isatty():
            fail("leaving deletes every alert received through the network; add --yes to confirm")
        if not typer.confirm(
            "Leave the network and delete every alert received through it?", err=True
        ):
            fail("not confirmed; nothing changed")

    def offline(d: DataDir) -> dict[str, Any]:
        left = _offline(
            d,
            admin.leave_network,
            network_id=_offline(d, admin.choose_network, network),
            self_peer_id=node_peer_id(d),
            actor=LOCAL_ADMIN,
            now=_now(),
        )
        checkpoint(d.database)  # purged rows must not survive in the WAL
        return left.to_json()

    result = _either(data_dir, "network.leave", {"network_id": network}, offline)
    if json_:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(
        f"Left network {result['network_id']} ({result['name']}); "
        f"{result['received_deleted']} received alert record(s) deleted"
    )


def _passphrase(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"--passphrase-file: cannot read {path}: {exc}")
    if not lines or len(lines[0]) < 8:
        fail("--passphrase-file: the first line must hold a passphrase of 8 characters or more")
    return lines[0]


_UNPROTECTED = (
    "warning: {path} holds the network authority key WITHOUT a passphrase: anyone who "
    "reads it can admit venues to the network and revoke members. Keep it offline "
    "(e.g. on an encrypted USB stick in a safe), or export again with --passphrase-file."
)


def _write_new(out: Path, text: str) -> None:
    """Create ``out`` (0600, never over an existing file) with ``text``, durably."""
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"--out: {out} already exists; choose a new file")
    except OSError as exc:
        fail(f"--out: cannot create {out}: {exc.strerror or exc}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        out.unlink(missing_ok=True)
        fail(f"--out: cannot write {out}: {exc.strerror or exc}")


@network_app.command("export-authority")
def export_authority(
    out: Annotated[Path, typer.Option("--out", help="File to write (created, mode 0600).")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    remove: Annotated[
        bool,
        typer.Option(
            "--remove",
            help="Then delete the key from this node (invite, revoke, group changes and "
            "certificate renewal need it back: network import-authority FILE).",
        ),
    ] = False,
    passphrase_file: PassphraseFileOption = None,
    network: NetworkOption = None,
    json_: JsonOption = False,
) -> None:
    """Export the network authority key to a file for offline keeping.

    Example: doorwatch network export-authority --data-dir D --out /media/usb/town.key
    --passphrase-file pass.txt --remove
    """
    passphrase = _passphrase(passphrase_file)
    if out.exists():
        fail(f"--out: {out} already exists; choose a new file")

    def offline_export(d: DataDir) -> dict[str, Any]:
        network_id = _offline(d, admin.choose_network, network, authority=True)
        now = _now()
        authority, name = _offline(
            d,
            admin.export_authority,
            storage_key=_storage_key(d),
            network_id=network_id,
            now=now,
            actor=LOCAL_ADMIN,
        )
        document = admin.authority_document(authority, name=name, passphrase=passphrase, now=now)
        return {"network_id": network_id, "document": document}

    result = _either(
        data_dir,
        "network.export_authority",
        {"network_id": network, "passphrase": passphrase},
        offline_export,
    )
    network_id = str(result["network_id"])
    _write_new(out, json.dumps(result["document"], indent=2) + "\n")

    def offline_remove(d: DataDir) -> dict[str, Any]:
        _offline(d, admin.remove_authority, network_id=network_id, now=_now(), actor=LOCAL_ADMIN)
        checkpoint(d.database)
        return {"network_id": network_id, "removed": True}

    if remove:  # only once the file is safely written: a failed write loses nothing
        _either(data_dir, "network.remove_authority", {"network_id": network_id}, offline_remove)
    if passphrase is None:
        typer.echo(_UNPROTECTED.format(path=out), err=True)
    if json_:
        typer.echo(json.dumps({"network_id": network_id, "file": str(out), "removed": remove}))
        return
    typer.echo(f"Exported the authority key of network {network_id} to {out}")
    if remove:
        typer.echo(
            "Removed it from this node: invite, revoke and group changes now need it back "
            f"(doorwatch network import-authority {out})"
        )


@network_app.command("import-authority")
def import_authority(
    file: Annotated[Path, typer.Argument(help="The file written by export-authority.")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    passphrase_file: PassphraseFileOption = None,
) -> None:
    """Bring the network authority key back onto the node that created the network.

    Example: doorwatch network import-authority /media/usb/town.key --data-dir D
    --passphrase-file pass.txt
    """
    try:
        document = json.loads(file.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}")
    except ValueError:
        fail(f"{file} is not a Doorwatch network authority key file")
    passphrase = _passphrase(passphrase_file)

    def offline(d: DataDir) -> dict[str, Any]:
        network_id = _offline(
            d,
            admin.import_authority,
            storage_key=_storage_key(d),
            authority=admin.read_authority_file(document, passphrase),
            now=_now(),
            actor=LOCAL_ADMIN,
        )
        return {"network_id": network_id}

    result = _either(
        data_dir,
        "network.import_authority",
        {"document": document, "passphrase": passphrase},
        offline,
    )
    typer.echo(f"The authority key of network {result['network_id']} is back on this node")


MemberOption = Annotated[
    list[str] | None,
    typer.Option("--member", help="Peer id of a member to put in the group (repeatable)."),
]


def _group_change(
    data_dir: Path,
    method: str,
    change: Callable[..., admin.GroupChange],
    params: dict[str, Any],
    *,
    json_: bool,
    done: str,
) -> None:
    def offline(d: DataDir) -> dict[str, Any]:
        extra = {"members": params["members"]} if params.get("members") else {}
        return _offline(
            d,
            change,
            storage_key=_storage_key(d),
            network_id=_offline(d, admin.choose_network, params["network_id"], authority=True),
            group=params["group"],
            now=_now(),
            **extra,
        ).to_json()

    r = _either(data_dir, method, params, offline)
    if json_:
        typer.echo(json.dumps(r, indent=2))
        return
    typer.echo(
        f"Group {r['group']} {done} network {r['network_id']}; "
        f"{len(r['reissued'])} certificate(s) re-issued"
    )


@group_app.command("add")
def group_add(
    group: Annotated[str, typer.Argument(help="The group's name, e.g. door or committee.")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    member: MemberOption = None,
    network: NetworkOption = None,
    json_: JsonOption = False,
) -> None:
    """Add a distribution group to the network, and members to it.

    The group's first key is made here; each --member's certificate is re-issued with
    the group, and the member receives its key at its next membership sync. New venues
    join it with invite --groups.

    Example: doorwatch network group add committee --data-dir D --member 12D3KooW...
    """
    _group_change(
        data_dir,
        "network.group_add",
        admin.add_group,
        {"group": group, "network_id": network, "members": list(member or [])},
        json_=json_,
        done="is in",
    )


@group_app.command("remove")
def group_remove(
    group: Annotated[str, typer.Argument(help="The group's name.")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    network: NetworkOption = None,
    json_: JsonOption = False,
) -> None:
    """Remove a distribution group from the network.

    Every member's certificate is re-issued without it, and the group's keys are
    deleted here and, at their next sync, at the members. Alerts already received in
    the group stay with their recipients until they expire or are withdrawn; new alerts
    can no longer be sent to it.

    Example: doorwatch network group remove committee --data-dir D
    """
    _group_change(
        data_dir,
        "network.group_remove",
        admin.remove_group,
        {"group": group, "network_id": network},
        json_=json_,
        done="removed from",
    )


@group_app.command("list")
def group_list(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    network: NetworkOption = None,
    json_: JsonOption = False,
) -> None:
    """List the network's distribution groups and the venues in each.

    Example: doorwatch network group list --data-dir D --json
    """

    def offline(d: DataDir) -> dict[str, Any]:
        network_id = _offline(d, admin.choose_network, network, authority=True)
        groups = _offline(d, admin.list_groups, network_id, _storage_key(d))
        return {"network_id": network_id, "groups": groups}

    r = _either(data_dir, "network.groups", {"network_id": network}, offline)
    if json_:
        typer.echo(json.dumps(r, indent=2))
        return
    typer.echo(f"Network {r['network_id']}")
    for name, venues in r["groups"].items():
        typer.echo(f"{name:<16} {len(venues)} venue(s): {', '.join(venues)}")


@network_app.command()
def policy(
    anonymity_floor: Annotated[
        int | None,
        typer.Option(
            min=2,
            max=1_000_000,
            help="Sign a new policy with this anonymity floor (people in the UK expected to "
            "share an alert's segments; authority node). Omitted: show the policy held.",
        ),
    ] = None,
    notice_quorum: Annotated[
        int | None, typer.Option(min=1, max=1000, help="Banning notices: fewest votes to uphold.")
    ] = None,
    notice_majority: Annotated[
        int | None,
        typer.Option(min=50, max=100, help="Uphold takes more than this % of the committee."),
    ] = None,
    notice_lifetime_majority: Annotated[
        int | None, typer.Option(min=50, max=100, help="The same for a lifetime ban.")
    ] = None,
    notice_vote_days: Annotated[
        int | None, typer.Option(min=1, max=90, help="How long each vote stays open.")
    ] = None,
    notice_appeal_suspends: Annotated[
        bool | None,
        typer.Option(
            "--notice-appeal-suspends/--no-notice-appeal-suspends",
            help="Whether an appeal suspends the ban.",
        ),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    network: NetworkOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the network's signed policy, or (authority node) sign a new one.

    The anonymity floor sets the privacy budget every member selects segments
    within and enforces on received alerts; members get a new policy with their
    next membership sync. Alerts already made keep their segments: a member
    refuses those over a raised floor's budget.

    Example: doorwatch network policy --anonymity-floor 100 --data-dir /var/lib/doorwatch
    """

    given = {
        "notice_quorum": notice_quorum,
        "notice_majority": notice_majority,
        "notice_lifetime_majority": notice_lifetime_majority,
        "notice_vote_days": notice_vote_days,
        "notice_appeal_suspends": notice_appeal_suspends,
    }
    rules = {k: v for k, v in given.items() if v is not None}
    signing = anonymity_floor is not None or bool(rules)

    def offline(d: DataDir) -> dict[str, Any]:
        network_id = _offline(d, admin.choose_network, network, authority=signing)
        if signing:
            _offline(
                d,
                admin.set_policy,
                storage_key=_storage_key(d),
                network_id=network_id,
                anonymity_floor=anonymity_floor,
                notice_rules=rules,
                now=_now(),
                actor=LOCAL_ADMIN,
            )
        return _offline(d, admin.policy_view, network_id).to_json()

    params: dict[str, object] = {"network_id": network, **rules}
    if anonymity_floor is not None:
        params["anonymity_floor"] = anonymity_floor
    r = _either(data_dir, "network.policy", params, offline)
    if json_:
        typer.echo(json.dumps(r, indent=2))
        return
    signed = f"serial {r['serial']}" if r["serial"] else "none signed yet: defaults"
    typer.echo(
        f"Network {r['network_id']} policy ({signed}): anonymity floor "
        f"{r['anonymity_floor']} people (expected, in the UK), budget {r['budget_bits']} bits"
    )
    n = r["notices"]
    typer.echo(
        f"Banning notices: committee of {n['committee']}, uphold by more than "
        f"{n['notice_majority']}% ({n['notice_lifetime_majority']}% for life), quorum "
        f"{n['notice_quorum']}, {n['notice_vote_days']} days to vote, an appeal "
        f"{'suspends' if n['notice_appeal_suspends'] else 'does not suspend'} the ban"
    )


@network_app.command()
def roles(
    peer_id: Annotated[str, typer.Argument(help="The member's peer id (see network members).")],
    committee: Annotated[
        bool | None,
        typer.Option("--committee/--no-committee", help="On or off the banning committee."),
    ] = None,
    liaison: Annotated[
        bool | None,
        typer.Option("--liaison/--no-liaison", help="The police licensing officer's node."),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    network: NetworkOption = None,
    json_: JsonOption = False,
) -> None:
    """Put a member on the Pubwatch banning committee, or mark the police liaison.

    Its certificate is re-issued and the network policy re-signed with the committee's
    voting pseudonyms; members pick both up at their next sync. A committee needs at
    least three members before notices can be nominated.

    Example: doorwatch network roles 12D3KooW... --committee --data-dir D
    """
    params: dict[str, object] = {"peer_id": peer_id, "network_id": network}
    if committee is not None:
        params["committee"] = committee
    if liaison is not None:
        params["liaison"] = liaison

    def offline(d: DataDir) -> dict[str, Any]:
        network_id = _offline(d, admin.choose_network, network, authority=True)
        cert = _offline(
            d,
            admin.set_roles,
            storage_key=_storage_key(d),
            network_id=network_id,
            peer_id=peer_id,
            committee=committee,
            liaison=liaison,
            now=_now(),
        )
        return {
            "network_id": network_id,
            "peer_id": cert.peer_id,
            "venue": cert.venue,
            "committee": cert.committee,
            "liaison": cert.liaison,
        }

    r = _either(data_dir, "network.roles", params, offline)
    if json_:
        typer.echo(json.dumps(r, indent=2))
        return
    typer.echo(
        f"{r['venue']}: committee {'yes' if r['committee'] else 'no'}, "
        f"liaison {'yes' if r['liaison'] else 'no'}"
    )
