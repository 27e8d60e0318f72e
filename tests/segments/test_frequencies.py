"""Frequency tables: the shipped u and m, joint frequencies, and refinement from counts."""

from __future__ import annotations

import math
from importlib import resources

import pytest

from doorwatch.segments import CATALOGUE, FrequencyTable, FrequencyTableError, load_default_tables

TABLES = load_default_tables()


def test_the_shipped_table_is_small_and_covers_every_position() -> None:
    size = len(resources.files("doorwatch.segments.data").joinpath("tables.json.gz").read_bytes())
    assert size < 2_000_000
    for code in CATALOGUE:
        assert TABLES.u[code]
        assert sum(TABLES.u[code].values()) <= 1.0 + 1e-4
        assert 0.0 < TABLES.unseen[code] < min(TABLES.u[code].values())
        assert 0.9 < TABLES.agreement(code) < 1.0


def test_common_values_disclose_less_than_rare_ones() -> None:
    common = max(TABLES.u["s12"], key=lambda v: TABLES.u["s12"][v])
    rare = min(TABLES.u["s12"], key=lambda v: TABLES.u["s12"][v])
    assert TABLES.bits("s12", common) < TABLES.bits("s12", rare)
    assert TABLES.bits("s12", "QQ") == pytest.approx(-math.log2(TABLES.unseen["s12"]))


def test_weights_follow_fellegi_sunter() -> None:
    u = TABLES.frequency("mm", "03")
    m = TABLES.agreement("mm")
    agree, disagree = TABLES.weights("mm", "03")
    assert agree == pytest.approx(math.log2(m / u))
    assert disagree == pytest.approx(math.log2((1 - m) / (1 - u)))


def test_fields_multiply_and_name_factors_are_mixed_over_components() -> None:
    pair = [("yy", "01"), ("mm", "03")]
    assert TABLES.joint_frequency(pair) == pytest.approx(
        TABLES.frequency("yy", "01") * TABLES.frequency("mm", "03")
    )
    names = [("g12", "PI"), ("s12", "KO")]
    product = TABLES.frequency("g12", "PI") * TABLES.frequency("s12", "KO")
    assert TABLES.joint_frequency(names) >= product


def test_refine_blends_local_counts_and_leaves_the_prior_alone() -> None:
    before = dict(TABLES.u["mm"])
    refined = TABLES.refine({"mm": {"03": 50, "04": 50}}, total=100, weight=0.5)
    assert TABLES.u["mm"] == before
    assert refined.frequency("mm", "03") == pytest.approx(0.5 * before["03"] + 0.25)
    assert refined.frequency("mm", "07") == pytest.approx(0.5 * before["07"])
    assert refined.u["g12"] == TABLES.u["g12"]
    assert refined.m == TABLES.m
    assert TABLES.refine({"mm": {"03": 5}}, total=10, weight=0.0).u["mm"] == pytest.approx(before)
    local = TABLES.refine({"mm": {"03": 5, "04": 5}}, total=10, weight=1.0)
    assert local.frequency("mm", "03") == pytest.approx(0.5)
    assert local.frequency("mm", "07") < local.frequency("mm", "03")


@pytest.mark.parametrize(
    ("counts", "total", "weight", "rule"),
    [
        ({"mm": {"03": 1}}, 10, 1.5, "weight"),
        ({"mm": {"03": 1}}, 0, 0.5, "total"),
        ({"zz": {"03": 1}}, 10, 0.5, "unknown position"),
        ({"mm": {"03": -1}}, 10, 0.5, "non-negative"),
        ({"mm": {"03": 11}}, 10, 0.5, "more than total"),
        ({"mm": {"": 1}}, 10, 0.5, "empty value"),
    ],
)
def test_refine_rejects_bad_counts(
    counts: dict[str, dict[str, int]], total: int, weight: float, rule: str
) -> None:
    with pytest.raises(FrequencyTableError, match=rule):
        TABLES.refine(counts, total, weight)


def test_json_round_trip_and_validation() -> None:
    again = FrequencyTable.from_json(TABLES.to_json())
    assert again.u == TABLES.u
    assert again.joint_frequency([("g12", "JO"), ("s12", "SN")]) == pytest.approx(
        TABLES.joint_frequency([("g12", "JO"), ("s12", "SN")])
    )
    with pytest.raises(FrequencyTableError, match="format"):
        FrequencyTable.from_json({"format": 2})
    broken = TABLES.to_json()
    broken["u"]["mm"]["03"] = 2.0
    with pytest.raises(FrequencyTableError, match="mm"):
        FrequencyTable.from_json(broken)
