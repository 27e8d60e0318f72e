"""The typer application and its command groups."""

from __future__ import annotations

import typer

from doorwatch.cli._api import api_schema_command
from doorwatch.cli._network import network_app
from doorwatch.cli._node import init, run
from doorwatch.cli._segments import segments_app

app = typer.Typer(
    name="doorwatch",
    help="Doorwatch: peer-to-peer, encrypted alert sharing for night-time venues.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(init)
app.command()(run)
app.command("api-schema")(api_schema_command)
app.add_typer(segments_app, name="segments")
app.add_typer(network_app, name="network")


def main() -> None:
    """Console-script entry point."""
    app()
