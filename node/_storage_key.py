"""The storage key at rest: ``storage.key`` holds it sealed under the node's passphrase.

The storage key encrypts every alert subject, photo, ban, visit and group key
in the database. It is made in memory by ``doorwatch init`` and only ever
written sealed (``crypto/_passphrase.py``: Argon2id at ``STORAGE_KEY_COST``,
then XChaCha20-Poly1305 with associated data ``prefix(storage-key) || the
node's peer id``), as a small JSON document. A copy of the data directory
without the passphrase therefore decrypts nothing.

Where the passphrase comes from, first found wins (``passphrase_from_environment``):
the systemd credential ``doorwatch-passphrase`` (``LoadCredential=``, read from
``$CREDENTIALS_DIRECTORY``), the variable ``DOORWATCH_PASSPHRASE``, the file
named by the ``passphrase_file`` config key (``DOORWATCH_PASSPHRASE_FILE``);
the command line then asks at a terminal. With none, nothing starts.

A data directory made before the key was sealed (32 raw bytes in
``storage.key``) is migrated the first time its key is loaded with a
passphrase: the sealed file replaces it, and the old file's bytes are
overwritten in place before its last name goes.

``DOORWATCH_INSECURE_TEST_KDF=1`` makes new sealing use libsodium's minimum
Argon2id cost instead, so that test suites can make hundreds of nodes; the
command line says so when it seals, and the daemon warns at every start with
a key sealed below ``STORAGE_KEY_COST``.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from doorwatch.crypto import (
    STORAGE_KEY_COST,
    TEST_ONLY_COST,
    CryptoError,
    KdfCost,
    PassphraseSealed,
    Purpose,
    StorageKey,
    WrongPassphrase,
    open_with_passphrase,
    purpose_prefix,
    seal_with_passphrase,
)
from doorwatch.node._datadir import STORAGE_KEY, DataDir
from doorwatch.node._errors import DataDirError
from doorwatch.node._node_key import node_peer_id

FILE_FORMAT = "doorwatch-storage-key"
FILE_VERSION = 1
CREDENTIAL_NAME = "doorwatch-passphrase"
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
PASSPHRASE_ENV = "DOORWATCH_PASSPHRASE"  # noqa: S105 - a variable name
PASSPHRASE_FILE_ENV = "DOORWATCH_PASSPHRASE_FILE"  # noqa: S105 - a variable name
TEST_KDF_ENV = "DOORWATCH_INSECURE_TEST_KDF"
MIN_PASSPHRASE_LENGTH = 12
_RAW_KEY_SIZE = 32


@dataclass(frozen=True)
class Passphrase:
    """A passphrase and where it came from (the source is for messages; never the text)."""

    text: str = field(repr=False)
    source: str


class PassphraseMissing(DataDirError):
    def __init__(self, path: Path) -> None:
        super().__init__(
            f"no passphrase for the storage key in {path}: give it as the systemd credential "
            f"{CREDENTIAL_NAME} (LoadCredential=), in {PASSPHRASE_ENV}, in a file named by "
            f"{PASSPHRASE_FILE_ENV} or the passphrase_file config key, or run the command "
            "at a terminal to be asked"
        )


class PassphraseRefused(DataDirError):
    def __init__(self, path: Path, source: str) -> None:
        super().__init__(
            f"the passphrase ({source}) does not open {path}: wrong passphrase, or the file "
            "is not this node's storage key; nothing was changed"
        )


def check_passphrase_rules(text: str, source: str) -> None:
    if len(text) < MIN_PASSPHRASE_LENGTH:
        raise DataDirError(
            f"{source}: the passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters"
        )


def read_passphrase_file(path: Path, source: str) -> str:
    """The first line of a passphrase file (a systemd credential, a key file)."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise DataDirError(f"{source}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DataDirError(f"{source}: {path} is not UTF-8 text") from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise DataDirError(f"{source}: {path} is empty; its first line must be the passphrase")
    return lines[0]


def passphrase_from_environment(
    passphrase_file: str | None, environ: Mapping[str, str] | None = None
) -> Passphrase | None:
    """The passphrase from the credential, the variable or the file, in that order."""
    env = os.environ if environ is None else environ
    credentials = env.get(CREDENTIALS_ENV)
    if credentials:
        credential = Path(credentials) / CREDENTIAL_NAME
        if credential.exists():
            source = f"systemd credential {CREDENTIAL_NAME}"
            return Passphrase(read_passphrase_file(credential, source), source)
    text = env.get(PASSPHRASE_ENV)
    if text:
        return Passphrase(text, PASSPHRASE_ENV)
    if passphrase_file:
        source = f"passphrase_file {passphrase_file}"
        return Passphrase(read_passphrase_file(Path(passphrase_file), source), source)
    return None


def insecure_test_kdf(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(TEST_KDF_ENV, "") not in ("", "0")


def sealing_cost(environ: Mapping[str, str] | None = None) -> KdfCost:
    """STORAGE_KEY_COST, or the test-only minimum when DOORWATCH_INSECURE_TEST_KDF=1."""
    return TEST_ONLY_COST if insecure_test_kdf(environ) else STORAGE_KEY_COST


@dataclass(frozen=True)
class LoadedKey:
    key: StorageKey
    migrated: bool  # storage.key held the raw key; it now holds it sealed
    weak: bool  # sealed below STORAGE_KEY_COST (DOORWATCH_INSECURE_TEST_KDF)


def key_is_sealed(d: DataDir) -> bool:
    """False for a data directory made before the storage key was sealed."""
    return not _is_raw(d.read_secret(STORAGE_KEY))


def _is_raw(data: bytes) -> bool:
    # The sealed document is some 400 bytes of JSON, never 32: the length alone tells.
    return len(data) == _RAW_KEY_SIZE


def _associated_data(d: DataDir) -> bytes:
    peer_id = node_peer_id(d)
    return purpose_prefix(Purpose.STORAGE_KEY) + peer_id.encode()


def _document(d: DataDir, key: StorageKey, passphrase: Passphrase, cost: KdfCost) -> bytes:
    check_passphrase_rules(passphrase.text, passphrase.source)
    try:
        sealed = seal_with_passphrase(
            key.to_bytes(), passphrase.text, associated_data=_associated_data(d), cost=cost
        )
    except CryptoError as exc:
        raise DataDirError(f"{passphrase.source}: {exc}") from None
    doc = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "about": "a Doorwatch node's storage key, sealed under its passphrase "
        "(docs/admin-guide.md); useless without it",
        "kdf": "argon2id",
        "opslimit": sealed.cost.opslimit,
        "memlimit": sealed.cost.memlimit,
        "salt": base64.b64encode(sealed.salt).decode(),
        "nonce": base64.b64encode(sealed.nonce).decode(),
        "sealed_key": base64.b64encode(sealed.ciphertext).decode(),
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def _sealed(d: DataDir, data: bytes) -> PassphraseSealed:
    path = d.path / STORAGE_KEY
    doc = d.read_key_document(STORAGE_KEY, data, FILE_FORMAT)
    if doc.get("version") != FILE_VERSION or doc.get("kdf") != "argon2id":
        raise DataDirError(f"{path} has a format this Doorwatch does not read (version, kdf)")
    ops, mem = doc.get("opslimit"), doc.get("memlimit")
    if not isinstance(ops, int) or not isinstance(mem, int):
        raise DataDirError(f"{path}: opslimit and memlimit must be integers")
    fields = {}
    for name in ("salt", "nonce", "sealed_key"):
        value = doc.get(name)
        try:
            fields[name] = base64.b64decode(str(value), validate=True)
        except ValueError:
            raise DataDirError(f"{path}: {name} is not base64") from None
    return PassphraseSealed(
        KdfCost(ops, mem), fields["salt"], fields["nonce"], fields["sealed_key"]
    )


def create_storage_key(d: DataDir, key: StorageKey, passphrase: Passphrase, cost: KdfCost) -> None:
    """A new node's storage key, made in memory and written only sealed (after
    ``node.key``, whose peer id the seal is bound to)."""
    d.write_secret(STORAGE_KEY, _document(d, key, passphrase, cost))


def load_storage_key(
    d: DataDir, passphrase: Passphrase, *, cost: KdfCost | None = None
) -> LoadedKey:
    """The storage key, unsealed with ``passphrase`` (``PassphraseRefused`` if it does not
    open it; nothing changes then). A raw key from before sealing is sealed (at ``cost``,
    default ``sealing_cost()``) and written back in place of the raw one. The caller holds
    the data directory's lock."""
    path = d.path / STORAGE_KEY
    data = d.read_secret(STORAGE_KEY)
    if _is_raw(data):
        key, chosen = StorageKey(data), cost or sealing_cost()
        d.replace_secret(STORAGE_KEY, _document(d, key, passphrase, chosen))
        return LoadedKey(key, migrated=True, weak=chosen != STORAGE_KEY_COST)
    sealed = _sealed(d, data)
    try:
        raw = open_with_passphrase(sealed, passphrase.text, associated_data=_associated_data(d))
    except WrongPassphrase:
        raise PassphraseRefused(path, passphrase.source) from None
    except CryptoError as exc:
        raise DataDirError(f"{path}: {exc}") from None
    weak = (
        sealed.cost.opslimit < STORAGE_KEY_COST.opslimit
        or sealed.cost.memlimit < STORAGE_KEY_COST.memlimit
    )
    return LoadedKey(StorageKey(raw), migrated=False, weak=weak)


def change_passphrase(
    d: DataDir, current: Passphrase | None, new: Passphrase, *, cost: KdfCost | None = None
) -> bool:
    """Seal the same storage key under ``new`` (no data is re-encrypted); returns True if
    storage.key held a raw key (then ``current`` is not needed). The caller holds the lock."""
    raw = _is_raw(d.read_secret(STORAGE_KEY))
    if not raw:
        if current is None:
            raise PassphraseMissing(d.path / STORAGE_KEY)
        key = load_storage_key(d, current).key
    else:
        key = StorageKey(d.read_secret(STORAGE_KEY))
    d.replace_secret(STORAGE_KEY, _document(d, key, new, cost or sealing_cost()))
    return raw


__all__ = [
    "CREDENTIALS_ENV",
    "CREDENTIAL_NAME",
    "FILE_FORMAT",
    "MIN_PASSPHRASE_LENGTH",
    "PASSPHRASE_ENV",
    "PASSPHRASE_FILE_ENV",
    "TEST_KDF_ENV",
    "LoadedKey",
    "Passphrase",
    "PassphraseMissing",
    "PassphraseRefused",
    "change_passphrase",
    "check_passphrase_rules",
    "create_storage_key",
    "insecure_test_kdf",
    "key_is_sealed",
    "load_storage_key",
    "passphrase_from_environment",
    "read_passphrase_file",
    "sealing_cost",
]
