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

It also builds ``disclosure.json.gz``, the tables that measure what an alert
*discloses* (bits, and so the anonymity set K = 67 million x 2^-bits), which
must describe the whole UK population, not the people at a venue door:

* dates of birth: ``UK_AGE_BANDS``, the UK's resident population by five-year
  age band (ONS mid-year population estimates for the UK, mid-2022,
  transcribed by hand and rounded: approximate to a few per cent per band;
  nothing can be downloaded where this is built), spread uniformly over the
  years of each band (90 and over: ages 90-99), integrated day by day;
* surnames of the English-name component: Faker en_GB's 500 surnames carry
  their ONS shares of the population (percentages summing to about 39.5%),
  which the synthetic population renormalises to 100%, so its head (SMITH,
  JONES, ...) is 2.5 times heavier than the UK's. Here each listed surname
  keeps its real share and the other ~60% (the long tail of rarer surnames,
  which Faker does not list) is spread evenly over the listed names: their
  letter slices stand in for the tail's, a flatter distribution than the
  head's. Limits: the tail's letters are not measured, only approximated;
* given names: Faker en_GB lists about 180 popular given names per sex
  (ONS baby-name tables) without weights, so every listed name is equally
  common: used as they are (the real distribution has a heavier head, which
  makes the first letters of a common name disclose a little less than
  these tables say, i.e. K is understated for common names, overstated for
  rare ones);
* other locales, sexes, double surnames, pa/n2 and m: as in ``tables.json.gz``.
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
DISCLOSURE_OUTPUT = Path(__file__).with_name("disclosure.json.gz")

UK_AGE_BANDS: tuple[tuple[int, int, int], ...] = (
    # (first age, last age, thousands of people): UK, mid-2022, approximate.
    (0, 4, 3_800),
    (5, 9, 4_000),
    (10, 14, 4_100),
    (15, 19, 3_900),
    (20, 24, 4_100),
    (25, 29, 4_400),
    (30, 34, 4_550),
    (35, 39, 4_450),
    (40, 44, 4_200),
    (45, 49, 4_150),
    (50, 54, 4_600),
    (55, 59, 4_550),
    (60, 64, 4_050),
    (65, 69, 3_530),
    (70, 74, 3_360),
    (75, 79, 2_720),
    (80, 84, 1_780),
    (85, 89, 1_050),
    (90, 99, 610),
)
"""The UK's resident population by age band (ONS mid-2022 estimates, transcribed, rounded)."""


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


def _uk_surname_share() -> float:
    """The share of the UK population Faker en_GB's listed surnames cover (its weights are %)."""
    from faker.providers.person.en_GB import Provider

    return float(sum(Provider.last_names.values())) / 100.0


def name_tables(
    *, uk_wide: bool = False
) -> tuple[dict[str, float], dict[str, dict[str, dict[str, float]]]]:
    """Component weights (locale and sex) and, per component, the name-factor distributions.

    Given name and surname depend on each other through the component (a
    Polish given name comes with a Polish surname): the matcher mixes the
    components for the joint frequency of two name factors. ``uk_wide``: the
    English surnames keep their ONS shares and the unlisted tail is spread
    over the listed names (see the module notes).
    """
    covered = _uk_surname_share() if uk_wide else 1.0
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
            if uk_wide and loc.locale == "en_GB":
                tail = (1.0 - covered) / len(probs)
                probs = {n: covered * p + tail for n, p in probs.items()}
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


def _uk_age_density(years: float) -> float:
    """Density (per year of age) of the UK population's age structure (``UK_AGE_BANDS``)."""
    total = sum(people for _, _, people in UK_AGE_BANDS)
    for first, last, people in UK_AGE_BANDS:
        if first <= years < last + 1:
            return people / total / (last + 1 - first)
    return 0.0


def date_tables(
    today: dt.date = REFERENCE_DATE, *, uk_wide: bool = False
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    density = _uk_age_density if uk_wide else _age_density
    first = 0 if uk_wide else int(18 * _YEAR_DAYS)
    last = int((100 if uk_wide else 81) * _YEAR_DAYS)
    total = 0.0
    for days in range(first, last + 1):
        weight = density(days / _YEAR_DAYS) / _YEAR_DAYS
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
    sampled = sampled_tables(rng)
    m = simulate_m(rng)
    return _table(
        uk_wide=False,
        sampled=sampled,
        m=m,
        source=(
            f"doorwatch build_tables: names from Faker {_faker_version()} via "
            f"_population.name_source(); dates of birth from the synthetic door age model at "
            f"{REFERENCE_DATE.isoformat()}; pa/n2 from {POSTCODE_SAMPLE} synthetic people; "
            f"m simulated over {M_SAMPLE} reads (seed {SEED})"
        ),
    )


def build_disclosure(matcher: dict[str, object] | None = None) -> dict[str, object]:
    """The UK-wide tables that measure disclosure; pa/n2 and m are the matcher's
    (by default the shipped ``tables.json.gz``'s)."""
    if matcher is None:
        matcher = json.loads(gzip.decompress(OUTPUT.read_bytes()))
    u = matcher["u"]
    m = matcher["m"]
    assert isinstance(u, dict)
    assert isinstance(m, dict)
    return _table(
        uk_wide=True,
        sampled={code: u[code] for code in _SAMPLED},
        m=m,
        source=(
            f"doorwatch build_tables (disclosure): names from Faker {_faker_version()} with "
            f"en_GB surnames at their ONS shares ({_uk_surname_share():.1%} listed, the tail "
            f"spread over the listed names); dates of birth from the UK age structure (ONS "
            f"mid-2022 estimates by 5-year band, transcribed, approximate) at "
            f"{REFERENCE_DATE.isoformat()}; pa/n2 and m as tables.json.gz"
        ),
    )


def _table(
    *,
    uk_wide: bool,
    sampled: dict[str, dict[str, float]],
    m: dict[str, float],
    source: str,
) -> dict[str, object]:
    u: dict[str, dict[str, float]] = {}
    weights, components = name_tables(uk_wide=uk_wide)
    u.update(marginals(weights, components))
    u.update(date_tables(uk_wide=uk_wide))
    u.update(sampled)
    unseen = {code: min(values.values()) / 2.0 for code, values in u.items()}
    return {
        "format": 1,
        "source": source,
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
    parser.add_argument(
        "--disclosure-only",
        action="store_true",
        help="build (or check) disclosure.json.gz alone, from the shipped tables.json.gz",
    )
    args = parser.parse_args(argv)
    outputs: list[tuple[Path, dict[str, object]]] = []
    if not args.disclosure_only:
        outputs.append((OUTPUT, build()))
    outputs.append((DISCLOSURE_OUTPUT, build_disclosure(outputs[0][1] if outputs else None)))
    status = 0
    for path, table in outputs:
        encoded = json.dumps(table, sort_keys=True, separators=(",", ":")).encode()
        if args.check:
            shipped = json.loads(gzip.decompress(path.read_bytes()))
            same = shipped == json.loads(encoded)
            print(f"{path.name} is up to date" if same else f"{path.name} differs from a rebuild")
            status |= 0 if same else 1
            continue
        path.write_bytes(gzip.compress(encoded, mtime=0))
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
