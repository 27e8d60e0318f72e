"""Bounded match tables: the oldest untouched matches go first, never one a door acts on."""

from __future__ import annotations

import time
from collections import OrderedDict

from doorwatch.node._match_slots import acting, make_room, opened, protected, settle
from doorwatch.node._scan import Match, MatchState


def table(n: int) -> OrderedDict[str, Match]:
    return OrderedDict(
        (f"m{i}", Match(f"m{i}", "scan", "alert", 20.0, 2.0, local=False)) for i in range(n)
    )


def test_the_oldest_unprotected_go_first_and_a_full_protected_table_refuses() -> None:
    matches = table(4)
    acting(matches["m0"])
    acting(matches["m2"])
    assert make_room(matches, 4, lambda m: m)
    assert list(matches) == ["m0", "m2", "m3"]
    assert make_room(matches, 3, lambda m: m)
    assert list(matches) == ["m0", "m2"]
    assert not make_room(matches, 2, lambda m: m)  # only protected ones are left
    assert list(matches) == ["m0", "m2"]
    assert make_room(matches, 3, lambda m: m)  # room without evicting


def test_protection_lapses_and_ends_when_the_match_is_settled() -> None:
    matches = table(2)
    first, second = matches["m0"], matches["m1"]
    first.state = MatchState.PHOTO_SHOWN
    settle(first)
    assert protected(first, time.monotonic())
    first.acting_until = time.monotonic() - 1  # abandoned for PROTECT_S
    second.state = MatchState.IDENTITY_CONFIRMED
    settle(second)
    assert make_room(matches, 2, lambda m: m)
    assert list(matches) == ["m1"]
    second.state = MatchState.DISMISSED
    settle(second)
    assert not protected(second, time.monotonic())
    opened(second)  # opening a settled match does not protect it again
    assert not protected(second, time.monotonic())


def test_a_match_the_door_retries_stays_protected_an_untouched_failure_does_not() -> None:
    matches = table(2)
    opened_one, untouched = matches["m0"], matches["m1"]
    opened(opened_one)
    for match in (opened_one, untouched):
        match.state = MatchState.ORIGINATOR_UNREACHABLE
        settle(match)
    now = time.monotonic()
    assert protected(opened_one, now)
    assert not protected(untouched, now)
    assert make_room(matches, 2, lambda m: m)
    assert list(matches) == ["m0"]
