"""The coded reasons an alert may give, each with a harm weight.

The weight follows the Cambridge Crime Harm Index (Sherman, Neyroud and
Neyroud 2016): the harm of an offence is the number of days of custody in the
sentencing guideline's starting point for a first offender (a non-custodial
starting point scores a small number of days, as in the CCHI). Operators and
reports rank alerts by harm, not by count. The values are approximations for
the offences a venue meets, taken from published CCHI examples where there
is one (docs/api.md lists the source of each); they are to be refined
against the full CCHI table before a network relies on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

HarmBand = Literal["low", "medium", "high"]
# Harm (CCHI days) at which a band starts. The door sees the band before the
# identity check, never the figure: the figure maps one-to-one to a category.
MEDIUM_HARM: Final = 5.0
HIGH_HARM: Final = 90.0


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    label: str
    harm: float
    source: str


CATEGORIES: Final[tuple[Category, ...]] = (
    Category(
        "assault_serious",
        "Assault causing serious injury (wounding, GBH)",
        365.0,
        "approximation: s.20 wounding/GBH, lowest category starting point about 1 year",
    ),
    Category(
        "assault_injury",
        "Assault causing injury (ABH)",
        26.0,
        "approximation: s.47 ABH, lowest category with custody threshold, about 26 days",
    ),
    Category(
        "common_assault",
        "Common assault (no injury)",
        1.0,
        "approximation: common assault, lowest category starting point a fine (CCHI 1)",
    ),
    Category(
        "threatening_behaviour",
        "Threatening or abusive behaviour",
        2.0,
        "approximation: Public Order Act s.4/s.4A, fine to low community order",
    ),
    Category(
        "sexual_assault",
        "Sexual assault",
        182.0,
        "approximation: Sexual Offences Act 2003 s.3, mid category starting point 26 weeks",
    ),
    Category(
        "sexual_harassment",
        "Sexual harassment or indecent behaviour",
        5.0,
        "approximation: harassment / s.4A, low community order",
    ),
    Category(
        "drug_supply",
        "Drug supply or dealing",
        548.0,
        "CCHI example value 'drugs dealing class A' (Sidhu, Barnes and Sherman 2017, Table 1)",
    ),
    Category(
        "drug_possession",
        "Drug possession",
        1.0,
        "approximation: possession, starting point a fine (CCHI 1)",
    ),
    Category(
        "theft",
        "Theft (from the venue, staff or customers)",
        1.5,
        "CCHI example value 'theft shoplifting' (Sidhu, Barnes and Sherman 2017, Table 1)",
    ),
    Category(
        "making_off",
        "Leaving without paying",
        3.0,
        "CCHI example value 'making off without payment' (Sidhu, Barnes and Sherman 2017)",
    ),
    Category(
        "criminal_damage",
        "Criminal damage",
        1.0,
        "approximation: criminal damage under 5,000 GBP, starting point a fine",
    ),
    Category(
        "weapon",
        "Carrying a weapon (knife, bladed article, offensive weapon)",
        90.0,
        "approximation: possession of a bladed article, lowest custodial starting point",
    ),
    Category(
        "false_id",
        "Fake or misused ID",
        10.0,
        "approximation: Identity Documents Act 2010 s.6, community order",
    ),
    Category(
        "disorder",
        "Drunk and disorderly, refusing to leave",
        0.5,
        "approximation: penalty notice / Licensing Act 2003 s.143, below a fine day",
    ),
    Category(
        "other",
        "Other (describe in the reason)",
        0.0,
        "no weight: rank by the reason given",
    ),
)

BY_CODE: Final[dict[str, Category]] = {c.code: c for c in CATEGORIES}


def harm_band(harm: float) -> HarmBand:
    """The coarse band of a harm weight: what door staff see before any identity check."""
    if harm >= HIGH_HARM:
        return "high"
    if harm >= MEDIUM_HARM:
        return "medium"
    return "low"
