"""`doorwatch config show/set`: read and change the node's config.json.

Both work with the node stopped (they read and write the file, not the
socket). ``set`` validates the key and the value as the daemon would, writes
the file atomically, and says when a running daemon must be restarted for
the change to apply (the daemon reads its configuration at start-up only).
"""

from __future__ import annotations

from typing import Annotated

import typer

from doorwatch.cli._options import DEFAULT_DATA_DIR, DataDirOption, JsonOption
from doorwatch.cli._output import echo_json, reported, table

config_app = typer.Typer(
    help="Show and change the node's configuration file (works with the node stopped).",
    no_args_is_help=True,
)


def _text(value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


@config_app.command("show")
def show(data_dir: DataDirOption = DEFAULT_DATA_DIR, json_: JsonOption = False) -> None:
    """Show every key: its value and where it comes from (file, environment or default).

    DOORWATCH_<KEY> environment variables override the file for the daemon
    started in that environment; they are shown as such.

    Example: doorwatch config show --data-dir /var/lib/doorwatch
    """
    from doorwatch.node._config import (
        CONFIG_NAME,
        KEY_HELP,
        env_name,
        env_overrides,
        load_config,
        read_config_file,
    )

    with reported():
        path = data_dir / CONFIG_NAME
        in_file = read_config_file(path)
        effective = load_config(path)
        overridden = env_overrides()
    file_keys = in_file.model_fields_set
    entries = []
    for key in KEY_HELP:
        if key in overridden:
            source = f"environment ({env_name(key)})"
        elif key in file_keys:
            source = "file"
        else:
            source = "default"
        entries.append(
            {"key": key, "value": getattr(effective, key), "source": source, "help": KEY_HELP[key]}
        )
    if json_:
        echo_json({"path": str(path), "version": in_file.version, "keys": entries})
        return
    typer.echo(f"{path} (config version {in_file.version})")
    table(
        [[e["key"], _text(e["value"]), e["source"]] for e in entries],
        ["KEY", "VALUE", "SOURCE"],
    )


@config_app.command("set")
def set_(
    key: Annotated[str, typer.Argument(help="The key, e.g. session_hours (see config show).")],
    value: Annotated[
        str,
        typer.Argument(
            help="The value as text; listen is comma-separated; an empty value unsets an "
            "optional key."
        ),
    ],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Set one key in the configuration file, after checking it.

    Example: doorwatch config set visit_retention_days 14 --data-dir /var/lib/doorwatch
    """
    from doorwatch.node._config import CONFIG_NAME, read_config_file, save_config, with_values
    from doorwatch.node._datadir import DataDir
    from doorwatch.node._errors import DataDirLocked

    key = key.strip().replace("-", "_").lower()
    with reported():
        d = DataDir(data_dir)
        path = data_dir / CONFIG_NAME
        running = False
        try:
            d.lock()  # so that `doorwatch init` or a starting daemon does not race us
        except DataDirLocked:
            running = True
        try:
            config = with_values(read_config_file(path), {key: value}, "{key}")
            save_config(path, config)
        finally:
            d.unlock()
    typer.echo(f"Set {key} = {_text(getattr(config, key))} in {path}")
    if running:
        typer.echo("The node is running: restart it (doorwatch run) for the change to apply.")
