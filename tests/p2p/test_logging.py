"""libp2p's loggers reach the root logger (and so structlog's formatter)."""

from __future__ import annotations

import logging

import pytest

from doorwatch.node._p2p_logging import route_libp2p_logging


def test_libp2p_records_propagate_at_warning(caplog: pytest.LogCaptureFixture) -> None:
    route_libp2p_logging()
    lg = logging.getLogger("libp2p")
    assert lg.propagate
    assert lg.handlers == []
    with caplog.at_level(logging.DEBUG):
        lg.setLevel(logging.WARNING)  # at_level lowers the root only
        logging.getLogger("libp2p.network.swarm").info("noisy detail")
        logging.getLogger("libp2p.network.swarm").warning("worth seeing")
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("libp2p")]
    assert messages == ["worth seeing"]
