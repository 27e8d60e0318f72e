"""`doorwatch notice`: the sentence telling a manager that member doors stop enforcing a
ban before it ends (the alert it rides on is no longer active, so is not re-issued)."""

from __future__ import annotations

from typing import Any

from doorwatch.cli._notices import DAY, door_gap

NOMINATED = 1_800_000_000
ALERT_LIMIT = NOMINATED + 300 * DAY  # the (disputed) alert's year ends then


def notice(**changes: Any) -> dict[str, Any]:
    n = {
        "state": "voting",
        "lifetime": False,
        "duration_days": 30,
        "until": None,
        "nominated_at": NOMINATED,
        "door_until": ALERT_LIMIT,
    }
    n.update(changes)
    return n


def test_a_ban_that_ends_while_its_alert_lives_needs_no_sentence() -> None:
    assert door_gap(notice()) == ""
    assert door_gap(notice(state="upheld", until=ALERT_LIMIT)) == ""


def test_a_ban_that_outlives_its_inactive_alert_says_until_when_doors_enforce_it() -> None:
    for n in (
        notice(duration_days=365),  # still voting: judged on the nominated length
        notice(state="upheld", duration_days=365, until=ALERT_LIMIT + DAY),
        notice(lifetime=True, duration_days=None),
    ):
        gap = door_gap(n)
        assert gap.startswith("Member doors enforce this ban only until ")
        assert "no longer active" in gap
        assert "Reinstate it, or nominate again" in gap


def test_no_sentence_where_it_would_mislead() -> None:
    # Not the nominator, or the alert is active (re-issued before its year is out):
    assert door_gap(notice(duration_days=365, door_until=None)) == ""
    assert door_gap(notice(state="cancelled", lifetime=True, duration_days=None)) == ""
    assert door_gap(notice(state="expired", duration_days=365)) == ""
