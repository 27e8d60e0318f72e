"""Rendering a report model (``_report_model.Report``) as text, JSON, PDF or PNG.

The charts are matplotlib figures drawn without pyplot (no global state, no
display): harm by category, ranked, as horizontal bars (largest at the top,
each labelled with its harm and count), and incidents by month. A range (a
network figure that includes suppressed counts) is a solid bar to its low end
and a hatched bar on to its high end. The PDF is two A4 pages: the title, the
key figures and the harm chart; then the months chart, the tables and the
notes. The PNG is the charts.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import textwrap
from typing import Final, Literal

from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox

from doorwatch.node._report_model import Report

Format = Literal["text", "json", "pdf", "png"]
FORMATS: Final = ("text", "json", "pdf", "png")
A4: Final = (8.27, 11.69)
_BAR = "#b03a2e"
_BAR_MONTH = "#2e6f9e"
_RANGE = "#e6b0aa"
_RANGE_MONTH = "#a9cce3"


def _when(at: int) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%d %b %Y %H:%M UTC")


def render(report: Report, fmt: Format) -> bytes:
    if fmt == "json":
        return (json.dumps(report.model_dump(mode="json"), indent=2) + "\n").encode()
    if fmt == "text":
        return render_text(report).encode()
    if fmt == "pdf":
        return render_pdf(report)
    return render_png(report)


# -- text ------------------------------------------------------------------------------------


def _table(rows: list[list[str]], header: list[str], right: set[int] | None = None) -> list[str]:
    right = right or set()
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(row: list[str]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def harm_table(report: Report) -> tuple[list[str], list[list[str]]]:
    header = ["#", "Category", "Incidents", "Harm each", "Harm (days)", "Share"]
    rows = [
        [
            str(i),
            r.label,
            r.count_text,
            f"{r.harm_each:g}",
            r.harm_text,
            f"{r.share:.0%}",
        ]
        for i, r in enumerate(report.harm, 1)
    ]
    rows.append(["", "Total", report.total_incidents_text, "", report.total_harm_text, ""])
    return header, rows


def venue_table(report: Report) -> tuple[list[str], list[list[str]]]:
    header = ["Venue", "Shared", "Incidents", "Harm (days)"]
    rows = [
        [v.venue, "yes" if v.shared else "NOT SHARED", v.incidents_text, v.harm_text]
        for v in report.venues
    ]
    return header, rows


def render_text(report: Report) -> str:
    out = [report.title, f"Made {_when(report.generated_at)}", ""]
    if report.summary:
        out[-1:] = [report.summary, ""]
    out.append("Harm by category, highest first")
    if report.harm:
        header, rows = harm_table(report)
        out += _table(rows, header, right={0, 2, 3, 4, 5})
    else:
        out.append("  No incidents in this period.")
    out += ["", "Incidents by month"]
    out += _table([[m.label, m.count_text] for m in report.months], ["Month", "Incidents"], {1})
    if report.venues:
        out += ["", f"Venues, highest harm first ({report.summary.lower()})"]
        header, rows = venue_table(report)
        out += _table(rows, header, right={2, 3})
    out += ["", "Other figures for the period"]
    out += _table([[f.label, f.text] for f in report.figures], ["", "Count"], {1})
    out.append("")
    for note in report.notes:
        out += textwrap.wrap(note, 88, initial_indent="* ", subsequent_indent="  ")
    return "\n".join(out) + "\n"


# -- charts ----------------------------------------------------------------------------------


def _ranged_bars(
    ax: Axes,
    positions: list[float],
    low: list[float],
    high: list[float],
    *,
    horizontal: bool,
    colour: str,
    range_colour: str,
) -> None:
    extra = [h - lo for lo, h in zip(low, high, strict=True)]
    if horizontal:
        ax.barh(positions, low, color=colour)
        if any(extra):
            ax.barh(positions, extra, left=low, color=range_colour, hatch="//", edgecolor=colour)
    else:
        ax.bar(positions, low, color=colour)
        if any(extra):
            ax.bar(positions, extra, bottom=low, color=range_colour, hatch="//", edgecolor=colour)


def draw_harm(ax: Axes, report: Report) -> None:
    """Harm by category, ranked: the largest at the top, each bar labelled."""
    ax.set_title("Harm by category (CCHI days), highest first", loc="left", fontsize=11)
    rows = report.harm
    if not rows:
        ax.text(0.5, 0.5, "No incidents in this period", ha="center", va="center")
        ax.set_axis_off()
        return
    positions = [float(i) for i in range(len(rows))]
    low = [r.harm_low for r in rows]
    high = [r.harm_high for r in rows]
    _ranged_bars(ax, positions, low, high, horizontal=True, colour=_BAR, range_colour=_RANGE)
    ax.set_yticks(positions, [textwrap.fill(r.label, 30) for r in rows], fontsize=8)
    ax.invert_yaxis()
    top = max(high) or 1.0
    ax.set_xlim(0, top * 1.45)
    for y, r in zip(positions, rows, strict=True):
        incidents = "incident" if r.count_text == "1" else "incidents"
        ax.text(
            r.harm_high + top * 0.02,
            y,
            f"{r.harm_text} days ({r.count_text} {incidents})",
            va="center",
            fontsize=8,
        )
    ax.set_xlabel("Harm: incidents x CCHI days", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def draw_months(ax: Axes, report: Report) -> None:
    ax.set_title("Incidents by month", loc="left", fontsize=11)
    months = report.months
    positions = [float(i) for i in range(len(months))]
    low = [float(m.count_low) for m in months]
    high = [float(m.count_high) for m in months]
    _ranged_bars(
        ax,
        positions,
        low,
        high,
        horizontal=False,
        colour=_BAR_MONTH,
        range_colour=_RANGE_MONTH,
    )
    ax.set_xticks(positions, [m.label for m in months], fontsize=8)
    # A short period's one or two months as bars of a normal width, not a wall.
    pad = max(0.0, (4 - len(months)) / 2)
    ax.set_xlim(-0.5 - pad, len(months) - 0.5 + pad)
    if len(months) > 6:
        ax.tick_params(axis="x", labelrotation=45)
    top = max(high, default=0.0) or 1.0
    ax.set_ylim(0, top * 1.2)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    for x, m in zip(positions, months, strict=True):
        ax.text(x, m.count_high + top * 0.02, m.count_text, ha="center", fontsize=8)
    ax.set_ylabel("Incidents", fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


RANGE_LEGEND: Final = (
    "Hatched: how much more it may be. A venue shares a count from 1 to 4 as '<5', "
    "so a total that includes one is a range."
)


def _legend_for_ranges(fig: Figure, ranged: bool, x: float, y: float) -> None:
    if ranged:
        fig.text(x, y, RANGE_LEGEND, fontsize=8, style="italic", va="top")


def _harm_ranged(report: Report) -> bool:
    return any(r.harm_low != r.harm_high for r in report.harm)


def _months_ranged(report: Report) -> bool:
    return any(m.count_low != m.count_high for m in report.months)


def render_png(report: Report) -> bytes:
    """The charts, one above the other, under the report's title."""
    rows = max(len(report.harm), 1)
    height = 4.6 + 0.38 * rows
    fig = Figure(figsize=(9, height), dpi=110)
    fig.suptitle(
        textwrap.fill(report.title, 80), x=0.04, y=1 - 0.2 / height, ha="left", fontsize=12
    )
    grid = fig.add_gridspec(2, 1, height_ratios=[max(rows, 3), 4], hspace=0.5)
    draw_harm(fig.add_subplot(grid[0]), report)
    draw_months(fig.add_subplot(grid[1]), report)
    _legend_for_ranges(fig, _harm_ranged(report) or _months_ranged(report), 0.04, 0.25 / height)
    fig.subplots_adjust(left=0.3, right=0.97, top=1 - 0.85 / height, bottom=0.75 / height)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# -- PDF -------------------------------------------------------------------------------------


ROW: Final = 0.022
"""A table row's height on an A4 page (figure fraction: about 18 points)."""


def _text_table(
    fig: Figure,
    top: float,
    header: list[str],
    rows: list[list[str]],
    widths: list[float],
    title: str,
) -> float:
    """Draw a titled table with its top at ``top``; return where the next thing may start."""
    height = ROW * (len(rows) + 1)
    fig.text(0.06, top, title, fontsize=11, va="bottom")
    ax = fig.add_axes((0.06, top - 0.008 - height, 0.88, height))
    ax.set_axis_off()
    total = sum(widths)
    table = ax.table(
        cellText=rows,
        colLabels=header,
        colWidths=[w / total for w in widths],
        bbox=Bbox.from_bounds(0.0, 0.0, 1.0, 1.0),
        cellLoc="left",
        colLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (row, _col), cell in table.get_celld().items():
        cell.PAD = 0.03
        cell.set_edgecolor("#cccccc")
        if row == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#eeeeee")
    return top - 0.008 - height - 0.05


def render_pdf(report: Report) -> bytes:
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": report.title, "Creator": "Doorwatch"}) as pdf:
        # Page 1: what the meeting reads first.
        fig = Figure(figsize=A4)
        fig.text(0.06, 0.95, textwrap.fill(report.title, 70), fontsize=14, weight="bold", va="top")
        fig.text(0.06, 0.905, f"Made {_when(report.generated_at)}", fontsize=9, color="#555555")
        lines = [
            f"Incidents: {report.total_incidents_text}.   "
            f"Total harm: {report.total_harm_text} CCHI days."
        ]
        if report.harm:
            top = report.harm[0]
            lines.append(f"Most harm: {top.label} ({top.share:.0%} of the total).")
        if report.summary:
            lines.insert(0, f"{report.summary}.")
        fig.text(0.06, 0.875, "\n".join(lines), fontsize=10, va="top", linespacing=1.5)
        rows = max(len(report.harm), 1)
        chart_height = min(0.45, 0.06 + 0.035 * rows)
        chart_bottom = 0.79 - chart_height
        draw_harm(fig.add_axes((0.36, chart_bottom, 0.58, chart_height)), report)
        _legend_for_ranges(fig, _harm_ranged(report), 0.06, chart_bottom - 0.04)
        header, table_rows = harm_table(report)
        y = _text_table(
            fig,
            chart_bottom - 0.09,
            header,
            [[r[0], textwrap.shorten(r[1], 50), *r[2:]] for r in table_rows],
            [0.05, 0.5, 0.11, 0.11, 0.13, 0.08],
            "Harm by category, ranked",
        )
        header, venue_rows = venue_table(report)
        venue_widths = [0.46, 0.18, 0.18, 0.18]
        venues_title = "Venues, highest harm first"
        if venue_rows and y - ROW * (len(venue_rows) + 1) > 0.04:
            _text_table(fig, y, header, venue_rows, venue_widths, venues_title)
            venue_rows = []
        pdf.savefig(fig)

        # Page 2: months, the other figures, the notes.
        fig = Figure(figsize=A4)
        draw_months(fig.add_axes((0.1, 0.72, 0.84, 0.2)), report)
        _legend_for_ranges(fig, _months_ranged(report), 0.06, 0.68)
        y = _text_table(
            fig,
            0.63,
            ["", "Count"],
            [[f.label, f.text] for f in report.figures],
            [0.75, 0.25],
            "Other figures for the period",
        )
        notes = "\n\n".join(textwrap.fill(n, 100) for n in report.notes)
        fig.text(0.06, y, notes, fontsize=8, va="top", linespacing=1.4)
        pdf.savefig(fig)

        # A network too large for page 1: its venues on pages of their own.
        per_page = int(0.85 / ROW) - 1
        for start in range(0, len(venue_rows), per_page):
            fig = Figure(figsize=A4)
            part = venue_rows[start : start + per_page]
            _text_table(fig, 0.93, header, part, venue_widths, venues_title)
            pdf.savefig(fig)
    return buf.getvalue()
