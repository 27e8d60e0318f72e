"""Options shared by the commands, and the parsing of times and durations.

The data directory is optional for people: it defaults to
``$XDG_DATA_HOME/doorwatch`` (``~/.local/share/doorwatch`` when XDG_DATA_HOME
is unset); a service sets ``DOORWATCH_DATA_DIR`` or passes ``--data-dir``.

This module imports nothing heavy: every command's options are built from it
while ``doorwatch --help`` runs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Annotated

import typer


def default_data_dir(environ: dict[str, str] | None = None) -> Path:
    """The per-user data directory (XDG base directory specification)."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_DATA_HOME", "")
    # The specification says a relative XDG_DATA_HOME is invalid and ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "doorwatch"


DEFAULT_DATA_DIR = default_data_dir()

DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="DOORWATCH_DATA_DIR",
        help="The node's data directory (default: ~/.local/share/doorwatch, or "
        "$XDG_DATA_HOME/doorwatch).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document instead of text.")
]
UserOption = Annotated[
    str | None,
    typer.Option(
        "--user",
        envvar="DOORWATCH_USER",
        help="Log in as this staff user (default: the node's cookie, as the account "
        "that owns the node).",
        show_default=False,
    ),
]
PasswordFileOption = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        envvar="DOORWATCH_PASSWORD_FILE",
        help="File holding --user's password (prompted for when omitted).",
        show_default=False,
    ),
]


class BadInput(Exception):
    """A flag's value breaks a rule; the message names the flag and the rule."""


def parse_time(text: str, flag: str) -> int:
    """Unix seconds from Unix seconds, an ISO date (midnight UTC) or an ISO date-time.

    A date-time without a zone is read as UTC.
    """
    value = text.strip()
    if re.fullmatch(r"\d{1,12}", value):
        return int(value)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = dt.date.fromisoformat(value)
            return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(
            f"{flag}: give a date (2026-11-23), a date and time (2026-11-23T21:30, UTC) "
            "or Unix seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


_DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")


def parse_duration(text: str, flag: str) -> int:
    """Seconds from ``90``, ``90s``, ``30m``, ``24h`` or ``7d``."""
    m = _DURATION.match(text.strip())
    if m is None:
        raise BadInput(f"{flag}: give a number of seconds or a number and a unit, e.g. 30m or 7d")
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def format_time(at: int | None) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM`` UTC, or a dash."""
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M")


def format_ago(at: int | None, now: int) -> str:
    """How long ago, for people: ``40s ago``, ``5m ago``, ``3h ago``, else the date."""
    if at is None:
        return "never"
    delta = max(0, now - at)
    if delta < 120:
        return f"{delta}s ago"
    if delta < 2 * 3600:
        return f"{delta // 60}m ago"
    if delta < 48 * 3600:
        return f"{delta // 3600}h ago"
    return format_time(at)


def format_duration(seconds: int) -> str:
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def split_list(text: str) -> list[str]:
    """A comma-separated flag value as a list, blanks dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]
