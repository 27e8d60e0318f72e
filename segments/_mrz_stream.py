"""Machine-readable zones out of an MRZ reader's byte stream (sans-I/O).

Theory of operation
-------------------
The readers venues buy send an MRZ as lines of text: a keyboard-wedge OCR
reader types each line and presses Enter; a serial reader writes the lines
with CR, LF or CRLF between them, often framed by STX (0x02) and ETX (0x03),
sometimes behind a prefix of its own (``MRZ:``, an AIM identifier like
``]M``), sometimes with status lines (``OK``) between documents; a wedge may
also type all the lines and one Enter. Unplugging, a bad cable or a reader
that gives up half way leave partial lines and documents.

``MrzAssembler`` is fed bytes with the time they arrived (``now`` in
seconds, a parameter: no clock is read here) and returns events:
``MrzRead`` for each complete MRZ, ``Incomplete`` for a document that was
begun but not finished. Bytes are read one at a time:

* CR, LF, ETX, EOT, RS, GS and ETB end a line; STX drops the line begun
  (what came before a frame is noise); every other byte is kept (the line
  keeps its last ``MAX_LINE`` bytes, so a stream without line ends costs
  bounded memory).
* A line's ASCII letters are upper-cased (a wedge typed with Caps Lock on) and cut at every
  character outside the MRZ alphabet (A-Z, 0-9, '<'); its longest run is the
  candidate. A run shorter than 30 is not an MRZ line and is ignored
  (counted in ``ignored``) without disturbing a document in progress.
* The first line of a document is told by its shape: a document code letter,
  a letter or '<', a three-character issuing state; 44 (TD3, MRV-A) or 36
  (TD2, MRV-B) characters with no digit (code, state and name), or 30 (TD1)
  with a digit (the document number's check digit). Leading junk in the
  alphabet is cut by taking the longest such line that ends the run. The
  following lines must have the same length and not look like a first line
  (the second line of every layout carries dates; TD1's third line is the
  name, with no digit). A line that starts a document while another is in
  progress ends that one as ``Incomplete``.
* A run as long as a whole document (88, 72 or 90 characters) whose pieces
  fit is the whole document at once.
* Silence of more than ``line_gap`` seconds between two bytes ends a document
  in progress as ``Incomplete``, and drops a line begun: a line arriving too
  long after the previous one starts again. ``tick(now)`` reports such a
  document without waiting for the next byte; ``reset(now)`` is for a reader
  that went away (unplugged), ``finish(now)`` for the end of the stream.

The assembler frames; it does not judge. Check digits, dates and whether the
document is an identity document are the parser's business (``read_mrz``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "DEFAULT_LINE_GAP",
    "MAX_LINE",
    "Incomplete",
    "MrzAssembler",
    "MrzEvent",
    "MrzRead",
    "mrz_layout",
]

DEFAULT_LINE_GAP: Final = 2.0
MAX_LINE: Final = 256

_ENDS: Final = frozenset(b"\r\n\x03\x04\x1e\x1d\x17")
_STX: Final = 0x02
_ALPHABET: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
_LETTERS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAME: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ<")
_DIGITS: Final = frozenset("0123456789")
_UPPER: Final = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
# line length -> lines in the document
_LINES: Final = {44: 2, 36: 2, 30: 3}


@dataclass(frozen=True)
class MrzRead:
    """A complete MRZ: its lines joined by newlines, and its layout."""

    text: str
    layout: str

    def __repr__(self) -> str:
        # The text is personal data: it stays out of reprs, logs and tracebacks.
        return f"MrzRead(layout={self.layout!r}, <personal data hidden>)"


@dataclass(frozen=True)
class Incomplete:
    """A document begun but not finished: ``lines`` of its layout's lines came."""

    layout: str
    lines: int
    why: str


MrzEvent = MrzRead | Incomplete


def mrz_layout(first_line: str) -> str:
    """The layout a first line announces: TD3, TD2, TD1, MRV-A or MRV-B."""
    visa = first_line.startswith("V")
    return {44: "MRV-A" if visa else "TD3", 36: "MRV-B" if visa else "TD2", 30: "TD1"}.get(
        len(first_line), "?"
    )


def _is_first(line: str) -> bool:
    if len(line) not in _LINES or not _ALPHABET.issuperset(line):
        return False
    if line[0] not in _LETTERS or not _NAME.issuperset(line[1:5]):
        return False
    has_digit = not _DIGITS.isdisjoint(line)
    return has_digit if len(line) == 30 else not has_digit


def _follows(line: str, first: str, index: int) -> bool:
    """Whether ``line`` can be line ``index`` (from 0) of the document ``first`` starts."""
    if len(line) != len(first) or _is_first(line):
        return False
    if len(line) == 30 and index == 2:
        return _DIGITS.isdisjoint(line)  # TD1's name line
    return not _DIGITS.isdisjoint(line)  # every second line carries dates


def _runs(text: str) -> list[str]:
    runs, current = [], []
    for ch in text.translate(_UPPER):
        if ch in _ALPHABET:
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def _whole(run: str) -> list[str] | None:
    """A whole document typed as one run, if ``run`` ends with one."""
    for length, count in ((44, 2), (36, 2), (30, 3)):
        if len(run) < length * count:
            continue
        tail = run[len(run) - length * count :]
        lines = [tail[i * length : (i + 1) * length] for i in range(count)]
        if _is_first(lines[0]) and all(
            _follows(line, lines[0], i) for i, line in enumerate(lines) if i
        ):
            return lines
    return None


@dataclass
class MrzAssembler:
    """Bytes in, ``MrzEvent`` out; see the module docstring."""

    line_gap: float = DEFAULT_LINE_GAP
    ignored: int = 0
    """Lines seen that were not MRZ lines (noise, status lines, partial lines)."""
    _line: bytearray = field(default_factory=bytearray)
    _lines: list[str] = field(default_factory=list)
    _last: float | None = None

    def feed(self, data: bytes, now: float) -> list[MrzEvent]:
        """The events completed by ``data``, which arrived at ``now``."""
        events = self._silence(now)
        if data:
            self._last = now
        for byte in data:
            if byte in _ENDS:
                if self._line:
                    text = self._line.decode("latin-1")
                    self._line.clear()
                    events.extend(self._take(text))
            elif byte == _STX:
                self._line.clear()
            else:
                self._line.append(byte)
                if len(self._line) > MAX_LINE:
                    del self._line[0]
        return events

    def tick(self, now: float) -> list[MrzEvent]:
        """A document whose next line is overdue at ``now``, as ``Incomplete``."""
        return self._silence(now)

    def reset(self, now: float, why: str = "the reader went away") -> list[MrzEvent]:
        """Forget the line and the document in progress (the reader was unplugged)."""
        del now  # the same for every caller; kept for symmetry with feed and tick
        self._line.clear()
        self._last = None
        return self._abandon(why)

    def finish(self, now: float) -> list[MrzEvent]:
        """The end of the stream: a last line without its line end still counts."""
        events = self._silence(now)
        if self._line:
            text = self._line.decode("latin-1")
            self._line.clear()
            events.extend(self._take(text))
        return events + self._abandon("the input ended")

    @property
    def in_progress(self) -> bool:
        return bool(self._lines or self._line)

    def _silence(self, now: float) -> list[MrzEvent]:
        if self._last is None or now - self._last <= self.line_gap:
            return []
        self._last = None
        if self._line:
            self._line.clear()
            self.ignored += 1
        return self._abandon("the next line did not come in time")

    def _abandon(self, why: str) -> list[MrzEvent]:
        if not self._lines:
            return []
        gone = Incomplete(mrz_layout(self._lines[0]), len(self._lines), why)
        self._lines = []
        return [gone]

    def _take(self, text: str) -> list[MrzEvent]:
        runs = _runs(text)
        run = max(runs, key=len) if runs else ""
        if len(run) < min(_LINES):
            self.ignored += 1
            return []
        whole = _whole(run)
        if whole is not None:
            return [*self._abandon("a new document started"), self._read(whole)]
        first = next(
            (
                run[len(run) - n :]
                for n in sorted(_LINES, reverse=True)
                if len(run) >= n and _is_first(run[len(run) - n :])
            ),
            None,
        )
        if self._lines:
            start, length = self._lines[0], len(self._lines[0])
            tail = run[len(run) - length :]
            # A first line longer than the line expected is a new document, not junk
            # in front of the next line.
            longer = first is not None and len(first) > length
            if not longer and len(run) >= length and _follows(tail, start, len(self._lines)):
                self._lines.append(tail)
                if len(self._lines) < _LINES[length]:
                    return []
                done = MrzRead("\n".join(self._lines), mrz_layout(start))
                self._lines = []
                return [done]
        if first is not None:
            events = self._abandon("a new document started")
            self._lines = [first]
            return events
        self.ignored += 1
        return []

    @staticmethod
    def _read(lines: list[str]) -> MrzRead:
        return MrzRead("\n".join(lines), mrz_layout(lines[0]))
