"""The codec: round trips, strict versioning, hard limits, and a decoder fuzz test."""

from __future__ import annotations

import tracemalloc

import msgpack  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doorwatch.crypto import canonical_pack
from doorwatch.protocol import (
    ALL_MESSAGES,
    DEFAULT_LIMITS,
    ErrorCode,
    Limits,
    LocalProtocolError,
    Message,
    PhotoResponse,
    RemoteProtocolError,
    decode,
    encode,
)
from tests.protocol.factories import identity, publish
from tests.protocol.strategies import STRATEGIES, any_message

ROUND_TRIP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("model", ALL_MESSAGES, ids=lambda m: m.__name__)
def test_every_message_round_trips(model: type[Message]) -> None:
    @ROUND_TRIP
    @given(STRATEGIES[model])
    def check(message: Message) -> None:
        frame = encode(message)
        assert decode(frame) == message
        assert encode(decode(frame)) == frame

    check()


def _frame_of(message: Message) -> dict[str, object]:
    return dict(message.model_dump())


def _sample() -> Message:
    return publish(identity("codec"), bytes(range(16)))


def test_unknown_version_is_refused() -> None:
    obj = _frame_of(_sample())
    obj["v"] = 2
    with pytest.raises(RemoteProtocolError) as err:
        decode(canonical_pack(obj))
    assert err.value.code is ErrorCode.UNKNOWN_VERSION


def test_missing_version_is_refused() -> None:
    obj = _frame_of(_sample())
    del obj["v"]
    with pytest.raises(RemoteProtocolError) as err:
        decode(canonical_pack(obj))
    assert err.value.code is ErrorCode.UNKNOWN_VERSION


def test_unknown_type_is_refused() -> None:
    obj = _frame_of(_sample())
    obj["type"] = "alert.resurrect"
    with pytest.raises(RemoteProtocolError) as err:
        decode(canonical_pack(obj))
    assert err.value.code is ErrorCode.UNKNOWN_TYPE


def test_unknown_field_is_refused_and_named() -> None:
    obj = _frame_of(_sample())
    obj["colour"] = "red"
    with pytest.raises(RemoteProtocolError) as err:
        decode(canonical_pack(obj))
    assert err.value.code is ErrorCode.UNKNOWN_FIELD
    assert "colour" in err.value.message


def test_unknown_nested_field_is_refused() -> None:
    obj = _frame_of(_sample())
    envelope = dict(obj["envelope"])  # type: ignore[call-overload]
    envelope["extra"] = 1
    obj["envelope"] = envelope
    with pytest.raises(RemoteProtocolError) as err:
        decode(canonical_pack(obj))
    assert err.value.code is ErrorCode.UNKNOWN_FIELD


def test_wrong_field_type_is_malformed_and_names_the_field() -> None:
    obj = _frame_of(_sample())
    envelope = dict(obj["envelope"])  # type: ignore[call-overload]
    envelope["signature"] = "not bytes"
    obj["envelope"] = envelope
    with pytest.raises(RemoteProtocolError) as err:
        decode(canonical_pack(obj))
    assert err.value.code is ErrorCode.MALFORMED
    assert "envelope.signature" in err.value.message


def test_envelope_kind_must_fit_the_message_type() -> None:
    obj = _frame_of(_sample())
    obj["type"] = "alert.update"  # an update must carry kind update or suspended
    with pytest.raises(RemoteProtocolError) as err:
        decode(canonical_pack(obj))
    assert err.value.code is ErrorCode.MALFORMED


def test_non_canonical_encoding_is_refused() -> None:
    obj = _frame_of(_sample())
    # Same content, keys in reverse order: valid msgpack, not canonical.
    frame = msgpack.packb(dict(reversed(list(obj.items()))), use_bin_type=True)
    with pytest.raises(RemoteProtocolError) as err:
        decode(frame)
    assert err.value.code is ErrorCode.MALFORMED
    assert "canonical" in err.value.message


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"", ErrorCode.MALFORMED),
        (b"\xc1", ErrorCode.MALFORMED),
        (b"\xcb" + bytes(8), ErrorCode.MALFORMED),  # float
        (b"\xd4\x01\x00", ErrorCode.MALFORMED),  # ext type
        (b"\x80\x80", ErrorCode.MALFORMED),  # trailing bytes
        (b"\x93\x01", ErrorCode.MALFORMED),  # truncated array
        (b"\xc6\xff\xff\xff\xff", ErrorCode.OVERSIZE),  # bin claiming 4 GiB
        (b"\xdb\xff\xff\xff\xff", ErrorCode.OVERSIZE),  # str claiming 4 GiB
        (b"\xdd\xff\xff\xff\xff", ErrorCode.OVERSIZE),  # array claiming 4 G items
        (b"\xdf\xff\xff\xff\xff", ErrorCode.OVERSIZE),  # map claiming 4 G pairs
        (b"\xc6\x00\x00\x10\x00", ErrorCode.MALFORMED),  # bin longer than the frame
        (b"\xdc\x10\x00", ErrorCode.MALFORMED),  # 4096 items promised, none present
        (b"\x91" * 100_000 + b"\xc0", ErrorCode.TOO_DEEP),
        (b"\x81\xa1a" * 50_000 + b"\xc0", ErrorCode.TOO_DEEP),
        (b"\x01", ErrorCode.MALFORMED),  # not a map
        (b"\xa0", ErrorCode.MALFORMED),
    ],
)
def test_hostile_frames_fail_fast_with_a_code(frame: bytes, code: ErrorCode) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(RemoteProtocolError) as err:
            decode(frame)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.code is code
    # msgpack keeps a 256 KiB working buffer; nothing may grow with the lengths claimed.
    assert peak < 4 * len(frame) + 512 * 1024


def test_oversize_frame_is_refused_before_decoding() -> None:
    with pytest.raises(RemoteProtocolError) as err:
        decode(b"\xc0" * (DEFAULT_LIMITS.max_frame + 1))
    assert err.value.code is ErrorCode.OVERSIZE


def test_per_type_cap_applies() -> None:
    small = Limits(type_caps={"alert.publish": 100})
    frame = encode(_sample())
    with pytest.raises(RemoteProtocolError) as err:
        decode(frame, small)
    assert err.value.code is ErrorCode.OVERSIZE
    assert "alert.publish" in err.value.message


def test_photo_frames_get_their_larger_cap() -> None:
    photo = PhotoResponse(
        request_id=bytes(16), alert_id=bytes(16), sealed_photo=b"\x01" * (600 * 1024 + 49)
    )
    assert decode(encode(photo)) == photo


def test_encode_refuses_what_the_peer_would_refuse() -> None:
    with pytest.raises(LocalProtocolError) as err:
        encode(_sample(), Limits(type_caps={"alert.publish": 100}))
    assert err.value.code is ErrorCode.OVERSIZE


def _decode_or_code(data: bytes) -> Message | ErrorCode:
    """The message, or the code of the RemoteProtocolError; any other exception escapes."""
    try:
        return decode(data)
    except RemoteProtocolError as exc:
        return ErrorCode(exc.code)


@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    result = _decode_or_code(data)
    if not isinstance(result, ErrorCode):
        assert encode(result) == data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_message, st.data())
def test_fuzz_mutated_valid_frames(message: Message, data: st.DataObject) -> None:
    frame = bytearray(encode(message))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(frame) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            frame[position] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del frame[position:]
            if not frame:
                frame.append(0)
        else:
            frame.insert(position, data.draw(st.integers(0, 255)))
    result = _decode_or_code(bytes(frame))
    if not isinstance(result, ErrorCode):
        assert encode(result) == bytes(frame)


def test_decode_refuses_non_bytes() -> None:
    with pytest.raises(RemoteProtocolError):
        decode("text")  # type: ignore[arg-type]
