"""`doorwatch user ...`: the venue's staff accounts (unique logins, agreement 6.5).

Roles, lowest first: door_staff, supervisor, administrator,
super_administrator. Adding and disabling users is the super
administrator's (or the node owner's, logged in with the cookie).
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated, Any

import typer

from doorwatch.cli._client import ClientError, read_password_file
from doorwatch.cli._options import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    JsonOption,
    PasswordFileOption,
    UserOption,
    format_time,
)
from doorwatch.cli._output import echo_json, reported, rpc, table

user_app = typer.Typer(
    help="Add, list and disable staff users; change passwords.", no_args_is_help=True
)

ROLES = ("door_staff", "supervisor", "administrator", "super_administrator")

NewPasswordFile = Annotated[
    Path | None,
    typer.Option(
        help="File holding the new password, at least 8 characters (prompted for when omitted).",
        show_default=False,
    ),
]
UsernameArg = Annotated[str, typer.Argument(help="The staff user's name.")]


def _new_password(path: Path | None, username: str) -> str:
    with reported():
        if path is not None:
            return read_password_file(path, "--new-password-file")
        password = getpass.getpass(f"New password for {username}: ")
        if getpass.getpass("Again: ") != password:
            raise ClientError("the two passwords differ")
        return password


@user_app.command("add")
def add(
    username: UsernameArg,
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")],
    new_password_file: NewPasswordFile = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Add a staff user with a role.

    Example: doorwatch user add door1 --role door_staff --new-password-file door1.pw
    """
    password = _new_password(new_password_file, username)
    r = rpc(
        data_dir, user, password_file, "user.add", username=username, role=role, password=password
    )
    if json_:
        echo_json(r)
    else:
        typer.echo(f"Added {r['username']} ({r['role']})")


@user_app.command("list")
def list_(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
    json_: JsonOption = False,
) -> None:
    """List the staff users, their roles and whether they are disabled.

    Example: doorwatch user list --json
    """
    rows: list[dict[str, Any]] = rpc(data_dir, user, password_file, "user.list")
    if json_:
        echo_json(rows)
        return
    table(
        [
            [
                u["username"],
                u["role"],
                "disabled" if u["disabled"] else "active",
                format_time(u["created_at"]),
            ]
            for u in rows
        ],
        ["USER", "ROLE", "STATE", "CREATED (UTC)"],
    )


@user_app.command("disable")
def disable(
    username: UsernameArg,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
) -> None:
    """Disable a staff user: they can no longer log in (their audit trail stays).

    Example: doorwatch user disable door1
    """
    rpc(data_dir, user, password_file, "user.disable", username=username)
    typer.echo(f"Disabled {username}")


@user_app.command("passwd")
def passwd(
    username: UsernameArg,
    new_password_file: NewPasswordFile = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    user: UserOption = None,
    password_file: PasswordFileOption = None,
) -> None:
    """Change a user's password: your own, or anyone's as a super administrator.

    Example: doorwatch user passwd door1 --new-password-file door1.pw
    """
    password = _new_password(new_password_file, username)
    rpc(data_dir, user, password_file, "user.passwd", username=username, password=password)
    typer.echo(f"Changed the password of {username}")
