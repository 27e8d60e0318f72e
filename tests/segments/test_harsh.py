"""The harsh (hand-entry) corruption model: each kind does what it says, zero rates do nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from doorwatch.segments import (
    HARSH_ERRORS,
    NICKNAMES,
    NO_READ_ERRORS,
    HarshErrorKind,
    HarshErrorModel,
    calibrate,
    harsh_read_keys,
    harsh_read_keys_traced,
    identity_keys,
    load_default_tables,
    match_keys,
)
from doorwatch.segments._identity import DocumentType, Identity
from doorwatch.segments._population import synthetic_population

TODAY = dt.date(2026, 11, 23)
NOTHING = HarshErrorModel(**{k.value: 0.0 for k in HarshErrorKind}, scanner=NO_READ_ERRORS)


def only(kind: HarshErrorKind) -> HarshErrorModel:
    return dataclasses.replace(NOTHING, **{kind.value: 1.0})


def person(**overrides: object) -> Identity:
    data: dict[str, object] = {
        "document_type": DocumentType.DRIVING_LICENCE,
        "document_number": "123456789",
        "given_names": "Catherine Anne",
        "surname": "Thompson",
        "date_of_birth": dt.date(1998, 5, 12),
        "expiry_date": dt.date(2030, 1, 1),
        "issuing_country": "GBR",
        "address": "1 High Street, Northampton",
        "postcode": "NN1 1AA",
    }
    data.update(overrides)
    return Identity.model_validate(data)


def test_zero_model_reads_the_document_as_issued() -> None:
    rng = random.Random(1)
    for someone in synthetic_population(random.Random(2), 300, today=TODAY):
        assert harsh_read_keys(someone, rng, NOTHING) == identity_keys(someone)


def test_each_kind_does_what_it_says() -> None:
    subject = person(given_names="Catherine")
    base = identity_keys(subject)

    def read(kind: HarshErrorKind, seed: int = 0) -> tuple[object, frozenset[HarshErrorKind]]:
        return harsh_read_keys_traced(subject, random.Random(seed), only(kind))

    keys, kinds = read(HarshErrorKind.GIVEN_SURNAME_SWAP)
    assert kinds == {HarshErrorKind.GIVEN_SURNAME_SWAP}
    assert keys == match_keys(
        given_names="Thompson",
        surname="Catherine",
        date_of_birth=subject.date_of_birth,
        postcode=subject.postcode,
        document_number=subject.document_number,
    )
    keys, _ = read(HarshErrorKind.DOB_DAY_MONTH_SWAP)
    assert keys.date_of_birth == dt.date(1998, 12, 5)
    for seed in range(20):
        keys, _ = read(HarshErrorKind.NICKNAME, seed)
        nick = match_keys(given_names=keys.given_name, surname="", date_of_birth=None)
        assert any(
            nick.given_name == match_keys(given_names=n, surname="", date_of_birth=None).given_name
            for n in NICKNAMES["CATHERINE"]
        )
        keys, _ = read(HarshErrorKind.FIELD_MISSING, seed)
        missing = [
            keys.given_name == "",
            keys.surnames == (),
            keys.date_of_birth is None,
        ]
        assert sum(missing) == 1
        keys, _ = read(HarshErrorKind.TYPING_ERROR, seed)
        assert keys != base
        assert keys.date_of_birth == base.date_of_birth
        keys, _ = read(HarshErrorKind.PHONETIC_VARIANT, seed)
        assert keys.date_of_birth == base.date_of_birth
        assert (keys.given_name, keys.surnames) != (base.given_name, base.surnames)
    for seed in range(20):
        keys, _ = harsh_read_keys_traced(
            person(), random.Random(seed), only(HarshErrorKind.DIFFERENT_DOCUMENT)
        )
        assert keys.document_number != base.document_number
        assert keys.date_of_birth == base.date_of_birth
        assert keys.surnames == base.surnames
        assert keys.given_name == base.given_name  # the first given name never changes


def test_the_documented_respellings_are_produced() -> None:
    def respellings(given: str) -> set[str]:
        subject = person(given_names=given, surname="X")
        model = only(HarshErrorKind.PHONETIC_VARIANT)
        out = set()
        for seed in range(200):
            rng = random.Random(seed)
            keys = harsh_read_keys(subject, rng, model)
            out.add(keys.given_name)
        return out

    def key(name: str) -> str:
        return match_keys(given_names=name, surname="", date_of_birth=None).given_name

    assert key("Katherine") in respellings("Catherine")
    # only where the sound is kept: never "Ztephen" (S/Z between vowels) or "Vilip"
    assert respellings("Stephen") == {key("Steven")}
    assert key("Vilip") not in respellings("Philip")
    assert key("Philip") in respellings("Phillip")


def test_inapplicable_kinds_never_fire() -> None:
    rng = random.Random(3)
    subject = person(given_names="Zygmunt", date_of_birth=dt.date(1990, 5, 25))
    for _ in range(50):
        _, kinds = harsh_read_keys_traced(subject, rng, only(HarshErrorKind.NICKNAME))
        assert not kinds
        _, kinds = harsh_read_keys_traced(subject, rng, only(HarshErrorKind.DOB_DAY_MONTH_SWAP))
        assert not kinds


def test_rates_must_be_probabilities() -> None:
    with pytest.raises(ValueError, match="typing_error"):
        HarshErrorModel(typing_error=1.5)


def test_calibration_reports_the_model_and_the_harsh_one_costs_recall() -> None:
    tables = load_default_tables()

    def run(model: object) -> object:
        return calibrate(
            random.Random(7),
            tables=tables,
            timer=lambda: 0.0,
            population=1500,
            alerts=500,
            read_errors=model,  # type: ignore[arg-type]
        )

    scanner, harsh = run(NO_READ_ERRORS), run(HARSH_ERRORS)
    assert scanner.model == "scanner"  # type: ignore[attr-defined]
    assert harsh.model == "harsh"  # type: ignore[attr-defined]
    assert scanner.hit_rate == 1.0  # type: ignore[attr-defined]
    assert harsh.hit_rate < 0.95  # type: ignore[attr-defined]
