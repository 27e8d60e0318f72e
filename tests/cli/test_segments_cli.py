"""`doorwatch segments calibrate` and `doorwatch segments evaluate`, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from doorwatch.cli import app

HEADER = "id,given_names,surname,date_of_birth,document_number,postcode,address\n"
SUBJECTS = HEADER + (
    "s1,John Paul,Smith,1990-04-12,123456789,SW1A 1AA,1 High Street\n"
    "s2,Mary,Jones-Williams,2001-11-30,,,\n"
    's3,"Siobhán",O\'Neill,1985-02-28,,,\n'
)
SCANS = HEADER + (
    "c1,JOHN,SMITH,1990-04-12,,,\n"
    "c2,Mary,Jones,2001-11-30,,,\n"
    "c3,Peter,Pan,1980-01-01,,,\n"
    "c4,SIOBHAN,ONEILL,1985-02-28,,,\n"
)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["segments", *args])
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def evaluate(tmp_path: Path, subjects: str, scans: str, *extra: str) -> tuple[int, str, str]:
    return run(
        "evaluate",
        "--subjects",
        write(tmp_path, "subjects.csv", subjects),
        "--scans",
        write(tmp_path, "scans.csv", scans),
        *extra,
    )


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_calibrate_json_reports_the_figures() -> None:
    code, out, _ = run("calibrate", "--population", "900", "--alerts", "150", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["alerts"] == 150
    assert report["innocent_scans"] == 750
    for key in ("hit_rate", "innocent_flag_rate", "floor_rate", "mean_anonymity_set"):
        assert key in report
    assert report["min_anonymity_set"] >= 49.99


def test_calibrate_model_harsh_reads_through_the_hand_entry_model() -> None:
    def calibrate(*extra: str) -> dict[str, Any]:
        args = ("calibrate", "--population", "1500", "--alerts", "500", "--seed", "3", "--json")
        code, out, err = run(*args, *extra)
        assert code == 0, err
        report: dict[str, Any] = json.loads(out)
        return {k: v for k, v in report.items() if not k.startswith("latency")}

    scanner, harsh = calibrate("--model", "scanner"), calibrate("--model", "harsh")
    assert scanner == calibrate()  # the scanner model is the default
    assert (scanner["model"], harsh["model"]) == ("scanner", "harsh")
    # the same subjects and sets (K), read worse
    assert harsh["mean_anonymity_set"] == scanner["mean_anonymity_set"]
    assert harsh["hit_rate"] < scanner["hit_rate"]
    code, _, err = run("calibrate", "--model", "sloppy")
    assert code == 2
    assert "--model" in err


def test_calibrate_prints_a_table_for_people() -> None:
    code, out, _ = run("calibrate", "--population", "600", "--alerts", "100", "--seed", "2")
    assert code == 0
    assert "hit rate" in out
    assert "floor sum(u) at the door" in out
    assert "K under 30, median / 10th pct" in out
    assert "p50 / p99" in out


def test_calibrate_refuses_impossible_sizes() -> None:
    code, _, err = run("calibrate", "--population", "10", "--alerts", "10")
    assert code == 2
    assert "--population" in err
    assert "Traceback" not in err


def test_evaluate_scores_every_scan_best_first(tmp_path: Path) -> None:
    code, out, err = evaluate(tmp_path, SUBJECTS, SCANS)
    assert code == 0, err
    records = lines(out)
    assert [r["scan_id"] for r in records] == ["c1", "c2", "c3", "c4"]
    by_scan = {r["scan_id"]: [m["subject_id"] for m in r["matches"]] for r in records}
    assert by_scan == {"c1": ["s1"], "c2": ["s2"], "c3": [], "c4": ["s3"]}
    for record in records:
        scores = [m["score"] for m in record["matches"]]
        assert scores == sorted(scores, reverse=True)


def test_evaluate_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    first = evaluate(tmp_path, SUBJECTS, SCANS, "--seed", "7")
    again = evaluate(tmp_path, SUBJECTS, SCANS, "--seed", "7")
    assert first == again


def test_malformed_rows_are_reported_and_skipped(tmp_path: Path) -> None:
    subjects = HEADER + (
        "s1,John Paul,Smith,1990-04-12,,,\n"  # line 2: fine
        "s2,,,,,,\n"  # line 3: nothing but an id: no factor to disclose
        "s3,Bob,Brown,1999-13-01,,,\n"  # line 4: bad date
        "s4,Bob,Brown\n"  # line 5: too few cells
        "s5,Bob,Brown,1999-01-01,,,,extra\n"  # line 6: too many cells
        "s1,Jo,Smith,1990-04-12,,,\n"  # line 7: repeated id
    )
    scans = HEADER + "c1,JOHN,SMITH,1990-04-12,,,\nc2,Ann,Lee,not-a-date,,,\nc3,X,Y,2000-01-01,,,\n"
    code, out, err = evaluate(tmp_path, subjects, scans)
    assert code == 1
    assert [r["scan_id"] for r in lines(out)] == ["c1", "c3"]
    assert lines(out)[0]["matches"][0]["subject_id"] == "s1"
    messages = err.splitlines()
    assert any("subjects.csv line 3" in m and "no factor" in m for m in messages)
    assert any("subjects.csv line 4" in m and "'date_of_birth'" in m for m in messages)
    assert any("subjects.csv line 5" in m and "'date_of_birth'" in m for m in messages)
    assert any("subjects.csv line 6" in m and "'address'" in m for m in messages)
    assert any("subjects.csv line 7" in m and "'id'" in m for m in messages)
    assert any("scans.csv line 3" in m and "'date_of_birth'" in m for m in messages)
    # no personal data in errors
    assert "Brown" not in err
    assert "1999" not in err
    assert "Traceback" not in err


def test_rows_with_empty_fields_are_scored_on_what_they_have(tmp_path: Path) -> None:
    # The scan API accepts a scan without a given name or a date of birth;
    # evaluate scores such rows on their other fields instead of refusing them.
    subjects = HEADER + (
        "s1,,Smith,1990-04-12,,,\n"  # no given name: the set comes from the rest
        "s2,Mary,,2001-11-30,,,\n"  # no surname
        "s3,Peter,Pan,,,,\n"  # no date of birth
    )
    scans = HEADER + (
        "c1,,SMITH,1990-04-12,,,\n"
        "c2,MARY,,2001-11-30,,,\n"
        "c3,PETER,PAN,,,,\n"
        "c4,,,,,,\n"  # nothing to compare: scored, matches nothing
    )
    code, out, err = evaluate(tmp_path, subjects, scans)
    assert code == 0, err
    assert err == ""
    by_scan = {r["scan_id"]: [m["subject_id"] for m in r["matches"]] for r in lines(out)}
    assert by_scan == {"c1": ["s1"], "c2": ["s2"], "c3": ["s3"], "c4": []}


def test_rows_with_unknown_parts_of_a_date_of_birth_are_scored(tmp_path: Path) -> None:
    # ICAO 9303 Part 3 section 4.8: XX for an unknown day or month, as the scan API
    # takes it. Nothing is filled in, so the unknown part never agrees by accident.
    subjects = HEADER + (
        "s1,Amina,Yusuf,1987-XX-XX,,,\n"
        "s2,Tomasz,Nowak,1979-03-XX,,,\n"
        "s3,Bob,Brown,1999-02-30,,,\n"  # no such day: still refused
    )
    scans = HEADER + (
        "c1,AMINA,YUSUF,1987-XX-XX,,,\n"
        "c2,AMINA,YUSUF,1988-XX-XX,,,\n"  # another year: not her
        "c3,TOMASZ,NOWAK,1979-03-XX,,,\n"
        "c4,TOMASZ,NOWAK,1979-04-XX,,,\n"  # another month: not him
    )
    code, out, err = evaluate(tmp_path, subjects, scans)
    assert code == 1
    by_scan = {r["scan_id"]: [m["subject_id"] for m in r["matches"]] for r in lines(out)}
    assert by_scan == {"c1": ["s1"], "c2": [], "c3": ["s2"], "c4": []}
    [message] = err.splitlines()
    assert "subjects.csv line 4" in message
    assert "XX for an unknown day or month" in message
    assert "1999" not in err


def test_missing_header_column_and_missing_file(tmp_path: Path) -> None:
    code, out, err = evaluate(tmp_path, "id,given_names,surname\ns1,A,B\n", SCANS)
    assert out == ""
    assert code == 2
    assert "date_of_birth" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run("evaluate", "--subjects", str(tmp_path / "nope.csv"), "--scans", "x.csv")
    assert code == 2
    assert "nope.csv" in err
    assert "Traceback" not in err
