"""The node key at rest: sealed under the storage key, so that a copy of the data
directory without the passphrase cannot act as the venue; a raw seed from before is
sealed at the first start; the peer id stays readable without the passphrase."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from doorwatch.crypto import TEST_ONLY_COST, InvalidKey, NodeIdentity, StorageKey
from doorwatch.node._datadir import IDENTITY_KEY, DataDir
from doorwatch.node._errors import DataDirError
from doorwatch.node._node_key import load_node_key, node_peer_id
from doorwatch.node._setup import init_node
from doorwatch.node._storage_key import Passphrase, load_storage_key
from doorwatch.node.testing import PASSPHRASE, Daemon

from .test_storage_key import backup, candidate_keys

TEST = Passphrase(PASSPHRASE, "test")


def made(tmp_path: Path) -> tuple[DataDir, str, StorageKey]:
    peer_id = init_node(
        tmp_path / "n", venue="V", admin_user="a", password="correct horse battery",
        passphrase=TEST, cost=TEST_ONLY_COST, now=0,
    )  # fmt: skip
    d = DataDir(tmp_path / "n")
    return d, peer_id, load_storage_key(d, TEST).key


def acts_as(seed: bytes, peer_id: str) -> bool:
    try:
        return NodeIdentity.from_seed(seed).peer_id == peer_id
    except InvalidKey:
        return False


def test_a_copy_of_the_data_directory_without_the_passphrase_cannot_act_as_the_venue(
    node: Daemon, tmp_path: Path
) -> None:
    node.start()
    peer_id: Any = node.client().result("node.status")["peer_id"]
    copy = backup(node, tmp_path / "stolen")
    # The peer id is public and still read without the passphrase...
    assert node_peer_id(DataDir(copy)) == peer_id
    # ...but no 32 bytes anywhere in the small files are the venue's identity seed.
    candidates = candidate_keys(copy)
    assert len(candidates) > 100
    assert not any(acts_as(k, peer_id) for k in candidates)
    # With the passphrase, the same venue starts on the network.
    node.start()
    assert node.client().result("node.status")["peer_id"] == peer_id


def test_a_raw_seed_from_before_is_sealed_at_the_first_start(node: Daemon) -> None:
    node.start()
    peer_id: Any = node.client().result("node.status")["peer_id"]
    node.stop()
    d = DataDir(node.data_dir)
    seed = load_node_key(d, load_storage_key(d, TEST).key).identity.to_seed()
    d.write_secret(IDENTITY_KEY, seed)  # as Doorwatch before sealing wrote it
    node.start()
    assert node.client().result("node.status")["peer_id"] == peer_id  # the same venue
    sealed = (node.data_dir / IDENTITY_KEY).read_bytes()
    assert seed not in sealed
    assert json.loads(sealed)["peer_id"] == peer_id
    events = [json.loads(line)["event"] for line in node.log_lines()]
    assert events.count("node.node_key_sealed") == 1
    audited: Any = node.client().result("audit.query", action="node.node_key_sealed")
    assert [e["actor"] for e in audited] == ["doorwatch run"]
    node.stop()
    node.start()  # the sealed file opens, once and again
    assert node.client().result("node.status")["peer_id"] == peer_id
    events = [json.loads(line)["event"] for line in node.log_lines()]
    assert events.count("node.node_key_sealed") == 1


def test_the_raw_seed_is_overwritten_in_place_when_sealed(tmp_path: Path) -> None:
    d, peer_id, key = made(tmp_path)
    seed = load_node_key(d, key).identity.to_seed()
    d.write_secret(IDENTITY_KEY, seed)
    held = os.open(d.path / IDENTITY_KEY, os.O_RDONLY)  # the old file, as a thief's handle
    try:
        loaded = load_node_key(d, key)
        assert loaded.migrated
        assert loaded.identity.peer_id == peer_id
        assert os.pread(held, 64, 0) == b"\0" * 32
    finally:
        os.close(held)
    assert not load_node_key(d, key).migrated
    assert load_storage_key(d, TEST).key.to_bytes() == key.to_bytes()  # still opens


def test_a_node_key_that_does_not_open_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    d, peer_id, key = made(tmp_path)
    path = d.path / IDENTITY_KEY
    good = path.read_bytes()
    with pytest.raises(DataDirError, match="does not open with this node's storage key"):
        load_node_key(d, StorageKey.generate())  # another node's storage key
    assert path.read_bytes() == good
    doc = json.loads(good)
    forged = {**doc, "peer_id": NodeIdentity.generate().peer_id}  # another name on it
    d.write_secret(IDENTITY_KEY, json.dumps(forged).encode())
    with pytest.raises(DataDirError, match="does not open with this node's storage key"):
        load_node_key(d, key)
    for text, message in (
        (b"not json at all, and longer than a seed", "is not a Doorwatch node key file"),
        (json.dumps({**doc, "version": 9}).encode(), "format version"),
        (json.dumps({**doc, "sealed_seed": "%%"}).encode(), "sealed_seed is not base64"),
        (json.dumps({**doc, "peer_id": 7}).encode(), "peer_id must be a non-empty string"),
        (json.dumps({**doc, "peer_id": "x" * 52}).encode(), "peer_id is not a node's peer id"),
        (json.dumps({k: v for k, v in doc.items() if k != "sealed_seed"}).encode(), "missing"),
    ):
        d.write_secret(IDENTITY_KEY, text)
        with pytest.raises(DataDirError, match=message):
            load_node_key(d, key)
    d.write_secret(IDENTITY_KEY, good)
    assert load_node_key(d, key).identity.peer_id == peer_id
