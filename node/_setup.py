"""`doorwatch init`: a new node's keys, configuration, database and first user."""

from __future__ import annotations

from pathlib import Path

from doorwatch.crypto import KdfCost, NodeIdentity, StorageKey, hash_password
from doorwatch.node import _users
from doorwatch.node._config import CONFIG_NAME, NodeConfig, load_config, save_config
from doorwatch.node._console_tls import ensure_certificate
from doorwatch.node._datadir import DataDir
from doorwatch.node._errors import DataDirError
from doorwatch.node._node_key import create_node_key, load_node_key
from doorwatch.node._roles import Role
from doorwatch.node._storage_key import Passphrase, check_passphrase_rules, create_storage_key
from doorwatch.node._store import open_database


def init_node(
    data_dir: Path,
    *,
    venue: str,
    admin_user: str,
    password: str,
    passphrase: Passphrase,
    cost: KdfCost,
    now: int,
) -> str:
    """Create a node; returns its peer id. Refuses a directory already initialised.

    The storage key is sealed under ``passphrase`` at ``cost`` (``STORAGE_KEY_COST``;
    ``TEST_ONLY_COST`` in tests only)."""
    _users.check_password_rules(password)
    check_passphrase_rules(passphrase.text, passphrase.source)
    d = DataDir(data_dir)
    if (data_dir / CONFIG_NAME).exists():
        raise DataDirError(f"{data_dir} already holds a Doorwatch node")
    d.create()
    d.lock()
    try:
        identity, key = NodeIdentity.generate(), StorageKey.generate()
        create_node_key(d, identity, key)
        create_storage_key(d, key, passphrase, cost)
        save_config(data_dir / CONFIG_NAME, NodeConfig(venue=venue))
        # The web console's HTTPS certificate, for when it listens off loopback.
        ensure_certificate(d, venue)
        conn = open_database(d.database)
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                _users.add_user(
                    conn,
                    username=admin_user,
                    role=Role.SUPER_ADMINISTRATOR,
                    password_hash=hash_password(password),
                    now=now,
                    actor="doorwatch init",
                )
        finally:
            conn.close()
    finally:
        d.unlock()
    return identity.peer_id


def load_identity(d: DataDir, key: StorageKey) -> NodeIdentity:
    """The node's identity, unsealed with its storage key (a raw seed from an older
    Doorwatch is sealed on the way: see ``node/_node_key.py``)."""
    return load_node_key(d, key).identity


def load_node_config(d: DataDir) -> NodeConfig:
    return load_config(d.path / CONFIG_NAME)
