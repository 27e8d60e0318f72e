"""`doorwatch notice ...`: Pubwatch banning notices: nominate, list, show, vote, appeal,
letter. They talk to the running node (the committee votes over the network).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Any

import typer

from doorwatch.cli._options import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    JsonOption,
    PasswordFileOption,
    UserOption,
    format_time,
)
from doorwatch.cli._output import echo_json, fail, rpc, table

DAY = 86400

notice_app = typer.Typer(
    help="Pubwatch banning notices: nominate, list, show, vote, appeal, letter.",
    no_args_is_help=True,
)

NoticeIdArg = Annotated[str, typer.Argument(help="The notice's id (see notice list).")]


def _until(n: dict[str, Any]) -> str:
    if n["state"] in ("voting", "cancelled"):
        return "-"
    return "for life" if n["until"] is None else format_time(n["until"])


def door_gap(n: dict[str, Any]) -> str:
    """A sentence when member doors stop enforcing the ban before it ends (the alert it
    rides on is no longer active, so will not be re-issued before its year is out),
    else ''."""
    door_until = n.get("door_until")
    if door_until is None or n["state"] in ("cancelled", "expired"):
        return ""
    if n["lifetime"]:
        end = None
    else:
        end = n["until"] if n["until"] is not None else n["nominated_at"] + n["duration_days"] * DAY
    if end is not None and end <= door_until:
        return ""
    return (
        f"Member doors enforce this ban only until {format_time(door_until)}: the alert it "
        "rides on is no longer active (disputed, withdrawn, expired or deleted), and only an "
        "active alert is re-issued before its year is out. Reinstate it, or nominate again "
        "from a new alert."
    )


def _show(n: dict[str, Any]) -> None:
    typer.echo(f"Notice {n['notice_id']}  ({n['state']})")
    typer.echo(f"  nominated by {n['nominated_by']} on {format_time(n['nominated_at'])}")
    length = "lifetime" if n["lifetime"] else f"{n['duration_days']} days"
    typer.echo(f"  scope: {n['scope']}   duration: {length}   until: {_until(n)}")
    typer.echo(f"  alert: {n['alert_id']}")
    for carrier in n.get("carriers") or []:
        typer.echo(f"  re-issued as alert: {carrier}")
    if gap := door_gap(n):
        typer.echo(f"  {gap}")
    for r in n["rounds"]:
        t = r["tally"]
        name = "nomination" if r["round"] == 0 else "appeal"
        decided = (
            f" -> {r['outcome']}" if r["outcome"] else f" (closes {format_time(r['deadline'])})"
        )
        typer.echo(
            f"  {name}: {t['uphold']} uphold, {t['reject']} reject of {t['eligible']} "
            f"(needs {t['needed']}, quorum {t['quorum']}){decided}"
        )
    for label, key in (
        ("summary", "summary"),
        ("lifetime reason", "lifetime_reason"),
        ("appeal grounds", "appeal_grounds"),
    ):
        if n.get(key):
            typer.echo(f"  {label}: {n[key]}")
    if n["can_vote"]:
        typer.echo("  this venue is on the committee and may vote")


@notice_app.command("nominate")
def nominate(
    alert_id: Annotated[str, typer.Argument(help="One of this venue's alerts.")],
    summary: Annotated[str, typer.Option(help="The incident, for the committee.")],
    days: Annotated[
        int | None, typer.Option(help="Duration in days (up to 730); omit for a lifetime ban.")
    ] = None,
    lifetime_reason: Annotated[
        str | None, typer.Option(help="Why a lifetime ban (required without --days).")
    ] = None,
    scope: Annotated[str, typer.Option(help="'all' or one of this venue's groups.")] = "all",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Nominate the subject of one of this venue's alerts for a banning notice.

    Example: doorwatch notice nominate 3f2a... --summary "Glass thrown at staff" --days 365
    """
    params: dict[str, Any] = {"alert_id": alert_id, "summary": summary, "scope": scope}
    if days is not None:
        params["duration_days"] = days
    if lifetime_reason is not None:
        params["lifetime_reason"] = lifetime_reason
    n = rpc(data_dir, user, password_file, "notice.nominate", **params)
    if json_:
        echo_json(n)
        return
    typer.echo(
        f"Nominated: notice {n['notice_id']}; the committee votes until "
        f"{format_time(n['rounds'][0]['deadline'])}."
    )
    if gap := door_gap(n):
        typer.echo(gap)


@notice_app.command("list")
def list_(
    state: Annotated[
        str | None,
        typer.Option(help="Only: voting, upheld, appealed, cancelled or expired."),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """List the banning notices this node holds (no case text).

    Example: doorwatch notice list --state upheld
    """
    params: dict[str, Any] = {} if state is None else {"state": state}
    rows = rpc(data_dir, user, password_file, "notice.list", **params)["notices"]
    if json_:
        echo_json(rows)
        return
    if not rows:
        typer.echo("No notices.")
        return
    table(
        [
            [
                n["notice_id"],
                n["state"],
                n["nominated_by"],
                n["scope"],
                "lifetime" if n["lifetime"] else f"{n['duration_days']}d",
                _until(n),
            ]
            for n in rows
        ],
        ["NOTICE", "STATE", "NOMINATED BY", "SCOPE", "LENGTH", "UNTIL (UTC)"],
    )


@notice_app.command("show")
def show(
    notice_id: NoticeIdArg,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """One notice: its rounds and tallies, and its case where this venue may read it.

    Example: doorwatch notice show 7f3a...
    """
    n = rpc(data_dir, user, password_file, "notice.get", notice_id=notice_id)
    if json_:
        echo_json(n)
        return
    _show(n)


@notice_app.command("vote")
def vote(
    notice_id: NoticeIdArg,
    choice: Annotated[str, typer.Argument(help="uphold or reject.")],
    reason: Annotated[str | None, typer.Option(help="Optional, for the nominating venue.")] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Vote on a nomination or an appeal (committee members; signed by this venue's
    pseudonym, so no other venue learns how it voted).

    Example: doorwatch notice vote 7f3a... uphold
    """
    if choice not in ("uphold", "reject"):
        fail("choice: uphold or reject")
    params: dict[str, Any] = {"notice_id": notice_id, "vote": choice}
    if reason is not None:
        params["reason"] = reason
    done = rpc(data_dir, user, password_file, "notice.vote", **params)
    if json_:
        echo_json(done)
        return
    typer.echo(f"Vote recorded ({'appeal' if done['round'] else 'nomination'}).")


@notice_app.command("appeal")
def appeal(
    notice_id: NoticeIdArg,
    grounds: Annotated[str, typer.Option(help="The appellant's grounds, as written.")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Record the subject's appeal (the nominating venue or the liaison): a fresh vote.

    Example: doorwatch notice appeal 7f3a... --grounds "I was not there that night"
    """
    n = rpc(data_dir, user, password_file, "notice.appeal", notice_id=notice_id, grounds=grounds)
    if json_:
        echo_json(n)
        return
    typer.echo(
        f"Appeal recorded; the committee votes until {format_time(n['rounds'][-1]['deadline'])}."
    )


@notice_app.command("letter")
def letter(
    notice_id: NoticeIdArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the PDF.")],
    appeal_outcome: Annotated[
        bool, typer.Option("--appeal-outcome", help="The appeal outcome letter instead.")
    ] = False,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
) -> None:
    """Write the notice letter (or the appeal outcome letter) to the subject as PDF.

    Example: doorwatch notice letter 7f3a... -o notice.pdf
    """
    kind = "appeal_outcome" if appeal_outcome else "notice"
    done = rpc(data_dir, user, password_file, "notice.letter", notice_id=notice_id, kind=kind)
    output.write_bytes(base64.b64decode(done["pdf"]))
    typer.echo(f"Wrote {output}.")
