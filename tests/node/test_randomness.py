"""The scan path's random bytes: drawn from os.urandom in blocks, never handed out twice."""

from __future__ import annotations

import threading

from doorwatch.node._randomness import BLOCK, RandomPool


def test_lengths_and_block_boundaries() -> None:
    pool = RandomPool()
    sizes = [16, 12, 24, BLOCK - 1, 7, BLOCK, BLOCK + 1, 1]
    out = [pool(n) for n in sizes]
    assert [len(b) for b in out] == sizes
    assert len(pool.token_hex(16)) == 32


def test_no_token_is_handed_out_twice_even_across_threads() -> None:
    pool = RandomPool()
    drawn: list[list[str]] = [[], []]

    def draw(into: list[str]) -> None:
        for _ in range(20_000):
            into.append(pool.token_hex(16))

    threads = [threading.Thread(target=draw, args=(d,)) for d in drawn]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tokens = drawn[0] + drawn[1]
    assert len(set(tokens)) == len(tokens) == 40_000


def test_two_pools_do_not_repeat_each_other() -> None:
    assert RandomPool()(32) != RandomPool()(32)
