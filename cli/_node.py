"""`doorwatch init` and `doorwatch run`: create a node, run its daemon."""

from __future__ import annotations

import getpass
import time
from functools import partial
from pathlib import Path
from typing import Annotated

import trio
import typer

from doorwatch.cli._logging import LogFormat, configure_logging
from doorwatch.cli._output import fail
from doorwatch.node import NodeError, init_node, run_daemon
from doorwatch.node._p2p_host import parse_multiaddr

DataDirOption = Annotated[
    Path,
    typer.Option("--data-dir", envvar="DOORWATCH_DATA_DIR", help="The node's data directory."),
]


def init(
    data_dir: DataDirOption,
    venue: Annotated[str, typer.Option(help="The venue's name, as other venues will see it.")],
    admin_user: Annotated[str, typer.Option(help="User name of the first super administrator.")],
    password_file: Annotated[
        Path | None,
        typer.Option(help="File holding that user's password (prompted for when omitted)."),
    ] = None,
) -> None:
    """Create a node: keys, configuration, database and the first super administrator.

    Example: doorwatch init --data-dir /var/lib/doorwatch --venue "The Crown"
    --admin-user alice --password-file ./alice.pw
    """
    if password_file is not None:
        try:
            password = password_file.read_text("utf-8").rstrip("\r\n")
        except OSError as exc:
            fail(f"cannot read the password file {password_file}: {exc.strerror}")
    else:
        password = getpass.getpass(f"Password for {admin_user}: ")
        if getpass.getpass("Again: ") != password:
            fail("the two passwords differ")
    try:
        peer_id = init_node(
            data_dir, venue=venue, admin_user=admin_user, password=password, now=int(time.time())
        )
    except NodeError as exc:
        fail(str(exc))
    typer.echo(f"Created the node for {venue} in {data_dir}")
    typer.echo(f"Peer id: {peer_id}")


def run(
    data_dir: DataDirOption,
    log_format: Annotated[
        str, typer.Option(envvar="DOORWATCH_LOG_FORMAT", help="console or json")
    ] = "console",
    listen: Annotated[
        list[str] | None,
        typer.Option(
            "--listen",
            help="Peer-to-peer listen multiaddr, e.g. /ip4/0.0.0.0/tcp/4001 (repeatable; "
            "overrides the configuration).",
        ),
    ] = None,
) -> None:
    """Run the node's daemon in the foreground until SIGINT or SIGTERM.

    Example: doorwatch run --data-dir /var/lib/doorwatch --listen /ip4/0.0.0.0/tcp/4001
    """
    if log_format not in ("console", "json"):
        fail("--log-format must be console or json")
    fmt: LogFormat = "json" if log_format == "json" else "console"
    for addr in listen or []:
        try:
            parse_multiaddr(addr, "--listen")
        except NodeError as exc:
            fail(str(exc))
    configure_logging(fmt)
    try:
        trio.run(partial(run_daemon, data_dir, listen=listen or None))
    except NodeError as exc:
        fail(str(exc))
