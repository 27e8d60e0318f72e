"""`doorwatch api-schema`: print the local API's machine-readable schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from doorwatch.cli._output import fail
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
        return
    # A path that cannot be written is bad input in a flag: exit 1, as for every output flag.
    directory = output.parent
    if not directory.exists():
        fail(f"--output: the directory {directory} does not exist")
    if not directory.is_dir():
        fail(f"--output: {directory} is not a directory")
    if output.is_dir():
        fail(f"--output: {output} is a directory; name a file in it")
    try:
        output.write_text(text, "utf-8")
    except OSError as exc:
        fail(f"--output: cannot write {output}: {exc.strerror or exc}")
