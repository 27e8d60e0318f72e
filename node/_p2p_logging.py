"""Route py-libp2p's standard-library loggers into the root logger.

``import libp2p`` runs ``libp2p.utils.logging.setup_logging()``, which (when
``LIBP2P_DEBUG`` is unset) clears the ``libp2p`` logger's handlers, sets it to
WARNING and turns ``propagate`` off, so nothing libp2p says reaches the root
handler that ``cli/_logging.configure_logging`` installs. We turn propagation
back on and keep the level at WARNING by default: libp2p's INFO/DEBUG output
is voluminous and its DEBUG lines include message payloads in hex.
"""

from __future__ import annotations

import logging

LIBP2P_LOGGER = "libp2p"


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
