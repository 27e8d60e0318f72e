"""`doorwatch segments ...`: calibrate and evaluate the statistical matcher.

``calibrate`` runs the matcher on a synthetic population and prints the
figures of docs/matching.md; ``evaluate`` scores supplied scans against alerts
made from supplied subjects (CSV in, JSON lines out). Both are deterministic
for a seed. Bad input is reported as one sentence on stderr, never a
traceback, and never with the personal data of the row.
"""

from __future__ import annotations

import csv
import json
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from doorwatch.segments import (
    DEFAULT_ALERTS,
    DEFAULT_BUDGET_BITS,
    DEFAULT_POPULATION,
    DEFAULT_READ_ERRORS,
    DEFAULT_THRESHOLD,
    HARSH_ERRORS,
    UK_POPULATION,
    CalibrationReport,
    MatchingError,
    MatchKeys,
    SegmentIndex,
    calibrate,
    load_default_tables,
    load_disclosure_tables,
    match_keys,
    parse_birth_date,
    scan_factors,
    select_segments,
)

segments_app = typer.Typer(
    add_completion=False,
    help="Calibrate and evaluate the segments matcher on synthetic or supplied identities.",
    no_args_is_help=True,
)

CSV_COLUMNS = (
    "id",
    "given_names",
    "surname",
    "date_of_birth",
    "document_number",
    "postcode",
    "address",
)
REQUIRED_COLUMNS = ("id",)


class ScanModel(StrEnum):
    """The corruption model scans are read through in ``calibrate``."""

    SCANNER = "scanner"
    HARSH = "harsh"


ThresholdOption = Annotated[float, typer.Option(help="Score (bits) a scan needs to be flagged.")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@segments_app.command("calibrate")
def calibrate_command(
    population: Annotated[
        int,
        typer.Option(
            help="Synthetic people generated: the first ALERTS are subjects, "
            "every other one is scanned once as an innocent customer.",
        ),
    ] = DEFAULT_POPULATION,
    alerts: Annotated[int, typer.Option(help="Active alerts (one subject each).")] = DEFAULT_ALERTS,
    budget_bits: Annotated[
        float, typer.Option(help="Privacy budget per alert in bits (default: K >= 50 in P).")
    ] = DEFAULT_BUDGET_BITS,
    seed: Annotated[int, typer.Option(help="Seed of the random choices.")] = 0,
    reference_population: Annotated[
        int, typer.Option(help="Population P that anonymity sets are counted in (the UK).")
    ] = UK_POPULATION,
    threshold: ThresholdOption = DEFAULT_THRESHOLD,
    door_disclosure: Annotated[
        bool,
        typer.Option(
            "--door-disclosure",
            help="Measure bits and K with the door-age tables (before issue 14) "
            "instead of the UK-wide disclosure tables; for comparison only.",
        ),
    ] = False,
    model: Annotated[
        ScanModel,
        typer.Option(
            help="How subjects and innocents are read: 'scanner' (the read-error model "
            "of a door scanner) or 'harsh' (hand entry: typing errors, nicknames, "
            "phonetic respellings, swapped and missing fields, another document; "
            "see docs/matching.md).",
        ),
    ] = ScanModel.SCANNER,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Measure hit rate, innocent-flag rate, anonymity sets and latency on synthetic people.

    K (the anonymity set) is an expectation: how many people in the UK are
    expected to share every disclosed value, measured with the UK-wide
    disclosure tables; the matcher scores with the door-age tables.

    Example: doorwatch segments calibrate --alerts 1000 --seed 1 --model harsh
    """
    if alerts < 1 or population <= alerts:
        raise _fail("--population must be larger than --alerts, and --alerts at least 1.")
    if not 0 < budget_bits < 64:
        raise _fail("--budget-bits must be a positive number of bits below 64.")
    if reference_population < 1:
        raise _fail("--reference-population must be at least 1.")
    try:
        report = calibrate(
            random.Random(seed),  # noqa: S311 - statistics, not key material
            tables=load_default_tables(),
            timer=time.perf_counter,
            population=population,
            alerts=alerts,
            budget_bits=budget_bits,
            reference_population=reference_population,
            threshold=threshold,
            disclosure=None if door_disclosure else load_disclosure_tables(),
            read_errors=HARSH_ERRORS if model is ScanModel.HARSH else DEFAULT_READ_ERRORS,
        )
    except MatchingError as exc:
        raise _fail(f"calibration failed: {exc}") from None
    if as_json:
        typer.echo(json.dumps(report.to_json(), sort_keys=True))
    else:
        typer.echo(_report_table(report))


def _report_table(r: CalibrationReport) -> str:
    rows = [
        ("corruption model", r.model),
        ("synthetic people", f"{r.population:,}"),
        ("alerts (subjects)", f"{r.alerts:,}"),
        ("innocent scans", f"{r.innocent_scans:,}"),
        ("privacy budget", f"{r.budget_bits:.2f} bits per alert"),
        ("reference population", f"{r.reference_population:,}"),
        ("threshold", f"{r.threshold:g} bits"),
        ("expected anonymity set K, mean", f"{r.mean_anonymity_set:.1f} people"),
        (
            "K, median / 10th percentile",
            f"{r.median_anonymity_set:.1f} / {r.p10_anonymity_set:.1f} people",
        ),
        (
            "K under 30, median / 10th pct",
            f"{r.median_anonymity_set_under_30:.1f} / {r.p10_anonymity_set_under_30:.1f} people",
        ),
        ("K, minimum", f"{r.min_anonymity_set:.1f} people"),
        (
            "information, min / mean / max",
            f"{r.min_bits:.2f} / {r.mean_bits:.2f} / {r.max_bits:.2f} bits",
        ),
        (
            "subjects flagged (hit rate)",
            f"{r.subjects_flagged:,} of {r.alerts:,} = {r.hit_rate:.2%}",
        ),
        (
            "innocents flagged",
            f"{r.innocents_flagged:,} of {r.innocent_scans:,} "
            f"= {r.innocent_flag_rate:.4f} per scan",
        ),
        ("floor sum(u) at the door", f"{r.floor_rate:.4f} per scan"),
        ("floor, exact 1-prod(1-u)", f"{r.floor_probability:.4f} per scan"),
        ("innocent-flag rate / floor", f"{r.flag_to_floor:.2f}x"),
        ("scan latency p50 / p99", f"{r.latency_p50_ms:.3f} / {r.latency_p99_ms:.3f} ms"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    id: str
    keys: MatchKeys


class _CsvError(Exception):
    """A file-level problem (unreadable, no header, missing columns)."""


def _read_rows(path: Path, label: str, bad: list[str]) -> Iterator[_Row]:
    """Valid rows of one CSV file; each bad row is described in ``bad`` and skipped."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise _CsvError(f"cannot read the {label} file {path}: {exc.strerror or exc}.") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                raise _CsvError(f"{path}: the {label} file is empty (a header row is required).")
            names = [h.strip() for h in header]
            missing = [c for c in CSV_COLUMNS if c not in names]
            if missing:
                raise _CsvError(
                    f"{path}: the header has no column {missing[0]!r} "
                    f"(expected {','.join(CSV_COLUMNS)})."
                )
            at = {name: names.index(name) for name in CSV_COLUMNS}
            seen: set[str] = set()
            for cells in reader:
                line = reader.line_num
                if not cells:
                    continue
                if len(cells) < len(names):
                    bad.append(
                        f"{path} line {line}: expected {len(names)} cells, found {len(cells)} "
                        f"(column {names[len(cells)]!r} and after are missing)."
                    )
                    continue
                if len(cells) > len(names):
                    bad.append(
                        f"{path} line {line}: expected {len(names)} cells, found {len(cells)} "
                        f"(cells after the last column {names[-1]!r})."
                    )
                    continue
                row = {name: cells[i].strip() for name, i in at.items()}
                empty = next((c for c in REQUIRED_COLUMNS if not row[c]), None)
                if empty is not None:
                    bad.append(f"{path} line {line}: column {empty!r} is empty.")
                    continue
                try:
                    # A missing date, like a missing name, is scored on what the row has.
                    dob = row["date_of_birth"]
                    born = parse_birth_date(dob) if dob else None
                except ValueError:
                    bad.append(
                        f"{path} line {line}: column 'date_of_birth' is not a date "
                        "(YYYY-MM-DD, XX for an unknown day or month: 1985-06-XX)."
                    )
                    continue
                if row["id"] in seen:
                    bad.append(f"{path} line {line}: column 'id' repeats an earlier row's id.")
                    continue
                seen.add(row["id"])
                keys = match_keys(
                    given_names=row["given_names"],
                    surname=row["surname"],
                    date_of_birth=born,
                    postcode=row["postcode"],
                    document_number=row["document_number"],
                )
                yield _Row(line, row["id"], keys)
        except csv.Error as exc:
            raise _CsvError(f"{path} line {reader.line_num}: not valid CSV ({exc}).") from None
        except UnicodeDecodeError:
            raise _CsvError(f"{path}: the {label} file is not UTF-8 text.") from None


@segments_app.command("evaluate")
def evaluate_command(
    subjects: Annotated[
        Path, typer.Option(help="CSV of alert subjects (header: " + ",".join(CSV_COLUMNS) + ").")
    ],
    scans: Annotated[Path, typer.Option(help="CSV of scans, same columns.")],
    budget_bits: Annotated[
        float, typer.Option(help="Privacy budget per alert in bits.")
    ] = DEFAULT_BUDGET_BITS,
    seed: Annotated[int, typer.Option(help="Seed of the segment selection.")] = 0,
    threshold: ThresholdOption = DEFAULT_THRESHOLD,
) -> None:
    """Make one alert per subject, score every scan, print one JSON line per scan.

    Only the id is required: a row with an empty name or date of birth is
    scored on the fields it has, as a scan is. Malformed rows are reported on
    stderr with their line number and skipped; the exit code is then 1.

    Example: doorwatch segments evaluate --subjects subjects.csv --scans scans.csv
    """
    if not 0 < budget_bits < 64:
        raise _fail("--budget-bits must be a positive number of bits below 64.")
    tables = load_default_tables()
    disclosure = load_disclosure_tables()
    rng = random.Random(seed)  # noqa: S311 - statistics, not key material
    index = SegmentIndex(tables, threshold=threshold)
    bad: list[str] = []
    try:
        for row in _read_rows(subjects, "subjects", bad):
            try:
                segments = select_segments(
                    row.keys, rng, tables=disclosure, budget_bits=budget_bits, prefer=tables
                )
            except MatchingError as exc:
                bad.append(f"{subjects} line {row.line}: {exc}.")
                continue
            index.add(row.id, segments)
        for row in _read_rows(scans, "scans", bad):
            matches = index.match(scan_factors(row.keys))
            record = {
                "scan_id": row.id,
                "matches": [{"subject_id": sid, "score": round(s, 3)} for sid, s in matches],
            }
            sys.stdout.write(json.dumps(record) + "\n")
    except _CsvError as exc:
        for message in bad:
            typer.echo(message, err=True)
        raise _fail(str(exc)) from None
    sys.stdout.flush()
    for message in bad:
        typer.echo(message, err=True)
    if bad:
        raise typer.Exit(1)
