"""scan.submit with the raw MRZ: the same verdicts as the fields, and clear errors for garbage."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Literal

import pytest

from doorwatch.node._alerts import DAY
from doorwatch.node._errors import ErrorCode
from doorwatch.node._roles import Role
from doorwatch.node._venue_testing import VenueHarness, venue_harness
from doorwatch.segments import Identity, format_mrz

CANARY = "QUILLFEATHERINGTON"
JPEG = b"\xff\xd8\xff\xe0" + b"face" * 50


def person(**changes: Any) -> dict[str, Any]:
    fields = {
        "document_type": "passport",
        "document_number": "QF9051702",
        "given_names": "ALICE MAY",
        "surname": CANARY,
        "date_of_birth": "1990-05-17",
        "expiry_date": "2030-01-01",
        "issuing_country": "GBR",
    }
    fields.update(changes)
    return fields


def mrz(layout: Literal["TD1", "TD2", "TD3"] = "TD3", **changes: Any) -> str:
    fields = person(**changes)
    if layout != "TD3":
        fields["document_type"] = "national_id"
    return format_mrz(Identity.model_validate(fields), layout=layout, sex="F")


def damage(text: str, line: int, column: int, ch: str) -> str:
    lines = text.split("\n")
    lines[line] = lines[line][:column] + ch + lines[line][column + 1 :]
    return "\n".join(lines)


async def visits(h: VenueHarness) -> list[dict[str, Any]]:
    exported = await h.call("visits.export", Role.ADMINISTRATOR, **{"from": 0, "to": 2**37})
    return list(exported["visits"])


@pytest.mark.parametrize("layout", ["TD3", "TD2", "TD1"])
async def test_an_mrz_is_scanned_like_its_fields(
    tmp_path: Path, layout: Literal["TD1", "TD2", "TD3"]
) -> None:
    async with venue_harness(tmp_path) as h:
        text = mrz(layout)
        scanned = await h.call("scan.submit", mrz=text, lane="door-1")
        assert (scanned["verdict"], scanned["reasons"], scanned["age"]) == ("admit", [], 36)
        # The reader's line ends, whatever they are, are its business.
        crlf = await h.call("scan.submit", mrz=text.replace("\n", "\r\n") + "\r\n")
        assert crlf["verdict"] == "admit"
        under_age = await h.call("scan.submit", mrz=mrz(layout, date_of_birth="2010-01-01"))
        assert (under_age["verdict"], under_age["reasons"]) == ("refuse", ["under_age"])
        expired = await h.call("scan.submit", mrz=mrz(layout, expiry_date="2026-11-19"))
        assert (expired["verdict"], expired["reasons"]) == ("refuse", ["document_expired"])
        [row] = [v for v in await visits(h) if v["scan_id"] == scanned["scan_id"]]
        subject = row["subject"]
        assert subject["surname"] == CANARY
        assert subject["given_names"] == "ALICE MAY"
        assert subject["date_of_birth"] == "1990-05-17"
        assert subject["document_number"] == "QF9051702"
        assert subject["authentic"] is None  # good check digits prove nothing more


async def test_an_mrz_scan_meets_the_alerts_and_bans_made_from_fields(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        await h.call("alert.create", document=person(), category="weapon", reason="knife")
        scanned = await h.call("scan.submit", mrz=mrz())
        assert scanned["verdict"] == "check"
        assert scanned["reasons"] == ["possible_alert_match"]
        assert len(scanned["matches"]) == 1
        await h.call(
            "ban.add",
            Role.SUPER_ADMINISTRATOR,
            document=person(),
            reason="fight",
            expires_at=h.clock.now() + 30 * DAY,
        )
        banned = await h.call("scan.submit", mrz=mrz("TD1", document_number="ZZ1234567"))
        assert banned["verdict"] == "refuse"
        assert banned["reasons"] == ["banned_here", "possible_alert_match"]


@pytest.mark.parametrize(
    ("line", "column", "what"),
    [
        (1, 19, "line 2: birth date check digit does not match"),
        (1, 9, "line 2: document number check digit does not match"),
        (1, 43, "line 2: composite check digit does not match"),
    ],
)
async def test_check_digits_that_disagree_make_the_document_not_authentic(
    tmp_path: Path, line: int, column: int, what: str
) -> None:
    text = mrz()
    wrong = "1" if text.split("\n")[line][column] != "1" else "2"
    bad = damage(text, line, column, wrong)
    async with venue_harness(tmp_path) as h:
        scanned = await h.call("scan.submit", mrz=bad, document={"authentic": True})
        assert (scanned["verdict"], scanned["reasons"]) == ("refuse", ["not_authentic"])
        [row] = await visits(h)
        assert row["subject"]["surname"] == CANARY
        assert row["subject"]["authentic"] is False
        # Typed in by a supervisor: a typing mistake to correct, not a verdict.
        err = await h.error_of("scan.submit", Role.SUPERVISOR, mrz=bad, entry="typed")
        assert err.code == ErrorCode.INVALID_PARAMS
        assert err.message.startswith("mrz: " + what), err.message
        assert {"field": "mrz", "rule": what, "code": "check_digit"} in err.data["problems"]
        assert len(await visits(h)) == 1


async def test_a_visa_is_refused_with_a_code_scanner_software_can_act_on(
    tmp_path: Path,
) -> None:
    visa = (
        "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C<3UTO6908061F9406236ZE184226B<<<<<<<"
    )
    async with venue_harness(tmp_path) as h:
        err = await h.error_of("scan.submit", Role.DOOR_STAFF, mrz=visa)
        assert err.code == ErrorCode.INVALID_PARAMS
        assert err.message.startswith("mrz: is a visa"), err.message
        [problem] = err.data["problems"]
        assert problem["code"] == "not_identity_document"
        assert "ERIKSSON" not in str(err.data)
        assert await visits(h) == []


async def test_what_an_mrz_does_not_carry_comes_with_it(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        photo = base64.b64encode(JPEG).decode()
        scanned = await h.call(
            "scan.submit", mrz=mrz(), document={"photo": photo, "authentic": False}
        )
        assert (scanned["verdict"], scanned["reasons"]) == ("refuse", ["not_authentic"])
        made = await h.call(
            "alert.create", scan_id=scanned["scan_id"], category="theft", reason="r"
        )
        detail = await h.call("alert.get", Role.SUPERVISOR, alert_id=made["alert_id"])
        assert detail["has_photo"] is True
        assert detail["subject"]["surname"] == CANARY
        err = await h.error_of("scan.submit", mrz=mrz(), document={"photo": "AAAA"})
        assert err.message.startswith("document.photo:"), err.message


_LINE_1 = mrz().split("\n")[0]
_LINE_2 = mrz().split("\n")[1]


@pytest.mark.parametrize(
    ("params", "start"),
    [
        ({"mrz": "hello"}, "mrz: must be two lines of 44"),
        ({"mrz": _LINE_1}, "mrz: must be two lines of 44"),
        ({"mrz": _LINE_1 + "\n" + _LINE_2[:40]}, "mrz: must be two lines of 44"),
        ({"mrz": _LINE_1 + "\n" + _LINE_2 + "\n" + _LINE_2}, "mrz: must be two lines of 44"),
        ({"mrz": _LINE_1.lower() + "\n" + _LINE_2}, "mrz: line 1: must contain only A-Z"),
        ({"mrz": _LINE_1 + "\n" + _LINE_2.replace("<", "«")}, "mrz: line 2: must contain only"),
        ({"mrz": damage(mrz(), 1, 15, "O")}, "mrz: line 2: birth date must be six digits"),
        ({"mrz": "P<" * 22 + "\n" + "<" * 44}, "mrz: line 1: issuing state"),
        ({"mrz": "x" * 513}, "mrz: String should have at most 512 characters"),
        ({"mrz": ""}, "mrz: String should have at least 1 character"),
        ({"mrz": 42}, "mrz: Input should be a valid string"),
        ({"mrz": mrz(), "document": person()}, "document.date_of_birth: is read from the mrz"),
        ({}, "document: give document (the fields) or mrz"),
        ({"document": None}, "document: give document (the fields) or mrz"),
    ],
)
async def test_garbage_is_a_clear_error_naming_the_problem(
    tmp_path: Path, params: dict[str, Any], start: str
) -> None:
    async with venue_harness(tmp_path) as h:
        err = await h.error_of("scan.submit", **params)
        assert err.code == ErrorCode.INVALID_PARAMS
        assert err.message.startswith(start), err.message
        assert CANARY not in err.message
        assert CANARY not in str(err.data)
        assert await visits(h) == []
