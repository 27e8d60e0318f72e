"""`doorwatch api-schema`: print the local API's machine-readable schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from doorwatch.node.api_schema import api_schema


def api_schema_command(
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of standard output.")
    ] = None,
) -> None:
    """Print the JSON schema of every local socket API method (params, result, role).

    Example: doorwatch api-schema --output docs/api-schema.json
    """
    text = json.dumps(api_schema(), indent=2, sort_keys=True) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, "utf-8")
