"""Route py-libp2p's standard-library loggers into the root logger, at honest levels.

``import libp2p`` runs ``libp2p.utils.logging.setup_logging()``, which (when
``LIBP2P_DEBUG`` is unset) clears the ``libp2p`` logger's handlers, sets it to
WARNING and turns ``propagate`` off, so nothing libp2p says reaches the root
handler that ``cli/_logging.configure_logging`` installs. We turn propagation
back on and keep the level at WARNING by default: libp2p's INFO/DEBUG output
is voluminous and its DEBUG lines include message payloads in hex.

py-libp2p 0.8.1 also logs, at ERROR, events that are routine in a network of
venues whose nodes stop, restart and refuse each other (``ROUTINE_ERRORS``).
An ERROR line must mean "this node has a problem", and the integration tests
fail on any; so those records, and only those, are lowered to WARNING here, at
the boundary, by a filter on the logger that emits them. Every other libp2p
ERROR passes through unchanged.
"""

from __future__ import annotations

import logging
from typing import Final, NamedTuple

LIBP2P_LOGGER = "libp2p"


class RoutineError(NamedTuple):
    logger: str
    prefix: str  # the start of the formatted message
    why: str
    contains: str = ""  # and, further on, this (the exception's name)


ROUTINE_ERRORS: Final = (
    RoutineError(
        "libp2p.host.basic_host",
        "Failed to open stream to peer",
        # basic_host.py ~1048: a protocol negotiation cut short because the
        # connection closed under it (a venue stopped or restarted, identify
        # racing a disconnect). The caller gets the exception and handles it.
        "a stream negotiation cut short by the connection closing",
    ),
    RoutineError(
        "libp2p.network.swarm",
        "failed to upgrade security for peer",
        # swarm.py 1256: an outbound dial whose Noise handshake failed, e.g. the
        # remote's membership gate refused us (a revoked or banned node) or the
        # remote was shutting down. The dialer records it and backs off.
        "an outbound handshake refused or cut short by the remote",
    ),
    RoutineError(
        "libp2p.network.swarm",
        "fail to upgrade mux for peer",
        # swarm.py 2185: an inbound connection whose muxer negotiation failed after
        # Noise: the dialer's own gate refused us at the end of the handshake (it
        # does not know our certificate yet, or has banned us), or it went away.
        "an inbound connection the remote gave up right after the handshake",
    ),
    RoutineError(
        "libp2p.protocol_muxer.multiselect_client",
        "MultiselectClient handshake: read failed",
        # multiselect_client.py 49: the remote closed during negotiation, which is
        # how a refusal by its gate looks from our side of Noise XX.
        "the remote closed the connection while negotiating",
    ),
    RoutineError(
        "libp2p.stream_muxer.yamux.yamux",
        "Error in handle_incoming for peer",
        # yamux.py 1676: the connection was closed (by this node's gate dropping a
        # revoked peer, or the host stopping) while its read loop was waiting; yamux
        # cleans up and ends the loop. Only this exception: any other stays an ERROR.
        "a connection closed under its own read loop",
        contains=": ClosedResourceError:",
    ),
    RoutineError(
        "libp2p.transport.tcp.tcp",
        "Failed to open TCP stream",
        # tcp.py 483: a venue that is offline; the dialer retries with backoff.
        "a TCP connect to an offline venue",
    ),
)


class _LowerRoutineErrors(logging.Filter):
    """Turns the known-routine ERROR records of one libp2p logger into WARNINGs."""

    def __init__(self, routines: tuple[RoutineError, ...]) -> None:
        super().__init__()
        self.routines = routines

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.ERROR:
            return True
        message = record.getMessage()
        if any(message.startswith(r.prefix) and r.contains in message for r in self.routines):
            record.levelno = logging.WARNING
            record.levelname = logging.getLevelName(logging.WARNING)
        return True


def lower_routine_errors() -> None:
    """Install the filters of ``ROUTINE_ERRORS`` (idempotent)."""
    by_logger: dict[str, tuple[RoutineError, ...]] = {}
    for routine in ROUTINE_ERRORS:
        by_logger[routine.logger] = (*by_logger.get(routine.logger, ()), routine)
    for name, routines in by_logger.items():
        lg = logging.getLogger(name)
        for old in [f for f in lg.filters if isinstance(f, _LowerRoutineErrors)]:
            lg.removeFilter(old)
        lg.addFilter(_LowerRoutineErrors(routines))


def route_libp2p_logging(level: int | str = logging.WARNING) -> None:
    """Send ``libp2p.*`` records to the root logger's handlers at ``level``.

    Idempotent; call after ``import libp2p`` (importing this package's host
    module does that) and after the node's logging is configured.
    """
    import libp2p  # noqa: F401  (its import resets the logger; run it first)

    lg = logging.getLogger(LIBP2P_LOGGER)
    lg.handlers.clear()
    lg.propagate = True
    lg.setLevel(level)
    lower_routine_errors()
