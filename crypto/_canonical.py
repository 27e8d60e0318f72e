"""Canonical msgpack: the one byte encoding of anything that is signed.

Theory of operation: a value has exactly one encoding. Maps have str keys
only, written in ascending code-point order (the same as UTF-8 byte order);
bytes use the msgpack bin family, str the str family; ints take msgpack's
smallest form; only None, bool, int (signed or unsigned 64-bit), str, bytes,
lists (tuples encode as lists) and maps are allowed, floats and extension
types are rejected. Decoding accepts only bytes that re-encode to themselves,
so two different byte strings can never carry the same signed value.
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
    packed: bytes = msgpack.packb(normal, use_bin_type=True, strict_types=False)
    return packed


def canonical_unpack(
    data: bytes,
    *,
    max_str_len: int = 1 << 20,
    max_bin_len: int = 1 << 24,
    max_array_len: int = 1 << 16,
    max_map_len: int = 1 << 12,
) -> CanonicalValue:
    """Decode canonical msgpack; raise InvalidEncoding for malformed or non-canonical bytes.

    The length limits are applied by msgpack while decoding (before building
    the objects); callers that know tighter limits should pass them.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidEncoding("canonical encoding: input must be bytes")
    data = bytes(data)
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
