"""Recall and innocent-flag rate of the segments matcher against the privacy budget.

    python -m bench segments_tradeoff [--alerts 10000] [--population 30000]
        [--budgets 12,14,16,18,20.35,22,24,26] [--models scanner,harsh] [--seed 0]
        [--plot docs/img/segments-tradeoff.png] [--no-plot]

For each budget (bits per alert) and each corruption model (``scanner``: the
read-error model; ``harsh``: the hand-entry model of ``segments._harsh``) one
calibration run (``segments.calibrate``) with the default threshold and exact
agreement, and one that tolerates one disagreeing factor (pigeonhole index
with two parts, threshold 0 bits). Every run of one budget uses the same seed,
so both models see the same subjects and segment sets.
Prints a table and writes a PNG (matplotlib, Agg backend). The ratio column
divides the innocent-flag rate by ``floor_probability``, the chance that an
innocent shares every value of at least one alert (``N*K/P`` saturates at
small budgets, where that chance approaches 1). Bits and K are measured with the
UK-wide disclosure tables, as ``alert.create`` does; the floor columns are the door's
(the matcher's tables).
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from pathlib import Path

from doorwatch.segments import (
    DEFAULT_BUDGET_BITS,
    DEFAULT_READ_ERRORS,
    HARSH_ERRORS,
    CalibrationReport,
    calibrate,
    load_default_tables,
    load_disclosure_tables,
)

DEFAULT_PLOT = Path(__file__).resolve().parent.parent / "docs" / "img" / "segments-tradeoff.png"
TOLERANT_THRESHOLD = 0.0
MODELS = {"scanner": DEFAULT_READ_ERRORS, "harsh": HARSH_ERRORS}


def _row(label: str, r: CalibrationReport) -> str:
    return (
        f"{r.budget_bits:6.2f}  {r.model:<8} {label:<9}"
        f" {r.mean_anonymity_set:10.1f} {r.min_anonymity_set:8.1f}"
        f"  {r.hit_rate:8.2%}  {r.innocent_flag_rate:9.4f}  {r.floor_rate:8.4f}"
        f"  {r.floor_probability:8.4f}  {r.innocent_flag_rate / r.floor_probability:6.2f}x"
        f"  {r.latency_p99_ms:6.3f}"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench segments_tradeoff", description=__doc__)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--population", type=int, default=30_000)
    parser.add_argument("--budgets", default=f"12,14,16,18,{DEFAULT_BUDGET_BITS:.2f},22,24,26")
    parser.add_argument("--models", default="scanner,harsh")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT)
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    budgets = [float(b) for b in args.budgets.split(",")]
    models = args.models.split(",")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"--models: unknown model {unknown[0]!r} (known: {', '.join(MODELS)})")
    tables = load_default_tables()
    disclosure = load_disclosure_tables()  # K and bits as alert.create measures them
    print(
        f"{args.alerts:,} alerts, {args.population - args.alerts:,} innocent scans, "
        "reference population 67,000,000"
    )
    print(
        "budget  model    matching      K mean    K min  hit rate   innocent     N*K/P  P(share)"
        "   ratio  p99 ms"
    )
    runs: dict[tuple[str, str], list[CalibrationReport]] = {}
    for budget in budgets:
        for model, (label, k, threshold) in itertools.product(
            models, (("exact", 0, None), ("1 error", 1, TOLERANT_THRESHOLD))
        ):
            kwargs = {} if threshold is None else {"threshold": threshold}
            report = calibrate(
                random.Random(args.seed),
                tables=tables,
                timer=time.perf_counter,
                population=args.population,
                alerts=args.alerts,
                budget_bits=budget,
                max_disagreements=k,
                disclosure=disclosure,
                read_errors=MODELS[model],
                **kwargs,  # type: ignore[arg-type]
            )
            runs.setdefault((model, label), []).append(report)
            print(_row(label, report), flush=True)
    if not args.no_plot:
        _plot(args.plot, runs)
        print(f"plot written to {args.plot}")


def _plot(path: Path, runs: dict[tuple[str, str], list[CalibrationReport]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    colours = {"scanner": "tab:blue", "harsh": "tab:red"}
    for (model, label), reports in runs.items():
        bits = [r.budget_bits for r in reports]
        style = "o-" if label == "exact" else "s--"
        name = f"{model}, {'exact agreement' if label == 'exact' else 'one disagreement'}"
        colour = colours.get(model)
        left.plot(bits, [r.hit_rate * 100 for r in reports], style, color=colour, label=name)
        right.semilogy(
            bits, [r.innocent_flag_rate for r in reports], style, color=colour, label=name
        )
    first = next(iter(runs.values()))
    right.semilogy(
        [r.budget_bits for r in first],
        [r.floor_probability for r in first],
        "k:",
        label="floor: P(shares an alert's values)",
    )
    for goal in (99, 95):
        left.axhline(goal, color="grey", lw=0.8, ls=":")
    for axis in (left, right):
        axis.axvline(DEFAULT_BUDGET_BITS, color="grey", lw=0.8, ls=":")
        axis.set_xlabel("privacy budget (bits per alert)")
        axis.legend(fontsize=7)
    left.set_ylabel("true subjects flagged (%)")
    left.set_title("Recall under each corruption model")
    right.set_ylabel("innocent scans flagged (per scan)")
    right.set_title(f"Innocent-flag rate, {first[0].alerts:,} alerts")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
