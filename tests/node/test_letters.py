"""The notice and appeal outcome letters: real PDFs, rendered to PNG and read back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

import pypdfium2 as pdfium  # type: ignore[import-untyped]

from doorwatch.node._letters import LetterFacts, appeal_outcome_letter, notice_letter

ISSUED = int(dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC).timestamp())
FACTS = LetterFacts(
    pubwatch="Town Pubwatch",
    subject="Joanne Bloggs",
    issued_at=ISSUED,
    from_at=ISSUED,
    until=ISSUED + 365 * 86400,
    scope="all",
    venues=("The Swan", "The Bell", "The Anchor"),
    appeal_days=14,
    reference="7f3a09c2",
)


def _text_and_png(pdf: bytes, png: Path) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        assert len(doc) == 1
        page = doc[0]
        page.render(scale=1.5).to_pil().save(png)
        text = page.get_textpage().get_text_range()
        return " ".join(text.split())
    finally:
        doc.close()


def test_notice_letter_states_the_ban_the_venues_and_the_right_of_appeal(tmp_path: Path) -> None:
    pdf = notice_letter(FACTS)
    assert pdf.startswith(b"%PDF")
    png = tmp_path / "notice.png"
    text = _text_and_png(pdf, png)
    assert png.stat().st_size > 10_000
    for expected in (
        "Banning Notice",
        "To: Joanne Bloggs",
        "from 4 December 2026 until 4 December 2027",
        "The Anchor, The Bell, The Swan",
        "every member of the scheme",
        "c/o the police licensing officer",
        "within 14 days",
        "common-law right to refuse admission",
        "7f3a09c2",
    ):
        assert expected in text, expected
    if os.environ.get("DOORWATCH_KEEP_LETTERS"):
        png.rename(Path(os.environ["DOORWATCH_KEEP_LETTERS"]) / "notice.png")


def test_appeal_outcome_letters(tmp_path: Path) -> None:
    cancelled = _text_and_png(
        appeal_outcome_letter(FACTS, outcome="cancelled", decided_at=ISSUED + 20 * 86400),
        tmp_path / "cancelled.png",
    )
    assert "Outcome of your appeal" in cancelled
    assert "banning notice is cancelled" in cancelled
    assert "24 December 2026" in cancelled
    assert "common-law right to refuse admission" in cancelled
    upheld = _text_and_png(
        appeal_outcome_letter(FACTS, outcome="upheld", decided_at=ISSUED),
        tmp_path / "upheld.png",
    )
    assert "the banning notice is upheld" in upheld
    assert "until 4 December 2027" in upheld
    lifetime = dataclasses.replace(FACTS, until=None, scope="door")
    text = _text_and_png(notice_letter(lifetime), tmp_path / "life.png")
    assert "for life, from 4 December 2026" in text
    assert "the members in group door" in text
    if os.environ.get("DOORWATCH_KEEP_LETTERS"):
        keep = Path(os.environ["DOORWATCH_KEEP_LETTERS"])
        (tmp_path / "cancelled.png").rename(keep / "cancelled.png")
