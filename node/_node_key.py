"""The node key at rest: ``node.key`` holds the venue's identity seed sealed under the
storage key, and its peer id in the clear.

The seed is the venue's identity on the network: whoever holds it can ask other
venues for identity checks and photos in its name. So it is written only sealed
(``StorageKey.encrypt`` with purpose ``node-key`` and the peer id as context), and
a copy of the data directory without the passphrase (which opens the storage key)
cannot impersonate the venue. The peer id is kept beside it, in the clear, for what
needs only the name: the storage key's own sealing, ``network members``, ``network
leave``.

A data directory made before the node key was sealed (32 raw bytes in ``node.key``)
is migrated the first time its seed is loaded with the storage key: the sealed file
replaces it and the old file's bytes are overwritten (``DataDir.replace_secret``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from doorwatch.crypto import (
    CryptoError,
    NodeIdentity,
    Purpose,
    StorageKey,
    peer_id_to_public_key,
)
from doorwatch.node._datadir import IDENTITY_KEY, DataDir
from doorwatch.node._errors import DataDirError

FILE_FORMAT = "doorwatch-node-key"
FILE_VERSION = 1
_SEED_SIZE = 32


@dataclass(frozen=True)
class LoadedIdentity:
    identity: NodeIdentity
    migrated: bool  # node.key held the raw seed; it now holds it sealed


def _document(identity: NodeIdentity, key: StorageKey) -> bytes:
    sealed = key.encrypt(Purpose.NODE_KEY, identity.to_seed(), context=identity.peer_id.encode())
    doc = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "about": "a Doorwatch node's identity, sealed under its storage key "
        "(docs/admin-guide.md); the peer id is public",
        "peer_id": identity.peer_id,
        "sealed_seed": base64.b64encode(sealed).decode(),
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def _parse(d: DataDir, data: bytes) -> tuple[str, bytes]:
    path = d.path / IDENTITY_KEY
    doc = d.read_key_document(IDENTITY_KEY, data, FILE_FORMAT)
    if doc.get("version") != FILE_VERSION:
        raise DataDirError(f"{path} has a format version this Doorwatch does not read")
    peer_id, sealed = doc.get("peer_id"), doc.get("sealed_seed")
    if not isinstance(peer_id, str) or not peer_id:
        raise DataDirError(f"{path}: peer_id must be a non-empty string")
    try:
        peer_id_to_public_key(peer_id)  # read in the clear by `status`, `invite`, ...
    except CryptoError:
        raise DataDirError(f"{path}: peer_id is not a node's peer id") from None
    if not isinstance(sealed, str):
        raise DataDirError(f"{path}: sealed_seed is missing")
    try:
        return peer_id, base64.b64decode(sealed, validate=True)
    except ValueError:
        raise DataDirError(f"{path}: sealed_seed is not base64") from None


def create_node_key(d: DataDir, identity: NodeIdentity, key: StorageKey) -> None:
    """A new node's identity, written only sealed."""
    d.write_secret(IDENTITY_KEY, _document(identity, key))


def node_peer_id(d: DataDir) -> str:
    """The node's peer id, read without the storage key."""
    data = d.read_secret(IDENTITY_KEY)
    if len(data) == _SEED_SIZE:  # the sealed document is JSON, never 32 bytes
        return NodeIdentity.from_seed(data).peer_id
    return _parse(d, data)[0]


def load_node_key(d: DataDir, key: StorageKey) -> LoadedIdentity:
    """The node's identity, unsealed with the storage key. A raw seed from before sealing
    is sealed and written back in place of the raw one. The caller holds the lock."""
    data = d.read_secret(IDENTITY_KEY)
    if len(data) == _SEED_SIZE:
        identity = NodeIdentity.from_seed(data)
        d.replace_secret(IDENTITY_KEY, _document(identity, key))
        return LoadedIdentity(identity, migrated=True)
    peer_id, sealed = _parse(d, data)
    path = d.path / IDENTITY_KEY
    try:
        seed = key.decrypt(Purpose.NODE_KEY, sealed, context=peer_id.encode())
        identity = NodeIdentity.from_seed(seed)
    except CryptoError:
        raise DataDirError(
            f"{path} does not open with this node's storage key: the file was altered or "
            "comes from another node; restore node.key and storage.key from the same backup"
        ) from None
    if identity.peer_id != peer_id:  # unreachable unless forged with the storage key
        raise DataDirError(f"{path}: the sealed seed is not the key of peer {peer_id}")
    return LoadedIdentity(identity, migrated=False)


__all__ = ["FILE_FORMAT", "LoadedIdentity", "create_node_key", "load_node_key", "node_peer_id"]
