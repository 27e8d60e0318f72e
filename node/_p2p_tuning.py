"""Two per-message costs of py-libp2p 0.8.1 that a node switches off.

Both were found profiling daemons while an alert crossed a 20- and a 50-venue
network (docs/p2p-notes.md, Construction), and both leave the protocol as it
was on the wire:

- yamux sends a WINDOW_UPDATE frame after every read by default
  (``PY_YAMUX_RELEASE_ON_READ``, ``stream_muxer/yamux/yamux.py``): one more
  Noise-encrypted frame and socket write for every read, three per pubsub
  RPC (two for its length prefix). With it off, credit is released go-yamux
  style (about one update per RPC, never one per length-prefix byte).
  Set before any stream is read (py-libp2p reads it at each read); an
  operator's own setting wins.
- pubsub attaches the sender's signed peer record to every RPC and the
  receiver parses and verifies it (Ed25519) and rewrites the peer's
  addresses on every RPC (``pubsub/utils.py`` ``maybe_consume_signed_record``,
  called twice per gossipsub RPC). A record is the same bytes until the
  sender's addresses change: once those exact bytes have been accepted from
  that peer by that host, they are accepted again without the work for
  ``REFRESH_S`` (then re-consumed, which renews their addresses' 2-hour
  time to live). Different bytes, and every record that failed, go through
  py-libp2p's own check.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable
from typing import Any, Final

import libp2p.pubsub.floodsub as _floodsub
import libp2p.pubsub.gossipsub as _gossipsub
import libp2p.pubsub.pubsub as _pubsub
import libp2p.pubsub.utils as _utils

REFRESH_S: Final = 600.0
MAX_PEERS: Final = 4096
"""Peers remembered per host at most (only members get a connection at all)."""

_Consume = Callable[[Any, Any, Any], bool]
_original: _Consume = _utils.maybe_consume_signed_record
# host -> peer id -> (the record's bytes, when they were last consumed in full)
_accepted: weakref.WeakKeyDictionary[Any, dict[Any, tuple[bytes, float]]] = (
    weakref.WeakKeyDictionary()
)


def maybe_consume_signed_record(msg: Any, host: Any, peer_id: Any) -> bool:
    """py-libp2p's check, skipped for a record this host accepted from this peer lately."""
    if not msg.HasField("senderRecord"):
        return True
    record = bytes(msg.senderRecord)
    seen = _accepted.get(host)
    if seen is None:  # (not setdefault: that would build a dict on every RPC)
        seen = _accepted[host] = {}
    held = seen.get(peer_id)
    now = time.monotonic()
    if held is not None and held[0] == record and now - held[1] < REFRESH_S:
        return True
    ok = _original(msg, host, peer_id)
    if ok:
        if len(seen) >= MAX_PEERS:
            seen.clear()
        seen[peer_id] = (record, now)
    else:
        seen.pop(peer_id, None)
    return ok


def apply() -> None:
    """Switch both costs off for this process (idempotent)."""
    os.environ.setdefault("PY_YAMUX_RELEASE_ON_READ", "0")
    # The modules imported the function by name: each one's reference is replaced.
    for module in (_utils, _pubsub, _gossipsub, _floodsub):
        module.maybe_consume_signed_record = maybe_consume_signed_record  # type: ignore[attr-defined]
