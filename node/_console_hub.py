"""Scans and ladder updates fanned out to the web consoles that follow a lane.

Theory of operation. A door's scanner names its lane (``scan.submit``'s
``lane``, ``main`` when it names none); a console logged in at that door
follows the lane. ``publish_scan`` is called on the scan path, so it does
almost nothing when no console follows the lane: one dict look-up. When one
does, the scan's result is put on each follower's bounded queue without
waiting (a console that does not keep up loses events, never slows a scan),
and the scan is remembered (a bounded, short list) so that later
``match.updated`` changes reach the same lane, and the scanned document's
photo can be shown beside the alert's. Nothing here is written anywhere.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import trio

__all__ = ["DEFAULT_LANE", "ConsoleHub", "Follower"]

DEFAULT_LANE: Final = "main"
QUEUE: Final = 64
REMEMBERED: Final = 64


@dataclass(eq=False)
class Follower:
    lane: str
    send: trio.MemorySendChannel[tuple[str, dict[str, object]]]
    receive: trio.MemoryReceiveChannel[tuple[str, dict[str, object]]]
    dropped: int = 0


@dataclass
class _Scan:
    lane: str
    photo: bytes | None = field(repr=False)


class ConsoleHub:
    def __init__(self) -> None:
        self._lanes: dict[str, set[Follower]] = {}
        self._scans: OrderedDict[str, _Scan] = OrderedDict()

    @contextlib.contextmanager
    def follow(self, lane: str) -> Iterator[Follower]:
        send, receive = trio.open_memory_channel[tuple[str, dict[str, object]]](QUEUE)
        follower = Follower(lane, send, receive)
        self._lanes.setdefault(lane, set()).add(follower)
        try:
            yield follower
        finally:
            followers = self._lanes.get(lane)
            if followers is not None:
                followers.discard(follower)
                if not followers:
                    del self._lanes[lane]
            send.close()
            receive.close()

    def follows(self, lane: str) -> bool:
        """Whether any console follows ``lane`` (the scan path's only cost otherwise)."""
        return lane in self._lanes

    def publish_scan(
        self, lane: str, scan_id: str, result: dict[str, object], photo: bytes | None
    ) -> None:
        followers = self._lanes.get(lane)
        if not followers:
            return
        self._scans[scan_id] = _Scan(lane, photo)
        while len(self._scans) > REMEMBERED:
            self._scans.popitem(last=False)
        self._send(followers, "scan", result)

    def match_updated(self, params: dict[str, object]) -> None:
        scan = self._scans.get(str(params.get("scan_id")))
        if scan is None:
            return
        followers = self._lanes.get(scan.lane)
        if followers:
            self._send(followers, "match", params)

    def scan_photo(self, scan_id: str, lane: str) -> bytes | None:
        """The scanned document's photo, for a console of the scan's own lane."""
        scan = self._scans.get(scan_id)
        if scan is None or scan.lane != lane:
            return None
        return scan.photo

    @staticmethod
    def _send(followers: set[Follower], kind: str, data: dict[str, object]) -> None:
        for f in followers:
            try:
                f.send.send_nowait((kind, data))
            except trio.WouldBlock:
                f.dropped += 1
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                pass
