"""Recorded MRZ reader byte streams (the ``*.rec`` files beside this one) and their documents.

The documents are fictional, made with ``format_mrz``, except the ICAO 9303
Part 4 TD3 specimen (expired in 2012).
"""

from __future__ import annotations

import ast
from pathlib import Path

HERE = Path(__file__).resolve().parent

QUILL = "P<GBRQUILLFEATHERINGTON<<ADA<MAY<<<<<<<<<<<<\nQF90517023GBR9005178F3501014<<<<<<<<<<<<<<<6"
BERG = (
    "I<NLDNL7K2M9P41<<<<<<<<<<<<<<<\n8511308F3106305NLD<<<<<<<<<<<6\nVAN<DER<BERG<<PIETER<JAN<<<<<<"
)
DUBOIS = "I<FRADUBOIS<<CAMILLE<<<<<<<<<<<<<<<<\nX451239878FRA7902284F3409154<<<<<<<6"
SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
)
OKAFOR = (
    "P<GBROKAFOR<<CHIDI<<<<<<<<<<<<<<<<<<<<<<<<<<\n5271041187GBR9212015F3603033<<<<<<<<<<<<<<<0"
)
# The same passport with one birth-date digit misread: its check digits disagree.
OKAFOR_MISREAD = OKAFOR.replace("9212015", "9212075")

UNPLUG = None
Chunk = tuple[float, bytes | None]


def load(name: str) -> list[Chunk]:
    """(seconds, bytes) for each line of ``name``; bytes None where the reader went away."""
    chunks: list[Chunk] = []
    for line in (HERE / name).read_text("ascii").splitlines():
        if not line or line.startswith("#"):
            continue
        at, _, rest = line.partition(" ")
        data = None if rest == "UNPLUG" else ast.literal_eval("b" + rest)
        assert data is None or isinstance(data, bytes)
        chunks.append((float(at), data))
    return chunks


def stream(name: str) -> bytes:
    """Every byte of ``name``, as a pipe would carry it (no times, no unplugging)."""
    return b"".join(data for _, data in load(name) if data is not None)


RECORDINGS = {
    "wedge_crlf.rec",
    "serial_stx_etx.rec",
    "serial_prefixed.rec",
    "unplug_mid_document.rec",
    "slow_second_line.rec",
}
