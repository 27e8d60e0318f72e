"""The MRZ stream assembler: recorded reader streams, every framing, and fuzzed garbage."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.segments import (
    Incomplete,
    MrzAssembler,
    MrzEvent,
    MrzRead,
    mrz_layout,
    read_mrz,
)
from doorwatch.segments._mrz_stream import MAX_LINE
from tests.cli.recordings.scanner_streams import (
    BERG,
    DUBOIS,
    OKAFOR,
    OKAFOR_MISREAD,
    QUILL,
    SPECIMEN,
    load,
)

TODAY = dt.date(2026, 11, 23)
MRV_A = "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL8988901C4XXX4009078F96121096ZE184226B<<<<<<"
MRV_B = "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nL8988901C4XXX4009078F9612109<<<<<<<<"


def replay(name: str, assembler: MrzAssembler | None = None) -> list[MrzEvent]:
    """Feed a recording at its recorded times; unplugging resets, as the adapter does."""
    a = assembler or MrzAssembler()
    events: list[MrzEvent] = []
    last = 0.0
    for at, data in load(name):
        events += a.tick(at)
        events += a.reset(at, "unplugged") if data is None else a.feed(data, at)
        last = at
    return events + a.finish(last + 0.1)


def reads(events: list[MrzEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, MrzRead)]


def test_keyboard_wedge_typing_with_crlf_and_noise() -> None:
    events = replay("wedge_crlf.rec")
    assert events == [MrzRead(QUILL, "TD3"), MrzRead(BERG, "TD1")]


def test_serial_reader_framed_by_stx_and_etx_with_a_bcc() -> None:
    assert replay("serial_stx_etx.rec") == [MrzRead(DUBOIS, "TD2"), MrzRead(SPECIMEN, "TD3")]


def test_prefixes_a_partial_line_noise_and_a_whole_document_in_one_run() -> None:
    a = MrzAssembler()
    assert replay("serial_prefixed.rec", a) == [
        MrzRead(OKAFOR_MISREAD, "TD3"),
        MrzRead(OKAFOR, "TD3"),
    ]
    assert a.ignored == 2  # the partial line, and the noise cut off by the silence


def test_unplugged_mid_document() -> None:
    assert replay("unplug_mid_document.rec") == [
        Incomplete("TD3", 1, "unplugged"),
        MrzRead(BERG, "TD1"),
    ]


def test_a_second_line_too_late_starts_again() -> None:
    assert replay("slow_second_line.rec") == [
        Incomplete("TD3", 1, "the next line did not come in time"),
        MrzRead(DUBOIS, "TD2"),
    ]
    # A patient setting keeps the slow reader's document whole.
    assert reads(replay("slow_second_line.rec", MrzAssembler(line_gap=5))) == [QUILL, DUBOIS]


def test_the_recorded_documents_read_as_the_door_expects() -> None:
    assert read_mrz(QUILL, today=TODAY).check_digits_ok
    assert read_mrz(BERG, today=TODAY).check_digits_ok
    assert read_mrz(DUBOIS, today=TODAY).check_digits_ok
    assert read_mrz(OKAFOR, today=TODAY).check_digits_ok
    misread = read_mrz(OKAFOR_MISREAD, today=TODAY)
    assert not misread.check_digits_ok
    assert misread.identity.surname == "OKAFOR"


@pytest.mark.parametrize("end", [b"\r", b"\n", b"\r\n", b"\n\r", b"\x03", b"\r\x03\x04"])
def test_every_line_end(end: bytes) -> None:
    a = MrzAssembler()
    data = end.join(line.encode() for line in BERG.split("\n")) + end
    assert a.feed(data, 0.0) == [MrzRead(BERG, "TD1")]


def test_caps_lock_and_leading_junk_in_the_alphabet() -> None:
    a = MrzAssembler()
    one, two = QUILL.lower().split("\n")
    assert a.feed(f"ID{one}\r\n{two}\r\n".encode(), 0.0) == [MrzRead(QUILL, "TD3")]


def test_stx_drops_what_came_before_it_on_the_line() -> None:
    a = MrzAssembler()
    one, two = DUBOIS.split("\n")
    assert a.feed(f"{one[:20]}\x02{one}\r{two}\r".encode(), 0.0) == [MrzRead(DUBOIS, "TD2")]


def test_status_lines_between_lines_do_not_break_a_document() -> None:
    a = MrzAssembler()
    one, two, three = BERG.split("\n")
    events = a.feed(f"{one}\r\nOK\r\n\x06\r\n{two}\r\nBEEP\r\n{three}\r\n".encode(), 0.0)
    assert events == [MrzRead(BERG, "TD1")]
    assert a.ignored == 3


def test_a_new_first_line_ends_the_document_in_progress() -> None:
    a = MrzAssembler()
    berg = BERG.split("\n")
    events = a.feed(f"{berg[0]}\n{berg[1]}\n{QUILL}\n".encode(), 0.0)
    assert events == [Incomplete("TD1", 2, "a new document started"), MrzRead(QUILL, "TD3")]


def test_second_lines_alone_are_not_documents() -> None:
    a = MrzAssembler()
    seconds = [doc.split("\n")[1] for doc in (QUILL, DUBOIS, OKAFOR)] + [BERG.split("\n")[2]]
    assert a.feed("\n".join(seconds).encode() + b"\n", 0.0) == []
    assert a.ignored == 4
    assert not a.in_progress


def test_tick_reports_a_stalled_document_once() -> None:
    a = MrzAssembler(line_gap=1.0)
    assert a.feed(QUILL.split("\n")[0].encode() + b"\r", 10.0) == []
    assert a.tick(10.9) == []
    assert a.tick(11.1) == [Incomplete("TD3", 1, "the next line did not come in time")]
    assert a.tick(20.0) == []
    # Typing slowly is not silence: only the gap between bytes counts.
    for i, ch in enumerate(QUILL.split("\n")[1] + "\r"):
        assert a.feed(ch.encode(), 30.0 + 0.5 * i) == []


def test_a_last_line_without_its_end_at_the_end_of_input() -> None:
    a = MrzAssembler()
    assert a.feed(DUBOIS.encode(), 0.0) == []
    assert a.finish(0.1) == [MrzRead(DUBOIS, "TD2")]
    b = MrzAssembler()
    assert b.feed(QUILL.split("\n")[0].encode() + b"\n", 0.0) == []
    assert b.finish(0.1) == [Incomplete("TD3", 1, "the input ended")]


def test_visas_are_framed_and_named() -> None:
    a = MrzAssembler()
    assert a.feed(f"{MRV_A}\n{MRV_B}\n".encode(), 0.0) == [
        MrzRead(MRV_A, "MRV-A"),
        MrzRead(MRV_B, "MRV-B"),
    ]
    assert mrz_layout("V<UTO") == "?"


def test_a_stream_without_line_ends_costs_bounded_memory() -> None:
    a = MrzAssembler()
    assert a.feed(b"<" * 100_000, 0.0) == []
    assert len(a._line) <= MAX_LINE
    assert a.feed(b"\r" + QUILL.encode() + b"\r", 0.0) == [MrzRead(QUILL, "TD3")]


def test_the_mrz_text_stays_out_of_reprs() -> None:
    assert "QUILL" not in repr(MrzRead(QUILL, "TD3"))


# -- fuzzing --------------------------------------------------------------------------------

DOCUMENTS = [QUILL, BERG, DUBOIS, SPECIMEN, OKAFOR, MRV_A]
ENDS = [b"\r", b"\n", b"\r\n", b"\n\r", b"\x03"]
# Noise that a reader or a keyboard really sends: short lines, control bytes, bytes
# outside ASCII. Never a run of 30 MRZ characters, which would be a line of its own.
noise_line = (
    st.binary(max_size=40)
    .map(lambda b: bytes(x for x in b if x not in b"\r\n\x02\x03\x04\x17\x1d\x1e"))
    .filter(lambda b: max((len(r) for r in _runs(b)), default=0) < 30)
)


def _runs(data: bytes) -> list[bytes]:
    alphabet = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789<")
    runs, current = [], bytearray()
    for x in data:
        if x in alphabet:
            current.append(x)
        elif current:
            runs.append(bytes(current))
            current = bytearray()
    return [*runs, bytes(current)]


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=300, deadline=None)
@given(
    chunks=st.lists(st.tuples(st.binary(max_size=120), st.floats(0, 5)), max_size=30),
    gap=st.floats(0.05, 3),
)
def test_garbage_never_crashes_and_only_whole_mrzs_come_out(
    chunks: list[tuple[bytes, float]], gap: float
) -> None:
    a = MrzAssembler(line_gap=gap)
    now, events = 0.0, []
    for data, wait in chunks:
        now += wait
        events += a.feed(data, now)
    events += a.finish(now + gap + 1)
    for event in events:
        if isinstance(event, MrzRead):
            lines = event.text.split("\n")
            assert [len(x) for x in lines] in ([44, 44], [36, 36], [30, 30, 30])
            assert all(set(x) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<") for x in lines)
        else:
            assert isinstance(event, Incomplete)
    assert not a.in_progress


@settings(max_examples=300, deadline=None)
@given(
    document=st.sampled_from(DOCUMENTS),
    end=st.sampled_from(ENDS),
    before=st.lists(noise_line, max_size=4),
    between=st.lists(noise_line, max_size=3),
    after=st.lists(noise_line, max_size=4),
    stx=st.booleans(),
    cuts=st.lists(st.integers(0, 10_000), max_size=20),
)
def test_a_document_in_noise_is_read_once_however_the_bytes_arrive(
    document: str,
    end: bytes,
    before: list[bytes],
    between: list[bytes],
    after: list[bytes],
    stx: bool,
    cuts: list[int],
) -> None:
    lines = [line.encode() for line in document.split("\n")]
    body = lines[0] + end + b"".join(n + end for n in between) + end.join(lines[1:]) + end
    data = b"".join(n + end for n in before) + (b"\x02" if stx else b"") + body
    data += b"".join(n + end for n in after)
    a = MrzAssembler()
    events: list[MrzEvent] = []
    for piece in _chunks(data, cuts):
        events += a.feed(piece, 0.0)
    events += a.finish(0.0)
    assert events == [MrzRead(document, mrz_layout(document.split("\n")[0]))]
