"""Build ``tables.json.gz``, the default u and m figures of the segments matcher.

Run from the repository root::

    .venv/bin/python -m doorwatch.segments.data.build_tables [--check]

Sources (deterministic for the installed Faker version and the seed below):

* names: ``doorwatch.segments._population.name_source()``, exactly the Faker
  name lists and weights the synthetic population samples from (Faker en_GB
  from the ONS name tables for 88%, other locales for the rest). For every
  name the factor values are computed with the same functions the matcher
  uses (``_factors.match_keys``), and weights are summed per value. Double
  surnames are enumerated exactly (first part, joiner, second part) wherever
  the second part can reach a sliced position.
* dates of birth: the age model of the synthetic population (people at a
  venue door: 80% aged 18 plus an exponential of mean 6 years, 20% uniform
  25-80), integrated day by day at ``REFERENCE_DATE``; months and days follow
  from the calendar. See docs/matching.md for why this, and not the whole
  UK's age structure, is what u must describe.
* postcode areas and document-number tails (positions outside the default
  catalogue): Monte Carlo over ``POSTCODE_SAMPLE`` synthetic people.
* m: the share of ``M_SAMPLE`` synthetic people whose read (with
  ``_readerrors.apply_read_errors`` and the default ``ReadErrorModel``) still
  shows, at each position, the value their document records.

Unseen values get a floor of half the rarest listed value's frequency.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import math
import random
import sys
from collections import defaultdict
from pathlib import Path

from doorwatch.segments._factors import CATALOGUE, alert_value, identity_keys, match_keys
from doorwatch.segments._frequencies import TABLES_REFERENCE_DATE
from doorwatch.segments._population import name_source, synthetic_people

REFERENCE_DATE = TABLES_REFERENCE_DATE
POSTCODE_SAMPLE = 200_000
M_SAMPLE = 200_000
SEED = 20260601
OUTPUT = Path(__file__).with_name("tables.json.gz")

_GIVEN = ("g1", "g12", "g23", "g34")
_SURNAME = ("s1", "s12", "s23", "s34")
_DATE = ("yy", "y1", "mm", "dd", "d1")
_SAMPLED = ("pa", "n2")
_YEAR_DAYS = 365.2425


def _name_values(
    codes: tuple[str, ...], names: list[tuple[str, float]], *, given: bool
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for name, weight in names:
        keys = (
            match_keys(given_names=name, surname="", date_of_birth=None)
            if given
            else match_keys(given_names="", surname=name, date_of_birth=None)
        )
        for code in codes:
            value = alert_value(code, keys)
            if value is not None:
                out[code][value] += weight
    return out


def name_tables() -> tuple[dict[str, float], dict[str, dict[str, dict[str, float]]]]:
    """Component weights (locale and sex) and, per component, the name-factor distributions.

    Given name and surname depend on each other through the component (a
    Polish given name comes with a Polish surname): the matcher mixes the
    components for the joint frequency of two name factors.
    """
    source = name_source()
    weights: dict[str, float] = {}
    components: dict[str, dict[str, dict[str, float]]] = {}
    for loc in source.locales:
        for sex, sex_share, g_list, s_list in (
            ("f", source.female_share, loc.given_female, loc.surname_female),
            ("m", 1.0 - source.female_share, loc.given_male, loc.surname_male),
        ):
            given = list(zip(g_list.names, g_list.weights, strict=True))
            rate = loc.double_surname_rate
            probs = dict(zip(s_list.names, s_list.weights, strict=True))
            surnames: list[tuple[str, float]] = []
            for first, p_first in probs.items():
                first_key = match_keys(given_names="", surname=first, date_of_birth=None).surnames
                # A second part changes the first four letters of the full key
                # only if the first part is shorter than four letters.
                if rate == 0.0 or (first_key and len(first_key[0]) >= 4):
                    surnames.append((first, p_first))
                    continue
                surnames.append((first, p_first * (1.0 - rate + rate * p_first)))
                for second, p_second in probs.items():
                    if second != first:
                        joined = f"{first}{loc.double_surname_joiner}{second}"
                        surnames.append((joined, p_first * rate * p_second))
            name = f"{loc.locale}/{sex}"
            weights[name] = loc.share * sex_share
            tables = _name_values(_GIVEN, given, given=True)
            tables.update(_name_values(_SURNAME, surnames, given=False))
            components[name] = tables
    return weights, components


def marginals(
    weights: dict[str, float], components: dict[str, dict[str, dict[str, float]]]
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for name, tables in components.items():
        for code, values in tables.items():
            for value, p in values.items():
                out[code][value] += weights[name] * p
    return out


def _age_density(years: float) -> float:
    """Density (per year of age) of the synthetic population's age model."""
    young = 0.8 * math.exp(-(years - 18.0) / 6.0) / 6.0 if years >= 18.0 else 0.0
    older = 0.2 / (80.99 - 25.0) if 25.0 <= years < 80.99 else 0.0
    return young + older


def date_tables(today: dt.date = REFERENCE_DATE) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    first = int(18 * _YEAR_DAYS)
    last = int(81 * _YEAR_DAYS)
    total = 0.0
    for days in range(first, last + 1):
        weight = _age_density(days / _YEAR_DAYS) / _YEAR_DAYS
        if weight <= 0.0:
            continue
        dob = dt.date.fromordinal(today.toordinal() - days)
        keys = match_keys(given_names="", surname="", date_of_birth=dob)
        for code in _DATE:
            value = alert_value(code, keys)
            assert value is not None
            out[code][value] += weight
        total += weight
    for counter in out.values():
        for value in counter:
            counter[value] /= total
    return out


def sampled_tables(rng: random.Random) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    people = synthetic_people(rng, today=REFERENCE_DATE)
    for _ in range(POSTCODE_SAMPLE):
        keys = identity_keys(next(people))
        for code in _SAMPLED:
            value = alert_value(code, keys)
            if value is not None:
                out[code][value] += 1.0 / POSTCODE_SAMPLE
    return out


def simulate_m(rng: random.Random, n: int = M_SAMPLE) -> dict[str, float]:
    """Per position: P(the read shows the recorded value | same person, value recorded)."""
    from doorwatch.segments._readerrors import ReadErrorModel, apply_read_errors

    model = ReadErrorModel()
    people = synthetic_people(rng, today=REFERENCE_DATE)
    agree: dict[str, int] = defaultdict(int)
    present: dict[str, int] = defaultdict(int)
    for _ in range(n):
        person = next(people)
        keys = identity_keys(person)
        read = identity_keys(apply_read_errors(person, rng, model))
        for code, position in CATALOGUE.items():
            value = alert_value(code, keys)
            if value is None:
                continue
            present[code] += 1
            if value in position.scan_values(read):
                agree[code] += 1
    # Laplace smoothing keeps m strictly inside (0, 1).
    return {code: (agree[code] + 1) / (present[code] + 2) for code in CATALOGUE if present[code]}


def build() -> dict[str, object]:
    rng = random.Random(SEED)  # noqa: S311 - statistics, not key material
    u: dict[str, dict[str, float]] = {}
    weights, components = name_tables()
    u.update(marginals(weights, components))
    u.update(date_tables())
    u.update(sampled_tables(rng))
    unseen = {code: min(values.values()) / 2.0 for code, values in u.items()}
    m = simulate_m(rng)
    return {
        "format": 1,
        "source": (
            f"doorwatch build_tables: names from Faker {_faker_version()} via "
            f"_population.name_source(); dates of birth from the synthetic door age model at "
            f"{REFERENCE_DATE.isoformat()}; pa/n2 from {POSTCODE_SAMPLE} synthetic people; "
            f"m simulated over {M_SAMPLE} reads (seed {SEED})"
        ),
        "reference_date": REFERENCE_DATE.isoformat(),
        "u": {
            code: {v: float(f"{f:.6g}") for v, f in sorted(u[code].items())} for code in CATALOGUE
        },
        "unseen": {code: float(f"{unseen[code]:.6g}") for code in CATALOGUE},
        "m": {code: round(value, 6) for code, value in sorted(m.items())},
        "components": {name: float(f"{w:.6g}") for name, w in sorted(weights.items())},
        "component_u": {
            name: {
                code: {v: float(f"{p:.4g}") for v, p in sorted(values.items()) if p >= 1e-7}
                for code, values in sorted(tables.items())
            }
            for name, tables in sorted(components.items())
        },
    }


def _faker_version() -> str:
    from importlib.metadata import version

    return version("faker")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Build the default frequency tables.")
    parser.add_argument("--check", action="store_true", help="compare with the shipped file")
    args = parser.parse_args(argv)
    data = build()
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    if args.check:
        shipped = json.loads(gzip.decompress(OUTPUT.read_bytes()))
        same = shipped == json.loads(encoded)
        print("tables.json.gz is up to date" if same else "tables.json.gz differs from a rebuild")
        return 0 if same else 1
    OUTPUT.write_bytes(gzip.compress(encoded, mtime=0))
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
