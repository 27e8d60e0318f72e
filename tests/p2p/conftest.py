"""Shared helpers for the peer-to-peer tests: real hosts on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from doorwatch.crypto import NodeIdentity


class Membership:
    """A stand-in for the node's certificate check: a set of admitted peer ids."""

    def __init__(self) -> None:
        self.members: set[str] = set()
        self.revoked: set[str] = set()

    def admit(self, peer_id: str) -> str | None:
        if peer_id in self.revoked:
            return "certificate revoked"
        if peer_id not in self.members:
            return "no certificate"
        return None

    def new_member(self) -> NodeIdentity:
        identity = NodeIdentity.generate()
        self.members.add(identity.peer_id)
        return identity


@pytest.fixture
def membership() -> Membership:
    return Membership()


class Libp2pErrors:
    """ERROR records libp2p may log in one test (e.g. on a refused outsider's side)."""

    def __init__(self) -> None:
        self.allowed: list[str] = []

    def allow(self, fragment: str) -> None:
        self.allowed.append(fragment)


@pytest.fixture(autouse=True)
def libp2p_errors(caplog: pytest.LogCaptureFixture) -> Iterator[Libp2pErrors]:
    """Every p2p test fails if libp2p logged at ERROR or above, unless allowed."""
    caplog.set_level(logging.WARNING, logger="libp2p")
    expected = Libp2pErrors()
    yield expected
    errors = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.name.startswith("libp2p")
        and r.levelno >= logging.ERROR
        and not any(fragment in r.getMessage() for fragment in expected.allowed)
    ]
    assert errors == []
