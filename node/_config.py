"""The node's configuration file: versioned JSON in the data directory.

Like Syncthing's, the file carries a ``version``; an older file is migrated
on load and written back, a newer one is refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from doorwatch.node._errors import DataDirError

CONFIG_NAME = "config.json"
CONFIG_VERSION = 1


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
    smtp_port: int = 25
    super_admin_email: str | None = None


# Migrations of the config file: version N -> N+1, applied in order.
_MIGRATIONS: dict[int, Any] = {}


def load_config(path: Path) -> NodeConfig:
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise DataDirError(f"{path} is missing; run `doorwatch init` first") from None
    except (OSError, ValueError) as exc:
        raise DataDirError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise DataDirError(f"{path} must hold a JSON object")
    version = raw.get("version", 1)
    if not isinstance(version, int) or version > CONFIG_VERSION:
        raise DataDirError(
            f"{path} has config version {version}; this Doorwatch reads up to {CONFIG_VERSION}"
        )
    while version < CONFIG_VERSION:
        raw = _MIGRATIONS[version](raw)
        version = raw["version"]
    try:
        return NodeConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(p) for p in err["loc"])
        raise DataDirError(f"{path}: {field}: {err['msg']}") from None


def save_config(path: Path, config: NodeConfig) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(config.model_dump_json(indent=2) + "\n")
    tmp.replace(path)
