"""The banning notice letter and the appeal outcome letter, as PDF (matplotlib's PDF
backend: text only, A4, no fonts beyond matplotlib's own).

The originating venue produces them for the subject; the Pubwatch usually has the
police licensing officer hand them over, so no address is printed or kept. The
letters name the ban, its scope and dates, the venues, the right of appeal and how to
exercise it (in writing, c/o the licensing officer, within the appeal period) and
that members keep their common-law right to refuse admission whatever the outcome.
"""

from __future__ import annotations

import datetime as dt
import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.backends.backend_pdf import FigureCanvasPdf
from matplotlib.figure import Figure

_A4 = (8.27, 11.69)
_WIDTH = 88  # characters per line at 10 pt on A4 with margins
_TOP = 0.94
_LINE = 0.0165


def _date(ts: int) -> str:
    day = dt.datetime.fromtimestamp(ts, dt.UTC).date()
    return f"{day.day} {day:%B %Y}"


@dataclass(frozen=True, slots=True)
class LetterFacts:
    pubwatch: str
    """The network's name (the Pubwatch scheme)."""
    subject: str
    """The subject's name as on the document."""
    issued_at: int
    from_at: int
    until: int | None
    """None: a lifetime ban."""
    scope: str
    """'all' or a group."""
    venues: Sequence[str]
    appeal_days: int
    reference: str
    """A short reference (the notice id's first characters)."""


def _scope_text(f: LetterFacts) -> str:
    return "every member of the scheme" if f.scope == "all" else f"the members in group {f.scope}"


def _period(f: LetterFacts) -> str:
    if f.until is None:
        return f"for life, from {_date(f.from_at)}"
    return f"from {_date(f.from_at)} until {_date(f.until)}"


_COMMON_LAW = (
    "Whatever the outcome of any appeal, each licensed premises keeps its common-law right "
    "to refuse admission, and some members may exercise that right."
)


def _render(title: str, paragraphs: Sequence[str], f: LetterFacts) -> bytes:
    fig = Figure(figsize=_A4)
    FigureCanvasPdf(fig)
    y = _TOP

    def put(text: str, *, size: float = 10, weight: str = "normal", gap: float = 1.0) -> None:
        nonlocal y
        fig.text(0.08, y, text, fontsize=size, fontweight=weight, family="DejaVu Sans", va="top")
        y -= _LINE * gap * size / 10

    put(f.pubwatch, size=12, weight="bold", gap=1.4)
    put(title, size=15, weight="bold", gap=2.0)
    put(f"Reference: {f.reference}    Date: {_date(f.issued_at)}", gap=1.8)
    put(f"To: {f.subject}", gap=2.0)
    for paragraph in paragraphs:
        for line in textwrap.wrap(paragraph, _WIDTH) or [""]:
            put(line)
        y -= _LINE * 0.8
    buf = io.BytesIO()
    fig.savefig(buf, format="pdf", metadata={"Title": title, "Creator": "Doorwatch"})
    return buf.getvalue()


def notice_letter(f: LetterFacts) -> bytes:
    """The banning notice: the ban, its scope and dates, the venues, the right of appeal."""
    venues = ", ".join(sorted(f.venues)) or "(none listed)"
    paragraphs = [
        f"The {f.pubwatch} sub-committee has decided to issue you with a banning notice under "
        "the scheme's Behave or Be Banned procedure.",
        f"You are banned from entering the premises of {_scope_text(f)} {_period(f)}.",
        f"The premises covered are: {venues}.",
        "Banned from one premises means banned from all of them. Breaching this notice is "
        "not in itself a criminal offence, but you will be refused entry.",
        "Your right of appeal: you may appeal against this notice. Write to the sub-committee "
        "c/o the police licensing officer, stating the grounds of your appeal and quoting the "
        f"reference above, within {f.appeal_days} days of the date of this letter. Your appeal "
        "will be acknowledged in writing and you will be told when it will be considered. "
        "Writing through the licensing officer keeps the sub-committee's members anonymous; "
        "the member who nominated you takes no part in deciding your appeal.",
        _COMMON_LAW,
    ]
    return _render("Banning Notice", paragraphs, f)


def appeal_outcome_letter(f: LetterFacts, *, outcome: str, decided_at: int) -> bytes:
    """The appeal's outcome: the notice cancelled, or upheld with its dates."""
    if outcome == "cancelled":
        paragraphs = [
            f"The {f.pubwatch} sub-committee has considered your appeal against banning notice "
            f"{f.reference} on {_date(decided_at)}.",
            "Your appeal has succeeded: the banning notice is cancelled with immediate effect "
            "and every member of the scheme has been told.",
            _COMMON_LAW,
        ]
    else:
        paragraphs = [
            f"The {f.pubwatch} sub-committee has considered your appeal against banning notice "
            f"{f.reference} on {_date(decided_at)}.",
            f"Your appeal has not succeeded: the banning notice is upheld. You remain banned "
            f"from entering the premises of {_scope_text(f)} {_period(f)}.",
            _COMMON_LAW,
        ]
    return _render("Outcome of your appeal", paragraphs, f)


__all__ = ["LetterFacts", "appeal_outcome_letter", "notice_letter"]
