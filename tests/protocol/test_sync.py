"""Sync: correctness of the differences found, and bytes that scale with them."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.protocol import (
    ErrorCode,
    ItemState,
    LocalProtocolError,
    Message,
    ReconciliationIndex,
    RemoteProtocolError,
    SyncHello,
    SyncInitiator,
    SyncRanges,
    SyncResponder,
    decode,
    encode,
    run_sync,
)
from doorwatch.protocol._index import item_hash
from tests.protocol.factories import NETWORK_ID

SESSION = bytes(range(16))


def _pair(
    a: ReconciliationIndex,
    b: ReconciliationIndex,
    *,
    serials: tuple[int, int] = (1, 1),
    epochs: tuple[dict[str, int], dict[str, int]] = ({}, {}),
    max_entries: int = 512,
) -> tuple[SyncInitiator, SyncResponder]:
    initiator = SyncInitiator(
        a,
        network_id=NETWORK_ID,
        session=SESSION,
        revocation_serial=serials[0],
        group_epochs=epochs[0],
        max_entries=max_entries,
    )
    responder = SyncResponder(
        b,
        network_id=NETWORK_ID,
        revocation_serial=serials[1],
        group_epochs=epochs[1],
        max_entries=max_entries,
    )
    return initiator, responder


class Wire:
    """Counts the bytes of every message and passes it through the real codec."""

    def __init__(self) -> None:
        self.bytes = 0
        self.messages = 0

    def __call__(self, message: Message) -> Message:
        frame = encode(message)
        self.bytes += len(frame)
        self.messages += 1
        return decode(frame)


def _state(rng: random.Random, version: int = 1, withdrawn: bool = False) -> ItemState:
    return ItemState(version=version, withdrawn=withdrawn, digest=rng.randbytes(32))


def _expected(a: ReconciliationIndex, b: ReconciliationIndex) -> tuple[set[bytes], set[bytes]]:
    """Ids where b holds the better record, and ids where a does (by brute force)."""
    a_ids = {i.alert_id for i in a.items(b"")}
    b_ids = {i.alert_id for i in b.items(b"")}
    fetch, push = set(), set()
    for alert_id in a_ids | b_ids:
        mine, theirs = a.get(alert_id), b.get(alert_id)
        if mine is None or (theirs is not None and theirs.supersedes(mine)):
            fetch.add(alert_id)
        elif theirs is None or mine.supersedes(theirs):
            push.add(alert_id)
    return fetch, push


item_specs = st.lists(
    st.tuples(
        st.binary(min_size=16, max_size=16),
        st.sampled_from(["both", "a", "b", "a-newer", "b-newer", "conflict", "a-withdrawn"]),
    ),
    max_size=120,
    unique_by=lambda t: t[0],
)


@settings(max_examples=60, deadline=None)
@given(item_specs, st.integers(1, 4), st.integers(1, 6))
def test_sync_finds_exactly_the_differences(
    specs: list[tuple[bytes, str]], threshold: int, max_entries: int
) -> None:
    rng = random.Random(len(specs))
    a, b = ReconciliationIndex(), ReconciliationIndex()
    for alert_id, kind in specs:
        base = _state(rng)
        if kind in ("both", "a-newer", "b-newer", "conflict", "a-withdrawn"):
            a.put(alert_id, base)
            b.put(alert_id, base)
        if kind == "a":
            a.put(alert_id, base)
        elif kind == "b":
            b.put(alert_id, base)
        elif kind == "a-newer":
            a.put(alert_id, _state(rng, 2))
        elif kind == "b-newer":
            b.put(alert_id, _state(rng, 2))
        elif kind == "conflict":
            b.put(alert_id, _state(rng, 1))
        elif kind == "a-withdrawn":
            a.put(alert_id, _state(rng, 0, withdrawn=True))
    initiator = SyncInitiator(
        a,
        network_id=NETWORK_ID,
        session=SESSION,
        revocation_serial=0,
        group_epochs={},
        item_threshold=threshold,
        max_entries=max_entries,
    )
    responder = SyncResponder(
        b,
        network_id=NETWORK_ID,
        revocation_serial=0,
        group_epochs={},
        item_threshold=threshold,
        max_entries=max_entries,
    )
    run_sync(initiator, responder, Wire())
    assert initiator.done
    assert responder.done
    fetch, push = _expected(a, b)
    assert initiator.result.fetch == fetch
    assert initiator.result.push == push
    assert responder.result.fetch == push
    assert responder.result.push == fetch


def test_membership_state_is_compared() -> None:
    initiator, responder = _pair(
        ReconciliationIndex(),
        ReconciliationIndex(),
        serials=(3, 5),
        epochs=({"all": 2, "door": 1}, {"all": 1, "bar": 4}),
    )
    run_sync(initiator, responder, Wire())
    assert initiator.result.fetch_revocation_list
    assert responder.result.push_revocation_list
    assert initiator.result.fetch_group_keys == {"bar"}
    assert initiator.result.push_group_keys == {"all", "door"}
    assert responder.result.fetch_group_keys == {"all", "door"}


def _indexes(n: int, differences: int, seed: int = 7) -> tuple[ReconciliationIndex, ...]:
    rng = random.Random(seed)
    a, b = ReconciliationIndex(), ReconciliationIndex()
    for _ in range(n):
        alert_id, state = rng.randbytes(16), _state(rng)
        a.put(alert_id, state)
        b.put(alert_id, state)
    for _ in range(differences):
        b.put(rng.randbytes(16), _state(rng))
    return a, b


def _sync_bytes(n: int, differences: int) -> tuple[int, int]:
    a, b = _indexes(n, differences)
    wire = Wire()
    initiator, responder = _pair(a, b)
    run_sync(initiator, responder, wire)
    assert len(initiator.result.fetch) == differences
    return wire.bytes, wire.messages


def test_bytes_grow_with_differences_not_with_alerts() -> None:
    same_small, _ = _sync_bytes(100, 0)
    same_large, rounds = _sync_bytes(10_000, 0)
    few, _ = _sync_bytes(1000, 10)
    many, _ = _sync_bytes(1000, 1000)
    # No differences: one round trip of a fixed size, whatever the number of alerts
    # (only the msgpack width of the item count grows).
    assert same_large <= same_small + 4
    assert rounds == 2
    # With differences, the cost is per difference: 1,000 differences cost at
    # least 50 times what no difference costs, and 10 differences far less than 1,000.
    assert many > 50 * same_large
    assert few * 20 < many
    assert many / 1000 < 1000  # under a kilobyte per difference


@pytest.mark.parametrize("empty_side", ["initiator", "responder"])
def test_a_new_node_fetches_everything_in_bounded_frames(empty_side: str) -> None:
    full, _ = _indexes(20_000, 0)
    empty = ReconciliationIndex()
    a, b = (empty, full) if empty_side == "initiator" else (full, empty)
    initiator, responder = _pair(a, b)
    wire = Wire()
    frames: list[int] = []

    def transport(message: Message) -> Message:
        frames.append(len(encode(message)))
        return wire(message)

    run_sync(initiator, responder, transport)
    lacking = initiator if empty_side == "initiator" else responder
    assert len(lacking.result.fetch) == 20_000
    assert max(frames) <= 1024 * 1024
    assert wire.bytes < 20_000 * 60  # about the size of the ids and digests themselves


def test_messages_are_split_by_max_entries() -> None:
    a, b = _indexes(300, 300)
    initiator, responder = _pair(a, b, max_entries=2)
    wire = Wire()
    run_sync(initiator, responder, wire)
    assert len(initiator.result.fetch) == 300
    assert wire.messages > 10


def test_responder_refuses_another_network() -> None:
    _, responder = _pair(ReconciliationIndex(), ReconciliationIndex())
    hello = SyncHello(
        network_id="0123456789abcdef",
        session=SESSION,
        revocation_serial=0,
        group_epochs=(),
        root=ReconciliationIndex().summary(b""),
    )
    with pytest.raises(RemoteProtocolError) as err:
        responder.receive(hello)
    assert err.value.code is ErrorCode.WRONG_NETWORK


def test_out_of_turn_and_wrong_session_messages_are_refused() -> None:
    initiator, responder = _pair(*_indexes(50, 5))
    with pytest.raises(RemoteProtocolError) as err:
        responder.receive(SyncRanges(session=SESSION))
    assert err.value.code is ErrorCode.OUT_OF_ORDER
    hello = initiator.send()
    assert hello is not None
    responder.receive(hello)
    with pytest.raises(RemoteProtocolError) as err:
        responder.receive(SyncRanges(session=SESSION))  # it is the responder's turn to send
    assert err.value.code is ErrorCode.OUT_OF_ORDER
    reply = responder.send()
    assert isinstance(reply, SyncRanges)
    with pytest.raises(RemoteProtocolError) as err:
        initiator.receive(reply.model_copy(update={"session": bytes(16)}))
    assert err.value.code is ErrorCode.WRONG_SESSION


def test_items_outside_their_range_are_refused() -> None:
    initiator, responder = _pair(*_indexes(20, 0))
    hello = initiator.send()
    assert hello is not None
    responder.receive(hello)
    responder.send()
    bogus = SyncRanges.model_validate(
        {
            "session": SESSION,
            "items": (
                {
                    "prefix": b"\x01",
                    "reply": True,
                    "ids": b"\xff" * 16,
                    "digests": bytes(16),
                    "versions": (1,),
                    "withdrawn": (False,),
                },
            ),
        }
    )
    with pytest.raises(RemoteProtocolError) as err:
        initiator.receive(decode(encode(bogus)))
    assert err.value.code is ErrorCode.MALFORMED


def test_sending_out_of_turn_is_a_local_error() -> None:
    initiator, _ = _pair(ReconciliationIndex(), ReconciliationIndex())
    assert initiator.send() is not None
    assert initiator.send() is None  # waiting for the peer
    with pytest.raises(LocalProtocolError):
        SyncInitiator(
            ReconciliationIndex(),
            network_id=NETWORK_ID,
            session=b"short",
            revocation_serial=0,
            group_epochs={},
        )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.binary(min_size=16, max_size=16).map(lambda b: bytes([b[0] & 0x1F]) + b[1:]),
            st.integers(0, 3),
            st.booleans(),
        ),
        max_size=80,
    ),
    st.lists(st.integers(0, 15), max_size=5).map(bytes),
)
def test_incremental_summaries_equal_a_fresh_index(
    operations: list[tuple[bytes, int, bool]], prefix: bytes
) -> None:
    """After any puts and removes, every range summary equals that of an index built anew."""
    index = ReconciliationIndex()
    for alert_id, version, remove in operations:
        if remove:
            index.remove(alert_id)
        else:
            index.put(alert_id, ItemState(version, False, alert_id * 2))
    fresh = ReconciliationIndex()
    for item in index.items(b""):
        state = index.get(item.alert_id)
        assert state is not None
        fresh.put(item.alert_id, state)
    for depth in range(len(prefix) + 1):
        assert index.summary(prefix[:depth]) == fresh.summary(prefix[:depth])
    items = index.items(prefix)
    assert index.summary(prefix).count == len(items)
    total = sum(item_hash(i.alert_id, ItemState(i.version, False, i.alert_id * 2)) for i in items)
    assert index.summary(prefix).fingerprint == (total % 2**64).to_bytes(8, "big")
