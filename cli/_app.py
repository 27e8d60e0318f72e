"""The typer application and its command groups.

Commands whose modules import heavy libraries (libp2p, the segments engine)
are registered lazily (``LAZY_COMMANDS``): their module is imported only when
the command runs, so ``doorwatch --help`` and the socket clients start in a
fraction of a second. ``doorwatch --help`` lists them from the short help
given here.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any

import typer
import typer.core
import typer.main

from doorwatch.cli._alerts import alert_app
from doorwatch.cli._client import EXIT_ERROR
from doorwatch.cli._config import config_app
from doorwatch.cli._node import init, run
from doorwatch.cli._output import debug, set_debug
from doorwatch.cli._records import audit, ban_app, sar_app, visits_app
from doorwatch.cli._staff import user_app
from doorwatch.cli._status import status

# name -> (module, attribute: a typer.Typer or a command function, short help)
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "network": (
        "doorwatch.cli._network",
        "network_app",
        "Form and administer networks of venues (works with the node running or stopped).",
    ),
    "passphrase": (
        "doorwatch.cli._passphrase",
        "passphrase_app",
        "The passphrase that seals the node's storage key (change it).",
    ),
    "segments": (
        "doorwatch.cli._segments",
        "segments_app",
        "Calibrate and evaluate the statistical matcher.",
    ),
    "demo": (
        "doorwatch.cli._demo",
        "demo_command",
        "Run a three-venue Pubwatch on this machine and narrate the whole story.",
    ),
    "notice": (
        "doorwatch.cli._notices",
        "notice_app",
        "Pubwatch banning notices: nominate, list, show, vote, appeal, letter.",
    ),
    "door": (
        "doorwatch.cli._door",
        "door_command",
        "Scan an ID at the door: verdict, photos side by side, details, decision.",
    ),
    "report": (
        "doorwatch.cli._report",
        "report",
        "Reports ranked by harm: this venue's, sharing its counts, the Pubwatch network's.",
    ),
    "scanner": (
        "doorwatch.cli._scanner",
        "scanner_command",
        "Read MRZs from a scanner (serial or keyboard wedge) and print each verdict.",
    ),
    "api-schema": (
        "doorwatch.cli._api",
        "api_schema_command",
        "Print the JSON schema of every local socket API method.",
    ),
}


class LazyGroup(typer.core.TyperGroup):
    """A group that imports the modules of ``LAZY_COMMANDS`` only to run them."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in LAZY_COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in LAZY_COMMANDS:
            return command
        module, attribute, short_help = LAZY_COMMANDS[cmd_name]
        if self._listing:
            return typer.core.TyperCommand(name=cmd_name, help=short_help, short_help=short_help)
        target = getattr(importlib.import_module(module), attribute)
        if not isinstance(target, typer.Typer):
            single = typer.Typer(add_completion=False)
            single.command(cmd_name)(target)
            target = single
        command = typer.main.get_command(target)
        command.name = cmd_name
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=LazyGroup,
    name="doorwatch",
    help="Doorwatch: peer-to-peer, encrypted alert sharing for night-time venues.\n\n"
    "Most commands talk to the running node of the data directory (--data-dir, default "
    "~/.local/share/doorwatch, or DOORWATCH_DATA_DIR). Exit codes: 0 success; 1 error "
    "(the node refused, bad input); 2 usage; 3 node not running; 4 isolated "
    "(status --check).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"doorwatch {version('doorwatch')}")
        except PackageNotFoundError:
            typer.echo("doorwatch (not installed)")
        raise typer.Exit


@app.callback()
def _options(
    debug_: Annotated[
        bool,
        typer.Option(
            "--debug",
            envvar="DOORWATCH_DEBUG",
            help="Show the traceback of an error instead of one sentence.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    set_debug(debug_)


app.command()(init)
app.command()(run)
app.command()(status)
app.add_typer(user_app, name="user")
app.add_typer(alert_app, name="alert")
app.add_typer(ban_app, name="ban")
app.command()(audit)
app.add_typer(visits_app, name="visits")
app.add_typer(sar_app, name="sar")
app.add_typer(config_app, name="config")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except Exception as exc:  # a fault, not a user's error: one line unless --debug
        if debug():
            raise
        typer.echo(
            f"doorwatch: unexpected error ({type(exc).__name__}); run `doorwatch --debug ...` "
            "for the traceback",
            err=True,
        )
        sys.exit(EXIT_ERROR)
