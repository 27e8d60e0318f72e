"""Calibration on a small synthetic population."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from doorwatch.segments import (
    NO_READ_ERRORS,
    BudgetError,
    calibrate,
    load_default_tables,
)
from doorwatch.segments._calibration import percentile

TABLES = load_default_tables()


def ticking(step: float = 0.001) -> Callable[[], float]:
    """A fake clock that advances ``step`` seconds per reading."""
    now = [0.0]

    def timer() -> float:
        now[0] += step
        return now[0]

    return timer


def test_calibration_reports_consistent_figures() -> None:
    report = calibrate(
        random.Random(3), tables=TABLES, timer=ticking(), population=1500, alerts=300
    )
    assert report.alerts == 300
    assert report.innocent_scans == 1200
    assert report.hit_rate == report.subjects_flagged / 300
    assert report.hit_rate > 0.95
    assert report.innocent_flag_rate == report.innocents_flagged / 1200
    assert report.floor_rate == pytest.approx(300 * report.mean_anonymity_set / 67_000_000)
    assert report.floor_probability <= report.floor_rate
    assert report.floor_probability == pytest.approx(report.floor_rate, rel=1e-3)
    assert report.min_anonymity_set >= 50 * (1 - 1e-9)
    assert report.max_bits <= report.budget_bits
    assert report.latency_p50_ms == pytest.approx(1.0)
    assert report.latency_p99_ms == pytest.approx(1.0)


def test_without_read_errors_every_subject_is_flagged() -> None:
    report = calibrate(
        random.Random(4),
        tables=TABLES,
        timer=ticking(),
        population=800,
        alerts=200,
        read_errors=NO_READ_ERRORS,
    )
    assert report.hit_rate == 1.0


def test_calibration_is_deterministic_for_a_seed() -> None:
    runs = [
        calibrate(random.Random(9), tables=TABLES, timer=ticking(), population=600, alerts=100)
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_a_smaller_budget_means_larger_anonymity_sets() -> None:
    wide = calibrate(random.Random(2), tables=TABLES, timer=ticking(), population=600, alerts=200)
    tight = calibrate(
        random.Random(2),
        tables=TABLES,
        timer=ticking(),
        population=600,
        alerts=200,
        budget_bits=14.0,
    )
    assert tight.mean_anonymity_set > wide.mean_anonymity_set
    assert tight.max_bits <= 14.0


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(BudgetError, match="population"):
        calibrate(random.Random(1), tables=TABLES, timer=ticking(), population=10, alerts=10)
    with pytest.raises(BudgetError, match="alerts"):
        calibrate(random.Random(1), tables=TABLES, timer=ticking(), population=10, alerts=0)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
