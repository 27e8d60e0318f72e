"""The door's verdict from local data, and the in-memory state it needs.

A scan is answered without touching anything slow: the document is checked
(age, expiry, the scanner's authenticity verdict, and on a GB driving
licence the driver number against the name, birth date and sex on the card),
compared with this venue's
bans through keyed digests held in memory, and matched against every active
segment set in the ``SegmentIndex`` (built at start-up from the database and
kept current as alerts change). The caller then writes one visit row.

Match states live in memory per match id. A match against this node's own
alert can climb the disclosure ladder locally; the network half fills in the
states of matches against received alerts.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from doorwatch.node._match_slots import make_room
from doorwatch.node._randomness import random_bytes
from doorwatch.segments import (
    DocumentType,
    FrequencyTable,
    Identity,
    SegmentIndex,
    SegmentSet,
    age_on,
    check_driving_licence,
    identity_keys,
    is_expired,
    load_disclosure_tables,
    scan_factors,
)

ADULT_AGE: Final = 18
MAX_MATCHES: Final = 10_000
RECENT_SCANS: Final = 2_048
RECENT_SCAN_SECONDS: Final = 3600


class Reason(StrEnum):
    """Why a verdict is not a plain admit (a documented, stable enum)."""

    UNDER_AGE = "under_age"
    DOCUMENT_EXPIRED = "document_expired"
    NOT_AUTHENTIC = "not_authentic"
    BANNED_HERE = "banned_here"
    POSSIBLE_ALERT_MATCH = "possible_alert_match"
    # Received alerts are still being loaded after a start: no "admit" is
    # given on an index that may be missing the very alert that matches.
    ALERTS_LOADING = "alerts_loading"
    # A mark, not a ground: the document was typed in by hand (scan.submit's
    # entry "typed"), so nothing about it was checked by a scanner.
    TYPED = "typed"
    # A GB driving licence whose DVLA number disagrees with the surname,
    # initials, birth date or sex on the card (or is no DVLA/DVA number):
    # a typing or reading slip, or an altered card. The door looks: "check".
    DOCUMENT_INCONSISTENT = "document_inconsistent"


REFUSING: Final = frozenset(
    {Reason.UNDER_AGE, Reason.DOCUMENT_EXPIRED, Reason.NOT_AUTHENTIC, Reason.BANNED_HERE}
)


class MatchState(StrEnum):
    PENDING = "pending"  # statistical match; identity check not yet run
    CHECKING = "checking"  # the identity check with the originating venue is running
    IDENTITY_CONFIRMED = "identity_confirmed"  # the private identity check said equal
    # Only a weaker combination (given name + date of birth) agreed: no photo is released.
    IDENTITY_PARTIAL = "identity_partial"
    NOT_SUBJECT = "not_subject"  # the identity check said different: no longer a match
    PHOTO_SHOWN = "photo_shown"
    CONFIRMED = "confirmed"  # the operator said same person: details released
    DISMISSED = "dismissed"  # the operator said not the same person
    # A received alert's ladder could not go on (match.photo retries the first two):
    ORIGINATOR_UNREACHABLE = "originator_unreachable"
    RATE_LIMITED = "rate_limited"  # a rate limit: the originator's, or this venue's own budget
    EXPIRED = "expired"  # the originator says the alert is no longer active
    REFUSED = "refused"  # the originator refused for another reason (e.g. not in its groups)
    # No identity check started: this node already holds as many matches as it can, and a
    # door is acting on every one of them (``_match_slots``). Scan again later.
    BUSY = "busy"


@dataclass
class Match:
    match_id: str
    scan_id: str
    set_id: str
    score: float
    harm: float
    local: bool
    state: MatchState = MatchState.PENDING
    # Monotonic time until which a door is acting on it: not evicted before (_match_slots).
    acting_until: float | None = None


@dataclass(frozen=True)
class Verdict:
    scan_id: str
    verdict: str
    reasons: list[str]
    age: int
    matches: list[Match]


def _inconsistent(identity: Identity, sex: str | None) -> bool:
    """A GB driving licence whose number disagrees with the card (which part is not said:
    the door looks at the card)."""
    if identity.document_type is not DocumentType.DRIVING_LICENCE:
        return False
    if identity.issuing_country != "GBR":
        return False
    return bool(
        check_driving_licence(
            identity.document_number,
            surname=identity.surname,
            given_names=identity.given_names,
            date_of_birth=identity.date_of_birth,
            sex=sex,
        )
    )


@dataclass
class _Recent:
    at: int
    identity: Identity


@dataclass
class ScanEngine:
    """What a scan is matched against, and the matches it produced."""

    tables: FrequencyTable
    """The matcher's tables (u at the door): scoring."""
    disclosure: FrequencyTable = field(default_factory=load_disclosure_tables)
    """The UK-wide tables: what a segment set discloses (bits, K), here and at every venue."""
    index: SegmentIndex = field(init=False)
    harm: dict[str, float] = field(default_factory=dict)
    local_alerts: set[str] = field(default_factory=set)
    ban_digests: dict[str, frozenset[bytes]] = field(default_factory=dict)
    _banned: dict[bytes, int] = field(default_factory=dict)
    matches: OrderedDict[str, Match] = field(default_factory=OrderedDict)
    _recent: OrderedDict[str, _Recent] = field(default_factory=OrderedDict)
    # True while the node is still loading received alerts into the index.
    loading: bool = False

    def __post_init__(self) -> None:
        self.index = SegmentIndex(self.tables)

    # -- segment sets ---------------------------------------------------------

    def add_alert(self, set_id: str, segments: SegmentSet, harm: float, *, local: bool) -> None:
        if set_id in self.index:
            self.index.remove(set_id)
        self.index.add(set_id, segments)
        self.harm[set_id] = harm
        if local:
            self.local_alerts.add(set_id)

    def remove_alert(self, set_id: str) -> None:
        if set_id in self.index:
            self.index.remove(set_id)
        self.harm.pop(set_id, None)
        self.local_alerts.discard(set_id)

    def segments_from_wire(self, wire: object) -> SegmentSet:
        return SegmentSet.from_wire(wire, tables=self.disclosure)

    # -- bans -----------------------------------------------------------------

    def add_ban(self, ban_id: str, digests: frozenset[bytes]) -> None:
        self.ban_digests[ban_id] = digests
        for d in digests:
            self._banned[d] = self._banned.get(d, 0) + 1

    def remove_ban(self, ban_id: str) -> None:
        for d in self.ban_digests.pop(ban_id, frozenset()):
            left = self._banned[d] - 1
            if left:
                self._banned[d] = left
            else:
                del self._banned[d]

    # -- scans ----------------------------------------------------------------

    def verdict(
        self,
        identity: Identity,
        digests: frozenset[bytes],
        *,
        today: dt.date,
        sex: str | None = None,
    ) -> Verdict:
        scan_id = random_bytes.token_hex(16)
        reasons: list[str] = []
        age = age_on(identity, today)
        if age < ADULT_AGE:
            reasons.append(Reason.UNDER_AGE)
        if is_expired(identity, today):
            reasons.append(Reason.DOCUMENT_EXPIRED)
        if identity.authentic is False:
            reasons.append(Reason.NOT_AUTHENTIC)
        if not self._banned.keys().isdisjoint(digests):
            reasons.append(Reason.BANNED_HERE)
        inconsistent = _inconsistent(identity, sex)
        if inconsistent:
            reasons.append(Reason.DOCUMENT_INCONSISTENT)
        found = self.index.match(scan_factors(identity_keys(identity))) if len(self.index) else []
        matches = [self._new_match(scan_id, set_id, score) for set_id, score in found]
        if matches:
            reasons.append(Reason.POSSIBLE_ALERT_MATCH)
        if self.loading:
            reasons.append(Reason.ALERTS_LOADING)
        if any(r in REFUSING for r in reasons):
            verdict = "refuse"
        elif matches or self.loading or inconsistent:
            verdict = "check"
        else:
            verdict = "admit"
        return Verdict(scan_id, verdict, [str(r) for r in reasons], age, matches)

    def _new_match(self, scan_id: str, set_id: str, score: float) -> Match:
        match = Match(
            match_id=random_bytes.token_hex(12),
            scan_id=scan_id,
            set_id=set_id,
            score=round(score, 2),
            harm=self.harm.get(set_id, 0.0),
            local=set_id in self.local_alerts,
        )
        # The oldest matches go first, but not one a door is acting on; should every
        # one be (an operator's steps on 10,000 matches), the oldest goes anyway.
        if not make_room(self.matches, MAX_MATCHES, lambda m: m):
            self.matches.popitem(last=False)
        self.matches[match.match_id] = match
        return match

    def remember_scan(self, scan_id: str, identity: Identity, now: int) -> None:
        """Keep the scan (with its photo) briefly, for an alert created from it."""
        self._recent[scan_id] = _Recent(now, identity)
        while len(self._recent) > RECENT_SCANS:
            self._recent.popitem(last=False)
        self.prune_scans(now)

    def prune_scans(self, now: int) -> None:
        """Forget scans older than RECENT_SCAN_SECONDS (also called by the purge pass)."""
        while self._recent and next(iter(self._recent.values())).at < now - RECENT_SCAN_SECONDS:
            self._recent.popitem(last=False)

    def recent_scan(self, scan_id: str, now: int) -> Identity | None:
        held = self._recent.get(scan_id)
        if held is None or held.at < now - RECENT_SCAN_SECONDS:
            return None
        return held.identity

    def forget_scans(self) -> None:
        self._recent.clear()
