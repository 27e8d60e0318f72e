"""Several replicas under publish, update, withdraw, lossy gossip, restarts and clock jumps.

Invariants: nothing expired (or suspended, or withdrawn) is visible; once a
replica has applied a tombstone the alert never comes back there; and after
a full sync at a common time every replica holds exactly the same records.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from doorwatch.protocol import (
    AlertMessage,
    AlertPublish,
    AlertUpdate,
    AlertWithdrawn,
    RemoteProtocolError,
    Replica,
    SyncInitiator,
    SyncResponder,
    Withdrawal,
    decode,
    encode,
    record_from_message,
    run_sync,
)
from tests.protocol.factories import DAY, NETWORK_ID, T0, identity, publish, update, withdraw

ORIGINATORS = [identity("machine-a"), identity("machine-b")]
REPLICAS = 3


@dataclass
class Truth:
    originator: int
    created_at: int
    expires_at: int
    version: int = 1
    withdrawn: bool = False


class ReplicaMachine(RuleBasedStateMachine):
    alerts = Bundle("alerts")

    @initialize()
    def start(self) -> None:
        self.now = T0
        self.skew = [0] * REPLICAS
        self.replicas = [Replica(NETWORK_ID) for _ in range(REPLICAS)]
        self.queues: list[list[AlertMessage]] = [[] for _ in range(REPLICAS)]
        self.truth: dict[bytes, Truth] = {}
        self.tombstoned: list[set[bytes]] = [set() for _ in range(REPLICAS)]
        self.counter = 0

    def _clock(self, n: int) -> int:
        return self.now + self.skew[n]

    def _broadcast(self, message: AlertMessage) -> None:
        # Every message crosses the real codec, like on the wire.
        frame = encode(message)
        for queue in self.queues:
            decoded = decode(frame)
            assert isinstance(decoded, type(message))
            queue.append(decoded)

    def _apply(self, n: int, message: AlertMessage, now: int) -> None:
        try:
            events = self.replicas[n].apply(message, now)
        except RemoteProtocolError:
            return  # e.g. a replica whose clock is behind sees a future date: dropped
        for event in events:
            if isinstance(event, AlertWithdrawn):
                self.tombstoned[n].add(event.record.alert_id)

    # -- the originators --------------------------------------------------------------------

    @rule(target=alerts, who=st.integers(0, 1), lifetime=st.integers(1, 366))
    def publish(self, who: int, lifetime: int) -> bytes:
        self.counter += 1
        alert_id = self.counter.to_bytes(2, "big") * 8
        truth = Truth(who, self.now, self.now + lifetime * DAY)
        self.truth[alert_id] = truth
        self._broadcast(
            publish(
                ORIGINATORS[who],
                alert_id,
                created_at=truth.created_at,
                expires_at=truth.expires_at,
                seed=self.counter,
            )
        )
        return alert_id

    @rule(alert_id=alerts, suspended=st.booleans(), lifetime=st.integers(1, 366))
    def update(self, alert_id: bytes, suspended: bool, lifetime: int) -> None:
        truth = self.truth[alert_id]
        if truth.withdrawn:
            return
        truth.version += 1
        truth.expires_at = min(truth.created_at + 366 * DAY, self.now + lifetime * DAY)
        if truth.expires_at <= truth.created_at:
            truth.expires_at = truth.created_at + 1
        self._broadcast(
            update(
                ORIGINATORS[truth.originator],
                alert_id,
                truth.version,
                suspended=suspended,
                created_at=truth.created_at,
                expires_at=truth.expires_at,
                seed=truth.version,
            )
        )

    @rule(alert_id=alerts, split=st.integers(0, REPLICAS))
    def equivocate(self, alert_id: bytes, split: int) -> None:
        """The originator sends two different records with the same version."""
        truth = self.truth[alert_id]
        if truth.withdrawn:
            return
        truth.version += 1
        versions = [
            update(
                ORIGINATORS[truth.originator],
                alert_id,
                truth.version,
                payload=payload,
                created_at=truth.created_at,
                expires_at=truth.expires_at,
                seed=truth.version,
            )
            for payload in (b"left", b"right")
        ]
        for n in range(REPLICAS):
            self.queues[n].append(versions[0] if n < split else versions[1])

    @rule(alert_id=consumes(alerts))
    def withdraw(self, alert_id: bytes) -> None:
        truth = self.truth[alert_id]
        if truth.withdrawn:
            return
        truth.withdrawn = True
        truth.version += 1
        self._broadcast(
            withdraw(
                ORIGINATORS[truth.originator],
                alert_id,
                truth.version,
                created_at=truth.created_at,
                expires_at=truth.expires_at,
            )
        )

    # -- the network ------------------------------------------------------------------------

    @precondition(lambda self: any(self.queues))
    @rule(data=st.data(), duplicate=st.booleans())
    def deliver(self, data: st.DataObject, duplicate: bool) -> None:
        n = data.draw(st.sampled_from([i for i in range(REPLICAS) if self.queues[i]]))
        position = data.draw(st.integers(0, len(self.queues[n]) - 1))  # any order
        message = self.queues[n][position] if duplicate else self.queues[n].pop(position)
        self._apply(n, message, self._clock(n))

    @precondition(lambda self: any(self.queues))
    @rule(data=st.data())
    def lose(self, data: st.DataObject) -> None:
        n = data.draw(st.sampled_from([i for i in range(REPLICAS) if self.queues[i]]))
        self.queues[n].pop(data.draw(st.integers(0, len(self.queues[n]) - 1)))

    @rule(n=st.integers(0, REPLICAS - 1))
    def restart(self, n: int) -> None:
        """Persist every record as its frame, then rebuild the replica from the frames."""
        old = self.replicas[n]
        stored = [(encode(r.message), r.stored_at) for r in old.records()]
        records = []
        for frame, stored_at in stored:
            message = decode(frame)
            assert isinstance(message, AlertPublish | AlertUpdate | Withdrawal)
            records.append(record_from_message(message, stored_at))
        self.replicas[n] = Replica.from_records(NETWORK_ID, records, old.clock_floor)
        assert {r.alert_id: r for r in self.replicas[n].records()} == {
            r.alert_id: r for r in old.records()
        }

    @rule(n=st.integers(0, REPLICAS - 1))
    def purge(self, n: int) -> None:
        self.replicas[n].purge(self._clock(n))

    @rule(days=st.integers(0, 200))
    def advance(self, days: int) -> None:
        self.now += days * DAY

    @rule(n=st.integers(0, REPLICAS - 1), hours=st.integers(-72, 72))
    def clock_jump(self, n: int, hours: int) -> None:
        self.skew[n] = hours * 3600

    @rule(a=st.integers(0, REPLICAS - 1), b=st.integers(0, REPLICAS - 1))
    def sync_pair(self, a: int, b: int) -> None:
        if a != b:
            self._sync(a, b, min(self._clock(a), self._clock(b)))

    def _sync(self, a: int, b: int, now: int) -> None:
        left, right = self.replicas[a], self.replicas[b]
        initiator = SyncInitiator(
            left.index,
            network_id=NETWORK_ID,
            session=bytes(16),
            revocation_serial=0,
            group_epochs={},
        )
        responder = SyncResponder(
            right.index, network_id=NETWORK_ID, revocation_serial=0, group_epochs={}
        )
        run_sync(initiator, responder, lambda m: decode(encode(m)))
        assert initiator.result.fetch == responder.result.push
        assert initiator.result.push == responder.result.fetch
        for alert_id in sorted(initiator.result.fetch):
            record = right.record(alert_id)
            assert record is not None
            self._apply(a, decode(encode(record.message)), now)  # type: ignore[arg-type]
        for alert_id in sorted(initiator.result.push):
            record = left.record(alert_id)
            assert record is not None
            self._apply(b, decode(encode(record.message)), now)  # type: ignore[arg-type]

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def nothing_expired_suspended_or_withdrawn_is_visible(self) -> None:
        for n, replica in enumerate(self.replicas):
            now = max(self._clock(n), replica.clock_floor)
            for record in replica.active(self._clock(n)):
                assert now < record.expires_at
                assert record.status == "active"
                assert record.expires_at <= record.created_at + 366 * DAY

    @invariant()
    def no_withdrawn_alert_comes_back(self) -> None:
        for n, replica in enumerate(self.replicas):
            for alert_id in self.tombstoned[n]:
                assert replica.get(alert_id, self._clock(n)) is None
                record = replica.record(alert_id)
                assert record is None or record.withdrawn

    def teardown(self) -> None:
        if not hasattr(self, "replicas"):
            return
        # A full sync at a common time: purge, then sync around the ring twice.
        common = max([self.now + 3 * DAY] + [r.clock_floor for r in self.replicas])
        for replica in self.replicas:
            replica.purge(common)
        for _ in range(2):
            for n in range(REPLICAS):
                self._sync(n, (n + 1) % REPLICAS, common)
        states = [{r.alert_id: r.digest for r in replica.records()} for replica in self.replicas]
        assert all(state == states[0] for state in states)
        visible = [{r.alert_id for r in replica.active(common)} for replica in self.replicas]
        assert all(v == visible[0] for v in visible)
        seen_withdrawn = set().union(*self.tombstoned)
        assert not visible[0] & seen_withdrawn
        for alert_id in visible[0]:
            record = self.replicas[0].record(alert_id)
            assert record is not None
            assert common < record.expires_at
            if record.version == self.truth[alert_id].version:
                assert record.expires_at == self.truth[alert_id].expires_at
        for replica in self.replicas:
            assert replica.index.summary(b"") == self.replicas[0].index.summary(b"")


ReplicaMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestReplicas = ReplicaMachine.TestCase
