"""doorwatch.node: the I/O shell — store, local socket API, daemon.

The only package that awaits anything; the protocol logic it drives lives in
the pure packages.
"""

from doorwatch.node._clock import Clock, ManualClock, OffsetClock, SystemClock
from doorwatch.node._daemon import run_daemon
from doorwatch.node._errors import ApiError, ErrorCode, NodeError
from doorwatch.node._roles import Role
from doorwatch.node._setup import init_node

__all__ = [
    "ApiError",
    "Clock",
    "ErrorCode",
    "ManualClock",
    "NodeError",
    "OffsetClock",
    "Role",
    "SystemClock",
    "init_node",
    "run_daemon",
]
