"""The login throttle's back-off: per source and user name, doubling, capped, forgotten."""

from __future__ import annotations

import pytest

from doorwatch.node._errors import Busy, ErrorCode
from doorwatch.node._login_throttle import (
    BASE_DELAY_S,
    FORGET_S,
    FREE_FAILURES,
    FREE_SOURCE_FAILURES,
    MAX_DELAY_S,
    LoginGate,
    LoginThrottle,
    LoginThrottled,
)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def wait_of(throttle: LoginThrottle, source: str, user: str) -> int | None:
    try:
        throttle.check(source, user)
    except LoginThrottled as exc:
        refused: LoginThrottled = exc
    else:
        return None
    assert refused.code == ErrorCode.RATE_LIMITED
    assert refused.data is not None
    return int(str(refused.data["retry_after_s"]))


def test_back_off_doubles_is_capped_and_only_slows_its_own_source() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    delays = [throttle.failed("uid:666", "door1") for _ in range(FREE_FAILURES + 10)]
    assert delays[: FREE_FAILURES - 1] == [0.0] * (FREE_FAILURES - 1)
    assert delays[FREE_FAILURES - 1 : FREE_FAILURES + 2] == [
        BASE_DELAY_S,
        2 * BASE_DELAY_S,
        4 * BASE_DELAY_S,
    ]
    assert max(delays) == delays[-1] == MAX_DELAY_S
    assert wait_of(throttle, "uid:666", "door1") == MAX_DELAY_S
    # The same user from another source, another user from the guesser's: not slowed.
    assert wait_of(throttle, "uid:1000", "door1") is None
    assert wait_of(throttle, "uid:666", "door2") is None
    # Never refused for longer than the cap after the last failure.
    clock.t += MAX_DELAY_S
    assert wait_of(throttle, "uid:666", "door1") is None


def test_a_success_clears_and_an_hour_without_failures_forgets() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(FREE_FAILURES):
        throttle.failed("tcp:127.0.0.1", "door1")
    assert wait_of(throttle, "tcp:127.0.0.1", "door1") is not None
    throttle.succeeded("tcp:127.0.0.1", "door1")
    assert wait_of(throttle, "tcp:127.0.0.1", "door1") is None
    for _ in range(FREE_FAILURES + 3):
        throttle.failed("tcp:127.0.0.1", "door1")
    clock.t += FORGET_S
    assert throttle.failed("tcp:127.0.0.1", "door1") == 0.0  # counted afresh


def test_many_names_from_one_source_are_slowed_too() -> None:
    throttle = LoginThrottle(FakeClock())
    for n in range(FREE_SOURCE_FAILURES):
        throttle.failed("uid:666", f"name{n}")
    assert wait_of(throttle, "uid:666", "a-new-name") is not None
    assert wait_of(throttle, "uid:1000", "a-new-name") is None


def test_the_gate_refuses_beyond_its_limit_and_reopens() -> None:
    gate = LoginGate(limit=2)
    gate.enter()
    gate.enter()
    with pytest.raises(Busy) as caught:
        gate.enter()
    assert caught.value.code == ErrorCode.BUSY == 1009
    assert gate.refused == 1
    gate.leave()
    gate.enter()
