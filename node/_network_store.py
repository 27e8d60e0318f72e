"""The node's persisted view of its networks (schema: ``NETWORK_MIGRATION``).

Plain functions on a ``sqlite3.Connection``: the daemon runs them through
``AsyncStore.run``; the offline CLI runs them on a connection of its own while
it holds the data directory's lock. Secrets (the authority key seed on the
network-creating node, group keys, the network's selection key) are
encrypted under the node's ``StorageKey`` with the row's identity as context,
so a blob cannot be moved to another row.

The selection key and the network policy live in ``meta`` rows
(``network.selection_key:<id>``, ``network.policy:<id>``, base64): no schema
change was needed for two values per network.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from dataclasses import dataclass

from doorwatch.crypto import (
    AuthorityKey,
    Certificate,
    GroupKey,
    NetworkPolicy,
    RevocationList,
    StorageKey,
)

NETWORK_MIGRATION = """
-- One row per network this node belongs to. authority_seed is set only on
-- the node that created the network (it holds the network authority key),
-- encrypted under the storage key.
CREATE TABLE networks (
    network_id              TEXT PRIMARY KEY,
    name                    TEXT NOT NULL,
    authority_public_key    BLOB NOT NULL,
    permitted_jurisdictions TEXT,
    authority_seed          BLOB,
    joined_at               INTEGER NOT NULL
) STRICT;

-- Certificates signed by the network authority: of this node and of its peers.
CREATE TABLE network_certificates (
    network_id  TEXT NOT NULL REFERENCES networks (network_id) ON DELETE CASCADE,
    peer_id     TEXT NOT NULL,
    serial      INTEGER NOT NULL,
    certificate BLOB NOT NULL,
    PRIMARY KEY (network_id, peer_id)
) STRICT;

CREATE TABLE network_revocations (
    network_id      TEXT PRIMARY KEY REFERENCES networks (network_id) ON DELETE CASCADE,
    serial          INTEGER NOT NULL,
    revocation_list BLOB NOT NULL
) STRICT;

-- Group keys per (network, group, epoch), encrypted under the storage key.
CREATE TABLE network_group_keys (
    network_id TEXT NOT NULL REFERENCES networks (network_id) ON DELETE CASCADE,
    group_name TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    key        BLOB NOT NULL,
    PRIMARY KEY (network_id, group_name, epoch)
) STRICT;

-- Invites issued by this node (the authority's): join_peer_id is the
-- transport identity the joiner derives from the invite's secret, admitted
-- by the gate for the join protocol only while the invite is unused and
-- unexpired. used_at/used_by make each invite one-time.
CREATE TABLE network_invites (
    network_id   TEXT NOT NULL REFERENCES networks (network_id) ON DELETE CASCADE,
    token_id     BLOB NOT NULL,
    join_peer_id TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    issued_at    INTEGER NOT NULL,
    used_at      INTEGER,
    used_by      TEXT,
    PRIMARY KEY (network_id, token_id)
) STRICT;
CREATE INDEX network_invites_join_peer ON network_invites (join_peer_id);

-- Where peers were last reachable and when they were last connected.
CREATE TABLE peer_addresses (
    peer_id    TEXT PRIMARY KEY,
    addrs      TEXT NOT NULL DEFAULT '[]',
    updated_at INTEGER NOT NULL,
    last_seen  INTEGER
) STRICT;
"""

_SEED_PURPOSE = "network-authority-seed"
_GROUP_KEY_PURPOSE = "network-group-key"
_SELECTION_KEY_PURPOSE = "network-selection-key"
_SELECTION_PREFIX = "network.selection_key:"
_POLICY_PREFIX = "network.policy:"


@dataclass(frozen=True, slots=True)
class NetworkRow:
    network_id: str
    name: str
    authority_public_key: bytes
    permitted_jurisdictions: tuple[str, ...] | None
    is_authority: bool
    """This node is the network's hub (key manager): it created the network. The
    authority key itself may be offline (``authority_offline``)."""
    joined_at: int
    authority_offline: bool = False


# -- networks ---------------------------------------------------------------------


def add_network(
    conn: sqlite3.Connection,
    *,
    network_id: str,
    name: str,
    authority_public_key: bytes,
    permitted_jurisdictions: tuple[str, ...] | None,
    authority: AuthorityKey | None,
    storage_key: StorageKey,
    now: int,
) -> None:
    seed = None
    if authority is not None:
        seed = storage_key.encrypt(_SEED_PURPOSE, authority.to_seed(), context=network_id.encode())
    conn.execute(
        "INSERT INTO networks (network_id, name, authority_public_key, permitted_jurisdictions,"
        " authority_seed, joined_at) VALUES (?, ?, ?, ?, ?, ?)",
        (
            network_id,
            name,
            authority_public_key,
            None if permitted_jurisdictions is None else json.dumps(list(permitted_jurisdictions)),
            seed,
            now,
        ),
    )


def list_networks(conn: sqlite3.Connection) -> list[NetworkRow]:
    rows = conn.execute(
        "SELECT network_id, name, authority_public_key, permitted_jurisdictions,"
        " authority_seed IS NOT NULL, joined_at FROM networks ORDER BY joined_at, network_id"
    ).fetchall()
    offline = set(authority_offline(conn))
    return [
        NetworkRow(
            network_id=r[0],
            name=r[1],
            authority_public_key=bytes(r[2]),
            permitted_jurisdictions=None if r[3] is None else tuple(json.loads(r[3])),
            is_authority=bool(r[4]) or r[0] in offline,
            joined_at=r[5],
            authority_offline=r[0] in offline,
        )
        for r in rows
    ]


# The authority key moved offline (``network export-authority --remove``): a
# ``meta`` row per network keeps this node the network's hub (key manager)
# while the seed is gone. Held in ``meta`` (migration 1) so no schema change.
_OFFLINE_PREFIX = "network.authority_offline:"


def authority_offline(conn: sqlite3.Connection) -> dict[str, int]:
    """Networks whose authority key this node exported and removed, with when."""
    rows = conn.execute(
        "SELECT key, value FROM meta WHERE key >= ? AND key < ?",
        (_OFFLINE_PREFIX, _OFFLINE_PREFIX + "\uffff"),
    ).fetchall()
    return {k[len(_OFFLINE_PREFIX) :]: int(v) for k, v in rows}


def remove_authority_seed(conn: sqlite3.Connection, network_id: str, now: int) -> None:
    conn.execute("UPDATE networks SET authority_seed = NULL WHERE network_id = ?", (network_id,))
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        (_OFFLINE_PREFIX + network_id, str(now)),
    )


def restore_authority_seed(
    conn: sqlite3.Connection, network_id: str, authority: AuthorityKey, storage_key: StorageKey
) -> None:
    seed = storage_key.encrypt(_SEED_PURPOSE, authority.to_seed(), context=network_id.encode())
    conn.execute("UPDATE networks SET authority_seed = ? WHERE network_id = ?", (seed, network_id))
    conn.execute("DELETE FROM meta WHERE key = ?", (_OFFLINE_PREFIX + network_id,))


def authority_key(
    conn: sqlite3.Connection, network_id: str, storage_key: StorageKey
) -> AuthorityKey | None:
    row = conn.execute(
        "SELECT authority_seed FROM networks WHERE network_id = ?", (network_id,)
    ).fetchone()
    if row is None or row[0] is None:
        return None
    seed = storage_key.decrypt(_SEED_PURPOSE, bytes(row[0]), context=network_id.encode())
    return AuthorityKey.from_seed(seed)


# -- certificates and revocations -------------------------------------------------------


def put_certificate(conn: sqlite3.Connection, certificate: Certificate) -> bool:
    """Store a (verified) certificate unless one with a higher or equal serial is stored."""
    cur = conn.execute(
        "INSERT INTO network_certificates (network_id, peer_id, serial, certificate)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (network_id, peer_id) DO UPDATE SET"
        " serial = excluded.serial, certificate = excluded.certificate"
        " WHERE excluded.serial > network_certificates.serial",
        (certificate.network_id, certificate.peer_id, certificate.serial, certificate.to_bytes()),
    )
    return cur.rowcount > 0


def certificates(conn: sqlite3.Connection, network_id: str) -> list[Certificate]:
    rows = conn.execute(
        "SELECT certificate FROM network_certificates WHERE network_id = ? ORDER BY serial",
        (network_id,),
    ).fetchall()
    return [Certificate.from_bytes(bytes(r[0])) for r in rows]


def next_certificate_serial(conn: sqlite3.Connection, network_id: str) -> int:
    row = conn.execute(
        "SELECT COALESCE(MAX(serial), 0) FROM network_certificates WHERE network_id = ?",
        (network_id,),
    ).fetchone()
    return int(row[0]) + 1


def put_revocations(conn: sqlite3.Connection, revocations: RevocationList) -> bool:
    """Store a (verified) revocation list if its serial is higher than the stored one."""
    cur = conn.execute(
        "INSERT INTO network_revocations (network_id, serial, revocation_list) VALUES (?, ?, ?)"
        " ON CONFLICT (network_id) DO UPDATE SET serial = excluded.serial,"
        " revocation_list = excluded.revocation_list"
        " WHERE excluded.serial > network_revocations.serial",
        (revocations.network_id, revocations.serial, revocations.to_bytes()),
    )
    return cur.rowcount > 0


def revocations(conn: sqlite3.Connection, network_id: str) -> RevocationList | None:
    row = conn.execute(
        "SELECT revocation_list FROM network_revocations WHERE network_id = ?", (network_id,)
    ).fetchone()
    return None if row is None else RevocationList.from_bytes(bytes(row[0]))


# -- group keys -------------------------------------------------------------------------


def _key_context(network_id: str, group: str, epoch: int) -> bytes:
    return f"{network_id}/{group}/{epoch}".encode()


def put_group_key(conn: sqlite3.Connection, key: GroupKey, storage_key: StorageKey) -> bool:
    blob = storage_key.encrypt(
        _GROUP_KEY_PURPOSE,
        key.to_bytes(),
        context=_key_context(key.network_id, key.group, key.epoch),
    )
    cur = conn.execute(
        "INSERT OR IGNORE INTO network_group_keys (network_id, group_name, epoch, key)"
        " VALUES (?, ?, ?, ?)",
        (key.network_id, key.group, key.epoch, blob),
    )
    return cur.rowcount > 0


def group_keys(
    conn: sqlite3.Connection, network_id: str, storage_key: StorageKey
) -> list[GroupKey]:
    rows = conn.execute(
        "SELECT group_name, epoch, key FROM network_group_keys WHERE network_id = ?"
        " ORDER BY group_name, epoch",
        (network_id,),
    ).fetchall()
    return [
        GroupKey.from_bytes(
            storage_key.decrypt(
                _GROUP_KEY_PURPOSE, bytes(r[2]), context=_key_context(network_id, r[0], r[1])
            )
        )
        for r in rows
    ]


# -- selection key and network policy ----------------------------------------------------


def put_selection_key(
    conn: sqlite3.Connection, network_id: str, key: bytes, storage_key: StorageKey
) -> bool:
    """Store the network's selection key, encrypted, if none is held; True if stored.

    The first key held is kept: the key never changes in a network's life, and
    a different one would make this node's re-alerts disclose a second set.
    """
    blob = storage_key.encrypt(_SELECTION_KEY_PURPOSE, key, context=network_id.encode())
    cur = conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
        (_SELECTION_PREFIX + network_id, base64.b64encode(blob).decode()),
    )
    return cur.rowcount > 0


def selection_key(
    conn: sqlite3.Connection, network_id: str, storage_key: StorageKey
) -> bytes | None:
    row = conn.execute(
        "SELECT value FROM meta WHERE key = ?", (_SELECTION_PREFIX + network_id,)
    ).fetchone()
    if row is None:
        return None
    blob = base64.b64decode(row[0])
    return storage_key.decrypt(_SELECTION_KEY_PURPOSE, blob, context=network_id.encode())


def put_policy(conn: sqlite3.Connection, policy: NetworkPolicy) -> bool:
    """Store a (verified) network policy if its serial is higher than the stored one."""
    current = network_policy(conn, policy.network_id)
    if current is not None and current.serial >= policy.serial:
        return False
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        (_POLICY_PREFIX + policy.network_id, base64.b64encode(policy.to_bytes()).decode()),
    )
    return True


def network_policy(conn: sqlite3.Connection, network_id: str) -> NetworkPolicy | None:
    row = conn.execute(
        "SELECT value FROM meta WHERE key = ?", (_POLICY_PREFIX + network_id,)
    ).fetchone()
    return None if row is None else NetworkPolicy.from_bytes(base64.b64decode(row[0]))


# -- invites (authority node) -------------------------------------------------------------


def add_invite(
    conn: sqlite3.Connection,
    *,
    network_id: str,
    token_id: bytes,
    join_peer_id: str,
    expires_at: int,
    now: int,
) -> None:
    conn.execute(
        "INSERT INTO network_invites (network_id, token_id, join_peer_id, expires_at, issued_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (network_id, token_id, join_peer_id, expires_at, now),
    )


@dataclass(frozen=True, slots=True)
class InviteRow:
    network_id: str
    token_id: bytes
    join_peer_id: str
    expires_at: int
    used: bool


def open_invites(conn: sqlite3.Connection, now: int) -> list[InviteRow]:
    """Unused, unexpired invites (their join identities may connect)."""
    rows = conn.execute(
        "SELECT network_id, token_id, join_peer_id, expires_at FROM network_invites"
        " WHERE used_at IS NULL AND expires_at > ?",
        (now,),
    ).fetchall()
    return [InviteRow(r[0], bytes(r[1]), r[2], r[3], False) for r in rows]


def used_token_ids(conn: sqlite3.Connection, network_id: str) -> set[bytes]:
    rows = conn.execute(
        "SELECT token_id FROM network_invites WHERE network_id = ? AND used_at IS NOT NULL",
        (network_id,),
    ).fetchall()
    return {bytes(r[0]) for r in rows}


def invite(conn: sqlite3.Connection, network_id: str, token_id: bytes) -> InviteRow | None:
    row = conn.execute(
        "SELECT join_peer_id, expires_at, used_at IS NOT NULL FROM network_invites"
        " WHERE network_id = ? AND token_id = ?",
        (network_id, token_id),
    ).fetchone()
    return None if row is None else InviteRow(network_id, token_id, row[0], row[1], bool(row[2]))


def mark_invite_used(
    conn: sqlite3.Connection, network_id: str, token_id: bytes, peer_id: str, now: int
) -> None:
    conn.execute(
        "UPDATE network_invites SET used_at = ?, used_by = ? WHERE network_id = ? AND token_id = ?",
        (now, peer_id, network_id, token_id),
    )


# -- peer addresses -------------------------------------------------------------------------


def set_addresses(conn: sqlite3.Connection, peer_id: str, addrs: list[str], now: int) -> None:
    conn.execute(
        "INSERT INTO peer_addresses (peer_id, addrs, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (peer_id) DO UPDATE SET addrs = excluded.addrs,"
        " updated_at = excluded.updated_at",
        (peer_id, json.dumps(addrs), now),
    )


def set_last_seen(conn: sqlite3.Connection, seen: dict[str, int]) -> None:
    for peer_id, at in seen.items():
        conn.execute(
            "INSERT INTO peer_addresses (peer_id, updated_at, last_seen) VALUES (?, ?, ?)"
            " ON CONFLICT (peer_id) DO UPDATE SET last_seen = MAX(COALESCE(last_seen, 0),"
            " excluded.last_seen)",
            (peer_id, at, at),
        )


@dataclass(frozen=True, slots=True)
class PeerAddress:
    addrs: tuple[str, ...]
    last_seen: int | None


def addresses(conn: sqlite3.Connection) -> dict[str, PeerAddress]:
    rows = conn.execute("SELECT peer_id, addrs, last_seen FROM peer_addresses").fetchall()
    return {r[0]: PeerAddress(tuple(json.loads(r[1])), r[2]) for r in rows}


# -- leaving a network ------------------------------------------------------------------------


def received_count(conn: sqlite3.Connection, network_id: str, self_peer_id: str) -> int:
    """Alert records this node holds for ``network_id`` that other venues originated."""
    row = conn.execute(
        "SELECT COUNT(*) FROM alert_envelopes WHERE network_id = ? AND originator != ?",
        (network_id, self_peer_id),
    ).fetchone()
    return int(row[0])


def forget_received(conn: sqlite3.Connection, network_id: str) -> int:
    """Delete every replicated alert record of ``network_id`` (received ones and this
    node's own envelopes: its alerts themselves stay in ``alerts``) and its clock floor."""
    cur = conn.execute("DELETE FROM alert_envelopes WHERE network_id = ?", (network_id,))
    conn.execute("DELETE FROM replica_clocks WHERE network_id = ?", (network_id,))
    return cur.rowcount


def delete_network(conn: sqlite3.Connection, network_id: str) -> None:
    """Forget a network: its certificates, revocation list, group keys, invites, and the
    addresses of peers that no remaining network lists."""
    for table in (
        "network_invites",
        "network_group_keys",
        "network_revocations",
        "network_certificates",
        "networks",
    ):
        conn.execute(f"DELETE FROM {table} WHERE network_id = ?", (network_id,))  # noqa: S608
    for prefix in (_OFFLINE_PREFIX, _SELECTION_PREFIX, _POLICY_PREFIX):
        conn.execute("DELETE FROM meta WHERE key = ?", (prefix + network_id,))
    conn.execute(
        "DELETE FROM peer_addresses WHERE peer_id NOT IN (SELECT peer_id FROM network_certificates)"
    )


def delete_group_keys(conn: sqlite3.Connection, network_id: str, group: str) -> int:
    cur = conn.execute(
        "DELETE FROM network_group_keys WHERE network_id = ? AND group_name = ?",
        (network_id, group),
    )
    return cur.rowcount
