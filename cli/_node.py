"""`doorwatch init` and `doorwatch run`: create a node, run its daemon.

Heavy modules (the daemon, libp2p, trio) are imported inside the commands,
so that ``doorwatch --help`` and the socket clients start quickly.
"""

from __future__ import annotations

import getpass
import os
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from doorwatch.cli._client import not_running_message, read_password_file
from doorwatch.cli._options import DEFAULT_DATA_DIR, DataDirOption
from doorwatch.cli._output import debug, fail, reported

if TYPE_CHECKING:
    from doorwatch.cli._logging import LogFormat
    from doorwatch.node._storage_key import Passphrase


def init(
    venue: Annotated[str, typer.Option(help="The venue's name, as other venues will see it.")],
    admin_user: Annotated[str, typer.Option(help="User name of the first super administrator.")],
    password_file: Annotated[
        Path | None,
        typer.Option(help="File holding that user's password (prompted for when omitted)."),
    ] = None,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            help="File whose first line is the passphrase sealing the storage key (else "
            "DOORWATCH_PASSPHRASE or DOORWATCH_PASSPHRASE_FILE, else asked twice)."
        ),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Create a node: keys, configuration, database and the first super administrator.

    The storage key, which encrypts every alert, photo, ban and visit, is written only
    sealed under a passphrase, which the node then needs at every start.

    Example: doorwatch init --data-dir /var/lib/doorwatch --venue "The Crown"
    --admin-user alice --password-file ./alice.pw --passphrase-file ./node.passphrase
    """
    from doorwatch.cli._passphrase import EXPLANATION, new_passphrase, warn_if_test_kdf
    from doorwatch.node._setup import init_node
    from doorwatch.node._storage_key import sealing_cost

    with reported():
        if password_file is not None:
            password = read_password_file(password_file)
        else:
            password = getpass.getpass(f"Password for {admin_user}: ")
            if getpass.getpass("Again: ") != password:
                fail("the two passwords differ")
        explained = passphrase_file is None and sys.stdin.isatty()
        if explained:  # before the choice is made
            typer.echo(EXPLANATION, err=True)
        passphrase = new_passphrase(passphrase_file, "--passphrase-file", environment=True)
        peer_id = init_node(
            data_dir,
            venue=venue,
            admin_user=admin_user,
            password=password,
            passphrase=passphrase,
            cost=sealing_cost(),
            now=int(time.time()),
        )
    warn_if_test_kdf()
    typer.echo(f"Created the node for {venue} in {data_dir}")
    typer.echo(f"Peer id: {peer_id}")
    typer.echo(f"The storage key is sealed under the passphrase ({passphrase.source}).")
    if not explained:
        typer.echo(EXPLANATION)
    typer.echo(f"Next: doorwatch run --data-dir {data_dir}")


def _setting(help_text: str, key: str) -> Any:
    return typer.Option(
        help=f"{help_text} (or DOORWATCH_{key.upper()}; overrides config.json for this run).",
        show_default=False,
        rich_help_panel="Configuration overrides",
    )


def run(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
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
    venue: Annotated[str | None, _setting("The venue's name", "venue")] = None,
    socket_group: Annotated[
        str | None, _setting("Group allowed to use the socket", "socket_group")
    ] = None,
    api_tcp: Annotated[
        str | None, _setting("Also serve the API on this loopback host:port", "api_tcp")
    ] = None,
    session_hours: Annotated[
        int | None, _setting("Staff login lifetime in hours", "session_hours")
    ] = None,
    visit_retention_days: Annotated[
        int | None, _setting("Days the visit log is kept", "visit_retention_days")
    ] = None,
    default_alert_days: Annotated[
        int | None, _setting("Default alert lifetime in days", "default_alert_days")
    ] = None,
    smtp_host: Annotated[str | None, _setting("Mail server for notices", "smtp_host")] = None,
    smtp_port: Annotated[int | None, _setting("Mail server port", "smtp_port")] = None,
    super_admin_email: Annotated[
        str | None, _setting("Where new-alert notices go", "super_admin_email")
    ] = None,
    passphrase_file: Annotated[
        str | None, _setting("File holding the storage key's passphrase", "passphrase_file")
    ] = None,
    console_listen: Annotated[
        str | None,
        _setting("The web console's ADDR:PORT (off loopback: HTTPS)", "console_listen"),
    ] = None,
    console_cert: Annotated[
        str | None, _setting("PEM certificate for the console's HTTPS", "console_cert")
    ] = None,
    console_key: Annotated[str | None, _setting("PEM key of --console-cert", "console_key")] = None,
) -> None:
    """Run the node's daemon in the foreground until SIGINT or SIGTERM.

    Every config.json key can be overridden for this run by a flag or by
    DOORWATCH_<KEY> (flag first, then environment, then file).

    The storage key's passphrase comes from the systemd credential doorwatch-passphrase,
    DOORWATCH_PASSPHRASE, or the passphrase_file key, else it is asked for at a terminal;
    without one the node does not start.

    Example: doorwatch run --data-dir /var/lib/doorwatch --listen /ip4/0.0.0.0/tcp/4001
    """
    from doorwatch.node._config import CONFIG_NAME, env_name, load_config

    if log_format not in ("console", "json"):
        fail("--log-format must be console or json")
    fmt: LogFormat = "json" if log_format == "json" else "console"
    overrides = {
        "venue": venue,
        "socket_group": socket_group,
        "api_tcp": api_tcp,
        "session_hours": session_hours,
        "visit_retention_days": visit_retention_days,
        "default_alert_days": default_alert_days,
        "smtp_host": smtp_host,
        "smtp_port": smtp_port,
        "super_admin_email": super_admin_email,
        "passphrase_file": passphrase_file,
        "console_listen": console_listen,
        "console_cert": console_cert,
        "console_key": console_key,
    }
    with reported():
        for key, value in overrides.items():
            if value is not None:
                # The daemon reads its configuration through load_config, which
                # applies DOORWATCH_<KEY>: a flag is that variable for this process.
                os.environ[env_name(key)] = str(value)
        if not (data_dir / CONFIG_NAME).exists():
            fail(not_running_message(data_dir))
        config = load_config(data_dir / CONFIG_NAME)  # a bad value fails here, before start-up
        passphrase = _run_passphrase(data_dir, config.passphrase_file)
    import structlog
    import trio  # the daemon's imports (libp2p) take a second: only once the input is good

    from doorwatch.cli._logging import configure_logging
    from doorwatch.node._console import parse_listen
    from doorwatch.node._daemon import run_daemon
    from doorwatch.node._errors import NodeError
    from doorwatch.node._p2p_host import parse_multiaddr

    with reported():
        for addr in listen or []:
            parse_multiaddr(addr, "--listen")
        # e.g. http:// off loopback: one sentence, before start-up
        parse_listen(load_config(data_dir / CONFIG_NAME).console_listen)
    configure_logging(fmt)
    try:
        trio.run(partial(run_daemon, data_dir, passphrase=passphrase, listen=listen or None))
    except Exception as exc:
        if debug():
            raise
        errors = list(_leaves(exc))
        if all(isinstance(e, NodeError) for e in errors):
            fail(str(errors[0]))  # e.g. the listen port is taken: the operator's to fix
        # A fault: the log gets each failure's type and the frames it went through,
        # not its message (a message may quote the value at fault: a name, a reason;
        # `doorwatch --debug run` shows the whole traceback), and the operator one line.
        from doorwatch.node._failures import failure_trace

        log = structlog.get_logger("doorwatch.node")
        for error in errors:
            log.error("node.crashed", **failure_trace(error))
        fail("the daemon stopped on an unexpected error; its log names where (node.crashed)")


def _run_passphrase(data_dir: Path, passphrase_file: str | None) -> Passphrase:
    """The passphrase for the daemon (asked for at a terminal; asked twice to seal a raw
    key from an older Doorwatch)."""
    from doorwatch.cli._passphrase import passphrase_for
    from doorwatch.node._datadir import DataDir
    from doorwatch.node._storage_key import key_is_sealed

    d = DataDir(data_dir)
    sealed = key_is_sealed(d)
    return passphrase_for(data_dir, passphrase_file, sealed=sealed)


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions inside (nested) exception groups, or ``exc`` itself."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc
