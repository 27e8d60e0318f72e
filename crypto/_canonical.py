"""Canonical msgpack: the one byte encoding of anything that is signed.

Theory of operation: a value has exactly one encoding. Maps have str keys
only, written in ascending code-point order (the same as UTF-8 byte order);
bytes use the msgpack bin family, str the str family; ints take msgpack's
smallest form; only None, bool, int (signed or unsigned 64-bit), str, bytes,
lists (tuples encode as lists) and maps are allowed, floats and extension
types are rejected. Decoding accepts only bytes that re-encode to themselves,
so two different byte strings can never carry the same signed value.

Before msgpack builds anything, a scan of the bytes checks the structure:
nesting depth, and that every container count fits in the bytes left (each
item takes at least one byte, summed over all open containers). msgpack
pre-allocates a list of the declared size for every array header, so without
the scan a few kilobytes of nested "65535 items" headers would allocate tens
of megabytes; with it, what is allocated is linear in the input's length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgpack  # type: ignore[import-untyped]

from doorwatch.crypto._errors import InvalidEncoding

CanonicalValue = Any
"""None | bool | int | str | bytes | list[CanonicalValue] | dict[str, CanonicalValue]."""

MAX_DEPTH = 32
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


def _normalise(obj: object, depth: int) -> object:
    if depth > MAX_DEPTH:
        raise InvalidEncoding(f"canonical encoding: nesting deeper than {MAX_DEPTH} levels")
    kind = type(obj)
    if kind is str or kind is bytes or kind is bool or obj is None:
        return obj
    if kind is dict or isinstance(obj, Mapping):
        items: list[tuple[str, object]] = []
        for key, value in obj.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise InvalidEncoding("canonical encoding: map keys must be strings")
            items.append((key, _normalise(value, depth + 1)))
        items.sort(key=_first)
        return dict(items)
    if kind is list or kind is tuple:
        return [_normalise(v, depth + 1) for v in obj]  # type: ignore[attr-defined]
    if isinstance(obj, int) and not isinstance(obj, bool):
        if not _INT_MIN <= obj <= _INT_MAX:
            raise InvalidEncoding("canonical encoding: an integer is outside the 64-bit range")
        return int(obj)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        return bytes(obj)
    if isinstance(obj, float):
        raise InvalidEncoding("canonical encoding: floats are not allowed")
    if isinstance(obj, Sequence):
        return [_normalise(v, depth + 1) for v in obj]
    raise InvalidEncoding(f"canonical encoding: values of type {kind.__name__} are not allowed")


def _first(item: tuple[str, object]) -> str:
    return item[0]


def canonical_pack(obj: CanonicalValue) -> bytes:
    """Encode ``obj`` canonically; raise InvalidEncoding for anything not allowed."""
    normal = _normalise(obj, 0)
    try:
        packed: bytes = msgpack.packb(normal, use_bin_type=True, strict_types=False)
    except UnicodeEncodeError:
        raise InvalidEncoding(
            "canonical encoding: text must be valid Unicode (no lone surrogates)"
        ) from None  # the foreign message quotes the text
    return packed


# Fixed-size msgpack items by type byte: total size in bytes (type byte included).
_FIXED = {0xC0: 1, 0xC2: 1, 0xC3: 1, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9}
_FIXED.update({0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9})
# Length-prefixed str/bin: width of the length field.
_BLOB = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}
# Array/map headers: (width of the count field, items per count).
_CONTAINER = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}


def _scan(data: bytes) -> None:
    """Check depth and counts before msgpack allocates; raise InvalidEncoding."""
    end = len(data)
    pos = 0
    stack = [1]  # items still expected in each open container; the root holds one value
    outstanding = 1  # the sum of stack: items promised and not yet read
    while stack:
        if stack[-1] == 0:
            stack.pop()
            continue
        if pos >= end:
            raise InvalidEncoding("canonical encoding: the bytes end inside a value")
        b = data[pos]
        stack[-1] -= 1
        outstanding -= 1
        count = 0
        per = 1
        if b <= 0x7F or b >= 0xE0:
            pos += 1
            continue
        if 0xA0 <= b <= 0xBF:
            pos += 1 + (b & 0x1F)
            continue
        if 0x80 <= b <= 0x9F:
            pos += 1
            count, per = b & 0x0F, (2 if b <= 0x8F else 1)
        elif b in _FIXED:
            pos += _FIXED[b]
            continue
        elif b in _BLOB:
            width = _BLOB[b]
            pos += 1 + width + int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
            continue
        elif b in _CONTAINER:
            width, per = _CONTAINER[b]
            count = int.from_bytes(data[pos + 1 : pos + 1 + width], "big")
            pos += 1 + width
        else:
            raise InvalidEncoding(
                "canonical encoding: floats, extension types and reserved bytes are not allowed"
            )
        items = count * per
        if not items:
            continue
        if len(stack) > MAX_DEPTH:
            raise InvalidEncoding(f"canonical encoding: nesting deeper than {MAX_DEPTH} levels")
        outstanding += items
        if outstanding > end - pos:
            raise InvalidEncoding(
                "canonical encoding: a container claims more items than the bytes can hold"
            )
        stack.append(items)
    if pos != end:
        raise InvalidEncoding("canonical encoding: bytes left over after the value")


def canonical_unpack(
    data: bytes,
    *,
    max_str_len: int = 1 << 20,
    max_bin_len: int = 1 << 24,
    max_array_len: int = 1 << 16,
    max_map_len: int = 1 << 12,
) -> CanonicalValue:
    """Decode canonical msgpack; raise InvalidEncoding for malformed or non-canonical bytes.

    The structure is scanned first (depth, and container counts against the
    bytes left), then the length limits are applied by msgpack while decoding,
    before it builds the objects; callers that know tighter limits should pass
    them.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidEncoding("canonical encoding: input must be bytes")
    data = bytes(data)
    _scan(data)
    try:
        obj = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_str_len=max_str_len,
            max_bin_len=max_bin_len,
            max_array_len=max_array_len,
            max_map_len=max_map_len,
            max_ext_len=0,
        )
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as exc:
        raise InvalidEncoding("canonical encoding: the bytes are not well-formed msgpack") from exc
    if canonical_pack(obj) != data:
        raise InvalidEncoding("canonical encoding: the bytes are msgpack but not canonical")
    return obj
