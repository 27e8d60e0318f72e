"""`doorwatch alert ...`: this venue's alerts: list, show, amend, annotate, review,
dispute, reinstate, withdraw, delete.

Alerts are created at the door (scanner software, or ``doorwatch door``);
these commands are the supervisor's. Every change raises the alert's version,
is gossiped to the network and audited with the user who made it.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from doorwatch.cli._client import NodeClient, RpcError
from doorwatch.cli._options import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    JsonOption,
    PasswordFileOption,
    UserOption,
    format_time,
    parse_time,
    split_list,
)
from doorwatch.cli._output import echo_json, fail, reported, rpc, table

alert_app = typer.Typer(
    help="This venue's alerts: list, show, amend, annotate, review, dispute, reinstate, "
    "withdraw, delete.",
    no_args_is_help=True,
)

AlertIdArg = Annotated[str, typer.Argument(help="The alert's id (see alert list).")]
NoteOption = Annotated[
    str | None, typer.Option(help="A note recorded with the change.", show_default=False)
]
STATUSES = ("active", "suspended", "withdrawn", "expired")


@alert_app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option(help=f"Only alerts in this state: {', '.join(STATUSES)}.")
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """List this venue's alerts, highest harm first (no personal data).

    Example: doorwatch alert list --status active
    """
    params: dict[str, Any] = {} if status is None else {"status": status}
    rows: list[dict[str, Any]] = rpc(data_dir, user, password_file, "alert.list", **params)
    if json_:
        echo_json(rows)
        return
    if not rows:
        typer.echo("No alerts." if status is None else f"No {status} alerts.")
        return
    table(
        [
            [
                a["alert_id"],
                a["status"],
                a["category"],
                f"{a['harm']:g}",
                format_time(a["expires_at"]),
                format_time(a["review_due"]) + (" OVERDUE" if a["review_overdue"] else ""),
                str(a["version"]),
            ]
            for a in rows
        ],
        ["ALERT", "STATUS", "CATEGORY", "HARM", "EXPIRES (UTC)", "REVIEW DUE", "VERSION"],
    )


@alert_app.command("show")
def show(
    alert_id: AlertIdArg,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Show one alert in full: reason, notes, subject, annotations, reviews (audited).

    Example: doorwatch alert show 9d4e1c... --user supervisor1 --password-file sup.pw
    """
    a: dict[str, Any] = rpc(data_dir, user, password_file, "alert.get", alert_id=alert_id)
    if json_:
        echo_json(a)
        return
    lines = [
        ("Alert", a["alert_id"]),
        ("Status", f"{a['status']} (version {a['version']})"),
        ("Category", f"{a['category']} (harm {a['harm']:g})"),
        ("Reason", a.get("reason") or "-"),
        ("Notes", a.get("notes") or "-"),
        ("Created", f"{format_time(a['created_at'])} by {a['created_by']}"),
        ("Expires", format_time(a["expires_at"])),
        ("Review due", format_time(a["review_due"]) + (" OVERDUE" if a["review_overdue"] else "")),
        ("Groups", ", ".join(a["groups"]) or "the whole network"),
        ("Photo", "yes" if a.get("has_photo") else "no"),
        (
            "Anonymity set",
            f"about {a.get('anonymity_set', 0):,.0f} people in the UK expected to share "
            "the segments (an estimate from population tables, not a count)",
        ),
    ]
    subject = a.get("subject")
    if subject is None:
        lines.append(("Subject", "(purged)"))
    else:
        for k, v in subject.items():
            if k != "photo" and v is not None:
                lines.append((f"Subject {k.replace('_', ' ')}", str(v)))
    for note in a.get("annotations", []):
        who = f"{note['author']} at {note['venue']}" + (
            " (recipient)" if note["origin"] == "recipient" else ""
        )
        lines.append(("Annotation", f"{format_time(note['at'])} {who}: {note.get('text') or '-'}"))
    for review in a.get("reviews", []):
        lines.append(
            (
                "Reviewed",
                f"{format_time(review['at'])} by {review['reviewer']}: {review.get('note') or '-'}",
            )
        )
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        typer.echo(f"{k:<{width}}  {v}")


def _changed(r: dict[str, Any], verb: str, json_: bool) -> None:
    if json_:
        echo_json(r)
        return
    typer.echo(
        f"{verb} alert {r['alert_id']}: now version {r['version']}, {r['status']}, "
        f"expires {format_time(r['expires_at'])}"
    )


@alert_app.command("amend")
def amend(
    alert_id: AlertIdArg,
    reason: Annotated[str | None, typer.Option(help="New reason text.", show_default=False)] = None,
    notes: Annotated[str | None, typer.Option(help="New notes.", show_default=False)] = None,
    expires: Annotated[
        str | None,
        typer.Option(
            help="New expiry: a date (UTC midnight), date-time or Unix seconds; at most "
            "12 months after creation.",
            show_default=False,
        ),
    ] = None,
    groups: Annotated[
        str | None,
        typer.Option(
            help="New distribution: comma-separated groups; '' for the whole network "
            "(super administrator only).",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Change an alert's reason, notes, expiry or groups.

    Example: doorwatch alert amend 9d4e1c... --expires 2027-03-01 --notes "CCTV kept"
    """
    params: dict[str, Any] = {"alert_id": alert_id}
    with reported():
        if reason is not None:
            params["reason"] = reason
        if notes is not None:
            params["notes"] = notes
        if expires is not None:
            params["expires_at"] = parse_time(expires, "--expires")
        if groups is not None:
            params["groups"] = split_list(groups)
    if len(params) == 1:
        fail("alert amend: give at least one of --reason, --notes, --expires, --groups")
    _changed(rpc(data_dir, user, password_file, "alert.amend", **params), "Amended", json_)


@alert_app.command("annotate")
def annotate(
    alert_id: AlertIdArg,
    text: Annotated[str, typer.Argument(help="The annotation.")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Add an annotation (recorded with this venue and your user name).

    Example: doorwatch alert annotate 9d4e1c... "Seen again on 2026-11-20, left quietly"
    """
    r = rpc(data_dir, user, password_file, "alert.annotate", alert_id=alert_id, text=text)
    _changed(r, "Annotated", json_)


def _note_command(method: str, verb: str, doc: str) -> Any:
    def command(
        alert_id: AlertIdArg,
        note: NoteOption = None,
        data_dir: DataDirOption = DEFAULT_DATA_DIR,
        user: UserOption = None,
        password_file: PasswordFileOption = None,
        json_: JsonOption = False,
    ) -> None:
        params: dict[str, Any] = {"alert_id": alert_id}
        if note is not None:
            params["note"] = note
        _changed(rpc(data_dir, user, password_file, method, **params), verb, json_)

    command.__doc__ = doc
    return command


alert_app.command("review")(
    _note_command(
        "alert.review",
        "Reviewed",
        """Record the 3-monthly review of an alert; the next one is due 3 months later.

        Example: doorwatch alert review 9d4e1c... --note "Still justified: CCTV reviewed"
        """,
    )
)
alert_app.command("dispute")(
    _note_command(
        "alert.dispute",
        "Disputed",
        """Record a dispute by the subject: the alert is suspended at once and annotated.

        Example: doorwatch alert dispute 9d4e1c... --note "Complaint received by email"
        """,
    )
)
alert_app.command("reinstate")(
    _note_command(
        "alert.reinstate",
        "Reinstated",
        """Reinstate a suspended (disputed) alert after review: it matches again everywhere.

        For the super administrator, or the administrator who created the alert. The
        "Disputed by the subject" annotation stays; a "Reinstated" one, with the note, is added.

        Example: doorwatch alert reinstate 9d4e1c... --note "CCTV reviewed: it was him"
        """,
    )
)
alert_app.command("withdraw")(
    _note_command(
        "alert.withdraw",
        "Withdrew",
        """Withdraw an alert: it stops matching here and at every venue (a signed tombstone).

        The record stays, encrypted, for the audit trail until the retention purge.

        Example: doorwatch alert withdraw 9d4e1c... --note "Raised in error"
        """,
    )
)


@alert_app.command("delete")
def delete(
    alert_id: AlertIdArg,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Delete without asking for confirmation.")
    ] = False,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Erase an alert at once, whatever its status (super administrator only).

    Unlike withdraw, nothing of the record is kept: its subject, photo, details,
    annotations and reviews are erased from the database here, a tombstone tells
    every venue to drop it, and only the audit entries remain. It cannot be undone.

    Example: doorwatch alert delete 9d4e1c... --yes
    """
    with reported(), NodeClient.open(data_dir, user=user, password_file=password_file) as c:
        try:
            listed: list[dict[str, Any]] = c.call("alert.list")
        except RpcError:  # a role that may not list cannot delete: alert.delete will say so
            listed = []
        # Not among this venue's alerts: nothing to ask about, alert.delete names the problem.
        found = [a for a in listed if a["alert_id"] == alert_id]
        if found and not yes:
            a = found[0]
            typer.echo(
                f"Alert {alert_id}: {a['category']} (harm {a['harm']:g}), {a['status']}, "
                f"version {a['version']}, expires {format_time(a['expires_at'])} UTC.",
                err=True,
            )
            typer.echo(
                "Deleting erases its record here at once (subject, photo, details, annotations, "
                "reviews) and tells every venue to drop it; only the audit entries remain. "
                "This cannot be undone.",
                err=True,
            )
            try:
                confirmed = typer.confirm("Erase this alert?", default=False, err=True)
            except typer.Abort:
                confirmed = False
            if not confirmed:
                fail("alert delete: not confirmed, nothing was deleted (--yes skips the question)")
        done: dict[str, Any] = c.call("alert.delete", alert_id=alert_id)
    if json_:
        echo_json({"alert_id": alert_id, **done})
        return
    typer.echo(
        f"Deleted alert {alert_id}: its record is erased and a tombstone goes to the network; "
        "only the audit entries remain."
    )
