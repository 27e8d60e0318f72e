"""Venue and network reports: pure functions from counts to report models.

Nothing here reads a database, a clock or the network: ``venue_report`` turns
one venue's ``VenueCounts`` into a ``VenueReport``; ``share_counts`` turns
them into the suppressed figures a venue signs for the Pubwatch meeting; and
``network_report`` combines the members' signed shares into a
``NetworkReport``. Rendering (text, PDF, PNG) is ``_report_render``.

Harm follows the Cambridge Crime Harm Index: a category's harm is its count
times its harm figure (CCHI days, ``_categories``), and categories are ranked
by harm, not by count: one wounding (365 days) outweighs a hundred thefts
(1.5 days each).

A shared count between 1 and 4 arrives as "fewer than 5", so a network
figure is a range: a venue's "<5" adds 1 to 4. Ranges are shown as such
("<5", "12-18"), and ranked by their middle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from doorwatch.node._categories import Category
from doorwatch.protocol import SUPPRESS_BELOW, ReportCount, ReportCounts

# The shared measures (ReportCount.measure). A venue's totals are not shared:
# with a suppressed cell, "total minus the others" would give it away.
INCIDENTS: Final = "incidents"  # key: category code
INCIDENTS_MONTH: Final = "incidents_month"  # key: YYYY-MM
FIGURES: Final[tuple[tuple[str, str], ...]] = (
    ("alerts_disputed", "Alerts disputed by their subject"),
    ("alerts_withdrawn", "Alerts withdrawn"),
    ("photos_released", "Photos released to other venues"),
    ("details_released", "Alert details released to other venues"),
    ("photos_received", "Photos received from other venues"),
    ("details_received", "Alert details received from other venues"),
    ("bans_added", "Bans by a venue itself (not Pubwatch)"),
    ("pubwatch_bans", "Pubwatch banning notices upheld"),
    ("refusals", "Customers refused entry at the door"),
    ("reviews_overdue", "Alert reviews that fell overdue"),
)
FIGURE_LABELS: Final = dict(FIGURES)
_UNSHARED_LABELS: Final = {
    "alerts_created": "Alerts created (incidents)",
    "reviews_overdue_now": "Alert reviews overdue now",
}
SUPPRESSED_TEXT: Final = f"<{SUPPRESS_BELOW}"
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class VenueCounts:
    """One venue's counts over ``[period_from, period_to)`` (Unix seconds, UTC)."""

    period_from: int
    period_to: int
    incidents: Mapping[str, int]
    """Alerts this venue created in the period, by category code."""
    incidents_by_month: Mapping[str, int]
    """The same, by month of creation (``YYYY-MM``, UTC)."""
    figures: Mapping[str, int | None] = field(default_factory=dict)
    """The ``FIGURES`` measures; None: not counted by this version (see ``pubwatch_bans``)."""
    reviews_overdue_now: int = 0


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HarmRow(Model):
    """One category: its count (a range in a network report), harm figure and harm."""

    category: str
    label: str
    harm_each: float
    count_low: int
    count_high: int
    count_text: str
    harm_low: float
    harm_high: float
    harm_text: str
    share: float
    """This category's share of the total harm (middle of the ranges), 0 to 1."""


class MonthRow(Model):
    month: str
    label: str
    count_low: int
    count_high: int
    count_text: str


class FigureRow(Model):
    key: str
    label: str
    low: int | None
    high: int | None
    text: str


class VenueShareRow(Model):
    venue: str
    peer_id: str
    shared: bool
    issued_at: int | None
    incidents_text: str
    harm_low: float
    harm_high: float
    harm_text: str


class Report(Model):
    kind: Literal["venue", "network"]
    title: str
    period_from: int
    period_to: int
    generated_at: int
    harm: list[HarmRow]
    total_incidents_text: str
    total_harm_text: str
    months: list[MonthRow]
    figures: list[FigureRow]
    venues: list[VenueShareRow] = []
    notes: list[str] = []
    summary: str = ""
    """One line under the title (the network report: how many venues shared)."""


# -- helpers ------------------------------------------------------------------------------


def month_keys(period_from: int, period_to: int) -> list[str]:
    """Every month (``YYYY-MM``, UTC) that the period touches, in order."""
    start = dt.datetime.fromtimestamp(period_from, dt.UTC)
    end = dt.datetime.fromtimestamp(max(period_from, period_to - 1), dt.UTC)
    y, m = start.year, start.month
    out = []
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def month_label(key: str) -> str:
    year, month = key.split("-")
    return f"{_MONTHS[int(month) - 1]} {year}"


def count_text(low: int, high: int) -> str:
    """``12``; ``<5`` for a range inside 1-4; else ``12-18``."""
    if low == high:
        return str(low)
    if low >= 1 and high < SUPPRESS_BELOW:
        return SUPPRESSED_TEXT
    return f"{low}-{high}"


def harm_text(low: float, high: float) -> str:
    def one(x: float) -> str:
        return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}".removesuffix(".0")

    return one(low) if low == high else f"{one(low)}-{one(high)}"


def _category(categories: Mapping[str, Category], code: str) -> tuple[str, float]:
    c = categories.get(code)
    if c is None:
        return f"{code} (unknown category: no harm figure)", 0.0
    return c.label, c.harm


Range = tuple[int, int]


def _harm_rows(
    by_category: Mapping[str, Range], categories: Mapping[str, Category]
) -> list[HarmRow]:
    rows = []
    for code, (low, high) in by_category.items():
        if high == 0:
            continue
        label, each = _category(categories, code)
        rows.append((code, label, each, low, high))
    total = sum(each * (low + high) / 2 for _, _, each, low, high in rows)
    out = [
        HarmRow(
            category=code,
            label=label,
            harm_each=each,
            count_low=low,
            count_high=high,
            count_text=count_text(low, high),
            harm_low=each * low,
            harm_high=each * high,
            harm_text=harm_text(each * low, each * high),
            share=(each * (low + high) / 2) / total if total else 0.0,
        )
        for code, label, each, low, high in rows
    ]
    out.sort(key=lambda r: (-(r.harm_low + r.harm_high), -(r.count_low + r.count_high), r.label))
    return out


def _month_rows(period_from: int, period_to: int, by_month: Mapping[str, Range]) -> list[MonthRow]:
    return [
        MonthRow(
            month=k,
            label=month_label(k),
            count_low=by_month.get(k, (0, 0))[0],
            count_high=by_month.get(k, (0, 0))[1],
            count_text=count_text(*by_month.get(k, (0, 0))),
        )
        for k in month_keys(period_from, period_to)
    ]


def _totals(rows: Sequence[HarmRow]) -> tuple[str, str]:
    low = sum(r.count_low for r in rows)
    high = sum(r.count_high for r in rows)
    return count_text(low, high), harm_text(
        sum(r.harm_low for r in rows), sum(r.harm_high for r in rows)
    )


def _period_title(period_from: int, period_to: int) -> str:
    first = dt.datetime.fromtimestamp(period_from, dt.UTC).date()
    last = dt.datetime.fromtimestamp(period_to - 1, dt.UTC).date()
    return f"{first:%d %b %Y} to {last:%d %b %Y}"


HARM_NOTE: Final = (
    "Harm: the count of each kind of incident times its Cambridge Crime Harm Index "
    "figure (days of custody a first offender's sentence starts at), so one serious "
    "assault outweighs many thefts. Categories are ranked by harm, not by count."
)


# -- the venue report ----------------------------------------------------------------------


def venue_report(
    venue: str,
    counts: VenueCounts,
    categories: Mapping[str, Category],
    *,
    generated_at: int,
) -> Report:
    """This venue's own report: exact counts (it is the venue's own data), no person in it."""
    harm = _harm_rows({k: (v, v) for k, v in counts.incidents.items()}, categories)
    months = _month_rows(
        counts.period_from,
        counts.period_to,
        {k: (v, v) for k, v in counts.incidents_by_month.items()},
    )
    created = sum(counts.incidents.values())
    figures = [
        FigureRow(
            key="alerts_created",
            label=_UNSHARED_LABELS["alerts_created"],
            low=created,
            high=created,
            text=str(created),
        )
    ]
    for key, label in FIGURES:
        value = counts.figures.get(key)
        figures.append(
            FigureRow(
                key=key,
                label=label,
                low=value,
                high=value,
                text="not counted yet" if value is None else str(value),
            )
        )
    figures.append(
        FigureRow(
            key="reviews_overdue_now",
            label=_UNSHARED_LABELS["reviews_overdue_now"],
            low=counts.reviews_overdue_now,
            high=counts.reviews_overdue_now,
            text=str(counts.reviews_overdue_now),
        )
    )
    incidents, total_harm = _totals(harm)
    return Report(
        kind="venue",
        title=f"{venue}: incidents and harm, {_period_title(counts.period_from, counts.period_to)}",
        period_from=counts.period_from,
        period_to=counts.period_to,
        generated_at=generated_at,
        harm=harm,
        total_incidents_text=incidents,
        total_harm_text=total_harm,
        months=months,
        figures=figures,
        notes=[
            HARM_NOTE,
            "Counts only: no name, date of birth, document or photo is in this report.",
        ],
    )


# -- sharing -------------------------------------------------------------------------------


def _shared_value(value: int) -> int | None:
    return None if value < SUPPRESS_BELOW else value


def share_counts(counts: VenueCounts) -> tuple[ReportCount, ...]:
    """The figures a venue shares: zeros left out, 1 to 4 sent as "fewer than 5"."""
    out: list[ReportCount] = []

    def add(measure: str, key: str, value: int | None) -> None:
        if value:
            out.append(ReportCount(measure=measure, key=key, value=_shared_value(value)))

    for code, n in sorted(counts.incidents.items()):
        add(INCIDENTS, code, n)
    for month, n in sorted(counts.incidents_by_month.items()):
        add(INCIDENTS_MONTH, month, n)
    for key, _ in FIGURES:
        add(key, "", counts.figures.get(key))
    return tuple(out)


def _range(value: int | None) -> Range:
    return (1, SUPPRESS_BELOW - 1) if value is None else (value, value)


def _add(a: Range, b: Range) -> Range:
    return (a[0] + b[0], a[1] + b[1])


# -- the network report --------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    peer_id: str
    venue: str


def network_report(
    network_name: str,
    period_from: int,
    period_to: int,
    members: Iterable[Member],
    shares: Mapping[str, ReportCounts],
    categories: Mapping[str, Category],
    *,
    generated_at: int,
) -> Report:
    """Combine the members' shares (peer id -> its signed counts, already verified and
    for exactly this period) into the meeting's report; members without one are listed
    as not shared."""
    by_category: dict[str, Range] = {}
    by_month: dict[str, Range] = {}
    figures: dict[str, Range] = {}
    venues: list[VenueShareRow] = []
    for member in members:
        share = shares.get(member.peer_id)
        if share is None:
            venues.append(
                VenueShareRow(
                    venue=member.venue,
                    peer_id=member.peer_id,
                    shared=False,
                    issued_at=None,
                    incidents_text="-",
                    harm_low=0.0,
                    harm_high=0.0,
                    harm_text="-",
                )
            )
            continue
        own_incidents: Range = (0, 0)
        own_harm = (0.0, 0.0)
        for c in share.counts:
            r = _range(c.value)
            if c.measure == INCIDENTS:
                by_category[c.key] = _add(by_category.get(c.key, (0, 0)), r)
                own_incidents = _add(own_incidents, r)
                each = _category(categories, c.key)[1]
                own_harm = (own_harm[0] + each * r[0], own_harm[1] + each * r[1])
            elif c.measure == INCIDENTS_MONTH:
                by_month[c.key] = _add(by_month.get(c.key, (0, 0)), r)
            elif c.measure in FIGURE_LABELS:
                figures[c.measure] = _add(figures.get(c.measure, (0, 0)), r)
        venues.append(
            VenueShareRow(
                venue=member.venue,
                peer_id=member.peer_id,
                shared=True,
                issued_at=share.issued_at,
                incidents_text=count_text(*own_incidents),
                harm_low=own_harm[0],
                harm_high=own_harm[1],
                harm_text=harm_text(*own_harm),
            )
        )
    venues.sort(key=lambda v: (not v.shared, -(v.harm_low + v.harm_high), v.venue))
    harm = _harm_rows(by_category, categories)
    incidents, total_harm = _totals(harm)
    missing = [v.venue for v in venues if not v.shared]
    notes = [
        HARM_NOTE,
        f"Each venue shares counts only, signed by its node. A venue's count from 1 to "
        f"{SUPPRESS_BELOW - 1} is shared as '{SUPPRESSED_TEXT}' so that no incident, and "
        f"no one in it, can be picked out; a total that includes such counts is a range.",
    ]
    if missing:
        notes.append("Not shared for this period: " + ", ".join(missing) + ".")
    summary = f"Shared by {len(venues) - len(missing)} of {len(venues)} venues"
    return Report(
        kind="network",
        title=f"{network_name}: Pubwatch harm report, {_period_title(period_from, period_to)}",
        period_from=period_from,
        period_to=period_to,
        generated_at=generated_at,
        harm=harm,
        total_incidents_text=incidents,
        total_harm_text=total_harm,
        months=_month_rows(period_from, period_to, by_month),
        figures=[
            FigureRow(
                key=key,
                label=label,
                low=figures.get(key, (0, 0))[0],
                high=figures.get(key, (0, 0))[1],
                text=count_text(*figures.get(key, (0, 0))),
            )
            for key, label in FIGURES
        ],
        venues=venues,
        notes=notes,
        summary=summary,
    )
