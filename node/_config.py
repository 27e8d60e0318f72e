"""The node's configuration file: versioned JSON in the data directory.

Like Syncthing's, the file carries a ``version``; an older file is migrated
on load (``_MIGRATIONS``, one step per version) and written back, a newer one
is refused. Version 1 is the first; a file without ``version`` is version 1.

Every key can be overridden for one run, without touching the file: by the
environment variable ``DOORWATCH_<KEY>`` (``DOORWATCH_SESSION_HOURS=8``) or
by the matching flag of ``doorwatch run`` (``--session-hours 8``), which the
command line passes on as that variable. Precedence: flag, environment,
file, default. Values are text as on a command line: numbers in decimal,
``listen`` comma-separated, an empty value unsets an optional key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from doorwatch.node._errors import DataDirError

CONFIG_NAME = "config.json"
CONFIG_VERSION = 1
ENV_PREFIX = "DOORWATCH_"


class NodeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = CONFIG_VERSION
    venue: str = Field(min_length=1, max_length=200)
    listen: list[str] = Field(default_factory=lambda: ["/ip4/127.0.0.1/tcp/0"])
    socket_group: str | None = None
    # "127.0.0.1:7420" to also serve the local API on loopback TCP (token required).
    api_tcp: str | None = Field(
        default=None, pattern=r"^(127\.[0-9.]+|\[::1\]|localhost):[0-9]{1,5}$"
    )
    session_hours: int = Field(default=12, ge=1, le=24)
    visit_retention_days: int = Field(default=31, ge=1, le=366)
    default_alert_days: int = Field(default=14, ge=1, le=366)
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    super_admin_email: str | None = None
    # A file whose first line is the passphrase of storage.key (e.g. on a removable or
    # encrypted volume; a systemd credential is preferred: docs/admin-guide.md).
    passphrase_file: str | None = None
    # The web console (node/_console.py): loopback over HTTP, any other address
    # over HTTPS only, with the certificate made at init or these PEM files.
    console_listen: str = Field(
        default="127.0.0.1:8470",
        pattern=r"^(https?://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$",
    )
    console_cert: str | None = None
    console_key: str | None = None


# What each key means, for `doorwatch config show` and the flags of `doorwatch run`.
KEY_HELP: dict[str, str] = {
    "venue": "the venue's name, as other venues see it",
    "listen": "peer-to-peer listen multiaddrs, comma-separated",
    "socket_group": "operating-system group allowed to use the socket (mode 0660)",
    "api_tcp": "also serve the local API on this loopback host:port (token required)",
    "session_hours": "how long a staff login lasts, 1 to 24 hours",
    "visit_retention_days": "days the visit log is kept, 1 to 366",
    "default_alert_days": "an alert's default lifetime in days, 1 to 366",
    "smtp_host": "mail server for new-alert notices to the super administrator",
    "smtp_port": "that mail server's port",
    "super_admin_email": "where new-alert notices go",
    "passphrase_file": "absolute path of a file holding the storage key's passphrase "
    "(when no systemd credential gives it)",
    "console_listen": "the web console's host:port (port 0: any free port; off loopback: HTTPS)",
    "console_cert": "PEM certificate for the console's HTTPS (default: the one made at init)",
    "console_key": "PEM private key of console_cert",
}
KEYS: tuple[str, ...] = tuple(KEY_HELP)


def env_name(key: str) -> str:
    return ENV_PREFIX + key.upper()


# Migrations of the config file: version N -> N+1, applied in order.
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _first_error(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors(include_input=False, include_url=False)[0]
    return ".".join(str(p) for p in err["loc"]), err["msg"]


def read_config_file(path: Path) -> NodeConfig:
    """The file's configuration (migrated), without the environment's overrides."""
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise DataDirError(f"{path} is missing; run `doorwatch init` first") from None
    except (OSError, ValueError) as exc:
        raise DataDirError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise DataDirError(f"{path} must hold a JSON object")
    version = raw.get("version", 1)
    if not isinstance(version, int) or version < 1 or version > CONFIG_VERSION:
        raise DataDirError(
            f"{path} has config version {version}; this Doorwatch reads 1 to {CONFIG_VERSION}"
        )
    migrated = version < CONFIG_VERSION
    while version < CONFIG_VERSION:
        raw = _MIGRATIONS[version](raw)
        version = raw["version"]
    try:
        config = NodeConfig.model_validate(raw)
    except ValidationError as exc:
        field, msg = _first_error(exc)
        raise DataDirError(f"{path}: {field}: {msg}") from None
    if migrated:
        save_config(path, config)
    return config


def parse_value(key: str, text: str) -> object:
    """A key's value from text as typed (not yet validated); unknown keys refused."""
    if key not in KEY_HELP:
        raise DataDirError(f"there is no config key {key!r}; the keys are {', '.join(KEYS)}")
    if key == "listen":
        return [part.strip() for part in text.split(",") if part.strip()]
    if text == "" and NodeConfig.model_fields[key].default is None:
        return None
    return text


def with_values(config: NodeConfig, values: Mapping[str, str], source: str) -> NodeConfig:
    """``config`` with keys set from text values; errors name ``source`` and the rule.

    ``source`` formats the key into the name the user typed, e.g.
    ``"DOORWATCH_{KEY}"`` or ``"{key}"``.
    """
    data = config.model_dump()
    for key, text in values.items():
        try:
            data[key] = parse_value(key, text)
        except DataDirError:
            raise DataDirError(
                f"{source.format(key=key, KEY=key.upper())}: there is no such config key; "
                f"the keys are {', '.join(KEYS)}"
            ) from None
    try:
        return NodeConfig.model_validate(data)
    except ValidationError as exc:
        field, msg = _first_error(exc)
        key = field.split(".")[0]
        raise DataDirError(f"{source.format(key=key, KEY=key.upper())}: {msg}") from None


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``DOORWATCH_<KEY>`` variables that are set, by key."""
    env = os.environ if environ is None else environ
    return {key: env[env_name(key)] for key in KEYS if env_name(key) in env}


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> NodeConfig:
    """The configuration a daemon runs with: the file, then ``DOORWATCH_<KEY>`` overrides."""
    config = read_config_file(path)
    overrides = env_overrides(environ)
    if not overrides:
        return config
    return with_values(config, overrides, ENV_PREFIX + "{KEY}")


def save_config(path: Path, config: NodeConfig) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(config.model_dump_json(indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
