"""How the CLI reports: one clear sentence on stderr and a documented exit code.

Exit codes are listed in ``doorwatch.cli._client``. A traceback is shown only
in debug mode (``doorwatch --debug ...`` or ``DOORWATCH_DEBUG=1``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer

from doorwatch.cli._client import EXIT_ERROR, ClientError, NodeClient
from doorwatch.cli._options import BadInput

_debug = os.environ.get("DOORWATCH_DEBUG", "") not in ("", "0")


def set_debug(on: bool) -> None:
    global _debug
    _debug = _debug or on


def debug() -> bool:
    return _debug


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    typer.echo(f"doorwatch: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def reported() -> Iterator[None]:
    """Turn the CLI's and the node's typed errors into one line and an exit code."""
    from doorwatch.node._errors import NodeError

    try:
        yield
    except ClientError as exc:
        if _debug:
            raise
        fail(str(exc), exc.exit_code)
    except (BadInput, NodeError) as exc:
        if _debug:
            raise
        fail(str(exc))


def rpc(
    data_dir: Path, user: str | None, password_file: Path | None, method: str, **params: object
) -> Any:
    """Log in, make one call, return its result; errors reported as one line."""
    with reported(), NodeClient.open(data_dir, user=user, password_file=password_file) as c:
        return c.call(method, **params)


def echo_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def table(rows: list[list[str]], header: list[str]) -> None:
    """Print rows as left-aligned columns under a header."""
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    for row in [header, *rows]:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
