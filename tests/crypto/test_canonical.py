from __future__ import annotations

import tracemalloc

import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.crypto import InvalidEncoding, canonical_pack, canonical_unpack

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(values)
def test_round_trip_and_determinism(value: object) -> None:
    packed = canonical_pack(value)
    assert canonical_unpack(packed) == value
    assert canonical_pack(canonical_unpack(packed)) == packed


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.integers(0, 1000), min_size=2, max_size=6))
def test_map_key_order_does_not_matter(mapping: dict[str, int]) -> None:
    reversed_map = dict(reversed(list(mapping.items())))
    assert canonical_pack(mapping) == canonical_pack(reversed_map)


def test_bytes_and_str_are_distinct_types() -> None:
    assert canonical_pack(b"a") != canonical_pack("a")
    assert canonical_unpack(canonical_pack(b"a")) == b"a"
    assert canonical_pack(True) != canonical_pack(1)


def test_tuples_encode_as_lists() -> None:
    assert canonical_pack((1, 2)) == canonical_pack([1, 2])


@pytest.mark.parametrize(
    "bad",
    [1.5, {1: "int key"}, {"k": 1.0}, object(), 2**64, -(2**63) - 1, {"set"}],
)
def test_rejects_what_has_no_canonical_form(bad: object) -> None:
    with pytest.raises(InvalidEncoding):
        canonical_pack(bad)


def test_rejects_non_canonical_bytes() -> None:
    unsorted = msgpack.packb({"b": 1, "a": 2})
    with pytest.raises(InvalidEncoding, match="not canonical"):
        canonical_unpack(unsorted)
    wide_int = b"\xcd\x00\x01"  # uint16 encoding of 1
    with pytest.raises(InvalidEncoding, match="not canonical"):
        canonical_unpack(wide_int)
    str_as_bytes = msgpack.packb("x", use_bin_type=False)
    assert canonical_unpack(str_as_bytes) == "x"  # str8 family: same canonical form


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\xc1",
        b"\x92\x01",  # truncated array
        b"\x01\x02",  # trailing data
        msgpack.packb(1.5),
        msgpack.packb({1: 2}),
        b"\xd4\x01\x00",  # ext type
        b"\xa1\xff",  # invalid UTF-8
    ],
)
def test_rejects_malformed_bytes(bad: bytes) -> None:
    with pytest.raises(InvalidEncoding):
        canonical_unpack(bad)


def test_depth_limit() -> None:
    deep: object = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(InvalidEncoding, match="nesting"):
        canonical_pack(deep)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_raise_typed_error(data: bytes) -> None:
    try:
        value = canonical_unpack(data)
    except InvalidEncoding:
        return
    assert canonical_pack(value) == data


@pytest.mark.parametrize(
    "header",
    [
        b"\xdc\xff\xff",  # array16 claiming 65535 items
        b"\xdd\x00\x00\xff\xff",  # array32 claiming 65535 items
        b"\xde\x0f\xff\xa1k",  # map16 claiming 4095 pairs, then a key
    ],
)
def test_container_counts_are_checked_before_allocation(header: bytes) -> None:
    # A few kilobytes of nested container headers that each claim the maximum count must
    # be refused without msgpack pre-allocating every claimed slot (tens of megabytes).
    data = header * (3000 // len(header))
    tracemalloc.start()
    try:
        with pytest.raises(InvalidEncoding):
            canonical_unpack(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * len(data) + 100_000


def test_counts_larger_than_the_input_are_refused() -> None:
    # A one-level array that claims more items than there are bytes left.
    with pytest.raises(InvalidEncoding):
        canonical_unpack(b"\xdc\x00\x05\x01\x02")
    assert canonical_unpack(b"\x95\x01\x02\x03\x04\x05") == [1, 2, 3, 4, 5]


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(InvalidEncoding):
        canonical_unpack(canonical_pack([1, 2]) + b"\x00")


@pytest.mark.parametrize("bad", ["\ud800", {"\udcff": 1}, ["ok", "x\ud800"]])
def test_text_that_is_not_valid_unicode_is_a_typed_error(bad: object) -> None:
    # Lone surrogates cannot be UTF-8 encoded; the error must be ours, and must not
    # echo the text (it may be personal data).
    with pytest.raises(InvalidEncoding) as info:
        canonical_pack(bad)
    assert "\ud800" not in info.value.message
    assert "\udcff" not in info.value.message
