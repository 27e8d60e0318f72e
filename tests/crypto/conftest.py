"""Shared fixtures for the crypto tests: deterministic randomness and keys."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from doorwatch.crypto import AuthorityKey, NodeIdentity

RandomFactory = Callable[[str], Callable[[int], bytes]]


def deterministic_random(label: str) -> Callable[[int], bytes]:
    """A reproducible byte stream (BLAKE2b in counter mode) standing in for nacl.utils.random."""
    counter = 0

    def random_bytes(n: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < n:
            out += hashlib.blake2b(
                label.encode() + counter.to_bytes(8, "big"), digest_size=64
            ).digest()
            counter += 1
        return out[:n]

    return random_bytes


@pytest.fixture
def make_random() -> RandomFactory:
    return deterministic_random


@pytest.fixture
def authority() -> AuthorityKey:
    return AuthorityKey.from_seed(hashlib.blake2b(b"authority", digest_size=32).digest())


@pytest.fixture
def alice() -> NodeIdentity:
    return NodeIdentity.from_seed(hashlib.blake2b(b"alice", digest_size=32).digest())


@pytest.fixture
def bob() -> NodeIdentity:
    return NodeIdentity.from_seed(hashlib.blake2b(b"bob", digest_size=32).digest())


@pytest.fixture
def carol() -> NodeIdentity:
    return NodeIdentity.from_seed(hashlib.blake2b(b"carol", digest_size=32).digest())
