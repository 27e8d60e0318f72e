"""Alerts between venues: publishing this venue's alerts, taking in other venues'.

Theory of operation. Every network this node belongs to has one protocol
``Replica`` of alert records (the newest signed envelope or tombstone per
alert), persisted in ``alert_envelopes`` (``_received_store``). This node's
own alerts are in it too, so that sync serves them like any other record.

Publishing: ``Venue.alert_listeners`` tells us the id of every committed
change of an own alert. A task reads the alert row and builds the signed
envelope: an active alert is its segments, category and harm, canonical
msgpack sealed under the current key of its distribution group (kind
``segments`` for version 1, ``update`` later, ``suspended`` after a dispute);
a withdrawn, expired or deleted alert is a signed tombstone. The record goes
through the same apply-and-persist path as a received one, and then out on
the network's gossip topic (kind ``alert``; ``Gossip`` batches items).

Distribution: one envelope names one group, and a replica holds one record
per alert id, so an alert travels in ONE group: ``all`` when it has no groups,
its group when it has one, and the first by name when it has several (the
narrower, privacy-safe side: members of the other groups do not receive it).

Receiving (gossip, sync fetch and push alike), in order: decode, size and
shape (``protocol.decode``), the network, ``verify_message`` (alert id
derivation and originator signature), the originator's membership and its
certificate's permission for the envelope's group; then, if this node holds
that group's key for the envelope's epoch, decryption and validation of the
segments; then ``Replica.apply`` (versions, tombstones, lifetime, epoch).
What survives is committed before anything else changes: then the scan
engine's index and ``Venue.received`` follow. A member outside the group
stores and relays the envelope but cannot read it, and indexes nothing. A
refused item is logged with the alert id and peer id only, counted by
reason, and the node carries on.

The privacy budget: a decrypted segment set whose bits (measured with the
UK-wide disclosure tables, as ``alert.create`` does) exceed the budget of the
network's signed policy (``log2(67 million / anonymity_floor)``, plus
``BUDGET_TOLERANCE_BITS``) is refused: not stored, not indexed, the version
held before (if any) stays. The originator is reported: a warning log, an
``alert.refused_over_budget`` audit entry naming its peer id, and a notice to
the super administrator, once per alert version and run. At start-up a held
record over the budget (stored before the budget was enforced, or before the
floor was raised) is not indexed either; its row is kept, and the load only
counts it (``unopened_over_budget``), so restarts do not repeat the report.

Gossip loses items (full queues, an offline node); anti-entropy sync
(``_sync_service``) repairs that with the same ingest path.

Start-up (the daemon opens its socket first): ``start_loading`` sets the
scan engine's ``loading`` flag, so scans get ``check``/``alerts_loading``
instead of an "admit" from a half-built index. ``load_replicas`` rebuilds
the replicas from the store (holding the ingest lock; sync, the applier and
the publisher start after it), then ``load_alerts`` opens and indexes the
active received records while everything else runs. Both work in slices of
``LOAD_SLICE_S`` so that scans are answered in between, and the loader looks
each record up again just before indexing it, so what gossip, sync, a purge
or a withdrawal changed meanwhile wins.

Group keys arriving (``NetworkService.key_hooks``: a rotation, a late
delivery): stored envelopes the new keys open are decrypted and indexed
(``decrypt_pending``), and ``catch_up`` re-seals own alerts held under a
superseded epoch as a new version and tombstones own records whose row is
gone (a deletion whose tombstone a crash lost). A newer version sealed under
an epoch this node has no key for yet leaves the indexed version in place.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import msgpack  # type: ignore[import-untyped]
import structlog
import trio

from doorwatch.crypto import (
    KIND_SEGMENTS,
    KIND_TOMBSTONE,
    KIND_UPDATE,
    CryptoError,
    EnvelopeHeader,
    NodeIdentity,
    canonical_pack,
    canonical_unpack,
    open_envelope,
    seal_envelope,
    sign_tombstone,
)
from doorwatch.node import _alerts, _audit
from doorwatch.node import _received_store as rdb
from doorwatch.node._categories import BY_CODE
from doorwatch.node._errors import NodeError, NotFound
from doorwatch.node._failures import failure_fields
from doorwatch.node._network import NetworkRuntime, NetworkService
from doorwatch.node._network_store import forget_received
from doorwatch.node._notify import OverBudgetNotice
from doorwatch.node._received import ReceivedAlert
from doorwatch.node._venue import Venue
from doorwatch.protocol import (
    KIND_SUSPENDED,
    AlertMessage,
    AlertPublish,
    AlertRecord,
    AlertStored,
    AlertUpdate,
    AlertWithdrawn,
    ProtocolError,
    RecordRemoved,
    Replica,
    Withdrawal,
    decode,
    encode,
    record_from_message,
    verify_message,
)
from doorwatch.segments import MalformedSegmentsError, SegmentSet, budget_bits_for_floor

log = structlog.get_logger("doorwatch.alerts.network")

GOSSIP_KIND: Final = "alert"
DEFAULT_GROUP: Final = "all"
MAX_ITEM: Final = 64 * 1024
"""Largest alert frame accepted (the codec's cap for alert messages)."""
INBOX: Final = 4096
"""Gossip items waiting to be applied; beyond it they are dropped (sync repairs)."""
BATCH: Final = 256
LOGGED_IDS: Final = 32
"""Alert ids named in one ``alerts.received`` log line, at most."""
LOAD_SLICE_S: Final = 0.002
"""Longest the start-up loader works before letting other tasks (scans) run."""
MAX_REPORTED: Final = 10_000
"""(alert id, version) pairs remembered as already reported over budget, at most."""
BUDGET_TOLERANCE_BITS: Final = 0.01
"""Bits a received set may exceed the budget by: rounding only (every venue measures with
the same shipped disclosure tables, which are never refined)."""
HOLD_LOAD_ENV: Final = "DOORWATCH_TEST_HOLD_ALERT_LOAD"
"""Tests only: while the file this names exists, the loader waits before opening alerts."""


class Rejected(Exception):
    """An alert item this node refuses: ``reason`` is a short code for the counters.

    ``forged``: no honest member ever sends it (it does not decode, is not an
    alert of this network, or its signature is wrong: an honest sender checked
    all of that before storing it), as opposed to refusals where honest members
    can disagree for a while (membership, epochs, dates).
    """

    def __init__(self, reason: str, alert_id: bytes | None = None, *, forged: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.alert_id = alert_id
        self.forged = forged


@dataclass(frozen=True, slots=True)
class Payload:
    """What the group key protects: the segments and the alert's category and harm."""

    segments: SegmentSet
    category: str
    harm: float


def distribution_group(groups: Iterable[str]) -> str:
    """The one group an alert's envelopes are sealed to (see the module notes)."""
    chosen = sorted(set(groups))
    return chosen[0] if chosen else DEFAULT_GROUP


def encode_payload(wire: list[list[str]], category: str, harm: float) -> bytes:
    # Canonical msgpack has no floats: the harm weight travels in thousandths.
    return canonical_pack(
        {"segments": wire, "category": category, "harm_milli": round(harm * 1000)}
    )


def decode_payload(data: bytes, venue: Venue) -> Payload:
    try:
        value = canonical_unpack(data)
    except CryptoError:
        raise Rejected("malformed_payload") from None
    if not isinstance(value, dict) or set(value) != {"segments", "category", "harm_milli"}:
        raise Rejected("malformed_payload")
    category, harm_milli = value["category"], value["harm_milli"]
    if not isinstance(category, str) or not 1 <= len(category) <= 64:
        raise Rejected("malformed_payload")
    if not isinstance(harm_milli, int) or not 0 <= harm_milli <= 10**9:
        raise Rejected("malformed_payload")
    try:
        segments = venue.engine.segments_from_wire(_lists(value["segments"]))
    except MalformedSegmentsError:
        raise Rejected("malformed_segments") from None
    known = BY_CODE.get(category)
    harm = known.harm if known is not None else harm_milli / 1000
    return Payload(segments=segments, category=category, harm=harm)


def _lists(value: object) -> object:
    # msgpack gives tuples for arrays; the segments' wire form is lists.
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    return value


@dataclass
class _Batch:
    """What one ingest batch changes: rows to write, then memory to update after commit."""

    upserts: list[rdb.EnvelopeRow] = field(default_factory=list)
    deletes: list[tuple[str, bytes]] = field(default_factory=list)
    index: dict[str, tuple[AlertRecord, Payload] | None] = field(default_factory=dict)


def _row(record: AlertRecord) -> rdb.EnvelopeRow:
    return rdb.EnvelopeRow(
        network_id=record.network_id,
        alert_id=record.alert_id,
        originator=record.originator,
        group=record.group,
        epoch=record.epoch,
        version=record.version,
        status=record.status,
        expires_at=record.expires_at,
        stored_at=record.stored_at,
        message=encode(record.message),
    )


def _own_versions(conn: sqlite3.Connection) -> tuple[list[tuple[str, int, str]], set[str]]:
    """(id, version, status) of every own alert that can be published (it has a salt), and
    the id of every own alert that still has a row."""
    rows = conn.execute("SELECT id, version, status FROM alerts WHERE salt IS NOT NULL").fetchall()
    return rows, {r[0] for r in conn.execute("SELECT id FROM alerts")}


def _reseal(conn: sqlite3.Connection, alert_id: str, now: int) -> _alerts.AlertRecord:
    # A new version of the unchanged alert, so that the envelope sealed under the
    # group's new key epoch supersedes the old one everywhere (audited like any change).
    return _alerts.change(
        conn,
        alert_id,
        now=now,
        actor="network",
        action="alert.resealed",
        allowed=_alerts.LIVE,
        detail={"why": "group key rotated"},
    )


def _forget_revoked(
    conn: sqlite3.Connection,
    network_id: str,
    dropped: list[AlertRecord],
    unindexed: Counter[str],
    now: int,
) -> None:
    conn.executemany(
        "DELETE FROM alert_envelopes WHERE network_id = ? AND alert_id = ?",
        [(network_id, r.alert_id) for r in dropped],
    )
    for originator, records in sorted(Counter(r.originator for r in dropped).items()):
        _audit.record(
            conn,
            at=now,
            actor="network",
            action="alerts.revoked_originator_dropped",
            peer_id=originator,
            detail={
                "network_id": network_id,
                "records": records,
                "unindexed": unindexed[originator],
            },
        )


@dataclass
class LoadProgress:
    """Where the start-up load is: ``records`` (replicas from the store; sync and gossip
    wait), then ``alerts`` (opening and indexing; scans say ``alerts_loading``)."""

    phase: Literal["records", "alerts"]
    done: int = 0
    total: int = 0


class _Slices:
    """Awaited once per item: yields to the other tasks every ``LOAD_SLICE_S`` of work."""

    def __init__(self) -> None:
        self._until = time.perf_counter() + LOAD_SLICE_S

    async def __call__(self) -> None:
        if time.perf_counter() >= self._until:
            await trio.sleep(0)
            self._until = time.perf_counter() + LOAD_SLICE_S


class _StoredReplica(Replica):
    """A replica rebuilt from the store a record at a time (``Replica.from_records`` does
    it in one go, which holds the event loop for seconds at 100,000 records)."""

    def restore(self, record: AlertRecord) -> None:
        self._put(record)


_STORED_TYPES: Final[dict[str, type[AlertMessage]]] = {
    "alert.publish": AlertPublish,
    "alert.update": AlertUpdate,
    "alert.withdraw": Withdrawal,
}


def _stored_record(row: rdb.EnvelopeRow) -> AlertRecord | None:
    """The record of a stored row. This node wrote the frame itself (``encode`` of a
    message it had decoded and verified), so ``decode``'s guards against hostile input
    (the header scan, the canonical re-encoding: 60% of its cost) are skipped here;
    the models' strict validation is kept."""
    try:
        value = msgpack.unpackb(row.message, raw=False, use_list=False)
        message = _STORED_TYPES[value["type"]].model_validate(value, strict=True)
    except (ValueError, TypeError, KeyError, msgpack.UnpackException):
        log.warning("alerts.stored_envelope_unreadable", alert_id=row.alert_id.hex())
        return None
    return record_from_message(message, row.stored_at)


def _settle_heap() -> None:
    # What the load built lives as long as the node: out of the collector's
    # generations, so that no later full pass walks it again; then collect as usual.
    _freeze()
    gc.enable()


def _freeze() -> None:
    # Collect first: cyclic garbage made while the collector was off (streams,
    # tasks, scans served meanwhile) would otherwise be frozen for good.
    gc.collect()
    gc.freeze()


async def _wait_while_held() -> None:
    hold = os.environ.get(HOLD_LOAD_ENV)
    if not hold:
        return
    log.warning("alerts.load_held", why=f"{HOLD_LOAD_ENV} is set (tests only)")
    while Path(hold).exists():
        await trio.sleep(0.05)


class AlertReplication:
    """Replicas of every network, publishing own alerts and applying received ones."""

    def __init__(self, *, service: NetworkService, venue: Venue, identity: NodeIdentity) -> None:
        self.service = service
        self.venue = venue
        self.identity = identity
        self.replicas: dict[str, Replica] = {}
        self.counters: Counter[str] = Counter()
        self.forged_by_peer: Counter[str] = Counter()  # forged items received, per member
        self.over_budget_by_peer: Counter[str] = Counter()  # over-budget sets, per originator
        self._reported: set[tuple[bytes, int]] = set()  # (alert id, version) reported this run
        self._reports_send, self._reports = trio.open_memory_channel[OverBudgetNotice](1024)
        self._lock = trio.Lock()  # one ingest batch at a time: replica, then store, then memory
        self._changes_send, self._changes = trio.open_memory_channel[str](1 << 20)
        self._inbox_send, self._inbox = trio.open_memory_channel[tuple[str, str, bytes]](INBOX)
        self.on_stored: list[Callable[[str], None]] = []
        service.gossip_checks.append(self._check_gossip)
        service.gossip_hooks.append(self._on_gossip)
        venue.alert_listeners.append(self._alert_changed)
        service.leave_hooks.append(self.forget_network)
        service.key_hooks.append(self._keys_arrived)
        service.revocation_hooks.append(self.drop_revoked)
        self._rekey = trio.Event()
        self.loading: LoadProgress | None = None  # set from start-up until load_alerts ends
        self._keys_while_loading = False
        self._load_times: dict[str, float] = {}  # seconds (wall, CPU) of each phase
        # When an anti-entropy sync with a member last completed (node clock), for the
        # consoles' isolation indicator (node/_health.py); set by the sync service.
        self.last_synced_at: int | None = None

    # -- replicas -------------------------------------------------------------------------------

    def replica(self, network_id: str) -> Replica:
        replica = self.replicas.get(network_id)
        if replica is None:
            replica = Replica(network_id, 0, self._epoch_lookup(network_id))
            self.replicas[network_id] = replica
        return replica

    def _epoch_lookup(self, network_id: str) -> Callable[[str], int | None]:
        def current_epoch(group: str) -> int | None:
            net = self.service.networks.get(network_id)
            return None if net is None else net.keyring.current_epoch(group)

        return current_epoch

    # -- loading at start-up ----------------------------------------------------------------------

    def start_loading(self) -> None:
        """Called before the socket opens: until ``load_alerts`` ends, every scan says
        ``alerts_loading`` (never an "admit" from a half-built index)."""
        if self.loading is None:
            self.loading = LoadProgress(phase="records")
            # The cyclic garbage collector's full passes over the growing heap cost
            # about as much as the load itself: off until load_alerts ends.
            gc.disable()
            self.venue.engine.loading = True

    async def load(self) -> None:
        """Both loading phases, one after the other (tests; the daemon serves in between)."""
        await self.load_replicas()
        await self.load_alerts()

    async def load_replicas(self) -> None:
        """Rebuild every network's replica from the store, a slice at a time.

        The ingest lock is held throughout, so nothing applies to a half-built
        replica; the daemon starts sync, the applier and the publisher only after
        this returns (gossip waits in the inbox, own changes in their queue).
        """
        self.start_loading()
        try:
            await self._load_replicas()
        except BaseException:
            gc.enable()  # the node is going down; do not leave a process without a collector
            raise
        _freeze()  # see _settle_heap; the collector stays off until load_alerts ends

    async def _load_replicas(self) -> None:
        progress = self.loading
        assert progress is not None
        started = time.monotonic(), time.thread_time()
        async with self._lock:
            rows, floors = await self.venue.store.run(rdb.load)
            progress.total = len(rows)
            replicas = {
                nid: _StoredReplica(nid, floors.get(nid, 0), self._epoch_lookup(nid))
                for nid in {row.network_id for row in rows} | set(floors)
            }
            pause = _Slices()
            for done, row in enumerate(rows):
                await pause()
                progress.done = done
                record = _stored_record(row)
                if record is not None:
                    replicas[row.network_id].restore(record)
            del rows
            self.replicas.update(replicas)
            # A revocation learned before a drop committed (a crash), or while this node
            # was down (an offline sync): never index what a revoked member originated.
            dropped = 0
            for network_id in replicas:
                dropped += await self._drop_revoked(network_id)
        if dropped:
            await self.venue.checkpoint()
        progress.done = progress.total
        self._lap("records", started)

    async def load_alerts(self) -> None:
        """Open and index every active received record not indexed yet, a slice at a time,
        while the node serves; then scans may admit again and ``alerts.loaded`` is logged.

        Gossip, sync, withdrawals and purges go on meanwhile: each record is looked up
        again, opened and indexed without yielding in between (``_open_missing``), so
        the loader indexes only what the replica holds at that moment, and never a
        version older than, or an alert withdrawn after, what ingest already applied.
        """
        self.start_loading()
        progress = self.loading
        assert progress is not None
        try:
            await self._load_alerts(progress)
        finally:
            self.venue.engine.loading = False
            self.loading = None
            _settle_heap()

    async def _load_alerts(self, progress: LoadProgress) -> None:
        progress.phase = "alerts"
        todo = self._unopened()
        progress.done, progress.total = 0, len(todo)
        await _wait_while_held()
        started = time.monotonic(), time.thread_time()
        indexed = len(await self._open_missing(todo, progress))
        while self._keys_while_loading:  # keys arrived meanwhile: open what they open
            self._keys_while_loading = False
            todo = self._unopened()
            progress.done, progress.total = 0, len(todo)
            indexed += len(await self._open_missing(todo, progress))
        self._lap("alerts", started)
        log.info(
            "alerts.loaded",
            records=sum(len(r) for r in self.replicas.values()),
            indexed=indexed,
            received_active=len(self.venue.received),
            **self._load_times,
        )

    def _lap(self, phase: str, started: tuple[float, float]) -> None:
        # The loader runs on the event loop's thread: its CPU time is the loader's plus
        # what that thread served meanwhile (scans), unlike wall time not inflated by
        # other processes.
        self._load_times[f"{phase}_s"] = round(time.monotonic() - started[0], 2)
        self._load_times[f"{phase}_cpu_s"] = round(time.thread_time() - started[1], 2)

    def loading_status(self) -> dict[str, object] | None:
        """``{phase, done, total}`` while loading at start-up (``node.status``), else None."""
        p = self.loading
        return None if p is None else {"phase": p.phase, "done": p.done, "total": p.total}

    def _unopened(self) -> list[tuple[str, bytes]]:
        """(network, alert id) of every active received record (``_open_missing`` skips
        those already indexed at their current version when it gets to them)."""
        now = self.venue.clock.now()
        me = self.identity.peer_id
        return [
            (network_id, record.alert_id)
            for network_id, replica in list(self.replicas.items())
            for record in replica.active(now)
            if record.originator != me
        ]

    async def _open_missing(
        self, todo: list[tuple[str, bytes]], progress: LoadProgress | None = None
    ) -> list[str]:
        """Open and index the records of ``todo`` whose current version is not indexed
        yet; return their ids. Runs in slices of ``LOAD_SLICE_S``. The start-up load
        (with ``progress``) does not report over-budget records again."""
        opened: list[str] = []
        pause = _Slices()
        for done, (network_id, alert_id) in enumerate(todo):
            await pause()
            if progress is not None:
                progress.done = done
            # From here to _index nothing yields: ingest, purge and forget_network
            # change the replica and the index only between two such steps.
            replica = self.replicas.get(network_id)
            net = self.service.networks.get(network_id)
            if replica is None or net is None:
                continue  # left meanwhile
            record = replica.record(alert_id)
            if record is None or not record.visible(replica.clock_floor):
                continue  # purged, withdrawn, suspended or expired meanwhile
            held = self.venue.received.get(alert_id.hex())
            if held is not None and held.version >= record.version:
                continue  # ingest indexed it (or a newer version) already
            # _open checks the originator's signature again although ingest checked it
            # before storing: whoever can rewrite this node's database (and so read its
            # keys) still cannot sign as another member, and without the check could
            # have this node index segments in that member's name. About half of the
            # cost of this loop; kept.
            try:
                payload = self._open(net, record.message, report=progress is None)
            except Rejected as exc:
                self.counters[f"unopened_{exc.reason}"] += 1
                continue
            if payload is not None:
                self._index(record, payload)
                opened.append(alert_id.hex())
        if progress is not None:
            progress.done = len(todo)
        return opened

    # -- publishing -----------------------------------------------------------------------------

    def _alert_changed(self, alert_id: str) -> None:
        try:
            self._changes_send.send_nowait(alert_id)
        except trio.WouldBlock:
            self.counters["publish_dropped"] += 1

    async def run(self) -> None:
        """The publisher, the gossip applier, the purge and the re-keying, until cancelled."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._publisher)
            nursery.start_soon(self._applier)
            nursery.start_soon(self._purger)
            nursery.start_soon(self._rekeyer)
            nursery.start_soon(self._reporter)

    async def catch_up(self) -> int:
        """Queue every own alert some network's replica lags behind; return how many.

        Lagging: its current version is not held (created before this node joined,
        or a publish lost to a crash); it is held live under a superseded key epoch
        of its group (a rotation: re-sealed as a new version under the new epoch);
        it is held live but its row is gone (deleted, and the node died before the
        tombstone went out: the tombstone is sent now).
        """
        rows, existing = await self.venue.store.run(_own_versions)
        queue: set[str] = set()
        networks = list(self.service.networks.items())
        for alert_id, version, status in rows:
            raw = bytes.fromhex(alert_id)
            live = status in _alerts.LIVE
            for network_id, _ in networks:
                held = self.replica(network_id).record(raw)
                if (held is None and live) or (held is not None and held.version < version):
                    queue.add(alert_id)
                    break
        now = self.venue.clock.now()
        me = self.identity.peer_id
        for network_id, net in networks:
            for record in self.replica(network_id).active(now):
                if record.originator != me:
                    continue
                alert_id = record.alert_id.hex()
                current = net.keyring.current_epoch(record.group)
                if alert_id not in existing or (current is not None and record.epoch < current):
                    queue.add(alert_id)
        for alert_id in sorted(queue):
            self._alert_changed(alert_id)
        return len(queue)

    # -- group keys arriving --------------------------------------------------------------------

    def _keys_arrived(self, network_id: str) -> None:
        self._rekey.set()

    async def _rekeyer(self) -> None:
        while True:
            await self._rekey.wait()
            self._rekey = trio.Event()
            try:
                opened = await self.decrypt_pending()
                queued = await self.catch_up()
            except Exception as exc:  # a failure here must not stop the node; next keys retry
                self.counters["rekey_failed"] += 1
                log.error("alerts.rekey_failed", **failure_fields(exc))
                continue
            log.info("alerts.group_keys_arrived", indexed=opened, republished=queued)

    async def decrypt_pending(self) -> int:
        """Open and index the stored envelopes that new group keys can now open (they
        came under an epoch this node had no key for yet); return how many. While the
        start-up loader runs, it does this itself when it has finished."""
        if self.loading is not None:
            self._keys_while_loading = True
            return 0
        found = await self._open_missing(self._unopened())
        for alert_id in found:
            for listener in self.on_stored:
                listener(alert_id)
        return len(found)

    async def _publisher(self) -> None:
        await self.catch_up()
        async for alert_id in self._changes:
            try:
                await self.publish(alert_id)
            except (CryptoError, ProtocolError, ValueError, NodeError) as exc:
                # NodeError: e.g. the alert was withdrawn or deleted between reading it
                # and re-sealing it; its own change event publishes the new state.
                self.counters["publish_failed"] += 1
                log.warning("alerts.publish_failed", alert_id=alert_id, error=type(exc).__name__)
            except Exception as exc:  # one alert must not stop the publisher (or the node)
                self.counters["publish_failed"] += 1
                log.error("alerts.publish_failed", alert_id=alert_id, **failure_fields(exc))

    async def publish(self, alert_id: str) -> int:
        """Build, apply, persist and gossip the current state of own alert ``alert_id``;
        returns the number of networks it was published to."""

        def read(conn: sqlite3.Connection) -> tuple[_alerts.AlertRecord | None, bytes | None]:
            try:
                alert = _alerts.get(conn, alert_id)
            except NotFound:
                return None, None
            return alert, rdb.salt_of(conn, alert_id)

        alert, salt = await self.venue.store.run(read)
        raw_id = bytes.fromhex(alert_id)
        if alert is not None and salt is not None and self._needs_reseal(alert, raw_id):
            alert = await self.venue.store.run(_reseal, alert_id, self.venue.clock.now())
        messages: list[tuple[str, AlertMessage]] = []
        for network_id, net in list(self.service.networks.items()):
            held = self.replica(network_id).record(raw_id)
            message = self._build(net, alert, salt, held)
            if message is not None:
                messages.append((network_id, message))
        if not messages:
            return 0
        batch = _Batch()
        async with self._lock:
            now = self.venue.clock.now()
            for network_id, message in messages:
                try:
                    self._apply(network_id, message, None, now, batch)
                except Rejected as exc:
                    log.warning("alerts.own_refused", alert_id=alert_id, reason=exc.reason)
            await self._commit(batch)
        for network_id, message in messages:
            frame = encode(message)
            if self.service.publish(network_id, GOSSIP_KIND, frame):
                self.counters["published"] += 1
            else:
                self.counters["publish_queue_full"] += 1
        return len(messages)

    def _needs_reseal(self, alert: _alerts.AlertRecord, raw_id: bytes) -> bool:
        """Is the live alert held, at its current version, under a superseded epoch?"""
        if alert.status not in _alerts.LIVE:
            return False
        group = distribution_group(alert.groups)
        for network_id, net in list(self.service.networks.items()):
            held = self.replica(network_id).record(raw_id)
            key = net.keyring.current(group)
            if held is None or held.withdrawn or key is None or held.version < alert.version:
                continue
            if held.group == group and held.epoch < key.epoch:
                return True
        return False

    def _build(
        self,
        net: NetworkRuntime,
        alert: _alerts.AlertRecord | None,
        salt: bytes | None,
        held: AlertRecord | None,
    ) -> AlertMessage | None:
        me = self.identity.peer_id
        if alert is None:
            # Deleted after 12 months: tombstone what this network still holds.
            if held is None or held.withdrawn or held.originator != me:
                return None
            header = held.message.envelope.header.model_copy(
                update={"version": held.version + 1, "kind": KIND_TOMBSTONE}
            )
            return Withdrawal(envelope=sign_tombstone(header, self.identity))
        if salt is None:
            return None  # made before alert ids were derived: cannot be published
        group = distribution_group(alert.groups)
        live = alert.status in ("active", "suspended")
        key = net.keyring.current(group)
        own = net.certificates.get(me)
        if own is not None and group not in own.groups:
            # A key manager holds every group's key, but members refuse an envelope
            # sealed to a group its originator's certificate does not name.
            key = None
        if live and key is None:
            if held is None:
                log.warning("alerts.not_in_group", alert_id=alert.id, group=group)
                return None
            # No longer able to seal to the group (it was removed, or this venue
            # taken out of it): withdraw what is out there, and say so, since the
            # alert stays active here.
            if not held.withdrawn:
                log.warning(
                    "alerts.withdrawn_from_network",
                    alert_id=alert.id,
                    group=group,
                    network_id=net.network_id,
                    reason="this venue can no longer seal to the alert's group",
                )
            live = False
        if not live and held is None:
            return None  # never went out on this network
        if held is not None and held.version >= alert.version:
            return None
        kind = KIND_TOMBSTONE
        if live:
            kind = KIND_SUSPENDED if alert.status == "suspended" else KIND_UPDATE
            if alert.version == 1:
                kind = KIND_SEGMENTS
        header = EnvelopeHeader(
            network_id=net.network_id,
            group=group if key is not None or held is None else held.group,
            epoch=key.epoch if key is not None else held.epoch if held is not None else 1,
            alert_id=bytes.fromhex(alert.id),
            alert_salt=salt,
            version=alert.version,
            originator=me,
            created_at=alert.created_at,
            expires_at=alert.expires_at,
            kind=kind,
        )
        if kind == KIND_TOMBSTONE:
            return Withdrawal(envelope=sign_tombstone(header, self.identity))
        assert key is not None
        plaintext = encode_payload(alert.segments, alert.category, alert.harm)
        envelope = seal_envelope(header, plaintext, key, self.identity)
        if kind == KIND_SEGMENTS:
            return AlertPublish(envelope=envelope)
        return AlertUpdate(envelope=envelope)

    # -- receiving ------------------------------------------------------------------------------

    def _check_gossip(self, network_id: str, origin: str, kind: str, body: bytes) -> bool:
        """Gossip validator: only well-formed, verified, permitted, not-stale alert items
        are forwarded."""
        if kind != GOSSIP_KIND:
            return True
        net = self.service.networks.get(network_id)
        if net is None:
            return False
        try:
            message = self._verify(net, body)
        except Rejected as exc:
            self._refused(exc, origin)
            return False
        header = message.envelope.header
        if header.originator != origin:
            self._refused(Rejected("not_originator", header.alert_id, forged=True), origin)
            return False
        # New content under a superseded key epoch is refused by every replica
        # that knows the rotation: do not forward it either.
        current = net.keyring.current_epoch(header.group)
        if not message.envelope.is_tombstone and current is not None and header.epoch < current:
            self._refused(Rejected("stale_epoch", header.alert_id), origin)
            return False
        # An older version than the one held is NOT refused here: gossip can reorder
        # two honest updates from one originator, and a refused batch scores the
        # originator down. The replica ignores it (counted, logged) and nothing
        # older than what a node holds is ever applied or served by it.
        return True

    async def _on_gossip(self, network_id: str, origin: str, kind: str, body: bytes) -> None:
        if kind != GOSSIP_KIND:
            return
        try:
            self._inbox_send.send_nowait((network_id, origin, body))
        except trio.WouldBlock:
            self.counters["inbox_full"] += 1

    async def _applier(self) -> None:
        while True:
            first = await self._inbox.receive()
            items = [first]
            while len(items) < BATCH:
                try:
                    items.append(self._inbox.receive_nowait())
                except trio.WouldBlock:
                    break
            by_network: dict[str, list[tuple[str, bytes]]] = {}
            for network_id, origin, body in items:
                by_network.setdefault(network_id, []).append((origin, body))
            for network_id, entries in by_network.items():
                await self.ingest(network_id, entries, source="gossip")

    async def ingest(
        self, network_id: str, entries: Iterable[tuple[str, bytes]], *, source: str
    ) -> int:
        """Verify and apply ``(peer_id, frame)`` entries; return how many changed the replica."""
        net = self.service.networks.get(network_id)
        if net is None:
            return 0
        batch = _Batch()
        changed: list[str] = []
        async with self._lock:
            now = self.venue.clock.now()
            for peer_id, frame in entries:
                try:
                    message = self._verify(net, frame)
                    payload = None
                    if message.envelope.header.originator != self.identity.peer_id:
                        payload = self._open(net, message)
                    if self._apply(network_id, message, payload, now, batch):
                        changed.append(message.envelope.header.alert_id.hex())
                except Rejected as exc:
                    self._refused(exc, peer_id)
            await self._commit(batch)
        self.counters[f"received_{source}"] += len(changed)
        if changed:
            # Committed: the moment a venue holds an alert or its change (ids only,
            # and not thousands of them on one line during a catch-up).
            log.info(
                "alerts.received",
                network_id=network_id,
                source=source,
                changed=len(changed),
                alert_ids=changed[:LOGGED_IDS],
            )
        return len(changed)

    def _verify(self, net: NetworkRuntime, frame: bytes) -> AlertMessage:
        if len(frame) > MAX_ITEM:
            raise Rejected("oversize", forged=True)
        try:
            message = decode(frame)
        except ProtocolError as exc:
            raise Rejected(exc.code.value, forged=True) from None
        if not isinstance(message, AlertPublish | AlertUpdate | Withdrawal):
            raise Rejected("not_an_alert", forged=True)
        header = message.envelope.header
        if header.network_id != net.network_id:
            raise Rejected("wrong_network", header.alert_id, forged=True)
        try:
            verify_message(message)
        except ProtocolError:
            raise Rejected("bad_signature", header.alert_id, forged=True) from None
        if net.membership.admit(header.originator) is not None:
            raise Rejected("not_member", header.alert_id)
        certificate = net.certificates.get(header.originator)
        if certificate is None or header.group not in certificate.groups:
            raise Rejected("group_not_permitted", header.alert_id)
        return message

    def _open(
        self, net: NetworkRuntime, message: AlertMessage, *, report: bool = True
    ) -> Payload | None:
        """The payload, if this node holds the key of the envelope's group and epoch.

        Raises Rejected("over_budget") for a set over the network's budget (and
        reports its originator, unless ``report`` is False)."""
        envelope = message.envelope
        if envelope.is_tombstone:
            return None
        key = net.keyring.key_for(envelope.header.group, envelope.header.epoch)
        if key is None:
            return None
        try:
            plaintext = open_envelope(envelope, key)
        except CryptoError:
            raise Rejected("undecryptable", envelope.header.alert_id) from None
        payload = decode_payload(plaintext, self.venue)
        floor = net.anonymity_floor
        budget = budget_bits_for_floor(floor)
        if payload.segments.bits > budget + BUDGET_TOLERANCE_BITS:
            if report:
                self._report_over_budget(net, message, payload.segments.bits, budget, floor)
            raise Rejected("over_budget", envelope.header.alert_id)
        return payload

    def _report_over_budget(
        self, net: NetworkRuntime, message: AlertMessage, bits: float, budget: float, floor: int
    ) -> None:
        header = message.envelope.header
        key = (header.alert_id, header.version)
        if key in self._reported:
            return
        if len(self._reported) >= MAX_REPORTED:
            # A member sending endless over-budget versions must not grow this set
            # without bound: forget, and report again (the audit may repeat).
            self._reported.clear()
        self._reported.add(key)
        self.over_budget_by_peer[header.originator] += 1
        log.warning(
            "alerts.over_budget",
            network_id=net.network_id,
            alert_id=header.alert_id.hex(),
            originator=header.originator,
            bits=round(bits, 2),
            budget_bits=round(budget, 2),
            anonymity_floor=floor,
        )
        notice = OverBudgetNotice(
            alert_id=header.alert_id.hex(),
            originator=header.originator,
            network_id=net.network_id,
            at=self.venue.clock.now(),
            bits=round(bits, 2),
            budget_bits=round(budget, 2),
            anonymity_floor=floor,
        )
        try:
            self._reports_send.send_nowait(notice)
        except trio.WouldBlock:
            self.counters["over_budget_report_dropped"] += 1

    async def _reporter(self) -> None:
        """Audit (and notify the super administrator of) every over-budget set refused."""
        async for notice in self._reports:
            try:
                await self.venue.store.run(
                    _audit.record,
                    at=notice.at,
                    actor="network",
                    action="alert.refused_over_budget",
                    alert_id=notice.alert_id,
                    peer_id=notice.originator,
                    detail={
                        "network_id": notice.network_id,
                        "bits": notice.bits,
                        "budget_bits": notice.budget_bits,
                        "anonymity_floor": notice.anonymity_floor,
                    },
                )
            except Exception as exc:  # one report must not stop the reporter (or the node)
                log.error("alerts.over_budget_audit_failed", **failure_fields(exc))
                continue
            self.venue.notifier.notify(notice)

    def _apply(
        self,
        network_id: str,
        message: AlertMessage,
        payload: Payload | None,
        now: int,
        batch: _Batch,
    ) -> bool:
        if network_id not in self.service.networks:
            return False  # left (or revoked) while this batch waited
        replica = self.replica(network_id)
        try:
            events = replica.apply(message, now)
        except ProtocolError as exc:
            raise Rejected(exc.code.value, message.envelope.header.alert_id) from None
        changed = False
        for event in events:
            if isinstance(event, AlertStored | AlertWithdrawn):
                changed = True
                record = event.record
                batch.upserts.append(_row(record))
                if record.originator == self.identity.peer_id:
                    continue
                visible = isinstance(event, AlertStored) and record.visible(replica.clock_floor)
                if visible and payload is None and self._awaiting_key(network_id, record):
                    continue  # the version indexed stays until decrypt_pending opens this one
                batch.index[record.alert_id.hex()] = (
                    (record, payload) if visible and payload is not None else None
                )
            else:
                name = type(event).__name__.lower()
                self.counters[f"ignored_{name}"] += 1
                if getattr(event, "reason", None) != "duplicate":
                    log.info(
                        "alerts.item_ignored",
                        why=getattr(event, "reason", None) or str(getattr(event, "code", "")),
                        alert_id=message.envelope.header.alert_id.hex(),
                    )
        return changed

    def _awaiting_key(self, network_id: str, record: AlertRecord) -> bool:
        """A newer version of an indexed alert, sealed under an epoch of its group that
        this node has no key for yet (it arrives with the next membership sync)."""
        indexed = self.venue.received.get(record.alert_id.hex())
        net = self.service.networks.get(network_id)
        if indexed is None or net is None or indexed.group != record.group:
            return False
        current = net.keyring.current_epoch(record.group)
        return current is not None and record.epoch > current

    async def _commit(self, batch: _Batch) -> None:
        floors = {
            nid: r.clock_floor for nid, r in self.replicas.items() if nid in self.service.networks
        }
        if not batch.upserts and not batch.deletes:
            return
        await self.venue.store.run(
            rdb.save, upserts=batch.upserts, deletes=batch.deletes, floors=floors
        )
        for alert_id, entry in batch.index.items():
            if entry is None:
                self._unindex(alert_id)
            else:
                self._index(*entry)
        for alert_id in batch.index:
            for listener in self.on_stored:
                listener(alert_id)

    def _index(self, record: AlertRecord, payload: Payload) -> None:
        alert_id = record.alert_id.hex()
        net = self.service.networks.get(record.network_id)
        certificate = None if net is None else net.certificates.get(record.originator)
        self.venue.engine.add_alert(alert_id, payload.segments, payload.harm, local=False)
        self.venue.received[alert_id] = ReceivedAlert(
            alert_id=alert_id,
            network_id=record.network_id,
            group=record.group,
            epoch=record.epoch,
            originator=record.originator,
            originating_venue=certificate.venue if certificate is not None else "",
            version=record.version,
            category=payload.category,
            harm=payload.harm,
            created_at=record.created_at,
            expires_at=record.expires_at,
        )

    def _unindex(self, alert_id: str) -> None:
        if alert_id in self.venue.engine.local_alerts:
            return
        self.venue.engine.remove_alert(alert_id)
        self.venue.received.pop(alert_id, None)

    def _refused(self, exc: Rejected, peer_id: str) -> None:
        self.counters[f"refused_{exc.reason}"] += 1
        if exc.forged:
            self.forged_by_peer[peer_id] += 1
        log.warning(
            "alerts.item_refused",
            reason=exc.reason,
            alert_id=None if exc.alert_id is None else exc.alert_id.hex(),
            peer_id=peer_id,
        )

    async def forget_network(self, network_id: str) -> None:
        """This node left ``network_id`` or was revoked: drop its replica and everything it
        brought into memory (index, received alerts), delete its rows again (a batch may
        have written some since), and checkpoint so the WAL keeps nothing."""
        async with self._lock:
            self.replicas.pop(network_id, None)
            gone = [a for a, r in self.venue.received.items() if r.network_id == network_id]
            for alert_id in gone:
                self._unindex(alert_id)
            await self.venue.store.run(forget_received, network_id)
        await self.venue.checkpoint()
        log.info("alerts.network_forgotten", network_id=network_id, unindexed=len(gone))

    # -- revoked originators ----------------------------------------------------------------------

    async def drop_revoked(self, network_id: str) -> int:
        """A newer revocation list of ``network_id`` was installed: drop every record this
        network brought from an originator it revokes (see ``_drop_revoked``), and
        checkpoint so the WAL keeps none of it. Returns how many records went."""
        try:
            async with self._lock:
                dropped = await self._drop_revoked(network_id)
            if dropped:
                await self.venue.checkpoint()
        except Exception as exc:  # the membership sync must go on; the next start retries
            self.counters["revoked_drop_failed"] += 1
            log.error("alerts.revoked_drop_failed", network_id=network_id, **failure_fields(exc))
            return 0
        return dropped

    async def _drop_revoked(self, network_id: str) -> int:
        """With the ingest lock held. Nobody can answer for a revoked member's alerts (its
        identity checks go nowhere) and its tombstones are refused, so its records leave
        the replica, the database (one transaction, audited per originator with counts)
        and the index. Only this network's records: the same originator may still be a
        member of another network this node belongs to, whose copy is indexed instead."""
        replica = self.replicas.get(network_id)
        net = self.service.networks.get(network_id)
        if replica is None or net is None:
            return 0
        me = self.identity.peer_id
        revoked = {
            r.originator
            for r in replica.records()
            if r.originator != me and net.membership.revoked(r.originator)
        }
        dropped = replica.drop_originators(revoked)
        if not dropped:
            return 0
        unindexed: Counter[str] = Counter()
        for record in dropped:
            held = self.venue.received.get(record.alert_id.hex())
            if held is not None and held.network_id == network_id:
                unindexed[record.originator] += 1
        await self.venue.store.run(
            _forget_revoked, network_id, dropped, unindexed, self.venue.clock.now()
        )
        elsewhere: list[tuple[str, bytes]] = []
        for record in dropped:
            alert_id = record.alert_id.hex()
            held = self.venue.received.get(alert_id)
            if held is not None and held.network_id == network_id:
                self._unindex(alert_id)
                elsewhere.extend(
                    (other_id, record.alert_id)
                    for other_id, other in self.replicas.items()
                    if other_id != network_id and other.record(record.alert_id) is not None
                )
        reindexed = await self._open_missing(elsewhere) if elsewhere else []
        self.counters["revoked_dropped"] += len(dropped)
        log.info(
            "alerts.revoked_originator_dropped",
            network_id=network_id,
            peer_ids=sorted({r.originator for r in dropped}),
            records=len(dropped),
            unindexed=sum(unindexed.values()),
            indexed_from_another_network=len(reindexed),
        )
        return len(dropped)

    # -- purge ----------------------------------------------------------------------------------

    async def _purger(self, interval_s: float = 10.0) -> None:
        rounds = 0
        while True:
            await trio.sleep(interval_s)
            await self.purge()
            rounds += 1
            if rounds % 6 == 0:  # a network joined while running, a lost publish
                await self.catch_up()

    async def purge(self) -> list[RecordRemoved]:
        """Drop expired records and old tombstones, from memory and the database."""
        batch = _Batch()
        removed: list[RecordRemoved] = []
        async with self._lock:
            now = self.venue.clock.now()
            for network_id, replica in self.replicas.items():
                for event in replica.purge(now):
                    removed.append(event)
                    batch.deletes.append((network_id, event.record.alert_id))
                    if event.record.originator != self.identity.peer_id:
                        batch.index[event.record.alert_id.hex()] = None
            if batch.deletes:
                await self._commit(batch)
        return removed

    # -- views ----------------------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        return {
            "records": sum(len(r) for r in self.replicas.values()),
            "received_active": len(self.venue.received),
            "counters": dict(self.counters),
        }
