"""Text encodings: base58btc (libp2p peer ids), Crockford base32 (ids people
read aloud and tokens they paste) and the GF(32) check character.

The check character is a weighted sum over GF(2^5) (polynomial x^5+x^2+1):
check = sum(alpha^(i+1) * value_i) with distinct non-zero weights, the check
itself weighted 1. Any single substituted character changes the sum by
weight*difference != 0, and swapping any two different characters (adjacent or
not) changes it by (w_i - w_j)*(a - b) != 0, so both are always caught, for
up to 30 data characters.
"""

from __future__ import annotations

from doorwatch.crypto._errors import InvalidEncoding

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_INDEX = {c: i for i, c in enumerate(CROCKFORD)}
_CROCKFORD_INDEX.update({"O": 0, "I": 1, "L": 1})


def b58encode(data: bytes) -> str:
    zeros = len(data) - len(data.lstrip(b"\0"))
    n = int.from_bytes(data, "big")
    out: list[str] = []
    while n:
        n, rem = divmod(n, 58)
        out.append(_B58[rem])
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    zeros = len(text) - len(text.lstrip("1"))
    n = 0
    for ch in text:
        digit = _B58_INDEX.get(ch)
        if digit is None:
            raise InvalidEncoding("base58: a character is outside the base58btc alphabet")
        n = n * 58 + digit
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * zeros + body


def b32encode(data: bytes) -> str:
    """Crockford base32, upper case, no padding (the last group is zero-filled)."""
    n = int.from_bytes(data, "big")
    bits = len(data) * 8
    chars = (bits + 4) // 5
    n <<= chars * 5 - bits
    return "".join(CROCKFORD[(n >> (5 * (chars - 1 - i))) & 31] for i in range(chars))


def b32values(text: str) -> list[int]:
    """Character values of Crockford base32 text; case-insensitive, O->0, I/L->1."""
    out: list[int] = []
    for ch in text.upper():
        v = _CROCKFORD_INDEX.get(ch)
        if v is None:
            raise InvalidEncoding("base32: a character is outside the Crockford base32 alphabet")
        out.append(v)
    return out


def b32decode(text: str) -> bytes:
    values = b32values(text)
    bits = len(values) * 5
    nbytes = bits // 8
    n = 0
    for v in values:
        n = (n << 5) | v
    pad = bits - nbytes * 8
    if n & ((1 << pad) - 1):
        raise InvalidEncoding("base32: the text has stray trailing bits")
    return (n >> pad).to_bytes(nbytes, "big")


def _gf32_mul(a: int, b: int) -> int:
    result = 0
    while b:
        if b & 1:
            result ^= a
        b >>= 1
        a <<= 1
        if a & 32:
            a ^= 0b100101
    return result


MAX_CHECKED_CHARS = 30


def check_value(values: list[int]) -> int:
    """The GF(32) check value for data characters ``values`` (at most 30)."""
    if len(values) > MAX_CHECKED_CHARS:
        raise ValueError("check characters cover at most 30 data characters")
    total = 0
    weight = 1
    for v in reversed(values):
        weight = _gf32_mul(weight, 2)
        total ^= _gf32_mul(weight, v)
    return total
