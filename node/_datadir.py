"""The node's data directory: its layout, its permissions and its lock.

The directory is created mode 0700, so nothing in it (keys, database, the
socket) is reachable by other accounts even in the instant before a file's
own mode is set. One daemon at a time holds an exclusive ``flock`` on
``doorwatch.lock``; a second one refuses to start instead of corrupting state.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from doorwatch.node._errors import DataDirError, DataDirLocked

DB_NAME = "doorwatch.sqlite"
SOCKET_NAME = "doorwatch.sock"
LOCK_NAME = "doorwatch.lock"
IDENTITY_KEY = "node.key"
# The storage key, sealed under the node's passphrase (node/_storage_key.py).
STORAGE_KEY = "storage.key"
# The daemon's login cookie (mode 0600, rewritten at each start): the data
# directory owner's credential for the local socket. Here, not in the daemon
# module, so that the command line's clients can name it without loading libp2p.
COOKIE_NAME = "doorwatch.cookie"


@dataclass
class DataDir:
    path: Path
    _lock_file: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def database(self) -> Path:
        return self.path / DB_NAME

    @property
    def socket(self) -> Path:
        return self.path / SOCKET_NAME

    def create(self) -> None:
        """Create the directory (mode 0700) if it does not exist yet."""
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise DataDirError(
                f"cannot create the data directory {self.path}: {exc.strerror}"
            ) from exc
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            # Created by someone else with a looser umask: tighten it, since it
            # will hold keys and personal data.
            os.chmod(self.path, 0o700)

    def lock(self) -> None:
        """Take the daemon's exclusive lock, or raise ``DataDirLocked``."""
        if not self.path.is_dir():
            raise DataDirError(
                f"the data directory {self.path} does not exist; run `doorwatch init`"
            )
        handle = open(self.path / LOCK_NAME, "ab")  # noqa: SIM115 - held for the daemon's life
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise DataDirLocked(str(self.path)) from None
        self._lock_file = handle

    def unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def write_secret(self, name: str, data: bytes) -> Path:
        """Write a file readable by the owner only (created 0600, never looser)."""
        target = self.path / name
        tmp = self.path / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        return target

    def replace_secret(self, name: str, data: bytes) -> None:
        """Write a secret file anew, then overwrite the old file's bytes.

        The new file is durable (fsynced, renamed, directory fsynced) before the old
        bytes are touched, so a crash leaves one usable file. Overwriting in place is
        best effort: a copy-on-write or wear-levelled disk may keep the old blocks.
        """
        target = self.path / name
        try:
            old: int | None = os.open(target, os.O_RDWR)
        except FileNotFoundError:
            old = None
        try:
            self.write_secret(name, data)
            directory = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            if old is not None:
                os.pwrite(old, b"\0" * os.fstat(old).st_size, 0)
                os.fsync(old)
        finally:
            if old is not None:
                os.close(old)

    def read_key_document(self, name: str, data: bytes, file_format: str) -> dict[str, Any]:
        """A key file's JSON document, refused unless its ``format`` is ``file_format``."""
        what = file_format.removeprefix("doorwatch-").replace("-", " ")
        bad = f"{self.path / name} is not a Doorwatch {what} file"
        try:
            doc = json.loads(data)
        except ValueError:
            raise DataDirError(bad) from None
        if not isinstance(doc, dict) or doc.get("format") != file_format:
            raise DataDirError(bad)
        return doc

    def read_secret(self, name: str) -> bytes:
        target = self.path / name
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
            if mode & 0o077:
                raise DataDirError(
                    f"{target} is readable by other accounts (mode {mode:o}); run `chmod 600` on it"
                )
            return target.read_bytes()
        except FileNotFoundError:
            raise DataDirError(
                f"{target} is missing; is this a Doorwatch data directory?"
            ) from None
