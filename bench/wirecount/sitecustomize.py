"""Counts a daemon's libp2p bytes per protocol, for the network benchmarks only.

Put this directory on ``PYTHONPATH`` and set ``DOORWATCH_BENCH_WIRE_DIR``:
every Python process started so (the benchmark's daemons) then counts

- per libp2p protocol (``/doorwatch/sync/1``, ``/doorwatch/fetch/1``,
  ``/meshsub/1.1.0``, ...): the bytes its streams read and wrote, i.e. the
  application's frames above yamux and Noise (``NetStream.read/write``);
- ``tcp``: the bytes read from and written to its TCP sockets, i.e. what
  crossed the wire with Noise, yamux and multistream framing
  (``TrioTCPStream.read/write``);

and writes them, every 0.2 s while they change, to
``$DOORWATCH_BENCH_WIRE_DIR/wire-<pid>.json`` as
``{"in": {protocol: bytes}, "out": {protocol: bytes}}``.
Nothing is patched when the variable is unset.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path


def _install(directory: Path) -> None:
    from libp2p.io.trio import TrioTCPStream
    from libp2p.network.stream.net_stream import NetStream

    counts: dict[str, Counter[str]] = {"in": Counter(), "out": Counter()}
    dirty = threading.Event()
    path = directory / f"wire-{os.getpid()}.json"

    def wrap(cls: type, name: str, direction: str, label: object) -> None:
        original = getattr(cls, name)

        if direction == "in":

            async def read(self: object, *args: object, **kwargs: object) -> bytes:
                data: bytes = await original(self, *args, **kwargs)
                counts["in"][label(self)] += len(data)  # type: ignore[operator]
                dirty.set()
                return data

            setattr(cls, name, read)
        else:

            async def write(self: object, data: bytes, *args: object, **kwargs: object) -> None:
                counts["out"][label(self)] += len(data)  # type: ignore[operator]
                dirty.set()
                await original(self, data, *args, **kwargs)

            setattr(cls, name, write)

    def protocol(stream: NetStream) -> str:
        return str(stream.get_protocol() or "negotiating")

    wrap(NetStream, "read", "in", protocol)
    wrap(NetStream, "write", "out", protocol)
    wrap(TrioTCPStream, "read", "in", lambda s: "tcp")
    wrap(TrioTCPStream, "write", "out", lambda s: "tcp")

    def dump() -> None:
        while True:
            dirty.wait()
            dirty.clear()
            snapshot = {k: dict(v) for k, v in counts.items()}
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(snapshot))
            tmp.replace(path)
            time.sleep(0.2)

    threading.Thread(target=dump, name="bench-wire-count", daemon=True).start()


_dir = os.environ.get("DOORWATCH_BENCH_WIRE_DIR")
if _dir:
    _install(Path(_dir))
