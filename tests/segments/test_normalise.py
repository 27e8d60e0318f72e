"""Normalisation: real-world names and the properties every function must keep."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.segments._normalise import (
    first_given_name,
    fold_confusables,
    name_key,
    name_tokens,
    normalise_document_number,
    normalise_name,
    normalise_postcode,
    normalise_text,
    surname_variants,
)

TEXT_FUNCTIONS = [
    normalise_text,
    normalise_name,
    name_key,
    first_given_name,
    normalise_document_number,
    normalise_postcode,
    fold_confusables,
]

# Any code point, surrogates included: "never raises on any str".
any_text = st.text(alphabet=st.characters(codec=None), max_size=40)
latin_names = st.text(
    alphabet=st.characters(categories=["Lu", "Ll", "Mn", "Zs", "Pd", "Po"], max_codepoint=0x24F),
    max_size=30,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Hello,   World!  ", "HELLO WORLD"),
        ("Müller", "MULLER"),
        ("Straße", "STRASSE"),
        ("Ærøskøbing", "AEROSKOBING"),
        ("Œuvre", "OEUVRE"),
        ("Łódź", "LODZ"),
        ("Đorđević", "DORDEVIC"),
        ("Þór", "THOR"),
        ("Yıldız", "YILDIZ"),
        ("ﬁnn", "FINN"),  # compatibility ligature
        ("ＳＭＩＴＨ１２", "SMITH12"),  # full-width forms
        ("ANNA<<MARIA<", "ANNA MARIA"),
        ("Иван Smith", "IVAN SMITH"),  # Cyrillic: ICAO 9303 Part 3 section 6 Table B
        ("Κώστας Smith", "SMITH"),  # Greek has no ICAO table: dropped
        # Arabic script: ICAO 9303 Part 3 section 6 Table C, hamza and madda kept
        ("محمد", "MXHMD"),
        ("مُحَمَّد", "MXHMD"),  # the same, typed with its optional vowel marks
        ("مـحـمـد", "MXHMD"),  # and stretched with tatweel
        ("أحمد", "XAEXHMD"),  # alef with hamza above (NFKD alone would lose it)
        ("آمنة", "XAAMNXTA"),  # alef with madda, teh marbuta
        ("إبراهيم", "IBRAHYM"),
        ("عبد الله", "EBD ALLH"),
        ("شيماء", "XSHYMAXE"),
        ("پرویز", "PRWXYAZ"),  # Persian letters pe and farsi yeh
        ("", ""),
    ],
)
def test_normalise_text(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("O'Brien", "OBRIEN"),
        ("O’Sullivan", "OSULLIVAN"),  # typographic apostrophe
        ("D´Angelo", "DANGELO"),  # spacing acute used as an apostrophe
        ("Ní Bhriain", "NI BHRIAIN"),
        ("Smith-Jones", "SMITH JONES"),
        ("MACDONALD<<ANGUS<", "MACDONALD ANGUS"),
        ("J0HN", "JHN"),  # digits in a name are OCR noise
        ("  anne-marie  ", "ANNE MARIE"),
        ("Brzęczyszczykiewicz", "BRZECZYSZCZYKIEWICZ"),
        ("Ørjan Søren", "ORJAN SOREN"),
    ],
)
def test_normalise_name(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(
    ("visual", "mrz"),
    [
        ("Müller", "MUELLER"),
        ("Jürgen", "JUERGEN"),
        ("Björk", "BJOERK"),
        ("Ørsted", "OERSTED"),
        ("Åsa", "AASA"),
        ("Bäcker", "BAECKER"),
        ("Weiß", "WEISS"),
        ("O'Brien", "OBRIEN"),
        ("Mac Donald", "MACDONALD"),
        ("Smith-Jones", "SMITH<JONES"),
        ("Lęczycki", "LECZYCKI"),
        ("Ægir", "AEGIR"),
    ],
)
def test_name_key_agrees_between_visual_zone_and_mrz(visual: str, mrz: str) -> None:
    assert name_key(visual) == name_key(mrz)


def test_name_key_keeps_distinct_names_distinct() -> None:
    keys = {name_key(n) for n in ["Smith", "Smyth", "McDonald", "MacDonald", "Jones", "Johns"]}
    assert len(keys) == 6


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Anna Maria", "ANNA"),
        ("  jean-paul ", "JEAN"),
        ("Jürgen Klaus", "JURGEN"),
        ("ANNA<MARIA", "ANNA"),
        ("", ""),
        ("123", ""),
    ],
)
def test_first_given_name(given: str, expected: str) -> None:
    assert first_given_name(given) == expected


@pytest.mark.parametrize(
    ("surname", "expected"),
    [
        ("Smith", ("SMITH",)),
        ("Smith-Jones", ("SMITHJONES", "SMITH", "JONES")),
        ("García López", ("GARCIALOPEZ", "GARCIA", "LOPEZ")),
        ("García y López", ("GARCIAYLOPEZ", "GARCIALOPEZ", "GARCIA", "LOPEZ")),
        ("García de la Cruz", ("GARCIADELACRUZ", "GARCIA", "DELACRUZ", "CRUZ")),
        ("van der Berg", ("VANDERBERG", "BERG")),
        ("da Silva", ("DASILVA", "SILVA")),
        ("von Trapp", ("VONTRAPP", "TRAPP")),
        ("Mac Donald", ("MACDONALD",)),  # Mac is never stripped
        ("Ó Briain", ("OBRIAIN",)),
        ("St John", ("STJOHN",)),
        ("Le", ("LE",)),  # a particle alone is the surname itself
        ("Müller-Lüdenscheidt", ("MULLERLUDENSCHEIDT", "MULLER", "LUDENSCHEIDT")),
        ("", ()),
        ("--", ()),
    ],
)
def test_surname_variants(surname: str, expected: tuple[str, ...]) -> None:
    assert surname_variants(surname) == expected


def test_surname_variants_agree_between_visual_zone_and_mrz() -> None:
    assert surname_variants("Müller-Schmidt") == surname_variants("MUELLER<SCHMIDT")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("ab-123 456<<", "AB123456"), ("  9 8 7 ", "987"), ("MORGA753116SM9IJ", "MORGA753116SM9IJ")],
)
def test_normalise_document_number(raw: str, expected: str) -> None:
    assert normalise_document_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [("sw1a 1aa", "SW1A1AA"), (" EC1A-1BB ", "EC1A1BB"), ("", "")]
)
def test_normalise_postcode(raw: str, expected: str) -> None:
    assert normalise_postcode(raw) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("0", "O"),
        ("Q", "O"),
        ("1", "I"),
        ("L", "I"),
        ("5", "S"),
        ("8", "B"),
        ("2", "Z"),
        ("6", "G"),
    ],
)
def test_fold_confusables_merges_ocr_pairs(a: str, b: str) -> None:
    assert fold_confusables(f"X{a}9") == fold_confusables(f"X{b}9")


def test_fold_confusables_keeps_unconfusable_characters_apart() -> None:
    assert fold_confusables("A7") != fold_confusables("A9")
    assert fold_confusables("SW1A 1AA") == "SWIA IAA"


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_every_function_is_total_and_idempotent(s: str) -> None:
    for function in TEXT_FUNCTIONS:
        once = function(s)
        assert function(once) == once, function.__name__
    variants = surname_variants(s)
    for v in variants:
        assert surname_variants(v)[0] == v
    assert isinstance(name_tokens(s), tuple)


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_output_alphabets(s: str) -> None:
    alnum_space = set(string.ascii_uppercase + string.digits + " ")
    assert set(normalise_text(s)) <= alnum_space
    assert set(fold_confusables(s)) <= alnum_space
    assert set(normalise_name(s)) <= set(string.ascii_uppercase + " ")
    for single_spaced in (normalise_text(s), normalise_name(s)):
        assert "  " not in single_spaced
        assert single_spaced == single_spaced.strip()
    assert set(name_key(s)) <= set(string.ascii_uppercase)
    assert set(normalise_document_number(s)) <= set(string.ascii_uppercase + string.digits)
    assert set(normalise_postcode(s)) <= set(string.ascii_uppercase + string.digits)


@settings(max_examples=300, deadline=None)
@given(latin_names)
def test_surname_variants_shape(s: str) -> None:
    variants = surname_variants(s)
    assert len(set(variants)) == len(variants)
    has_letters = bool(normalise_name(s))
    assert bool(variants) == has_letters
    if variants:
        assert variants[0] == name_key(s)
        assert all(v and set(v) <= set(string.ascii_uppercase) for v in variants)


@settings(max_examples=200, deadline=None)
@given(latin_names)
def test_name_tokens_are_the_words_of_the_normalised_name(s: str) -> None:
    assert " ".join(name_tokens(s)) == normalise_name(s)
    assert name_key(s) == name_key("".join(name_tokens(s)))


@pytest.mark.parametrize("s", ["\ud800", "a\udfffb", "\x00\x1b[31m", "\U0010ffff", "\u0301\u0301"])
def test_odd_code_points_never_raise(s: str) -> None:
    for function in TEXT_FUNCTIONS:
        assert function(function(s)) == function(s)
    assert surname_variants(s) == surname_variants(s)


def test_long_inputs_give_the_same_results_as_short_ones() -> None:
    long_name = "Müller-O'Brien " * 40
    assert len(long_name) > 500
    assert normalise_name(long_name) == " ".join([normalise_name("Müller-O'Brien")] * 40)
    assert name_key(long_name) == name_key("Müller-O'Brien") * 40
    assert normalise_text(long_name) == " ".join([normalise_text("Müller-O'Brien")] * 40)
