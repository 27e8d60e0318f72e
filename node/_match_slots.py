"""Which matches a flood of new ones may push out: never one a door is acting on.

The scan engine and the ladder keep matches in bounded tables, oldest first.
A match is *protected* while a door is acting on it: the operator opened it
(``match.photo`` or ``match.confirm``), or it awaits the operator (identity
confirmed, photo shown); protection lapses ``PROTECT_S`` after the last such
step, so an abandoned match does not hold its slot for ever, and ends when
the match is settled (confirmed, dismissed, not the subject, expired,
refused). A match that only failed for now (originator unreachable, rate
limited) keeps the protection it had: ``match.photo`` retries it.

``make_room`` evicts the oldest unprotected entries; if only protected ones
remain, the caller refuses the new match (state ``busy``) instead of evicting.
Protection is in memory, on the monotonic clock, like the tables themselves.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from doorwatch.node._scan import Match

__all__ = ["PROTECT_S", "acting", "make_room", "opened", "protected", "settle"]

PROTECT_S: Final = 15 * 60.0
# MatchState values (``_scan`` imports this module).
_AWAITING: Final = frozenset({"identity_confirmed", "photo_shown"})
# Not settled: match.photo may still take these further (it retries the last two).
_GOING_ON: Final = _AWAITING | {"pending", "checking", "originator_unreachable", "rate_limited"}

V = TypeVar("V")


def acting(match: Match) -> None:
    """A door acts on ``match`` (or it awaits the operator): protect it for a while."""
    match.acting_until = time.monotonic() + PROTECT_S


def opened(match: Match) -> None:
    """The operator opened ``match`` (``match.photo``, ``match.confirm``): protect it,
    unless it is settled already."""
    if match.state in _GOING_ON:
        acting(match)


def settle(match: Match) -> None:
    """``match`` moved to ``match.state``: protected while it awaits the operator, and
    no longer once it is settled."""
    if match.state in _AWAITING:
        acting(match)
    elif match.state not in _GOING_ON:
        match.acting_until = None


def protected(match: Match, now: float) -> bool:
    return match.acting_until is not None and now < match.acting_until


def make_room(table: OrderedDict[str, V], limit: int, match_of: Callable[[V], Match]) -> bool:
    """Evict the oldest unprotected entries of ``table`` until fewer than ``limit``
    remain; False if that is impossible (the new match must be refused)."""
    need = len(table) - limit + 1
    if need <= 0:
        return True
    now = time.monotonic()
    victims: list[str] = []
    for key, value in table.items():
        if not protected(match_of(value), now):
            victims.append(key)
            if len(victims) == need:
                break
    for key in victims:
        del table[key]
    return len(victims) == need
