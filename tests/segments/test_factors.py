"""Factor extraction: the values each position takes, and their robustness to read errors."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.segments import (
    CATALOGUE,
    DEFAULT_BUDGET_BITS,
    DEFAULT_CATALOGUE,
    Field,
    PartialDate,
    SegmentIndex,
    alert_value,
    apply_read_errors,
    identity_keys,
    load_default_tables,
    load_disclosure_tables,
    match_keys,
    scan_factors,
    select_segments,
    selection_identity,
    synthetic_population,
)

TODAY = dt.date(2026, 6, 1)


def keys(given_names: str = "John", surname: str = "Smith", **kw: object) -> object:
    return match_keys(
        given_names=given_names,
        surname=surname,
        date_of_birth=kw.get("dob", dt.date(1990, 4, 7)),  # type: ignore[arg-type]
        postcode=kw.get("postcode"),  # type: ignore[arg-type]
        document_number=kw.get("document_number"),  # type: ignore[arg-type]
    )


def values(code: str, **kw: object) -> tuple[str, ...]:
    return CATALOGUE[code].scan_values(keys(**kw))  # type: ignore[arg-type]


def test_date_positions_slice_the_birth_date() -> None:
    dob = dt.date(1987, 11, 23)
    assert values("yy", dob=dob) == ("87",)
    assert values("y1", dob=dob) == ("7",)
    assert values("mm", dob=dob) == ("11",)
    assert values("dd", dob=dob) == ("23",)
    assert values("d1", dob=dob) == ("3",)


def test_name_positions_slice_the_first_given_name_and_surname() -> None:
    assert values("g1", given_names="Sarah Jane") == ("S",)
    assert values("g12", given_names="Sarah Jane") == ("SA",)
    assert values("g34", given_names="Sarah Jane") == values("g34", given_names="Sarah")
    assert values("s12", surname="Taylor") == ("TA",)
    assert values("s34", surname="Taylor") == ("YI",)  # L folds to I


def test_dropped_middle_names_do_not_change_given_name_factors() -> None:
    for code in ("g1", "g12", "g23", "g34"):
        assert values(code, given_names="Sarah Jane Louise") == values(code, given_names="Sarah")


def test_ocr_confusions_fold_to_the_same_value() -> None:
    for read in ("J0HN", "JOHM", "JONN", "john"):
        assert values("g12", given_names=read) == values("g12", given_names="John")
        assert values("g34", given_names=read) == values("g34", given_names="John")
    assert values("s12", surname="5MITH") == values("s12", surname="Smith")
    assert values("s12", surname="SNITH") == values("s12", surname="Smith")


def test_a_double_surname_offers_each_part_at_scan() -> None:
    shown = values("s12", surname="Smith-Jones")
    assert values("s12", surname="Smith")[0] in shown
    assert values("s12", surname="Jones")[0] in shown
    # the alert side takes the full key only
    assert alert_value("s12", keys(surname="Jones-Smith")) == values("s12", surname="Jones")[0]  # type: ignore[arg-type]


def test_missing_or_short_fields_give_no_value() -> None:
    assert values("g34", given_names="Al") == ()
    assert values("pa", postcode=None) == ()
    assert values("n2", document_number="") == ()
    empty = match_keys(given_names="", surname="", date_of_birth=None)
    assert all(v == () for v in scan_factors(empty).values())


def test_postcode_area_and_document_tail() -> None:
    assert values("pa", postcode="sw1a 1aa") == ("SW",)
    assert values("pa", postcode="M1 1AE") == ("M",)
    assert values("pa", postcode="LS1 4AP") == ("IS",)  # L and I fold together
    assert values("n2", document_number="AB 12 34") == ("34",)
    assert values("n2", document_number="X-1O") == values("n2", document_number="X-10")


def test_default_catalogue_leaves_out_unrobust_positions() -> None:
    assert "pa" not in DEFAULT_CATALOGUE
    assert "n2" not in DEFAULT_CATALOGUE
    fields = {CATALOGUE[c].field for c in DEFAULT_CATALOGUE}
    assert Field.POSTCODE not in fields
    assert Field.DOCUMENT_NUMBER not in fields


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=40),
    st.text(max_size=40),
    st.dates(dt.date(1900, 1, 1), dt.date(2026, 1, 1)),
    st.one_of(st.none(), st.text(max_size=10)),
)
def test_the_alert_value_is_always_among_the_scan_values(
    given_names: str, surname: str, dob: dt.date, postcode: str | None
) -> None:
    k = match_keys(given_names=given_names, surname=surname, date_of_birth=dob, postcode=postcode)
    shown = scan_factors(k)
    for code in CATALOGUE:
        value = alert_value(code, k)
        if value is not None:
            assert value in shown[code]
            assert value.isascii()
            assert value.isalnum()
            assert value == value.upper()


def test_robust_positions_survive_the_read_error_model() -> None:
    rng = random.Random(7)
    people = synthetic_population(rng, 3000, today=TODAY)
    agree = dict.fromkeys(CATALOGUE, 0)
    present = dict.fromkeys(CATALOGUE, 0)
    for person in people:
        recorded = identity_keys(person)
        shown = scan_factors(identity_keys(apply_read_errors(person, rng)))
        for code in CATALOGUE:
            value = alert_value(code, recorded)
            if value is not None:
                present[code] += 1
                agree[code] += value in shown[code]
    for code in DEFAULT_CATALOGUE:
        assert agree[code] / present[code] >= 0.99, code
    # the postcode is lost whenever the address is not captured
    assert agree["pa"] / present["pa"] < min(agree[c] / present[c] for c in DEFAULT_CATALOGUE)


def test_a_partial_birth_date_offers_only_what_it_knows() -> None:
    year_only = PartialDate(1987, None, None)
    assert values("yy", dob=year_only) == ("87",)
    assert values("y1", dob=year_only) == ("7",)
    for code in ("mm", "dd", "d1"):
        assert values(code, dob=year_only) == ()
    month_known = PartialDate(1987, 11, None)
    assert values("mm", dob=month_known) == ("11",)
    assert values("dd", dob=month_known) == ()
    day_known = PartialDate(1987, None, 3)
    assert values("mm", dob=day_known) == ()
    assert values("d1", dob=day_known) == ("3",)


def test_a_partial_date_never_collides_with_a_full_one() -> None:
    # Not with the first of January (a day some registers invent), not with anything.
    partial = keys(dob=PartialDate(1987, None, None))
    invented = keys(dob=dt.date(1987, 1, 1))
    assert partial != invented
    assert selection_identity(partial) != selection_identity(invented)
    assert selection_identity(partial) == selection_identity(
        keys(dob=PartialDate(1987, None, None))
    )
    assert selection_identity(partial) != selection_identity(keys(dob=PartialDate(1987, 1, None)))


def test_a_partial_date_discloses_only_its_known_parts() -> None:
    tables = load_disclosure_tables()
    subject = keys(given_names="Amina", surname="Yusuf", dob=PartialDate(1987, None, None))
    for seed in range(40):
        chosen = select_segments(subject, random.Random(seed), tables=tables)
        assert not {"mm", "dd", "d1"} & set(chosen.codes)
        # The budget counts exactly the values disclosed.
        assert chosen.bits == tables.joint_bits((f.code, f.value) for f in chosen.factors)
        assert chosen.bits <= DEFAULT_BUDGET_BITS


def test_a_partial_date_matches_on_what_is_known() -> None:
    tables = load_default_tables()
    index = SegmentIndex(tables)
    subject = keys(given_names="Amina", surname="Yusuf", dob=PartialDate(1987, None, None))
    index.add("a", select_segments(subject, random.Random(3), tables=load_disclosure_tables()))
    assert [m[0] for m in index.match(scan_factors(subject))] == ["a"]
    other_year = keys(given_names="Amina", surname="Yusuf", dob=PartialDate(1988, None, None))
    assert index.match(scan_factors(other_year)) == []


def test_names_with_no_icao_table_give_no_factor_and_never_agree() -> None:
    greek = keys(given_names="Κώστας", surname="Παπαδόπουλος")
    other = keys(given_names="Νίκος", surname="Γεωργίου")
    assert greek.surnames == ()
    assert greek.given_name == ""
    for code in ("g1", "g12", "s1", "s12"):
        assert values(code, given_names="Κώστας", surname="Παπαδόπουλος") == ()
    assert scan_factors(greek)["s12"] == scan_factors(other)["s12"] == ()
    cyrillic = keys(given_names="Ольга", surname="Иванова")
    latin = keys(given_names="Olga", surname="Ivanova")
    assert cyrillic == latin


def test_names_in_arabic_script_have_keys_and_agree_however_typed() -> None:
    # ICAO 9303 Table C: a name typed from the visual zone in Arabic script gets a
    # key (it was empty before), the same with or without the optional vowel marks.
    plain = keys(given_names="فاطمة", surname="الزهراء")
    marked = keys(given_names="فَاطِمَة", surname="الزَّهْرَاء")
    assert plain.surnames != ()
    assert plain.given_name != ""
    assert plain == marked
    for code in ("g1", "s1", "s12"):
        assert values(code, given_names="فاطمة", surname="الزهراء") != ()
        assert values(code, given_names="فاطمة", surname="الزهراء") == values(
            code, given_names="فَاطِمَة", surname="الزَّهْرَاء"
        )
    other = keys(given_names="مريم", surname="حسن")
    assert scan_factors(plain)["s12"] != scan_factors(other)["s12"]
