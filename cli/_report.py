"""`doorwatch report`: this venue's report, sharing its counts, and the network report.

A thin client: the node counts (``report.venue``, ``report.share``,
``report.network``); this module renders what it returns.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from doorwatch.cli._options import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    PasswordFileOption,
    UserOption,
    parse_time,
)
from doorwatch.cli._output import fail, reported, rpc, table
from doorwatch.node._report_model import Report
from doorwatch.node._report_render import FORMATS, Format, render


def report(
    from_: Annotated[
        str,
        typer.Option(
            "--from",
            help="Start of the period (inclusive): a date (2026-11-01), date-time or "
            "Unix seconds, UTC.",
        ),
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="End of the period (exclusive): 2026-12-01 reports on November.",
        ),
    ],
    format_: Annotated[
        str, typer.Option("--format", help="text, json, pdf (two pages) or png (the charts).")
    ] = "text",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="Write to this file (pdf and png need one; text and json go to stdout).",
            show_default=False,
        ),
    ] = None,
    network: Annotated[
        bool,
        typer.Option(
            "--network",
            help="The Pubwatch meeting's report: every venue's shared counts for the period, "
            "combined; the venues that have not shared are named.",
        ),
    ] = False,
    share: Annotated[
        bool,
        typer.Option(
            "--share",
            help="Sign this venue's counts for the period (1 to 4 shown as '<5') and send them "
            "to the network's venues (administrator).",
        ),
    ] = False,
    network_id: Annotated[
        str | None,
        typer.Option(
            "--network-id", help="With --network or --share: which network.", show_default=False
        ),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
) -> None:
    """Reports by harm (Cambridge Crime Harm Index): incidents by category and month,
    alerts, disclosures, bans, refusals, reviews. Counts only, never a person.

    Examples:
      doorwatch report --from 2026-11-01 --to 2026-12-01
      doorwatch report --from 2026-11-01 --to 2026-12-01 --format pdf --output november.pdf
      doorwatch report --share --from 2026-11-01 --to 2026-12-01
      doorwatch report --network --from 2026-11-01 --to 2026-12-01 --format pdf
        --output meeting.pdf
    """
    with reported():
        params: dict[str, Any] = {
            "period_from": parse_time(from_, "--from"),
            "period_to": parse_time(to, "--to"),
        }
    if format_ not in FORMATS:
        fail("--format: give text, json, pdf or png")
    fmt: Format = format_  # type: ignore[assignment]
    if fmt in ("pdf", "png") and output is None:
        fail(f"--output: a {fmt} report needs a file to go to")
    if network and share:
        fail("--share and --network: share first, then ask for the network report")
    if network_id is not None:
        params["network_id"] = network_id
    if share:
        _share(rpc(data_dir, user, password_file, "report.share", **params))
        return
    if network:
        result = rpc(data_dir, user, password_file, "report.network", **params)
        model = Report.model_validate(result["report"])
        unreached = [a for a in result["asked"] if not a["reached"]]
    else:
        model = Report.model_validate(rpc(data_dir, user, password_file, "report.venue", **params))
        unreached = []
    data = render(model, fmt)
    if output is None:
        sys.stdout.write(data.decode())
    else:
        output.write_bytes(data)
        typer.echo(f"Wrote {output} ({fmt}, {len(data):,} bytes).")
    for a in unreached:
        typer.echo(f"Could not ask {a['venue']}: {a['note']}", err=True)


def _share(result: dict[str, Any]) -> None:
    for s in result["shares"]:
        typer.echo(f"Shared this venue's counts on network {s['network_id']}:")
        table(
            [
                [c["measure"], c["key"] or "-", "<5" if c["value"] is None else str(c["value"])]
                for c in s["counts"]
            ],
            ["Measure", "Key", "Count"],
        )
        if not s["counts"]:
            typer.echo("  (nothing happened in this period: every count is zero)")
        for d in s["deliveries"]:
            state = "received" if d["reached"] else f"not reached ({d['note']})"
            typer.echo(f"  {d['venue']}: {state}")
