"""The storage key at rest, with real daemons: sealed under the passphrase, a copy of the
data directory without it reads nothing, a wrong passphrase changes nothing, a raw key
from before is sealed at the first start, the passphrase changes without re-encryption."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from doorwatch.crypto import STORAGE_KEY_COST, TEST_ONLY_COST, CryptoError, StorageKey
from doorwatch.node._datadir import STORAGE_KEY, DataDir
from doorwatch.node._errors import DataDirError
from doorwatch.node._setup import init_node
from doorwatch.node._storage_key import (
    Passphrase,
    PassphraseRefused,
    load_storage_key,
    passphrase_from_environment,
    sealing_cost,
)
from doorwatch.node._subjects import unseal_identity
from doorwatch.node._venue import ALERT_IDENTITY
from doorwatch.node.testing import PASSPHRASE, Daemon, doorwatch, sample_document

SUBJECT = sample_document()
PHOTO = b"\xff\xd8\xff\xe0" + b"Pemberton-pixels-" * 300
# What a thief must not find: the subject's name, date of birth, document number, photo.
PERSONAL = [
    SUBJECT["surname"].encode(),
    SUBJECT["given_names"].encode(),
    SUBJECT["date_of_birth"].encode(),
    SUBJECT["document_number"].encode(),
    b"Pemberton-pixels-",
]
RUNTIME_FILES = ("doorwatch.sock", "doorwatch.cookie", "doorwatch.lock")


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def fill(node: Daemon) -> str:
    """An alert with a photo, a visit and a ban about SUBJECT; returns the alert id."""
    node.start()
    admin = node.client()
    photo = base64.b64encode(PHOTO).decode()
    scan: Any = admin.result("scan.submit", document={**SUBJECT, "photo": photo})
    made: Any = admin.result(
        "alert.create", scan_id=scan["scan_id"], category="theft", reason="took a till drawer"
    )
    ban_until = int(time.time()) + 30 * 86_400
    admin.result("ban.add", document=SUBJECT, reason="took a till drawer", expires_at=ban_until)
    return str(made["alert_id"])


def backup(node: Daemon, to: Path) -> Path:
    """The data directory as a thief copies it from a machine switched off at the wall
    (SIGKILL: the WAL is left as it was)."""
    node.stop(signal.SIGKILL)
    shutil.copytree(node.data_dir, to, ignore=shutil.ignore_patterns(*RUNTIME_FILES))
    return to


def files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def candidate_keys(d: Path) -> list[bytes]:
    """Every 32 bytes a thief could take for the storage key from the small files of the
    directory: every 32-byte window, and every base64 or hex value in them, decoded."""
    out: list[bytes] = []
    for data in files(d).values():
        if len(data) > 4096:
            continue  # the database: its blobs are ciphertext under the key
        out += [data[i : i + 32] for i in range(max(0, len(data) - 31))]
        for token in re.findall(rb"[A-Za-z0-9+/=]{16,}", data):
            for decode in (base64.b64decode, binascii.unhexlify):
                try:
                    value = decode(token)
                except (ValueError, binascii.Error):
                    continue
                out += [value[i : i + 32] for i in range(max(0, len(value) - 31))]
    return out


def alert_identity_blob(database: Path, alert_id: str) -> bytes:
    conn = sqlite3.connect(database)
    try:
        row = conn.execute("SELECT identity FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    finally:
        conn.close()
    return bytes(row[0])


def opens(key: bytes, blob: bytes, alert_id: str) -> bool:
    try:
        unseal_identity(StorageKey(key), ALERT_IDENTITY, blob, alert_id)
    except CryptoError:
        return False
    return True


def test_a_copy_of_the_data_directory_without_the_passphrase_reads_nothing(
    node: Daemon, tmp_path: Path
) -> None:
    alert_id = fill(node)
    copy = backup(node, tmp_path / "stolen")
    raw = files(copy)
    assert {"doorwatch.sqlite", "doorwatch.sqlite-wal", STORAGE_KEY} <= set(raw)
    # No personal data in the clear in any file: database, WAL, keys, configuration.
    for name, data in raw.items():
        for secret in PERSONAL:
            assert secret not in data, (name, secret)
    # storage.key is not a usable key, nor is anything else in the directory.
    blob = alert_identity_blob(copy / "doorwatch.sqlite", alert_id)
    candidates = candidate_keys(copy)
    assert len(candidates) > 100
    assert not any(opens(k, blob, alert_id) for k in candidates)
    # The daemon does not start without the passphrase, and says how to give it.
    refused = doorwatch("run", "--data-dir", str(copy), passphrase=None, timeout=60)
    assert refused.returncode == 1
    assert one_line(refused.stderr) == (
        f"doorwatch: no passphrase for the storage key in {copy / STORAGE_KEY}: give it as "
        "the systemd credential doorwatch-passphrase (LoadCredential=), in "
        "DOORWATCH_PASSPHRASE, in a file named by DOORWATCH_PASSPHRASE_FILE or the "
        "passphrase_file config key, or run the command at a terminal to be asked"
    )
    # A wrong passphrase: refused, and nothing in the directory changes.
    before = files(copy)
    wrong = doorwatch("run", "--data-dir", str(copy), passphrase="not the passphrase", timeout=60)
    assert wrong.returncode == 1
    assert "does not open" in one_line(wrong.stderr)
    assert "wrong passphrase" in wrong.stderr
    after = files(copy)
    after.pop("doorwatch.lock", None)  # taken to load the key; empty
    assert after == before
    # With the passphrase the copy opens, and everything is there.
    daemon = Daemon(copy, tmp_path / "copy.log")
    daemon.start()
    try:
        admin = daemon.client()
        got: Any = admin.result("alert.get", alert_id=alert_id)
        assert got["subject"]["surname"] == SUBJECT["surname"]
        visits = json.dumps(admin.result("visits.export", **{"from": 0, "to": 2**37}))
        assert SUBJECT["document_number"] in visits
        assert SUBJECT["surname"] in json.dumps(admin.result("ban.list"))
    finally:
        daemon.stop()
    assert daemon.unexpected_errors() == []
    # Sealed with the test-only cost: the daemon says so at every start.
    events = [json.loads(line)["event"] for line in daemon.log_lines()]
    assert "node.storage_key_weak_kdf" in events


def raw_key_layout(data_dir: Path) -> bytes:
    """Put the storage key back in the clear, as Doorwatch before sealing wrote it."""
    d = DataDir(data_dir)
    key = load_storage_key(d, Passphrase(PASSPHRASE, "test")).key.to_bytes()
    d.write_secret(STORAGE_KEY, key)
    return key


def test_a_raw_key_from_before_is_sealed_at_the_first_start(node: Daemon) -> None:
    alert_id = fill(node)
    node.stop()
    key = raw_key_layout(node.data_dir)
    refused = doorwatch("run", "--data-dir", str(node.data_dir), passphrase=None, timeout=60)
    assert "no passphrase for the storage key" in one_line(refused.stderr)
    assert (node.data_dir / STORAGE_KEY).read_bytes() == key  # untouched without one
    node.start()
    sealed = (node.data_dir / STORAGE_KEY).read_bytes()
    assert key not in sealed
    assert json.loads(sealed)["format"] == "doorwatch-storage-key"
    got: Any = node.client().result("alert.get", alert_id=alert_id)
    assert got["subject"]["surname"] == SUBJECT["surname"]
    events = [json.loads(line)["event"] for line in node.log_lines()]
    assert "node.storage_key_sealed" in events
    sealed_at: Any = node.client().result("audit.query", action="node.storage_key_sealed")
    assert [e["actor"] for e in sealed_at] == ["doorwatch run"]
    node.stop()
    node.start()  # the sealed file opens with the same passphrase, once and again
    again: Any = node.client().result("alert.get", alert_id=alert_id)
    assert again["subject"]["surname"] == SUBJECT["surname"]


def test_passphrase_change_reseals_without_re_encrypting(node: Daemon, tmp_path: Path) -> None:
    alert_id = fill(node)
    running = doorwatch("passphrase", "change", "--data-dir", str(node.data_dir))
    assert "is running: stop it first" in one_line(running.stderr)
    node.stop()
    blob = alert_identity_blob(node.data_dir / "doorwatch.sqlite", alert_id)
    old_file = (node.data_dir / STORAGE_KEY).read_bytes()
    new = "a new passphrase for the Crown"
    (tmp_path / "new").write_text(new + "\n")
    args = ("passphrase", "change", "--data-dir", str(node.data_dir))
    wrong = doorwatch(*args, "--new-passphrase-file", str(tmp_path / "new"), passphrase="nope" * 4)
    assert "does not open" in one_line(wrong.stderr)
    assert (node.data_dir / STORAGE_KEY).read_bytes() == old_file
    changed = doorwatch(*args, "--new-passphrase-file", str(tmp_path / "new"))
    assert changed.returncode == 0, changed.stderr
    assert "no data was re-encrypted" in changed.stdout
    assert (node.data_dir / STORAGE_KEY).read_bytes() != old_file
    assert alert_identity_blob(node.data_dir / "doorwatch.sqlite", alert_id) == blob
    old = doorwatch("run", "--data-dir", str(node.data_dir), timeout=60)
    assert "does not open" in one_line(old.stderr)
    node.passphrase = new
    node.start()
    admin = node.client()
    got: Any = admin.result("alert.get", alert_id=alert_id)
    assert got["subject"]["surname"] == SUBJECT["surname"]
    changes: Any = admin.result("audit.query", action="node.passphrase_changed")
    assert [e["detail"]["was_sealed"] for e in changes] == [True]


def test_offline_commands_need_the_passphrase_and_take_the_systemd_credential(
    node: Daemon, tmp_path: Path
) -> None:
    args = ("network", "create", "--data-dir", str(node.data_dir), "--name", "Town")
    refused = doorwatch(*args, passphrase=None)
    assert "no passphrase for the storage key" in one_line(refused.stderr)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "doorwatch-passphrase").write_text(PASSPHRASE + "\n")
    made = doorwatch(*args, passphrase=None, CREDENTIALS_DIRECTORY=str(credentials))
    assert made.returncode == 0, made.stderr
    assert re.fullmatch(r"[0-9a-z]{16}", made.stdout.strip())
    (tmp_path / "passphrase").write_text(PASSPHRASE + "\n")
    listed = doorwatch(
        "network", "group", "list", "--data-dir", str(node.data_dir),
        passphrase=None, DOORWATCH_PASSPHRASE_FILE=str(tmp_path / "passphrase"),
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("Network ")


def test_passphrase_sources_in_order(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "doorwatch-passphrase").write_text("from the credential\n")
    (tmp_path / "file").write_text("from the file\nnot this line\n")
    env = {"CREDENTIALS_DIRECTORY": str(credentials), "DOORWATCH_PASSPHRASE": "from the variable"}
    found = passphrase_from_environment(str(tmp_path / "file"), env)
    assert found == Passphrase("from the credential", "systemd credential doorwatch-passphrase")
    assert "from the" not in repr(found)
    env["CREDENTIALS_DIRECTORY"] = str(tmp_path)  # a directory without the credential
    assert passphrase_from_environment(str(tmp_path / "file"), env).text == "from the variable"  # type: ignore[union-attr]
    assert passphrase_from_environment(str(tmp_path / "file"), {}).text == "from the file"  # type: ignore[union-attr]
    assert passphrase_from_environment(None, {}) is None
    (tmp_path / "empty").write_text("")
    with pytest.raises(DataDirError, match="is empty"):
        passphrase_from_environment(str(tmp_path / "empty"), {})
    assert sealing_cost({}) == STORAGE_KEY_COST
    assert sealing_cost({"DOORWATCH_INSECURE_TEST_KDF": "1"}) == TEST_ONLY_COST


def test_init_needs_a_passphrase_of_twelve_characters(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("correct horse battery\n")
    args = ("init", "--venue", "V", "--admin-user", "a", "--password-file", str(tmp_path / "pw"))
    data = tmp_path / "node"
    none = doorwatch(*args, "--data-dir", str(data), passphrase=None)
    assert one_line(none.stderr) == (
        "doorwatch: give the new passphrase with --passphrase-file FILE, DOORWATCH_PASSPHRASE "
        "or DOORWATCH_PASSPHRASE_FILE, or run the command at a terminal to be asked"
    )
    short = doorwatch(*args, "--data-dir", str(data), passphrase="eleven char")
    assert "at least 12 characters" in one_line(short.stderr)
    assert not data.exists()
    made = doorwatch(*args, "--data-dir", str(data))
    assert made.returncode == 0, made.stderr
    assert "sealed under your passphrase" in made.stdout
    assert "DOORWATCH_INSECURE_TEST_KDF is set" in made.stderr  # never silently


def test_any_raw_key_is_recognised_and_sealed_in_place(tmp_path: Path) -> None:
    passphrase = Passphrase(PASSPHRASE, "test")
    init_node(
        tmp_path / "n", venue="V", admin_user="a", password="correct horse battery",
        passphrase=passphrase, cost=TEST_ONLY_COST, now=0,
    )  # fmt: skip
    d = DataDir(tmp_path / "n")
    raw = b'{"format": "doorwatch-storage-key"'[:32]  # a raw key may start like JSON
    d.write_secret(STORAGE_KEY, raw)
    held = os.open(d.path / STORAGE_KEY, os.O_RDONLY)  # the old file, as a thief's handle
    try:
        loaded = load_storage_key(d, passphrase, cost=TEST_ONLY_COST)
        assert loaded.migrated
        assert loaded.key.to_bytes() == raw
        assert os.pread(held, 64, 0) == b"\0" * 32  # the old bytes overwritten in place
    finally:
        os.close(held)
    assert raw not in (d.path / STORAGE_KEY).read_bytes()
    again = load_storage_key(d, passphrase)
    assert not again.migrated
    assert again.key.to_bytes() == raw
    with pytest.raises(PassphraseRefused, match="does not open"):
        load_storage_key(d, Passphrase("another passphrase", "test"))
