"""Frequency tables: u (how common a value is at a position) and m (how reliably it is read).

Theory of operation
-------------------
``u(position, value)`` is the probability that a random member of the
population has ``value`` at ``position`` (term-frequency adjusted: "SM" as the
first two surname letters is far commoner than "QU", and each gets its own
figure). ``m(position)`` is the probability that a scan of the *same* person
shows the value the alert recorded, after read errors. Fellegi-Sunter weights
follow: agreement adds ``log2(m/u)``, disagreement adds
``log2((1-m)/(1-u))``. The information a factor discloses about its subject is
``-log2(u)`` bits.

Two tables are shipped. The *matcher's* (``data/tables.json.gz``, u as seen
at a venue door) scores scans and predicts innocent-flag rates. The
*disclosure* tables (``data/disclosure.json.gz``, u over the whole UK
population: ONS-style age structure, surnames at their UK shares) measure
what an alert discloses (bits, and so the anonymity set K); they are never
refined, so every venue measures a segment set alike. The matcher's table is built by
``data/build_tables.py`` from the name lists and weights the synthetic
population samples from and an approximation of the UK age structure; m comes
from simulating the read-error model. A node may *refine* u with aggregate
counts of the values its own scans showed (counts only, never names): the
refined frequency is a convex blend of the prior and the local relative
frequency. Values never seen get the position's ``unseen`` frequency, a floor
below every listed value, so an unusual value is treated as rare (high
information, so selection avoids it under a budget).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from doorwatch.segments._factors import CATALOGUE
from doorwatch.segments._matching_errors import FrequencyTableError

__all__ = [
    "DEFAULT_TABLES_RESOURCE",
    "DISCLOSURE_TABLES_RESOURCE",
    "TABLES_REFERENCE_DATE",
    "FrequencyTable",
    "load_default_tables",
    "load_disclosure_tables",
]

DEFAULT_TABLES_RESOURCE = "tables.json.gz"
DISCLOSURE_TABLES_RESOURCE = "disclosure.json.gz"
TABLES_REFERENCE_DATE = dt.date(2026, 6, 1)
"""The date at which the shipped birth-year frequencies describe the population."""
_DEFAULT_M = 0.99
_MIN_U = 1e-9
_MAX_M = 0.999999


@dataclass(frozen=True, slots=True)
class FrequencyTable:
    """u per (position, value), unseen-value floors, and m per position."""

    u: Mapping[str, Mapping[str, float]]
    unseen: Mapping[str, float]
    m: Mapping[str, float]
    source: str = ""
    components: Mapping[str, float] = field(default_factory=dict)
    """Weights of the population's name components (locale and sex)."""
    component_u: Mapping[str, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)
    """Per component, the distributions of the name positions it covers."""
    _weights: dict[tuple[str, str], tuple[float, float]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _prior: dict[tuple[str, str], float] = field(default_factory=dict, compare=False, repr=False)
    _mixture: dict[tuple[tuple[str, str], ...], float] = field(
        default_factory=dict, compare=False, repr=False
    )
    _mixed_codes: set[str] = field(default_factory=set, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._mixed_codes.update(code for tables in self.component_u.values() for code in tables)

    @property
    def dependent_codes(self) -> frozenset[str]:
        """Positions whose joint frequency is not the product (the name positions)."""
        return frozenset(self._mixed_codes)

    def _mixture_ratio(self, named: tuple[tuple[str, str], ...]) -> float:
        """Joint over independent frequency of name factors under the prior (cached)."""
        found = self._mixture.get(named)
        if found is None:
            priors = [self._prior_marginal(c, v) for c, v in named]
            if min(priors) <= 0.0:
                found = 1.0
            else:
                mixture = sum(
                    w * math.prod(self.component_u[name].get(c, {}).get(v, 0.0) for c, v in named)
                    for name, w in self.components.items()
                )
                found = max(1.0, mixture / math.prod(priors))
            self._mixture[named] = found
        return found

    def _prior_marginal(self, code: str, value: str) -> float:
        key = (code, value)
        found = self._prior.get(key)
        if found is None:
            found = sum(
                w * self.component_u[name].get(code, {}).get(value, 0.0)
                for name, w in self.components.items()
            )
            self._prior[key] = found
        return found

    def joint_frequency(self, factors: Iterable[tuple[str, str]]) -> float:
        """The share of the population with every one of these (position, value) pairs.

        Factors of different fields multiply, except name factors, which depend
        on each other through the name component (locale and sex): for two or
        more of them the frequency is the mixture over components, never less
        than the independent product, and scaled by any refinement of the
        marginals.
        """
        total = 1.0
        named: list[tuple[str, str]] = []
        for code, value in factors:
            total *= self.frequency(code, value)
            if code in self._mixed_codes:
                named.append((code, value))
        if len(named) < 2:
            return total
        return total * self._mixture_ratio(tuple(sorted(named)))

    def joint_bits(self, factors: Iterable[tuple[str, str]]) -> float:
        """``-log2`` of ``joint_frequency``: the information a set of factors discloses."""
        return -math.log2(self.joint_frequency(factors))

    def frequency(self, code: str, value: str) -> float:
        """u: the share of the population with ``value`` at position ``code``."""
        known = self.u.get(code)
        if known is None:
            raise FrequencyTableError(f"the frequency table has no position {code!r}")
        found = known.get(value)
        return found if found is not None else self.unseen[code]

    def bits(self, code: str, value: str) -> float:
        """The information ``-log2(u)`` the factor discloses about its subject."""
        return -math.log2(self.frequency(code, value))

    def agreement(self, code: str) -> float:
        """m: the probability a scan of the same person shows the recorded value."""
        return self.m.get(code, _DEFAULT_M)

    def weights(self, code: str, value: str) -> tuple[float, float]:
        """Fellegi-Sunter (agreement, disagreement) weights in bits, cached."""
        key = (code, value)
        cached = self._weights.get(key)
        if cached is None:
            u = min(self.frequency(code, value), 1.0 - _MIN_U)
            m = min(max(self.agreement(code), u), _MAX_M)
            cached = (math.log2(m / u), math.log2((1.0 - m) / (1.0 - u)))
            self._weights[key] = cached
        return cached

    def refine(
        self, counts: Mapping[str, Mapping[str, int]], total: int, weight: float
    ) -> FrequencyTable:
        """A new table blending u with a node's own scan counts.

        ``counts[code][value]`` is how many of ``total`` scans showed ``value`` at
        ``code``; ``weight`` in [0, 1] is the share given to the local figures:
        ``u' = (1 - weight) * u + weight * count / total``. Positions without
        counts keep their prior. Pure: ``self`` is unchanged.
        """
        if not (isinstance(weight, int | float) and 0.0 <= weight <= 1.0):
            raise FrequencyTableError("refine: weight must be a number between 0 and 1")
        if isinstance(total, bool) or not isinstance(total, int) or total <= 0:
            raise FrequencyTableError("refine: total must be a positive whole number of scans")
        new_u: dict[str, Mapping[str, float]] = dict(self.u)
        new_unseen: dict[str, float] = dict(self.unseen)
        for code, by_value in counts.items():
            if code not in self.u:
                raise FrequencyTableError(f"refine: unknown position {code!r} in counts")
            seen = 0
            for value, count in by_value.items():
                if not isinstance(value, str) or not value:
                    raise FrequencyTableError(f"refine: position {code!r} has an empty value key")
                if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                    raise FrequencyTableError(
                        f"refine: counts at position {code!r} must be non-negative whole numbers"
                    )
                seen += count
            if seen > total:
                raise FrequencyTableError(
                    f"refine: counts at position {code!r} add up to more than total"
                )
            prior = self.u[code]
            blended = {v: (1.0 - weight) * f for v, f in prior.items()}
            for value, count in by_value.items():
                blended[value] = blended.get(value, 0.0) + weight * count / total
            floor = (1.0 - weight) * self.unseen[code]
            positive = [f for f in blended.values() if f > 0.0]
            if positive:
                floor = min(floor, min(positive) / 2.0) if floor > 0.0 else min(positive) / 2.0
            new_u[code] = {v: f for v, f in blended.items() if f > 0.0}
            new_unseen[code] = max(floor, _MIN_U)
        return FrequencyTable(
            u=new_u,
            unseen=new_unseen,
            m=dict(self.m),
            source=f"{self.source} (refined with {total} local scans, weight {weight:g})",
            components=self.components,
            component_u=self.component_u,
        )

    def with_m(self, m: Mapping[str, float]) -> FrequencyTable:
        """The same u with other m figures (e.g. a fresh simulation)."""
        for code, value in m.items():
            if code not in CATALOGUE or not 0.0 < value < 1.0:
                raise FrequencyTableError(
                    f"m for position {code!r} must lie strictly between 0 and 1"
                )
        return FrequencyTable(
            u=self.u,
            unseen=self.unseen,
            m=dict(m),
            source=self.source,
            components=self.components,
            component_u=self.component_u,
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able form (what the data file holds)."""
        return {
            "format": 1,
            "source": self.source,
            "u": {code: dict(values) for code, values in self.u.items()},
            "unseen": dict(self.unseen),
            "m": dict(self.m),
            "components": dict(self.components),
            "component_u": {
                name: {code: dict(values) for code, values in tables.items()}
                for name, tables in self.component_u.items()
            },
        }

    @classmethod
    def from_json(cls, data: Any) -> FrequencyTable:
        """Validate and load the JSON form."""
        if not isinstance(data, dict) or data.get("format") != 1:
            raise FrequencyTableError("frequency table: unknown or missing format (expected 1)")
        u_raw, unseen_raw, m_raw = data.get("u"), data.get("unseen"), data.get("m")
        if not (
            isinstance(u_raw, dict) and isinstance(unseen_raw, dict) and isinstance(m_raw, dict)
        ):
            raise FrequencyTableError("frequency table: u, unseen and m must be objects")
        u: dict[str, dict[str, float]] = {}
        unseen: dict[str, float] = {}
        for code in CATALOGUE:
            values = u_raw.get(code)
            floor = unseen_raw.get(code)
            if not isinstance(values, dict) or not isinstance(floor, int | float):
                raise FrequencyTableError(f"frequency table: position {code!r} is missing")
            if not 0.0 < floor <= 1.0:
                raise FrequencyTableError(f"frequency table: unseen at {code!r} must be in (0, 1]")
            clean: dict[str, float] = {}
            for value, freq in values.items():
                if not isinstance(freq, int | float) or not 0.0 < freq <= 1.0:
                    raise FrequencyTableError(
                        f"frequency table: frequencies at {code!r} must be in (0, 1]"
                    )
                clean[value] = float(freq)
            if sum(clean.values()) > 1.0 + 1e-4:
                raise FrequencyTableError(f"frequency table: frequencies at {code!r} exceed 1")
            u[code] = clean
            unseen[code] = float(floor)
        m: dict[str, float] = {}
        for code, value in m_raw.items():
            if code not in CATALOGUE or not isinstance(value, int | float) or not 0 < value < 1:
                raise FrequencyTableError(f"frequency table: m at {code!r} must be in (0, 1)")
            m[code] = float(value)
        components, component_u = _load_components(data)
        source = data.get("source", "")
        return cls(
            u=u,
            unseen=unseen,
            m=m,
            source=source if isinstance(source, str) else "",
            components=components,
            component_u=component_u,
        )


def _load_components(
    data: dict[str, Any],
) -> tuple[dict[str, float], dict[str, dict[str, dict[str, float]]]]:
    weights_raw = data.get("components", {})
    tables_raw = data.get("component_u", {})
    if not isinstance(weights_raw, dict) or not isinstance(tables_raw, dict):
        raise FrequencyTableError("frequency table: components must be objects")
    if set(weights_raw) != set(tables_raw):
        raise FrequencyTableError("frequency table: components and component_u disagree")
    weights: dict[str, float] = {}
    tables: dict[str, dict[str, dict[str, float]]] = {}
    for name, weight in weights_raw.items():
        if not isinstance(weight, int | float) or not 0.0 < weight <= 1.0:
            raise FrequencyTableError("frequency table: component weights must be in (0, 1]")
        weights[name] = float(weight)
        per_code = tables_raw[name]
        if not isinstance(per_code, dict):
            raise FrequencyTableError("frequency table: component_u entries must be objects")
        tables[name] = {}
        for code, values in per_code.items():
            if code not in CATALOGUE or not isinstance(values, dict):
                raise FrequencyTableError("frequency table: component_u names an unknown position")
            clean: dict[str, float] = {}
            for value, p in values.items():
                if not isinstance(p, int | float) or not 0.0 < p <= 1.0:
                    raise FrequencyTableError(
                        "frequency table: component frequencies must be in (0, 1]"
                    )
                clean[str(value)] = float(p)
            tables[name][code] = clean
    if weights and abs(sum(weights.values()) - 1.0) > 1e-3:
        raise FrequencyTableError("frequency table: component weights must sum to 1")
    return weights, tables


def _load(resource: str) -> FrequencyTable:
    raw = resources.files("doorwatch.segments.data").joinpath(resource).read_bytes()
    return FrequencyTable.from_json(json.loads(gzip.decompress(raw)))


@lru_cache(maxsize=1)
def load_default_tables() -> FrequencyTable:
    """The matcher's frequency tables (door population), shipped as package data, cached."""
    return _load(DEFAULT_TABLES_RESOURCE)


@lru_cache(maxsize=1)
def load_disclosure_tables() -> FrequencyTable:
    """The UK-wide tables that measure disclosure (bits, K), shipped as package data, cached."""
    return _load(DISCLOSURE_TABLES_RESOURCE)
