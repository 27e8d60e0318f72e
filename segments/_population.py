"""A synthetic population of ID documents, as scanned at UK venue doors.

Theory of operation
-------------------
Names come from Faker's person providers, sampled the way Faker samples them
(uniformly over a provider's tuple, so a name listed twice is twice as
likely; by the provider's weights where it has an ``OrderedDict``, as en_GB
does for surnames), but drawn here directly from precomputed cumulative
weights with the caller's ``random.Random``: calling Faker per name
recomputes its weight table on every call and is ten times slower.
``name_source()`` exposes exactly the lists and weights sampled from, so
that frequency tables built from it describe this population.

Who is in it (shares of the population, documented in ``_LOCALES``):

* about 88% English names (Faker en_GB, from the ONS name tables), 1% Irish
  (en_IE, ga_IE), and about 11% other European names (pl_PL, ro_RO, it_IT,
  pt_PT, es_ES, de_DE, fr_FR, lt_LT, hu_HU, cs_CZ, sk_SK, nl_NL, lv_LV,
  sv_SE, tr_TR, da_DK, no_NO, fi_FI); about 5% of
  the population has a diacritic somewhere in its names;
* half female, half male (given names and, where the language inflects
  them, surnames follow the sex; sex itself is not recorded);
* 40% have one or more middle names (8% two);
* 3% of English names are double-barrelled ("Smith-Jones"); Spanish and
  Portuguese people usually carry two surnames ("García López");
* ages 18 to 80 as at a nightclub door: 80% drawn from 18 plus an
  exponential with mean 6 years, 20% uniform 25-80 (median age about 23,
  one in ten 50 or older);
* documents: people with English names hold a UK driving licence (65%), a UK
  passport (25%) or a PASS proof-of-age card (``other``, 10%). Others hold
  UK documents 40% of the time, otherwise their own country's national ID
  card (EU nationals, 55%) or passport;
* UK passport numbers are 9 digits; UK driving licence numbers follow the
  DVLA's 16-character layout (surname, birth date with the female month
  offset, initials, two check letters); other countries' numbers are
  plausible but not country-exact;
* an address and postcode (Faker en_GB) appear on UK driving licences only:
  passports, PASS cards and most national ID cards carry none;
* expiry dates: documents are valid for 10 years; 98% are in date (issued
  uniformly over the last 10 years), 2% expired within the last 3 years;
* no photo, ``authentic`` unset.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import import_module
from typing import Any

from faker import Faker

from doorwatch.segments._identity import DocumentType, Identity
from doorwatch.segments._normalise import normalise_name

__all__ = [
    "LocaleNames",
    "NameSource",
    "WeightedNames",
    "dvla_licence_number",
    "name_source",
    "synthetic_people",
    "synthetic_population",
]


@dataclass(frozen=True)
class WeightedNames:
    """Names and their sampling probabilities (summing to 1), in Faker's order."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    _cumulative: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_cumulative", _cumulative(self.weights))

    def probabilities(self) -> dict[str, float]:
        return dict(zip(self.names, self.weights, strict=True))

    def sample(self, rng: random.Random) -> str:
        return self.names[bisect.bisect_right(self._cumulative, rng.random())]


def _cumulative(weights: tuple[float, ...]) -> tuple[float, ...]:
    cumulative = tuple(itertools.accumulate(weights))
    # Guard against rounding: bisect must never run past the last name.
    return (*cumulative[:-1], float("inf"))


@dataclass(frozen=True)
class LocaleNames:
    """The names of one Faker locale and how the population uses them."""

    locale: str
    share: float
    """Share of the population with names from this locale."""
    country: str
    """ISO 3166-1 alpha-3 code of the country issuing their own documents."""
    has_national_id: bool
    given_male: WeightedNames
    given_female: WeightedNames
    surname_male: WeightedNames
    surname_female: WeightedNames
    double_surname_rate: float
    """Probability of a second surname."""
    double_surname_joiner: str
    """'-' for a double-barrelled name, ' ' for Iberian paired surnames."""
    uk_document_rate: float
    """Probability that the person holds UK documents rather than their own."""


@dataclass(frozen=True)
class NameSource:
    """Everything ``synthetic_population`` samples names from."""

    locales: tuple[LocaleNames, ...]
    female_share: float
    middle_name_rate: float
    """Probability of at least one middle name."""
    second_middle_name_rate: float
    """Probability of a second middle name, given a first."""

    def given_name_probabilities(self) -> dict[str, float]:
        """Marginal distribution of the first given name over the whole population."""
        return self._marginal(lambda loc: (loc.given_female, loc.given_male))

    def surname_probabilities(self) -> dict[str, float]:
        """Marginal distribution of one surname part (the first, or only, surname).

        A double surname's second part is drawn from the same distribution.
        """
        return self._marginal(lambda loc: (loc.surname_female, loc.surname_male))

    def _marginal(
        self, lists: Callable[[LocaleNames], tuple[WeightedNames, WeightedNames]]
    ) -> dict[str, float]:
        out: defaultdict[str, float] = defaultdict(float)
        for loc in self.locales:
            female, male = lists(loc)
            for names, sex_share in ((female, self.female_share), (male, 1 - self.female_share)):
                for name, w in zip(names.names, names.weights, strict=True):
                    out[name] += loc.share * sex_share * w
        return dict(out)


# (locale, share, country, has EU-style national ID card, double surname rate,
#  joiner, probability of UK documents). Shares roughly follow the ONS
#  country-of-birth figures for the UK's resident population, young adults.
_LOCALES: tuple[tuple[str, float, str, bool, float, str, float], ...] = (
    ("en_GB", 0.882, "GBR", False, 0.03, "-", 1.0),
    ("en_IE", 0.008, "IRL", True, 0.0, "-", 0.5),
    ("ga_IE", 0.004, "IRL", True, 0.0, "-", 0.5),
    ("pl_PL", 0.025, "POL", True, 0.01, "-", 0.4),
    ("ro_RO", 0.015, "ROU", True, 0.0, "-", 0.4),
    ("it_IT", 0.010, "ITA", True, 0.0, "-", 0.4),
    ("pt_PT", 0.008, "PRT", True, 0.7, " ", 0.4),
    ("es_ES", 0.008, "ESP", True, 0.9, " ", 0.4),
    ("de_DE", 0.008, "DEU", True, 0.03, "-", 0.4),
    ("fr_FR", 0.008, "FRA", True, 0.02, "-", 0.4),
    ("lt_LT", 0.004, "LTU", True, 0.0, "-", 0.4),
    ("hu_HU", 0.003, "HUN", True, 0.0, "-", 0.4),
    ("cs_CZ", 0.003, "CZE", True, 0.0, "-", 0.4),
    ("sk_SK", 0.003, "SVK", True, 0.0, "-", 0.4),
    ("nl_NL", 0.003, "NLD", True, 0.0, "-", 0.4),
    ("lv_LV", 0.002, "LVA", True, 0.0, "-", 0.4),
    ("sv_SE", 0.002, "SWE", True, 0.0, "-", 0.4),
    ("tr_TR", 0.002, "TUR", False, 0.0, "-", 0.4),
    ("da_DK", 0.001, "DNK", True, 0.0, "-", 0.4),
    ("no_NO", 0.001, "NOR", True, 0.0, "-", 0.4),
    ("fi_FI", 0.001, "FIN", True, 0.0, "-", 0.4),
)

_FEMALE_SHARE = 0.5
_MIDDLE_NAME_RATE = 0.40
_SECOND_MIDDLE_NAME_RATE = 0.20


def _weighted(elements: object) -> WeightedNames:
    counts: defaultdict[str, float] = defaultdict(float)
    if isinstance(elements, Mapping):
        for name, weight in elements.items():
            counts[str(name)] += float(weight)
    elif isinstance(elements, Sequence):
        for name in elements:
            counts[str(name)] += 1.0
    total = sum(counts.values())
    names = tuple(counts)
    return WeightedNames(names, tuple(counts[n] / total for n in names))


def _feminine_polish(surname: str) -> str:
    for ending in ("ski", "cki", "dzki"):
        if surname.endswith(ending):
            return surname[:-1] + "a"
    return surname


def _locale_names(spec: tuple[str, float, str, bool, float, str, float]) -> LocaleNames:
    locale, share, country, has_id, double_rate, joiner, uk_rate = spec
    provider: Any = import_module(f"faker.providers.person.{locale}").Provider
    first = provider.first_names
    given_male = _weighted(getattr(provider, "first_names_male", first))
    given_female = _weighted(getattr(provider, "first_names_female", first))
    if locale == "pl_PL":
        # Faker's pl_PL last_name() draws from unisex names only; add the
        # inflected -ski/-cki names with their feminine forms.
        unisex = tuple(provider.unisex_last_names)
        male = tuple(provider.male_last_names)
        surname_male = _weighted(unisex + male)
        surname_female = _weighted(unisex + tuple(_feminine_polish(n) for n in male))
    else:
        last = provider.last_names
        surname_male = _weighted(getattr(provider, "last_names_male", last))
        surname_female = _weighted(getattr(provider, "last_names_female", last))
    return LocaleNames(
        locale=locale,
        share=share,
        country=country,
        has_national_id=has_id,
        given_male=given_male,
        given_female=given_female,
        surname_male=surname_male,
        surname_female=surname_female,
        double_surname_rate=double_rate,
        double_surname_joiner=joiner,
        uk_document_rate=uk_rate,
    )


@lru_cache(maxsize=1)
def name_source() -> NameSource:
    """The name lists and weights ``synthetic_population`` samples from.

    Built once from the installed Faker's provider data (deterministic for a
    given Faker version). Locale shares sum to 1.
    """
    locales = tuple(_locale_names(spec) for spec in _LOCALES)
    total = sum(loc.share for loc in locales)
    locales = tuple(replace(loc, share=loc.share / total) for loc in locales)
    return NameSource(
        locales=locales,
        female_share=_FEMALE_SHARE,
        middle_name_rate=_MIDDLE_NAME_RATE,
        second_middle_name_rate=_SECOND_MIDDLE_NAME_RATE,
    )


def dvla_licence_number(
    surname: str, given_names: str, date_of_birth: dt.date, *, female: bool, rng: random.Random
) -> str:
    """A UK driving licence number in the DVLA's 16-character layout.

    Characters 1-5: the surname's first five letters ("MAC" written "MC"),
    padded with 9; 6: decade of birth; 7-8: month of birth, plus 50 for a
    woman; 9-10: day of birth; 11: last digit of the birth year; 12-13: the
    first two initials, padded with 9; 14: a digit (usually 9); 15-16: two
    check letters (random here: the DVLA's algorithm is not public).
    """
    letters = normalise_name(surname).replace(" ", "")
    if letters.startswith("MAC"):
        letters = "MC" + letters[3:]
    head = (letters[:5] + "99999")[:5]
    month = date_of_birth.month + (50 if female else 0)
    initials = ("".join(t[0] for t in normalise_name(given_names).split()[:2]) + "99")[:2]
    check = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
    return (
        f"{head}{date_of_birth.year // 10 % 10}{month:02d}{date_of_birth.day:02d}"
        f"{date_of_birth.year % 10}{initials}9{check}"
    )


_ID_ALPHABET = "CFGHJKLMNPRTVWXYZ0123456789"


def _age_days(rng: random.Random) -> int:
    if rng.random() < 0.8:
        years = min(18.0 + rng.expovariate(1.0 / 6.0), 80.99)
    else:
        years = rng.uniform(25.0, 80.99)
    return int(years * 365.2425)


def _birth_date(rng: random.Random, today: dt.date) -> dt.date:
    dob = dt.date.fromordinal(today.toordinal() - _age_days(rng))
    while _years_between(dob, today) < 18:
        dob -= dt.timedelta(days=1)
    while _years_between(dob, today) > 80:
        dob += dt.timedelta(days=1)
    return dob


def _years_between(earlier: dt.date, later: dt.date) -> int:
    return later.year - earlier.year - ((later.month, later.day) < (earlier.month, earlier.day))


def _expiry_date(rng: random.Random, today: dt.date) -> dt.date:
    if rng.random() < 0.02:
        return today - dt.timedelta(days=rng.randint(1, 3 * 365))
    return today + dt.timedelta(days=rng.randint(1, 10 * 365))


def _person_names(
    rng: random.Random, source: NameSource, loc: LocaleNames, female: bool
) -> tuple[str, str]:
    given_list = loc.given_female if female else loc.given_male
    given = [given_list.sample(rng)]
    if rng.random() < source.middle_name_rate:
        wanted = 2 if rng.random() < source.second_middle_name_rate else 1
        for _ in range(10):
            if len(given) > wanted:
                break
            candidate = given_list.sample(rng)
            if candidate not in given:
                given.append(candidate)
    surnames = loc.surname_female if female else loc.surname_male
    surname = surnames.sample(rng)
    if rng.random() < loc.double_surname_rate:
        second = surnames.sample(rng)
        if second != surname:
            surname = f"{surname}{loc.double_surname_joiner}{second}"
    return " ".join(given), surname


def synthetic_people(rng: random.Random, *, today: dt.date) -> Iterator[Identity]:
    """An endless stream of synthetic identities; see the module docstring.

    Deterministic for the state of ``rng``; Faker (used for addresses only)
    is seeded from ``rng``.
    """
    source = name_source()
    locales = source.locales
    locale_cumulative = _cumulative(tuple(loc.share for loc in locales))
    faker = Faker("en_GB")
    faker.seed_instance(rng.getrandbits(64))
    while True:
        loc = locales[bisect.bisect_right(locale_cumulative, rng.random())]
        female = rng.random() < source.female_share
        given_names, surname = _person_names(rng, source, loc, female)
        dob = _birth_date(rng, today)
        uk_documents = rng.random() < loc.uk_document_rate
        address: str | None = None
        postcode: str | None = None
        if uk_documents:
            country = "GBR"
            roll = rng.random()
            doc_type = (
                DocumentType.DRIVING_LICENCE
                if roll < 0.65
                else DocumentType.PASSPORT
                if roll < 0.90
                else DocumentType.OTHER
            )
        else:
            country = loc.country
            doc_type = (
                DocumentType.NATIONAL_ID
                if loc.has_national_id and rng.random() < 0.55
                else DocumentType.PASSPORT
            )
        if doc_type is DocumentType.DRIVING_LICENCE:
            number = dvla_licence_number(surname, given_names, dob, female=female, rng=rng)
            street = faker.street_address().replace("\n", ", ")
            address = f"{street}, {faker.city()}"
            postcode = faker.postcode()
        elif doc_type is DocumentType.PASSPORT and country == "GBR":
            number = f"{rng.randrange(10**8, 10**9)}"
        elif doc_type is DocumentType.PASSPORT:
            number = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2)) + str(
                rng.randrange(10**6, 10**7)
            )
        elif doc_type is DocumentType.NATIONAL_ID:
            number = "".join(rng.choice(_ID_ALPHABET) for _ in range(9))
        else:
            number = str(rng.randrange(10**11, 10**12))
        yield Identity(
            document_type=doc_type,
            document_number=number,
            given_names=given_names,
            surname=surname,
            date_of_birth=dob,
            expiry_date=_expiry_date(rng, today),
            issuing_country=country,
            address=address,
            postcode=postcode,
        )


def synthetic_population(rng: random.Random, n: int, *, today: dt.date) -> list[Identity]:
    """``n`` synthetic identities (the first ``n`` of ``synthetic_people``)."""
    if n < 0:
        raise ValueError("n: must not be negative")
    return list(itertools.islice(synthetic_people(rng, today=today), n))
