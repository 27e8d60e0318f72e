"""Sync cost: bytes on the wire and round trips between two replicas of N alerts.

``python -m bench sync [--alerts N] [--differences 0,10,1000] [--seed S]``

Each difference is one of: an alert only the initiator holds, one only the
responder holds, or an alert the responder holds in a newer version. Every
message goes through the real codec, and its encoded size is counted.
"""

from __future__ import annotations

import argparse
import random
import time

from doorwatch.protocol import (
    ItemState,
    Message,
    ReconciliationIndex,
    SyncInitiator,
    SyncResponder,
    decode,
    encode,
    run_sync,
)

NETWORK_ID = "0123456789abcdef"


def _indexes(
    n: int, differences: int, rng: random.Random
) -> tuple[ReconciliationIndex, ReconciliationIndex]:
    a, b = ReconciliationIndex(), ReconciliationIndex()
    ids = []
    for _ in range(n):
        alert_id = rng.randbytes(16)
        state = ItemState(version=1, withdrawn=False, digest=rng.randbytes(32))
        a.put(alert_id, state)
        b.put(alert_id, state)
        ids.append(alert_id)
    for k in range(differences):
        state = ItemState(version=2, withdrawn=False, digest=rng.randbytes(32))
        if k % 3 == 0:
            a.put(rng.randbytes(16), state)
        elif k % 3 == 1:
            b.put(rng.randbytes(16), state)
        else:
            b.put(ids[k], state)
    return a, b


class _CountingWire:
    """Encodes and decodes each message with the real codec, counting the bytes."""

    def __init__(self) -> None:
        self.bytes = 0

    def __call__(self, message: Message) -> Message:
        frame = encode(message)
        self.bytes += len(frame)
        return decode(frame)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench sync", description=__doc__)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--differences", default="0,10,1000")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    print(
        f"{'alerts':>8} {'diffs':>6} {'bytes':>9} {'bytes/diff':>10} {'messages':>8} "
        f"{'round trips':>11} {'found':>6} {'sync ms':>8}"
    )
    for differences in (int(d) for d in args.differences.split(",")):
        a, b = _indexes(args.alerts, differences, rng)
        transport = _CountingWire()

        initiator = SyncInitiator(
            a,
            network_id=NETWORK_ID,
            session=rng.randbytes(16),
            revocation_serial=4,
            group_epochs={"all": 2, "door": 1},
        )
        responder = SyncResponder(
            b, network_id=NETWORK_ID, revocation_serial=4, group_epochs={"all": 2, "door": 1}
        )
        started = time.perf_counter()
        messages = run_sync(initiator, responder, transport)
        elapsed = (time.perf_counter() - started) * 1000
        found = len(initiator.result.fetch) + len(initiator.result.push)
        per = f"{transport.bytes / differences:.0f}" if differences else "-"
        print(
            f"{args.alerts:>8} {differences:>6} {transport.bytes:>9} {per:>10} {messages:>8} "
            f"{(messages + 1) // 2:>11} {found:>6} {elapsed:>8.1f}"
        )

    # Incremental upkeep: the cost of one change in a large index.
    big = ReconciliationIndex()
    for _ in range(100_000):
        big.put(rng.randbytes(16), ItemState(1, False, rng.randbytes(32)))
    keys = [rng.randbytes(16) for _ in range(2_000)]
    started = time.perf_counter()
    for key in keys:
        big.put(key, ItemState(1, False, rng.randbytes(32)))
    per_put = (time.perf_counter() - started) / len(keys) * 1e6
    started = time.perf_counter()
    for _ in range(200):
        big.summary(bytes(rng.randrange(16) for _ in range(4)))
    per_summary = (time.perf_counter() - started) / 200 * 1e6
    print(
        f"index of 100,000: {per_put:.1f} us per insert, "
        f"{per_summary:.1f} us per uncached range summary (depth 4)"
    )
