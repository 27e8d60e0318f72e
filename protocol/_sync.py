"""Anti-entropy between two replicas: range-based set reconciliation.

Theory of operation: each side offers its ``ReconciliationIndex`` — one item
(id, version, tombstone flag, record digest) per alert — plus its membership
state (revocation list serial, group key epoch per group). The initiator
sends ``sync.hello`` with the fingerprint of the whole id space. From then on
the two sides take turns sending ``sync.ranges`` messages. For every range
whose fingerprint differs from its own, a side either

- splits it: sends the fingerprints of its 16 sub-ranges (``RangeSplit``), or,
- when it holds at most ``item_threshold`` items there (or the peer holds at
  most that many and this side at most ``ITEM_CHUNK``), lists its items
  (``RangeItems`` with ``reply``); the peer answers with only the items that
  differ and the ids it wants (``RangeItems`` without ``reply``, in chunks of
  ``ITEM_CHUNK``), and both sides now know, for each id in the range, who
  holds the better record.

Equal ranges are never expanded, so with d differences among n alerts the
exchange costs about O(d * 16 * log16(n / threshold)) bytes over
O(log16(n / threshold)) round trips, and one round trip of a few hundred
bytes when nothing differs. A side sends at most ``max_entries`` ranges and
about ``MESSAGE_BUDGET`` bytes per turn and sets ``more`` when it holds back
some; an empty turn with ``more`` false, in
answer to a turn with ``more`` false, ends the exchange for both sides.

The machines do no I/O: ``send()`` returns the next message (or None),
``receive(message)`` consumes the peer's, ``done`` says the exchange is
over, and ``result`` lists what each side must fetch and push. The node moves
the records themselves (alert messages, revocation lists, group key
deliveries) afterwards, through the usual verify-then-apply path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from doorwatch.protocol._errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from doorwatch.protocol._index import MAX_DEPTH, ItemState, ReconciliationIndex, prefix_bounds
from doorwatch.protocol._messages import (
    SYNC_DIGEST_SIZE,
    GroupEpoch,
    Message,
    RangeFingerprint,
    RangeItems,
    RangeSplit,
    SyncHello,
    SyncItem,
    SyncRanges,
)

ITEM_THRESHOLD = 8
ITEM_CHUNK = 1024
MAX_ENTRIES = 512
MAX_OUTBOX = 100_000
"""Range entries a side may owe its peer; a peer that makes it owe more is refused."""
MAX_TURNS = 10_000
MESSAGE_BUDGET = 512 * 1024
"""Bytes of ranges per message, well under the 1 MiB cap of ``sync.ranges``."""


def _estimated_size(entry: RangeSplit | RangeItems) -> int:
    """An upper bound of the encoded size of one range entry."""
    if isinstance(entry, RangeSplit):
        return 64 + len(entry.prefix) + len(entry.fingerprints) + 9 * len(entry.counts)
    return (
        96
        + len(entry.prefix)
        + len(entry.ids)
        + len(entry.digests)
        + 10 * len(entry.versions)
        + len(entry.wanted)
    )


@dataclass
class SyncResult:
    """What the exchange found. Ids are alert ids; groups are group names."""

    fetch: set[bytes] = field(default_factory=set)
    """Alerts the peer holds a better record of: ask the peer for them."""
    push: set[bytes] = field(default_factory=set)
    """Alerts this side holds a better record of (or the peer lacks): send them."""
    fetch_revocation_list: bool = False
    push_revocation_list: bool = False
    fetch_group_keys: set[str] = field(default_factory=set)
    push_group_keys: set[str] = field(default_factory=set)


Entry = RangeSplit | RangeItems


def _state(item: SyncItem) -> ItemState:
    return ItemState(version=item.version, withdrawn=item.withdrawn, digest=item.digest)


def _short(state: ItemState) -> ItemState:
    return ItemState(
        version=state.version, withdrawn=state.withdrawn, digest=state.digest[:SYNC_DIGEST_SIZE]
    )


class _SyncSide:
    def __init__(
        self,
        index: ReconciliationIndex,
        *,
        network_id: str,
        revocation_serial: int,
        group_epochs: Mapping[str, int],
        item_threshold: int = ITEM_THRESHOLD,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        if not 1 <= item_threshold <= ITEM_CHUNK or max_entries < 1:
            raise LocalProtocolError(
                f"item_threshold must be 1-{ITEM_CHUNK} and max_entries at least 1"
            )
        self._index = index
        self.network_id = network_id
        self.revocation_serial = revocation_serial
        self.group_epochs = dict(group_epochs)
        self._threshold = item_threshold
        self._max_entries = max_entries
        self._outbox: deque[Entry] = deque()
        self._peer_more = False
        self._turn = False
        self.done = False
        self.result = SyncResult()
        self.messages_sent = 0
        self.messages_received = 0

    # -- membership state ---------------------------------------------------------------------

    def _compare_membership(self, serial: int, epochs: tuple[GroupEpoch, ...]) -> None:
        if serial > self.revocation_serial:
            self.result.fetch_revocation_list = True
        elif serial < self.revocation_serial:
            self.result.push_revocation_list = True
        theirs: dict[str, int] = {}
        for entry in epochs:
            if entry.group in theirs:
                raise RemoteProtocolError("group_epochs lists a group twice", ErrorCode.MALFORMED)
            theirs[entry.group] = entry.epoch
        for group in theirs.keys() | self.group_epochs.keys():
            mine, peer = self.group_epochs.get(group, -1), theirs.get(group, -1)
            if peer > mine:
                self.result.fetch_group_keys.add(group)
            elif mine > peer:
                self.result.push_group_keys.add(group)

    def _epochs(self) -> tuple[GroupEpoch, ...]:
        return tuple(GroupEpoch(group=g, epoch=e) for g, e in sorted(self.group_epochs.items()))

    # -- reconciliation -----------------------------------------------------------------------

    @staticmethod
    def _check_prefix(prefix: bytes) -> None:
        if len(prefix) > MAX_DEPTH or any(n > 15 for n in prefix):
            raise RemoteProtocolError(
                "sync prefix must be at most 32 nibbles, each 0-15", ErrorCode.MALFORMED
            )

    def _mismatch(self, prefix: bytes, theirs: RangeFingerprint) -> None:
        mine = self._index.summary(prefix)
        if mine == theirs:
            return
        # List the items when this side's list is small, or when the peer holds
        # almost nothing there (then nearly every item listed is a difference).
        # A listing with ``reply`` is always complete, so it is bounded by ITEM_CHUNK.
        if mine.count <= self._threshold or (
            theirs.count <= self._threshold and mine.count <= ITEM_CHUNK
        ):
            self._outbox.append(RangeItems.pack(prefix, True, self._index.items(prefix)))
        else:
            children = [self._index.summary(prefix + bytes([n])) for n in range(16)]
            self._outbox.append(
                RangeSplit(
                    prefix=prefix,
                    counts=tuple(c.count for c in children),
                    fingerprints=b"".join(c.fingerprint for c in children),
                )
            )

    def _on_split(self, split: RangeSplit) -> None:
        self._check_prefix(split.prefix)
        if len(split.prefix) == MAX_DEPTH:
            raise RemoteProtocolError("sync cannot split a single-id range", ErrorCode.MALFORMED)
        for nibble in range(16):
            self._mismatch(split.prefix + bytes([nibble]), split.child(nibble))

    def _on_items(self, entry: RangeItems) -> None:
        self._check_prefix(entry.prefix)
        low, high = prefix_bounds(entry.prefix)
        theirs: dict[bytes, ItemState] = {}
        for item in entry.unpack():
            if not low <= item.alert_id <= high or item.alert_id in theirs:
                raise RemoteProtocolError(
                    "sync items must be distinct ids inside their range", ErrorCode.MALFORMED
                )
            theirs[item.alert_id] = _state(item)
        if entry.reply:
            answer: list[SyncItem] = []
            wanted: list[bytes] = []
            for item in self._index.items(entry.prefix):
                peer = theirs.pop(item.alert_id, None)
                mine = _state(item)
                if peer is None or mine.supersedes(peer):
                    answer.append(item)
                    self.result.push.add(item.alert_id)
                elif peer.supersedes(mine):
                    wanted.append(item.alert_id)
                    self.result.fetch.add(item.alert_id)
            for alert_id in theirs:
                wanted.append(alert_id)
                self.result.fetch.add(alert_id)
            wanted.sort()
            # An answer may be long (the peer may lack a whole range): send it in chunks.
            for start in range(0, max(len(answer), len(wanted)), ITEM_CHUNK):
                self._outbox.append(
                    RangeItems.pack(
                        entry.prefix,
                        False,
                        answer[start : start + ITEM_CHUNK],
                        wanted[start : start + ITEM_CHUNK],
                    )
                )
            return
        for alert_id, peer in theirs.items():
            held = self._index.get(alert_id)
            mine_state = None if held is None else _short(held)
            if mine_state is None or peer.supersedes(mine_state):
                self.result.fetch.add(alert_id)
            elif mine_state.supersedes(peer):
                self.result.push.add(alert_id)
        for alert_id in entry.wanted_ids():
            if not low <= alert_id <= high:
                raise RemoteProtocolError(
                    "sync wanted ids must be inside their range", ErrorCode.MALFORMED
                )
            if alert_id in self._index:
                self.result.push.add(alert_id)

    def _on_ranges(self, message: SyncRanges) -> None:
        for split in message.splits:
            self._on_split(split)
        for entry in message.items:
            self._on_items(entry)
        if len(self._outbox) > MAX_OUTBOX:
            raise RemoteProtocolError(
                f"sync would owe the peer more than {MAX_OUTBOX} ranges", ErrorCode.OVERSIZE
            )

    # -- turns --------------------------------------------------------------------------------

    def _check_turn(self, message: Message) -> None:
        if self.done:
            raise RemoteProtocolError(
                "sync message after the exchange ended", ErrorCode.OUT_OF_ORDER
            )
        if self._turn:
            raise RemoteProtocolError(
                "sync message while it is this side's turn to send", ErrorCode.OUT_OF_ORDER
            )
        if self.messages_received >= MAX_TURNS:
            raise RemoteProtocolError(f"sync took more than {MAX_TURNS} turns", ErrorCode.OVERSIZE)
        self.messages_received += 1

    def _after_receive(self, empty: bool, more: bool) -> None:
        self._peer_more = more
        if empty and not more and not self._outbox:
            self.done = True
        else:
            self._turn = True

    def _next_ranges(self, session: bytes, *, membership: bool = False) -> SyncRanges:
        if not self._turn or self.done:
            raise LocalProtocolError("it is not this side's turn to send", ErrorCode.OUT_OF_ORDER)
        splits: list[RangeSplit] = []
        items: list[RangeItems] = []
        budget = MESSAGE_BUDGET
        while self._outbox and len(splits) + len(items) < self._max_entries:
            cost = _estimated_size(self._outbox[0])
            if (splits or items) and cost > budget:
                break
            budget -= cost
            entry = self._outbox.popleft()
            if isinstance(entry, RangeSplit):
                splits.append(entry)
            else:
                items.append(entry)
        more = bool(self._outbox)
        message = SyncRanges(
            session=session,
            revocation_serial=self.revocation_serial if membership else None,
            group_epochs=self._epochs() if membership else None,
            splits=tuple(splits),
            items=tuple(items),
            more=more,
        )
        self._turn = False
        self.messages_sent += 1
        if not splits and not items and not more and not self._peer_more:
            self.done = True
        return message


class SyncInitiator(_SyncSide):
    """The side that opens the exchange (usually the one that just (re)connected)."""

    def __init__(
        self,
        index: ReconciliationIndex,
        *,
        network_id: str,
        session: bytes,
        revocation_serial: int,
        group_epochs: Mapping[str, int],
        item_threshold: int = ITEM_THRESHOLD,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        super().__init__(
            index,
            network_id=network_id,
            revocation_serial=revocation_serial,
            group_epochs=group_epochs,
            item_threshold=item_threshold,
            max_entries=max_entries,
        )
        if len(session) != 16:
            raise LocalProtocolError("session must be 16 random bytes")
        self.session = session
        self._hello_sent = False
        self._turn = True
        self._membership_seen = False

    def send(self) -> Message | None:
        """The next message to send, or None if it is the peer's turn or the exchange is over."""
        if self.done or not self._turn:
            return None
        if not self._hello_sent:
            self._hello_sent = True
            self._turn = False
            self.messages_sent += 1
            return SyncHello(
                network_id=self.network_id,
                session=self.session,
                revocation_serial=self.revocation_serial,
                group_epochs=self._epochs(),
                root=self._index.summary(b""),
            )
        return self._next_ranges(self.session)

    def receive(self, message: Message) -> None:
        """Consume the responder's turn; raise RemoteProtocolError if it is not a valid one."""
        if not isinstance(message, SyncRanges):
            raise RemoteProtocolError("expected sync.ranges", ErrorCode.OUT_OF_ORDER)
        self._check_turn(message)
        if message.session != self.session:
            raise RemoteProtocolError("sync session id does not match", ErrorCode.WRONG_SESSION)
        if not self._membership_seen:
            if message.revocation_serial is None or message.group_epochs is None:
                raise RemoteProtocolError(
                    "the first sync.ranges must carry revocation_serial and group_epochs",
                    ErrorCode.MALFORMED,
                )
            self._compare_membership(message.revocation_serial, message.group_epochs)
            self._membership_seen = True
        self._on_ranges(message)
        self._after_receive(not message.splits and not message.items, message.more)


class SyncResponder(_SyncSide):
    """The side that answers a ``sync.hello``."""

    def __init__(
        self,
        index: ReconciliationIndex,
        *,
        network_id: str,
        revocation_serial: int,
        group_epochs: Mapping[str, int],
        item_threshold: int = ITEM_THRESHOLD,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        super().__init__(
            index,
            network_id=network_id,
            revocation_serial=revocation_serial,
            group_epochs=group_epochs,
            item_threshold=item_threshold,
            max_entries=max_entries,
        )
        self.session: bytes | None = None
        self._first_reply = True

    def send(self) -> Message | None:
        """The next message to send, or None if it is the peer's turn or the exchange is over."""
        if self.done or not self._turn or self.session is None:
            return None
        first, self._first_reply = self._first_reply, False
        return self._next_ranges(self.session, membership=first)

    def receive(self, message: Message) -> None:
        """Consume the initiator's hello or turn; raise RemoteProtocolError if invalid."""
        if self.session is None:
            if not isinstance(message, SyncHello):
                raise RemoteProtocolError("expected sync.hello", ErrorCode.OUT_OF_ORDER)
            if message.network_id != self.network_id:
                raise RemoteProtocolError(
                    "sync.hello is for another network", ErrorCode.WRONG_NETWORK
                )
            self.messages_received += 1
            self.session = message.session
            self._compare_membership(message.revocation_serial, message.group_epochs)
            self._mismatch(b"", message.root)
            # The first answer always goes out: it carries this side's membership state.
            self._peer_more = False
            self._turn = True
            return
        if not isinstance(message, SyncRanges):
            raise RemoteProtocolError("expected sync.ranges", ErrorCode.OUT_OF_ORDER)
        self._check_turn(message)
        if message.session != self.session:
            raise RemoteProtocolError("sync session id does not match", ErrorCode.WRONG_SESSION)
        self._on_ranges(message)
        self._after_receive(not message.splits and not message.items, message.more)


def run_sync(
    initiator: SyncInitiator,
    responder: SyncResponder,
    transport: Callable[[Message], Message] | None = None,
    max_turns: int = 1000,
) -> int:
    """Drive both machines in memory until done; return the number of messages exchanged.

    ``transport`` (e.g. encode-then-decode) is applied to every message in flight.
    For tests and benchmarks; the node drives the machines over a stream instead.
    """
    move = transport or (lambda m: m)
    turns = 0
    sender: SyncInitiator | SyncResponder = initiator
    receiver: SyncInitiator | SyncResponder = responder
    while not (initiator.done and responder.done):
        message = sender.send()
        if message is None:
            break
        receiver.receive(move(message))
        turns += 1
        if turns > max_turns:
            raise LocalProtocolError("sync did not finish within max_turns", ErrorCode.OUT_OF_ORDER)
        sender, receiver = receiver, sender
    return turns
