"""doorwatch.node: the I/O shell — store, local socket API, daemon.

The only package that awaits anything; the protocol logic it drives lives in
the pure packages.

The public names are imported on first use (module ``__getattr__``), so that
importing one light module such as ``doorwatch.node._datadir`` does not load
the daemon: ``run_daemon`` pulls in libp2p, which takes over a second to
import, and the command line's socket clients never need it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from doorwatch.node._clock import Clock, ManualClock, OffsetClock, SystemClock
    from doorwatch.node._daemon import run_daemon
    from doorwatch.node._errors import ApiError, ErrorCode, NodeError
    from doorwatch.node._roles import Role
    from doorwatch.node._setup import init_node
    from doorwatch.node._storage_key import Passphrase

_WHERE = {
    "ApiError": "_errors",
    "Clock": "_clock",
    "ErrorCode": "_errors",
    "ManualClock": "_clock",
    "NodeError": "_errors",
    "OffsetClock": "_clock",
    "Passphrase": "_storage_key",
    "Role": "_roles",
    "SystemClock": "_clock",
    "init_node": "_setup",
    "run_daemon": "_daemon",
}

__all__ = [
    "ApiError",
    "Clock",
    "ErrorCode",
    "ManualClock",
    "NodeError",
    "OffsetClock",
    "Passphrase",
    "Role",
    "SystemClock",
    "init_node",
    "run_daemon",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
