"""The storage key's passphrase on the command line, and `doorwatch passphrase change`.

Every command that opens the storage key (``run``; the ``network`` commands
when the node is stopped) takes the passphrase from the systemd credential,
``DOORWATCH_PASSPHRASE`` or the ``passphrase_file`` key
(``DOORWATCH_PASSPHRASE_FILE``), in that order (``node/_storage_key.py``), and
otherwise asks for it when stdin is a terminal. Without any of them the
command stops with one sentence saying how to give it.
"""

from __future__ import annotations

import getpass
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from doorwatch.cli._options import DEFAULT_DATA_DIR, DataDirOption
from doorwatch.cli._output import fail, reported
from doorwatch.node._datadir import STORAGE_KEY
from doorwatch.node._storage_key import (
    CREDENTIAL_NAME,
    PASSPHRASE_ENV,
    PASSPHRASE_FILE_ENV,
    TEST_KDF_ENV,
    Passphrase,
    PassphraseMissing,
    insecure_test_kdf,
    passphrase_from_environment,
    read_passphrase_file,
)

# What `doorwatch init` says about the choice (and admin-guide.md at length).
EXPLANATION = f"""\
The storage key encrypts every alert, photo, ban and visit on this node. storage.key
holds it sealed under your passphrase (Argon2id), never in the clear: a copy or backup
of the data directory is unreadable without the passphrase. The node needs it at every
start: give it as the systemd credential {CREDENTIAL_NAME} (LoadCredential=, see
docs/doorwatch.service), in {PASSPHRASE_ENV} or a file named by {PASSPHRASE_FILE_ENV}
(or the passphrase_file config key), or type it when `doorwatch run` asks. Keep a copy
somewhere safe, apart from the machine: without it the node's data cannot be recovered.
The OS keyring and TPM are not supported yet. Change it with `doorwatch passphrase change`."""

_TEST_KDF_WARNING = (
    f"warning: {TEST_KDF_ENV} is set: the storage key was sealed with the test-only "
    "Argon2id cost, which a thief can guess through quickly; never use it for a venue's node"
)


def _ask(prompt: str, *, confirm: bool) -> str:
    text = getpass.getpass(prompt)
    if confirm and getpass.getpass("Again: ") != text:
        fail("the two passphrases differ; nothing was changed")
    return text


def passphrase_for(
    data_dir: Path, passphrase_file: str | None, *, sealed: bool = True
) -> Passphrase:
    """The passphrase that opens ``data_dir``'s storage key (or, when it is not sealed
    yet, the one to seal it under: asked twice)."""
    found = passphrase_from_environment(passphrase_file)
    if found is not None:
        return found
    if not sys.stdin.isatty():
        raise PassphraseMissing(data_dir / STORAGE_KEY)
    if sealed:
        return Passphrase(_ask("Passphrase of the storage key: ", confirm=False), "prompt")
    typer.echo(
        "storage.key holds the storage key unprotected (made by an older Doorwatch); "
        "choose a passphrase to seal it under.",
        err=True,
    )
    return Passphrase(_ask("New passphrase: ", confirm=True), "prompt")


def new_passphrase(path: Path | None, flag: str, *, environment: bool) -> Passphrase:
    """A passphrase to seal a key under: from ``path`` (``flag``), then (if
    ``environment``) the usual sources, else asked twice at a terminal."""
    if path is not None:
        return Passphrase(read_passphrase_file(path, flag), flag)
    if environment:
        found = passphrase_from_environment(os.environ.get(PASSPHRASE_FILE_ENV))
        if found is not None:
            return found
    if not sys.stdin.isatty():
        fail(
            f"give the new passphrase with {flag} FILE"
            + (f", {PASSPHRASE_ENV} or {PASSPHRASE_FILE_ENV}" if environment else "")
            + ", or run the command at a terminal to be asked"
        )
    return Passphrase(_ask("New passphrase of the storage key: ", confirm=True), "prompt")


def warn_if_test_kdf() -> None:
    if insecure_test_kdf():
        typer.echo(_TEST_KDF_WARNING, err=True)


passphrase_app = typer.Typer(
    add_completion=False,
    help="The passphrase that seals the node's storage key.",
    no_args_is_help=True,
)


@passphrase_app.callback()
def _group() -> None:
    """The passphrase that seals the node's storage key."""
    # A callback keeps `passphrase` a group with one command (`change`), so that
    # `doorwatch passphrase change` reads as it is documented.


@passphrase_app.command()
def change(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    new_passphrase_file: Annotated[
        Path | None,
        typer.Option(help="File whose first line is the new passphrase (asked twice if omitted)."),
    ] = None,
) -> None:
    """Seal the storage key under a new passphrase (the node must be stopped).

    The current passphrase comes from where `doorwatch run` takes it (credential,
    DOORWATCH_PASSPHRASE, passphrase_file) or a prompt. Only storage.key is rewritten:
    nothing in the database is re-encrypted. Update the credential (or file) the
    service reads before the next start. A storage.key from an older Doorwatch, not
    sealed yet, is sealed under the new passphrase.

    Example: doorwatch passphrase change --data-dir /var/lib/doorwatch
    --new-passphrase-file /root/new-passphrase
    """
    from doorwatch.node import _audit as audit
    from doorwatch.node._datadir import DataDir
    from doorwatch.node._errors import DataDirLocked
    from doorwatch.node._setup import load_node_config
    from doorwatch.node._storage_key import change_passphrase, key_is_sealed
    from doorwatch.node._store import open_database

    with reported():
        d = DataDir(data_dir)
        try:
            d.lock()
        except DataDirLocked:
            fail(
                f"the node in {data_dir} is running: stop it first (e.g. systemctl stop "
                "doorwatch); the passphrase is changed offline"
            )
        try:
            config = load_node_config(d)
            current = passphrase_for(data_dir, config.passphrase_file) if key_is_sealed(d) else None
            new = new_passphrase(new_passphrase_file, "--new-passphrase-file", environment=False)
            was_raw = change_passphrase(d, current, new)
            conn = open_database(d.database)
            try:
                with conn:
                    audit.record(
                        conn,
                        at=int(time.time()),
                        actor="doorwatch passphrase change",
                        action="node.passphrase_changed",
                        detail={"was_sealed": not was_raw, "passphrase_from": new.source},
                    )
            finally:
                conn.close()
        finally:
            d.unlock()
    warn_if_test_kdf()
    if was_raw:
        typer.echo(
            f"The storage key in {data_dir} was not sealed; it is now sealed under the new "
            "passphrase. Destroy backups made before now: they hold the raw key."
        )
    else:
        typer.echo(
            f"The storage key in {data_dir} is now sealed under the new passphrase "
            "(no data was re-encrypted)."
        )
    typer.echo(
        "Update the credential or file the service reads it from before the next start. "
        "Backups made before still open with the old passphrase."
    )
