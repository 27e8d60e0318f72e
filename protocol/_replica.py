"""The replica: the rules by which a node applies received alert messages.

Theory of operation: a replica maps alert id -> one ``AlertRecord``, built
from the newest envelope (``alert.publish``/``alert.update``) or from the
alert's tombstone (``alert.withdraw``). ``apply(message, now)`` decides, from
the signed header fields only, whether the message replaces the record:

- a tombstone beats every envelope and is final: nothing ever replaces it
  with an envelope again, whatever its version;
- between envelopes the higher version wins; at equal version, different
  content is a conflict that every replica resolves the same way (the record
  with the lower digest wins, the digest being SHA-256 of the canonical bytes);
- the same or an older record is a replay: reported, never applied (no
  rollback);
- the originator and creation time of an alert never change: a message that
  disagrees with the held record is refused (``wrong_originator``);
- new content under a superseded group-key epoch is refused (``stale_epoch``)
  when the replica is given the current epochs (``current_epoch``, normally
  ``GroupKeyring.current_epoch``): a publish, update or suspension that would
  add or replace a record must be sealed under the current epoch of its group
  or a newer one, so a member that has not rotated yet cannot keep writing
  content a removed member can read. Tombstones carry no content and are
  accepted under any epoch; records already held under an old epoch stay (and
  stay readable with the old key) until superseded or purged;
- an expiry more than ``MAX_LIFETIME`` (366 days) after creation, or dates more
  than ``FUTURE_SKEW`` (1 day) ahead of ``now``, are refused; content already
  expired at ``now`` is ignored, not stored.

The replica does not check signatures or membership: the caller (the node)
verifies a message with ``verify_alert_message`` and the membership state
*before* ``apply``. That keeps the rules testable without keys, and keeps one
verification per received frame even when the replica then ignores it.

Time never runs backwards for a replica: every call takes the later of
``now`` and the latest time it has seen (``clock_floor``), so a clock jump
back cannot resurrect expired content.

Reads (``get``, ``active``) check expiry and status at ``now`` every time;
``purge(now)`` only reclaims space. Tombstones are kept until
``created_at + MAX_LIFETIME + FUTURE_SKEW``: any envelope of the alert expires
no later than ``created_at + MAX_LIFETIME``, so from then on every copy that a
stale replica may still send is refused as expired, and the tombstone has
nothing left to guard.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from doorwatch.crypto import KIND_TOMBSTONE
from doorwatch.protocol._errors import ErrorCode, RemoteProtocolError
from doorwatch.protocol._index import ItemState, ReconciliationIndex
from doorwatch.protocol._messages import (
    KIND_SUSPENDED,
    AlertPublish,
    AlertUpdate,
    Withdrawal,
)

DAY = 86_400
MAX_LIFETIME = 366 * DAY
"""An alert expires at most this long after its creation (the agreement's 12 months)."""
FUTURE_SKEW = 1 * DAY
"""Dates up to this far ahead of the receiver's clock are tolerated (clock skew)."""

AlertMessage = AlertPublish | AlertUpdate | Withdrawal


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """What a replica holds for one alert: the newest envelope, or the tombstone.

    Every field but ``stored_at`` comes from the signed envelope header;
    ``stored_at`` is this replica's clock when it stored the record
    (informational). ``message`` is what the node persists and relays.
    """

    alert_id: bytes
    network_id: str
    group: str
    epoch: int
    originator: str
    version: int
    status: Literal["active", "suspended", "withdrawn"]
    created_at: int
    expires_at: int
    stored_at: int
    digest: bytes
    message: AlertMessage

    @property
    def withdrawn(self) -> bool:
        return self.status == "withdrawn"

    @property
    def retain_until(self) -> int:
        """When ``purge`` drops the record (it is invisible earlier if expired or suspended)."""
        if self.withdrawn:
            return self.created_at + MAX_LIFETIME + FUTURE_SKEW
        return self.expires_at

    def visible(self, now: int) -> bool:
        return self.status == "active" and now < self.expires_at

    @property
    def item(self) -> ItemState:
        return ItemState(version=self.version, withdrawn=self.withdrawn, digest=self.digest)


def record_digest(message: AlertMessage) -> bytes:
    """SHA-256 of the envelope's canonical bytes (the same whichever message carried it)."""
    return hashlib.sha256(message.envelope.to_bytes()).digest()


def record_from_message(message: AlertMessage, stored_at: int) -> AlertRecord:
    """The record a message would produce (no rule is checked here)."""
    header = message.envelope.header
    status: Literal["active", "suspended", "withdrawn"] = "active"
    if header.kind == KIND_TOMBSTONE:
        status = "withdrawn"
    elif header.kind == KIND_SUSPENDED:
        status = "suspended"
    return AlertRecord(
        alert_id=header.alert_id,
        network_id=header.network_id,
        group=header.group,
        epoch=header.epoch,
        originator=header.originator,
        version=header.version,
        status=status,
        created_at=header.created_at,
        expires_at=header.expires_at,
        stored_at=stored_at,
        digest=record_digest(message),
        message=message,
    )


# --- Events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertStored:
    """A record was added or replaced: persist ``record`` (replacing ``previous``)."""

    record: AlertRecord
    previous: AlertRecord | None


@dataclass(frozen=True, slots=True)
class AlertWithdrawn:
    """A tombstone was stored: delete everything held about the alert except the tombstone."""

    record: AlertRecord
    previous: AlertRecord | None


@dataclass(frozen=True, slots=True)
class ConflictResolved:
    """Two different records of equal rank met; the one with the lower digest was kept."""

    alert_id: bytes
    version: int
    kept_digest: bytes
    discarded_digest: bytes
    replaced: bool


@dataclass(frozen=True, slots=True)
class Replay:
    """The message carried the record already held (``duplicate``) or an older one (``stale``)."""

    alert_id: bytes
    version: int
    reason: Literal["duplicate", "stale"]


@dataclass(frozen=True, slots=True)
class Ignored:
    """The message was valid but not applied: the alert is withdrawn, or the content expired."""

    alert_id: bytes
    code: ErrorCode


@dataclass(frozen=True, slots=True)
class RecordRemoved:
    """``purge`` dropped a record: delete it from storage."""

    record: AlertRecord
    reason: Literal["expired", "tombstone_retention"]


ReplicaEvent = AlertStored | AlertWithdrawn | ConflictResolved | Replay | Ignored | RecordRemoved


# --- The replica ----------------------------------------------------------------------------


def _refuse(message: str, code: ErrorCode) -> RemoteProtocolError:
    return RemoteProtocolError(message, code)


class Replica:
    """The received alert records of one node, and the rules that change them."""

    def __init__(
        self,
        network_id: str,
        clock_floor: int = 0,
        current_epoch: Callable[[str], int | None] | None = None,
    ) -> None:
        self.network_id = network_id
        self.clock_floor = clock_floor
        self._current_epoch = current_epoch
        self._records: dict[bytes, AlertRecord] = {}
        self.index = ReconciliationIndex()

    @classmethod
    def from_records(
        cls,
        network_id: str,
        records: Iterable[AlertRecord],
        clock_floor: int = 0,
        current_epoch: Callable[[str], int | None] | None = None,
    ) -> Replica:
        """Rebuild a replica from persisted records and clock floor (after a restart)."""
        replica = cls(network_id, clock_floor, current_epoch)
        for record in records:
            replica._put(record)
        return replica

    def _observe(self, now: int) -> int:
        """The time rules use: ``now``, but never earlier than any time seen before.

        A wall clock that jumps back must not make expired content visible
        again, nor let a stale copy of an alert whose tombstone was purged
        back in. A clock that jumps ahead makes content expire early: the
        safe direction for personal data. The node persists ``clock_floor``.
        """
        if now > self.clock_floor:
            self.clock_floor = now
        return self.clock_floor

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> Iterator[AlertRecord]:
        """Every record held, tombstones and invisible ones included (for persistence and relay)."""
        return iter(self._records.values())

    def record(self, alert_id: bytes) -> AlertRecord | None:
        """The raw record (even if withdrawn, suspended or expired): for relaying to peers."""
        return self._records.get(alert_id)

    def get(self, alert_id: bytes, now: int) -> AlertRecord | None:
        """The alert if it is active and unexpired at ``now``, else None."""
        now = self._observe(now)
        record = self._records.get(alert_id)
        return record if record is not None and record.visible(now) else None

    def active(self, now: int) -> list[AlertRecord]:
        """Every alert active and unexpired at ``now``."""
        now = self._observe(now)
        return [r for r in self._records.values() if r.visible(now)]

    def _put(self, record: AlertRecord) -> None:
        self._records[record.alert_id] = record
        self.index.put(record.alert_id, record.item)

    def _check(self, record: AlertRecord, now: int) -> ReplicaEvent | None:
        if record.network_id != self.network_id:
            raise _refuse("network_id is not this replica's network", ErrorCode.WRONG_NETWORK)
        if record.created_at > now + FUTURE_SKEW:
            raise _refuse("created_at is more than a day in the future", ErrorCode.FUTURE_DATE)
        if record.expires_at > record.created_at + MAX_LIFETIME:
            raise _refuse(
                "expires_at is more than 12 months (366 days) after created_at",
                ErrorCode.LIFETIME_EXCEEDED,
            )
        if not record.withdrawn and record.expires_at <= record.created_at:
            raise _refuse("expires_at must be after created_at", ErrorCode.MALFORMED)
        if now >= record.retain_until:
            return Ignored(alert_id=record.alert_id, code=ErrorCode.EXPIRED)
        return None

    def _refuse_stale_epoch(self, incoming: AlertRecord) -> None:
        if incoming.withdrawn or self._current_epoch is None:
            return
        current = self._current_epoch(incoming.group)
        if current is not None and incoming.epoch < current:
            raise _refuse(
                "epoch: new content must be sealed under the group's current key epoch",
                ErrorCode.STALE_EPOCH,
            )

    def apply(self, message: AlertMessage, now: int) -> list[ReplicaEvent]:
        """Apply one verified alert message at time ``now``; return what happened.

        Raises RemoteProtocolError for a message no replica may accept (dates in
        the future, a lifetime over 12 months, a changed originator or creation
        time, another network, new content under a superseded key epoch).
        Replays and messages about withdrawn or expired alerts are reported as
        events, not errors: they are normal in gossip.
        """
        now = self._observe(now)
        incoming = record_from_message(message, now)
        ignored = self._check(incoming, now)
        held = self._records.get(incoming.alert_id)
        if held is not None and (
            held.originator != incoming.originator or held.created_at != incoming.created_at
        ):
            raise _refuse(
                "originator or created_at differs from the alert already held",
                ErrorCode.WRONG_ORIGINATOR,
            )
        if ignored is not None:
            return [ignored]
        if held is None:
            self._refuse_stale_epoch(incoming)
            self._put(incoming)
            if incoming.withdrawn:
                return [AlertWithdrawn(record=incoming, previous=None)]
            return [AlertStored(record=incoming, previous=None)]
        if held.withdrawn and not incoming.withdrawn:
            return [Ignored(alert_id=incoming.alert_id, code=ErrorCode.WITHDRAWN)]
        if held.digest == incoming.digest:
            return [
                Replay(alert_id=incoming.alert_id, version=incoming.version, reason="duplicate")
            ]
        same_rank = held.withdrawn == incoming.withdrawn and (
            held.withdrawn or held.version == incoming.version
        )
        wins = incoming.item.supersedes(held.item)
        if wins:
            self._refuse_stale_epoch(incoming)
        events: list[ReplicaEvent] = []
        if same_rank:
            kept, lost = (incoming, held) if wins else (held, incoming)
            events.append(
                ConflictResolved(
                    alert_id=incoming.alert_id,
                    version=incoming.version,
                    kept_digest=kept.digest,
                    discarded_digest=lost.digest,
                    replaced=wins,
                )
            )
        elif not wins:
            return [Replay(alert_id=incoming.alert_id, version=incoming.version, reason="stale")]
        if wins:
            self._put(incoming)
            if incoming.withdrawn:
                events.append(AlertWithdrawn(record=incoming, previous=held))
            else:
                events.append(AlertStored(record=incoming, previous=held))
        return events

    def drop_originators(self, originators: Collection[str]) -> list[AlertRecord]:
        """Drop every record (tombstones too) whose originator is in ``originators``, and
        return them so the node deletes them too: a member learns that those originators
        were revoked, and their alerts must stop matching (nobody can answer for them).
        A copy offered again later is refused before it gets here (not a member)."""
        gone = set(originators)
        if not gone:
            return []
        dropped = [r for r in self._records.values() if r.originator in gone]
        for record in dropped:
            del self._records[record.alert_id]
            self.index.remove(record.alert_id)
        return dropped

    def purge(self, now: int) -> list[RecordRemoved]:
        """Drop what need not be kept at ``now``; return it so the node deletes it too.

        Expired alerts go at their expiry; since no version may expire more
        than 12 months after creation, that also removes every alert not
        updated for 12 months. Tombstones go when no copy of the alert can be
        accepted any more (see the module notes).
        """
        now = self._observe(now)
        removed: list[RecordRemoved] = []
        for record in list(self._records.values()):
            if now < record.retain_until:
                continue
            del self._records[record.alert_id]
            self.index.remove(record.alert_id)
            removed.append(
                RecordRemoved(
                    record=record, reason="tombstone_retention" if record.withdrawn else "expired"
                )
            )
        return removed
