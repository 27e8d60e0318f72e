"""Frames: canonical msgpack with hard limits, decoded into typed messages.

Theory of operation: a frame is one canonical msgpack map (see
``doorwatch.crypto.canonical_pack``) with a protocol version ``v`` and a
message ``type``. Decoding is a pipeline that spends nothing it has not
bounded first:

1. the frame length is checked against ``Limits.max_frame``;
2. an iterative scanner walks the msgpack headers without building any
   object: it checks nesting depth, every declared str/bin/array/map length
   (against the limits *and* against the bytes actually left, so a 5-byte
   frame that claims a 4 GiB bin fails on its fifth byte), the total number
   of objects, and refuses floats, extension types and trailing bytes;
3. only then msgpack builds the objects (with the same limits as a second
   guard), and the result must re-encode to exactly the input bytes, so each
   message has one encoding and digests of frames are stable;
4. ``v`` and ``type`` select the pydantic model, the per-type size cap is
   applied, and the model is validated strictly with unknown fields refused.

Every foreign exception (msgpack, pydantic, crypto) is mapped here, once, to
``RemoteProtocolError`` with a code; nothing else escapes ``decode``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import msgpack  # type: ignore[import-untyped]
from pydantic import ValidationError

from doorwatch.crypto import CryptoError, canonical_pack
from doorwatch.protocol._errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from doorwatch.protocol._messages import (
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    Message,
)

KiB = 1024
MiB = 1024 * KiB

_DEFAULT_TYPE_CAPS: Mapping[str, int] = MappingProxyType(
    {
        "disclosure.photo.response": 700 * KiB,
        "disclosure.details.response": 256 * KiB,
        "group_key.delivery": 256 * KiB,
        "revocation_list.distribution": 256 * KiB,
        "certificate.distribution": 64 * KiB,
        "sync.hello": 64 * KiB,
        "sync.ranges": 1 * MiB,
        "banning.nomination": 512 * KiB,
        "banning.appeal": 512 * KiB,
        "banning.outcome": 1 * MiB,
    }
)


@dataclass(frozen=True)
class Limits:
    """Hard limits on one frame; every one is checked before the bytes are decoded."""

    max_frame: int = 1 * MiB
    default_type_cap: int = 64 * KiB
    type_caps: Mapping[str, int] = field(default_factory=lambda: _DEFAULT_TYPE_CAPS)
    max_depth: int = 8
    max_str: int = 16 * KiB
    max_bin: int = 700 * KiB
    max_array: int = 20_000
    max_map: int = 64
    max_objects: int = 200_000

    def cap_for(self, message_type: str) -> int:
        return min(self.max_frame, self.type_caps.get(message_type, self.default_type_cap))


DEFAULT_LIMITS = Limits()


_LENGTH_WIDTH = {
    0xC4: 1,  # bin 8
    0xC5: 2,  # bin 16
    0xC6: 4,  # bin 32
    0xD9: 1,  # str 8
    0xDA: 2,  # str 16
    0xDB: 4,  # str 32
    0xDC: 2,  # array 16
    0xDD: 4,  # array 32
    0xDE: 2,  # map 16
    0xDF: 4,  # map 32
}
"""Width of the big-endian length that follows each variable-length msgpack header byte."""


def _fail(message: str, code: ErrorCode) -> RemoteProtocolError:
    return RemoteProtocolError(message, code)


def scan(frame: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    """Walk the msgpack headers of ``frame`` without building objects; raise on any limit.

    Raises RemoteProtocolError (malformed, oversize or too_deep).
    """
    data = frame
    end = len(data)
    pos = 0
    stack: list[int] = []
    remaining = 1
    objects = 0

    def need(count: int) -> None:
        if pos + count > end:
            raise _fail("frame is truncated: a length runs past the end", ErrorCode.MALFORMED)

    while True:
        if remaining == 0:
            if not stack:
                break
            remaining = stack.pop()
            continue
        if pos >= end:
            raise _fail("frame is truncated: an item is missing", ErrorCode.MALFORMED)
        b = data[pos]
        pos += 1
        remaining -= 1
        objects += 1
        if objects > limits.max_objects:
            raise _fail(f"frame has more than {limits.max_objects} items", ErrorCode.OVERSIZE)
        if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3):
            continue
        length = -1
        kind = ""
        if 0x80 <= b <= 0x8F:
            kind, length = "map", b & 0x0F
        elif 0x90 <= b <= 0x9F:
            kind, length = "array", b & 0x0F
        elif 0xA0 <= b <= 0xBF:
            kind, length = "str", b & 0x1F
        elif 0xCC <= b <= 0xD3:
            size = 1 << ((b - 0xCC) & 0x03)
            need(size)
            pos += size
            continue
        else:
            width = _LENGTH_WIDTH.get(b)
            if width is None:
                if b in (0xCA, 0xCB):
                    raise _fail(
                        "frame contains a float; floats are not allowed", ErrorCode.MALFORMED
                    )
                if b == 0xC1:
                    raise _fail("frame contains the reserved byte 0xc1", ErrorCode.MALFORMED)
                raise _fail(
                    "frame contains an extension type; none are allowed", ErrorCode.MALFORMED
                )
            need(width)
            length = int.from_bytes(data[pos : pos + width], "big")
            pos += width
            if b in (0xC4, 0xC5, 0xC6):
                kind = "bin"
            elif b in (0xD9, 0xDA, 0xDB):
                kind = "str"
            elif b in (0xDC, 0xDD):
                kind = "array"
            else:
                kind = "map"
        if kind == "str" or kind == "bin":
            cap = limits.max_str if kind == "str" else limits.max_bin
            if length > cap:
                raise _fail(f"a {kind} is longer than the limit of {cap} bytes", ErrorCode.OVERSIZE)
            need(length)
            pos += length
            continue
        cap = limits.max_map if kind == "map" else limits.max_array
        if length > cap:
            raise _fail(f"a {kind} has more than the limit of {cap} entries", ErrorCode.OVERSIZE)
        items = length * 2 if kind == "map" else length
        # Every item takes at least one byte, so a count the bytes cannot hold is a lie.
        need(items)
        if items:
            if len(stack) + 1 > limits.max_depth:
                raise _fail(
                    f"frame nests deeper than the limit of {limits.max_depth} levels",
                    ErrorCode.TOO_DEEP,
                )
            stack.append(remaining)
            remaining = items
    if pos != end:
        raise _fail("frame has trailing bytes after the message", ErrorCode.MALFORMED)


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(message)"


def decode(frame: bytes, limits: Limits = DEFAULT_LIMITS) -> Message:
    """Decode one frame into its message; raise RemoteProtocolError and nothing else."""
    if not isinstance(frame, bytes | bytearray | memoryview):
        raise _fail("frame must be bytes", ErrorCode.MALFORMED)
    frame = bytes(frame)
    if len(frame) > limits.max_frame:
        raise _fail(
            f"frame of {len(frame)} bytes exceeds the limit of {limits.max_frame}",
            ErrorCode.OVERSIZE,
        )
    scan(frame, limits)
    try:
        obj = msgpack.unpackb(
            frame,
            raw=False,
            use_list=False,
            strict_map_key=True,
            max_str_len=limits.max_str,
            max_bin_len=limits.max_bin,
            max_array_len=limits.max_array,
            max_map_len=limits.max_map,
            max_ext_len=0,
        )
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as exc:
        raise _fail("frame is not well-formed msgpack", ErrorCode.MALFORMED) from exc
    try:
        canonical = canonical_pack(obj)
    except CryptoError as exc:
        raise _fail("frame holds a value canonical msgpack forbids", ErrorCode.MALFORMED) from exc
    if canonical != frame:
        raise _fail("frame is msgpack but not canonical", ErrorCode.MALFORMED)
    if not isinstance(obj, dict):
        raise _fail("frame must be a map with 'v' and 'type'", ErrorCode.MALFORMED)
    version = obj.get("v")
    if version != PROTOCOL_VERSION or isinstance(version, bool):
        raise _fail(f"protocol version 'v' must be {PROTOCOL_VERSION}", ErrorCode.UNKNOWN_VERSION)
    message_type = obj.get("type")
    model = MESSAGE_TYPES.get(message_type) if isinstance(message_type, str) else None
    if model is None:
        raise _fail("message 'type' is not one this node knows", ErrorCode.UNKNOWN_TYPE)
    assert isinstance(message_type, str)
    cap = limits.cap_for(message_type)
    if len(frame) > cap:
        raise _fail(
            f"{message_type} frame of {len(frame)} bytes exceeds its limit of {cap}",
            ErrorCode.OVERSIZE,
        )
    try:
        return model.model_validate(obj, strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        for error in errors:
            if error["type"] == "extra_forbidden":
                raise _fail(
                    f"{message_type}: unknown field '{_field_path(error['loc'])}'",
                    ErrorCode.UNKNOWN_FIELD,
                ) from None
        first = errors[0]
        raise _fail(
            f"{message_type}: field '{_field_path(first['loc'])}' is invalid ({first['type']})",
            ErrorCode.MALFORMED,
        ) from None


def encode(message: Message, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Encode ``message`` as one canonical frame; raise LocalProtocolError if a limit forbids it."""
    try:
        frame = canonical_pack(message.model_dump(mode="python"))
    except CryptoError as exc:
        raise LocalProtocolError(
            f"{message.type}: a value cannot be encoded canonically", ErrorCode.MALFORMED
        ) from exc
    cap = limits.cap_for(message.type)
    if len(frame) > cap:
        raise LocalProtocolError(
            f"{message.type} frame of {len(frame)} bytes exceeds its limit of {cap}",
            ErrorCode.OVERSIZE,
        )
    try:
        scan(frame, limits)
    except RemoteProtocolError as exc:
        raise LocalProtocolError(f"{message.type}: {exc.message}", exc.code) from None
    return frame
