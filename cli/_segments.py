"""`doorwatch segments ...`: calibrate and evaluate the statistical matcher."""

from __future__ import annotations

import typer

segments_app = typer.Typer(
    help="Calibrate and evaluate the segments matcher on synthetic or supplied identities.",
    no_args_is_help=True,
)
