"""Received alerts in bulk, for benchmarks and tests: a stopped node's store filled as if
an originator had published N alerts and this node had received them all.

With a stopped originator's node key and its newest key of group ``all`` (read from its
data directory, as its daemon would), ``write_received`` makes alerts the way
``AlertReplication`` publishes an own alert (``new_alert_id``, the header,
``encode_payload`` of segments chosen by ``select_segments``, ``seal_envelope``,
``AlertPublish``) and writes them into the target's ``alert_envelopes`` as the ingest
path would after a gossip or sync delivery (``record_from_message`` -> the row of
``_received_store.save``). To save time the segment selections come from a pool of
synthetic people (``segment_pool``), reused in turn; every alert still has its own id,
salt, nonce, ciphertext and signature.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from pathlib import Path

from doorwatch.crypto import (
    KIND_SEGMENTS,
    EnvelopeHeader,
    GroupKey,
    NodeIdentity,
    new_alert_id,
    seal_envelope,
)
from doorwatch.node import _received_store as rdb
from doorwatch.node._alert_gossip import _row, encode_payload
from doorwatch.node._categories import BY_CODE
from doorwatch.node._datadir import DataDir
from doorwatch.node._network_store import group_keys
from doorwatch.node._setup import load_identity
from doorwatch.node._storage_key import Passphrase, load_storage_key
from doorwatch.node._store import open_database
from doorwatch.node.testing import PASSPHRASE
from doorwatch.protocol import AlertPublish, record_from_message
from doorwatch.segments import (
    identity_keys,
    load_default_tables,
    load_disclosure_tables,
    select_segments,
    synthetic_population,
)

DAY = 86_400
BATCH = 5_000


def originator_keys(
    data_dir: Path, network_id: str, passphrase: str = PASSPHRASE
) -> tuple[NodeIdentity, GroupKey]:
    """The node key of a stopped node and its newest key of group ``all`` (its storage
    key opened with ``passphrase``, by default the test nodes' one)."""
    d = DataDir(data_dir)
    storage_key = load_storage_key(d, Passphrase(passphrase, "originator_keys")).key
    conn = open_database(d.database)
    try:
        keys = group_keys(conn, network_id, storage_key)
    finally:
        conn.close()
    newest = max((k for k in keys if k.group == "all"), key=lambda k: k.epoch)
    return load_identity(d, storage_key), newest


def segment_pool(rng: random.Random, distinct: int) -> list[list[list[str]]]:
    """The wire form of ``distinct`` segment selections of synthetic people, within the
    default budget as recipients measure it (the disclosure tables)."""
    door, disclosure = load_default_tables(), load_disclosure_tables()
    people = synthetic_population(rng, distinct, today=dt.date.today())
    return [
        select_segments(identity_keys(p), rng, tables=disclosure, prefer=door).to_wire()
        for p in people
    ]


def write_received(
    target: Path, signer: NodeIdentity, key: GroupKey, pool: list[list[list[str]]], n: int
) -> int:
    """Write ``n`` signed, sealed alerts of ``signer`` into the replica of the database at
    ``target`` (its node stopped); return the bytes of their frames."""
    now = int(time.time())
    theft = BY_CODE["theft"]
    conn = open_database(target)
    total = 0
    try:
        for start in range(0, n, BATCH):
            rows = []
            for i in range(start, min(n, start + BATCH)):
                alert_id, salt = new_alert_id(signer.peer_id)
                header = EnvelopeHeader(
                    network_id=key.network_id,
                    group=key.group,
                    epoch=key.epoch,
                    alert_id=alert_id,
                    alert_salt=salt,
                    version=1,
                    originator=signer.peer_id,
                    created_at=now - i % (90 * DAY),
                    expires_at=now + 180 * DAY,
                    kind=KIND_SEGMENTS,
                )
                plaintext = encode_payload(pool[i % len(pool)], theft.code, theft.harm)
                message = AlertPublish(envelope=seal_envelope(header, plaintext, key, signer))
                row = _row(record_from_message(message, now))  # what ingest writes
                total += len(row.message)
                rows.append(row)
            with conn:
                rdb.save(conn, upserts=rows, deletes=[], floors={key.network_id: now})
    finally:
        conn.close()
    return total
