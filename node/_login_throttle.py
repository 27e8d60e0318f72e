"""Login throttling per source and user name, and the bound on logins being checked.

A wrong password costs its source, not the account: after ``FREE_FAILURES``
failed logins in a row for one user name from one source, that source must
wait before its next attempt for that name, ``BASE_DELAY_S`` doubling with
each further failure up to ``MAX_DELAY_S``. An attempt made before then is
refused at once, without Argon2 work. The same holds for all names together
after ``FREE_SOURCE_FAILURES`` (a guesser trying many names). A success from
that source, or ``FORGET_S`` without a failure, clears it. The same name from
another source is not slowed, so a guesser cannot lock the legitimate user
out; and since the delay is capped, a source is never refused for longer than
``MAX_DELAY_S`` after its last failure.

A source is what the kernel says about the connection: on the Unix socket,
the peer's user id (``SO_PEERCRED``; a process id would give every new process
a fresh allowance); on the loopback TCP listener, the peer's address. So two
door apps running as one Unix user share one source.

``LoginGate`` bounds the password checks waiting for or using Argon2 (64 MiB
and tens of milliseconds each) to ``MAX_PENDING``: beyond it a login is
refused at once as busy, rather than queueing work without limit.

Everything here is in memory: a restart forgets it, which costs a guesser no
more than a restart costs the node. User names are kept as keyed digests (a
name may be a password typed into the wrong field).
"""

from __future__ import annotations

import hashlib
import secrets
import socket
import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import trio

from doorwatch.node._errors import ApiError, Busy, ErrorCode

__all__ = [
    "BASE_DELAY_S",
    "FREE_FAILURES",
    "FREE_SOURCE_FAILURES",
    "MAX_DELAY_S",
    "MAX_PENDING",
    "LoginGate",
    "LoginThrottle",
    "LoginThrottled",
    "source_of",
]

FREE_FAILURES: Final = 3
FREE_SOURCE_FAILURES: Final = 20
BASE_DELAY_S: Final = 1.0
MAX_DELAY_S: Final = 60.0
FORGET_S: Final = 3600.0
MAX_TRACKED: Final = 10_000
"""(source, user name) pairs remembered at most; the oldest go first."""
MAX_PENDING: Final = 8
"""Password logins being checked at once (running on the 2 hashing threads or waiting)."""


class LoginThrottled(ApiError):
    code = ErrorCode.RATE_LIMITED


def source_of(sock: trio.socket.SocketType) -> str:
    """The source of a connection (see the module doc); ``"unknown"`` if the kernel will
    not say (then every such connection shares one source)."""
    try:
        if sock.family == socket.AF_UNIX:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            _pid, uid, _gid = struct.unpack("3i", creds)
            return f"uid:{uid}"
        return f"tcp:{sock.getpeername()[0]}"
    except (OSError, AttributeError, struct.error):
        return "unknown"


@dataclass
class _Failures:
    count: int
    last: float
    until: float


class LoginThrottle:
    """Failed logins per (source, user name) and the back-off they earn (module doc)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._salt = secrets.token_bytes(16)
        self._failures: OrderedDict[bytes, _Failures] = OrderedDict()

    def _keys(self, source: str, username: str) -> tuple[tuple[bytes, int], tuple[bytes, int]]:
        """(key, free failures) of the (source, name) entry and of the source's own."""
        h = hashlib.blake2b(key=self._salt, digest_size=16)
        h.update(source.encode())
        whole = h.copy()
        h.update(b"\0" + username.encode())
        return (h.digest(), FREE_FAILURES), (whole.digest(), FREE_SOURCE_FAILURES)

    def check(self, source: str, username: str) -> None:
        """Raise ``LoginThrottled`` (with ``retry_after_s``) if this source must wait."""
        now = self._clock()
        until = max(
            (e.until for k, _ in self._keys(source, username) if (e := self._failures.get(k))),
            default=0.0,
        )
        if now >= until:
            return
        wait = max(1, round(until - now + 0.5))
        raise LoginThrottled(
            f"too many failed logins from here; try again in {wait} s",
            data={"retry_after_s": wait},
        )

    def failed(self, source: str, username: str) -> float:
        """Count a failure; return the longest delay it imposes (0 while failures are free)."""
        now = self._clock()
        longest = 0.0
        for key, free in self._keys(source, username):
            entry = self._failures.pop(key, None)
            if entry is None or now - entry.last >= FORGET_S:
                entry = _Failures(0, now, now)
            entry.count += 1
            entry.last = now
            extra = entry.count - free
            delay = 0.0 if extra < 0 else min(MAX_DELAY_S, BASE_DELAY_S * 2.0 ** min(extra, 32))
            entry.until = now + delay
            longest = max(longest, delay)
            self._failures[key] = entry
        while len(self._failures) > MAX_TRACKED:
            self._failures.popitem(last=False)
        return longest

    def succeeded(self, source: str, username: str) -> None:
        for key, _ in self._keys(source, username):
            self._failures.pop(key, None)


class LoginGate:
    """At most ``limit`` password checks at once; ``enter`` refuses the next as busy."""

    def __init__(self, limit: int = MAX_PENDING) -> None:
        self.limit = limit
        self.pending = 0
        self.refused = 0

    def enter(self) -> None:
        if self.pending >= self.limit:
            self.refused += 1
            raise Busy(
                "busy: too many logins are being checked at once; try again in a moment",
                data={"retry_after_s": 1},
            )
        self.pending += 1

    def leave(self) -> None:
        self.pending -= 1
