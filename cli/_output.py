"""How the CLI reports: one clear sentence on stderr and a documented exit code."""

from __future__ import annotations

from typing import NoReturn

import typer

EXIT_ERROR = 1


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    typer.echo(f"doorwatch: {message}", err=True)
    raise typer.Exit(code)
