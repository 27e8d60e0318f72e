"""Random bytes for the scan path, drawn from the operating system in blocks.

Every scan needs a scan id, a match id per match and a nonce for its visit
row: three or more ``getrandom`` system calls, which cost a few percent of a
scan's CPU on their own (more under load). ``RandomPool`` reads
``os.urandom`` 4 KiB at a time and hands the bytes out in order; each byte
is still the kernel's CSPRNG output, used once. (Bytes held in the pool are
no secret from anyone who can read the process's memory, who can also read
its storage key.)
"""

from __future__ import annotations

import os
import threading
from typing import Final

BLOCK: Final = 4096


class RandomPool:
    """Cryptographically secure random bytes, ``os.urandom`` read in blocks."""

    __slots__ = ("_buffer", "_lock", "_pos")

    def __init__(self) -> None:
        self._buffer = b""
        self._pos = 0
        # Callers on the trio thread and on worker threads must never get the
        # same bytes.
        self._lock = threading.Lock()

    def __call__(self, n: int) -> bytes:
        if n > BLOCK:
            return os.urandom(n)
        with self._lock:
            end = self._pos + n
            if end > len(self._buffer):
                self._buffer, self._pos, end = os.urandom(BLOCK), 0, n
            out = self._buffer[self._pos : end]
            self._pos = end
            return out

    def token_hex(self, n: int) -> str:
        """``n`` random bytes as ``2n`` hex digits (``secrets.token_hex``)."""
        return self(n).hex()


random_bytes: Final = RandomPool()
"""The process's pool."""
