"""Records that hold personal data: bans, the audit log, the visit-log export for
the police, and the subject access export (agreement 6.8).

Exports written to a file are created mode 0600: they hold personal data.
Every export is audited by the node (who, when, what window or request).
A person is named by an ID document: ``--document FILE`` (a JSON object with
the scanner's fields, docs/api.md) or the ``--surname``, ``--date-of-birth``,
... flags.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from doorwatch.cli._client import ClientError
from doorwatch.cli._options import (
    DEFAULT_DATA_DIR,
    BadInput,
    DataDirOption,
    JsonOption,
    PasswordFileOption,
    UserOption,
    format_time,
    parse_time,
)
from doorwatch.cli._output import echo_json, reported, rpc, table

ban_app = typer.Typer(
    help="This venue's own bans (never shared): add, list, remove.", no_args_is_help=True
)
visits_app = typer.Typer(
    help="The visit log: export a time window (police request).", no_args_is_help=True
)
sar_app = typer.Typer(
    help="Subject access requests: export what the node holds about a person.", no_args_is_help=True
)

IDENTITY_FIELDS = (
    "document_type",
    "document_number",
    "given_names",
    "surname",
    "date_of_birth",
    "expiry_date",
    "issuing_country",
    "address",
    "postcode",
)

DocumentFileOption = Annotated[
    Path | None,
    typer.Option(
        "--document",
        help="JSON file with the ID document's fields (instead of the flags below).",
        show_default=False,
    ),
]


def _opt(help_text: str) -> Any:
    return typer.Option(help=help_text, show_default=False, rich_help_panel="The person's ID")


DocTypeOption = Annotated[str | None, _opt("passport, driving_licence, national_id or other")]
DocNumberOption = Annotated[str | None, _opt("The document number as printed.")]
GivenNamesOption = Annotated[str | None, _opt("All given names.")]
SurnameOption = Annotated[str | None, _opt("Surname.")]
BirthOption = Annotated[
    str | None, _opt("Date of birth, YYYY-MM-DD (XX for an unknown day or month).")
]
ExpiryOption = Annotated[str | None, _opt("The document's expiry date, YYYY-MM-DD.")]
CountryOption = Annotated[str | None, _opt("Issuing country, ISO 3166 alpha-3 (e.g. GBR).")]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write to this file (created mode 0600) instead of standard output.",
        show_default=False,
    ),
]


def read_document(path: Path | None, flags: dict[str, str | None]) -> dict[str, Any]:
    """The document object from a JSON file or from flags (not both)."""
    given = {k: v for k, v in flags.items() if v is not None}
    if path is not None:
        if given:
            raise BadInput("give the person's ID either with --document or with flags, not both")
        try:
            document = json.loads(path.read_text("utf-8"))
        except OSError as exc:
            raise BadInput(f"--document: cannot read {path}: {exc.strerror or exc}") from None
        except ValueError:
            raise BadInput(f"--document: {path} is not a JSON file") from None
        if not isinstance(document, dict):
            raise BadInput(f"--document: {path} must hold a JSON object")
        return document
    if not given:
        raise BadInput(
            "name the person's ID document: --document FILE, or --surname, --date-of-birth, "
            "--document-type, --document-number, --expiry-date and --issuing-country"
        )
    given.setdefault("given_names", "")  # a document may have none
    return given


def _identity_flags(*values: str | None) -> dict[str, str | None]:
    """The identity flags by field, in the order of ``IDENTITY_FIELDS``."""
    return dict(zip(IDENTITY_FIELDS, values, strict=False))


def write_output(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as exc:
        raise ClientError(f"--output: cannot write {output}: {exc.strerror or exc}") from None


# -- bans -----------------------------------------------------------------------------------


@ban_app.command("add")
def ban_add(
    reason: Annotated[str, typer.Option(help="Why (recorded with the ban; no personal data).")],
    expires: Annotated[
        str,
        typer.Option(help="When the ban ends: a date, date-time or Unix seconds; at most 2 years."),
    ],
    scan_id: Annotated[
        str | None, typer.Option(help="Ban the person of this recent scan.", show_default=False)
    ] = None,
    document: DocumentFileOption = None,
    document_type: DocTypeOption = None,
    document_number: DocNumberOption = None,
    given_names: GivenNamesOption = None,
    surname: SurnameOption = None,
    date_of_birth: BirthOption = None,
    expiry_date: ExpiryOption = None,
    issuing_country: CountryOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Ban a person from this venue (super administrator); their scans are then refused.

    Example: doorwatch ban add --scan-id 5f0c... --reason "Assaulted staff" --expires 2027-11-23
    """
    params: dict[str, Any] = {"reason": reason}
    with reported():
        params["expires_at"] = parse_time(expires, "--expires")
        if scan_id is not None:
            if document is not None or any(
                v is not None for v in (document_number, surname, date_of_birth)
            ):
                raise BadInput("give either --scan-id or the person's ID, not both")
            params["scan_id"] = scan_id
        else:
            params["document"] = read_document(
                document,
                _identity_flags(
                    document_type,
                    document_number,
                    given_names,
                    surname,
                    date_of_birth,
                    expiry_date,
                    issuing_country,
                ),
            )
    r = rpc(data_dir, user, password_file, "ban.add", **params)
    if json_:
        echo_json(r)
    else:
        typer.echo(f"Banned until {format_time(r['expires_at'])}: ban {r['ban_id']}")


@ban_app.command("list")
def ban_list(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """List this venue's bans with the persons' names (supervisor; audited).

    Example: doorwatch ban list --json
    """
    rows: list[dict[str, Any]] = rpc(data_dir, user, password_file, "ban.list")
    if json_:
        echo_json(rows)
        return
    if not rows:
        typer.echo("No bans.")
        return
    table(
        [
            [
                b["ban_id"],
                " ".join(
                    str(b["subject"].get(k) or "") for k in ("given_names", "surname")
                ).strip(),
                str(b["subject"].get("date_of_birth", "")),
                format_time(b["expires_at"]),
                b["reason"],
            ]
            for b in rows
        ],
        ["BAN", "NAME", "BORN", "EXPIRES (UTC)", "REASON"],
    )


@ban_app.command("remove")
def ban_remove(
    ban_id: Annotated[str, typer.Argument(help="The ban's id (see ban list).")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
) -> None:
    """Lift a ban (super administrator).

    Example: doorwatch ban remove 3b7a...
    """
    rpc(data_dir, user, password_file, "ban.remove", ban_id=ban_id)
    typer.echo(f"Removed ban {ban_id}")


# -- audit ----------------------------------------------------------------------------------


def audit(
    actor: Annotated[
        str | None, typer.Option(help="Only what this staff user did.", show_default=False)
    ] = None,
    alert: Annotated[
        str | None, typer.Option(help="Only entries about this alert id.", show_default=False)
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(help="Only this action, e.g. login.failed, alert.viewed.", show_default=False),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="From this time (inclusive): date, date-time or Unix seconds.", show_default=False
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Up to this time (exclusive).", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many entries.")] = 200,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Show the audit log, oldest first: logins, alert changes, disclosures, exports.

    Example: doorwatch audit --actor door1 --since 2026-11-01 --until 2026-12-01
    """
    params: dict[str, Any] = {"limit": limit}
    with reported():
        for key, value in (("actor", actor), ("alert_id", alert), ("action", action)):
            if value is not None:
                params[key] = value
        if since is not None:
            params["since"] = parse_time(since, "--since")
        if until is not None:
            params["until"] = parse_time(until, "--until")
    rows: list[dict[str, Any]] = rpc(data_dir, user, password_file, "audit.query", **params)
    if json_:
        echo_json(rows)
        return
    if not rows:
        typer.echo("No audit entries match.")
        return
    for e in rows:
        about = " ".join(
            f"{k}={v}"
            for k, v in (("alert", e.get("alert_id")), ("peer", e.get("peer_id")))
            if v is not None
        )
        detail = json.dumps(e["detail"], sort_keys=True) if e.get("detail") else ""
        typer.echo(
            " ".join(x for x in (format_time(e["at"]), e["actor"], e["action"], about, detail) if x)
        )


# -- visits export --------------------------------------------------------------------------

VISIT_COLUMNS = (
    "scan_id",
    "at",
    "staff",
    "verdict",
    "reasons",
    "admitted",
    "decided_by",
    "decided_at",
    "note",
)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    # A spreadsheet runs a cell starting with these as a formula (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def visits_csv(visits: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*VISIT_COLUMNS, *(f"subject_{k}" for k in IDENTITY_FIELDS)])
    for v in visits:
        row = dict(v)
        row["at"] = format_time(v["at"])
        row["decided_at"] = format_time(v["decided_at"]) if v.get("decided_at") else None
        row["reasons"] = ";".join(v.get("reasons", []))
        subject = v.get("subject") or {}
        writer.writerow(
            [_cell(row.get(c)) for c in VISIT_COLUMNS]
            + [_cell(subject.get(k)) for k in IDENTITY_FIELDS]
        )
    return out.getvalue()


@visits_app.command("export")
def visits_export(
    from_: Annotated[
        str,
        typer.Option(
            "--from", help="Start of the window (inclusive): date (UTC), date-time or Unix seconds."
        ),
    ],
    to: Annotated[str, typer.Option("--to", help="End of the window (exclusive).")],
    format_: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: OutputOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
) -> None:
    """Export the visit log of a time window, decrypted, for a police request (audited).

    Dates are midnight UTC; --to is exclusive, so --from 2026-11-21 --to 2026-11-22
    is the whole of 21 November.

    Example: doorwatch visits export --from 2026-11-21 --to 2026-11-22 -o visits.csv
    """
    with reported():
        if format_ not in ("csv", "json"):
            raise BadInput("--format must be csv or json")
        start = parse_time(from_, "--from")
        end = parse_time(to, "--to")
        if end <= start:
            raise BadInput("--to must be after --from")
    r = rpc(data_dir, user, password_file, "visits.export", **{"from": start, "to": end})
    visits: list[dict[str, Any]] = r["visits"]
    if format_ == "json":
        text = (
            json.dumps({"from": start, "to": end, "visits": visits}, indent=2, ensure_ascii=False)
            + "\n"
        )
    else:
        text = visits_csv(visits)
    with reported():
        write_output(text, output)
    if output is not None:
        typer.echo(
            f"Wrote {len(visits)} visits ({format_time(start)} to {format_time(end)} UTC) "
            f"to {output}"
        )


# -- subject access -------------------------------------------------------------------------


@sar_app.command("export")
def sar_export(
    document: DocumentFileOption = None,
    document_type: DocTypeOption = None,
    document_number: DocNumberOption = None,
    given_names: GivenNamesOption = None,
    surname: SurnameOption = None,
    date_of_birth: BirthOption = None,
    expiry_date: ExpiryOption = None,
    issuing_country: CountryOption = None,
    output: OutputOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
) -> None:
    """Export everything this node holds about the person on an ID, as JSON (audited).

    Their visits, bans, this venue's alerts about them with annotations and
    reviews, and who created, viewed or disclosed those alerts. Prefer
    --document FILE to the identity flags: flags stay in the shell's history
    and show in the process list.

    Example: doorwatch sar export --document id.json -o subject-access.json
    """
    with reported():
        doc = read_document(
            document,
            _identity_flags(
                document_type,
                document_number,
                given_names,
                surname,
                date_of_birth,
                expiry_date,
                issuing_country,
            ),
        )
    r: dict[str, Any] = rpc(data_dir, user, password_file, "sar.export", document=doc)
    with reported():
        write_output(json.dumps(r, indent=2, ensure_ascii=False) + "\n", output)
    if output is not None:
        typer.echo(
            f"Wrote {len(r.get('visits', []))} visits, {len(r.get('bans', []))} bans, "
            f"{len(r.get('alerts', []))} alerts and {len(r.get('disclosures', []))} "
            f"audit entries to {output}"
        )
