"""Pubwatch banning notices: nomination, the committee's signed votes, the tally any
node can check, the appeal, the outcome.

Theory of operation. The network authority marks committee members (and the police
liaison) in their certificates, and lists one voting pseudonym per committee member
in the signed network policy (``NetworkPolicy.committee_voters``: a public key and
its seed sealed anonymously to the member; the seed is a PRF of the authority seed
and the member's peer id, so only the authority can link a pseudonym to a venue).
A committee has at least ``MIN_COMMITTEE`` pseudonyms or no notice is accepted.

1. A member nominates the subject of one of its own alerts (``BanningNomination``,
   signed by its node key): scope (``all`` or a group it is in), duration in days
   (at most 730) or a lifetime ban, and the case (summary, a lifetime ban's reason)
   sealed to each committee member and the liaison. A nominator on the committee
   names its own pseudonym and proves it holds it (a signature by that key), so its
   votes are refused: it cannot adjudicate its own nomination or its appeal.
2. Committee members vote ``uphold`` or ``reject`` (``BanningVote``, signed by the
   pseudonym under ``notice-vote``) until the round's deadline (opening time plus
   ``notice_vote_days``). Refused: forged signatures, keys not on the roster, the
   nominator's key, a second and different vote of one key in one round, votes
   dated before the round opened or after its deadline, and loose votes arriving
   after the deadline (plus ``SKEW``) or after the round's outcome.
3. The tally: upheld when more than ``notice_majority`` percent (the lifetime
   majority for a lifetime ban) of the eligible committee (roster minus the
   nominator) voted uphold, with at least ``notice_quorum`` votes cast (or every
   eligible member's, if fewer are eligible). It counts
   uphold votes against the whole committee, so leaving votes out can never turn a
   decision into "upheld". Decided early when upheld, or when uphold can no longer
   win; otherwise at the deadline, "cancelled".
4. The nominating venue publishes the outcome with the votes it rests on
   (``BanningOutcome``); every node recounts them under its own policy before
   believing it. An upheld first round is a ban from ``decided_at`` for the
   duration (``until``; None for life).
5. An appeal (``BanningAppeal``, recorded by the nominating venue or the liaison,
   grounds sealed like the case) opens round 1: a fresh vote, same rules, the
   nominator still excluded. Upheld keeps the ban and its end date; otherwise it is
   cancelled. The ban stays in force meanwhile unless ``notice_appeal_suspends``.
6. A ban rides on the nominator's alert, which lives at most a year; a ban may last two
   years or a life. Before the alert's year is out the nominating venue re-issues the
   subject's alert and publishes ``BanningCarrier`` (signed by its node key): the ban
   now also rides on the new alert. Only the nominator's carriers of an upheld ban are
   accepted, at most ``MAX_CARRIERS`` per notice.

Pure: no clocks (``now`` is a parameter), no I/O. Whether the alert the ban rides
on is the nominator's (its originator) is checked where the alert is held
(``Notice.carried_by``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Literal

from doorwatch.crypto import (
    MIN_COMMITTEE,
    BadSignature,
    Certificate,
    CryptoError,
    NetworkPolicy,
    NodeIdentity,
    Purpose,
    RandomBytes,
    SigningKey,
    canonical_pack,
    peer_id_to_public_key,
    seal_to,
    verify,
    x25519_public_from_ed25519,
)
from doorwatch.protocol._errors import ProtocolError
from doorwatch.protocol._messages import (
    BanningAppeal,
    BanningCarrier,
    BanningNomination,
    BanningOutcome,
    BanningVote,
    SealedCase,
)
from doorwatch.protocol._signing import purpose_for, signed_payload, verify_message

DAY: Final = 86400
SKEW: Final = 600
"""Seconds of clock difference tolerated on dates ahead of ``now`` and on late arrival."""
MAX_DAYS: Final = 730
"""The longest ban short of a lifetime ban (two years, the procedure's limit)."""
MAX_CARRIERS: Final = 100
"""Alerts one ban may move to: one a year for a lifetime, with room for re-issues."""
ALL: Final = "all"


class RefusalCode(StrEnum):
    FORGED = "forged"
    NOT_COMMITTEE = "not_committee"
    SELF_INTERESTED = "self_interested"
    DUPLICATE = "duplicate"
    LATE = "late"
    CLOSED = "closed"
    UNKNOWN_NOTICE = "unknown_notice"
    SMALL_COMMITTEE = "small_committee"
    INVALID = "invalid"


class NoticeRefused(Exception):
    """A notice message refused, with a code and a message naming the field at fault."""

    def __init__(self, code: RefusalCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class NoticeRules:
    """What the network policy says about notices."""

    network_id: str
    voters: frozenset[bytes]
    quorum: int
    majority: int
    lifetime_majority: int
    vote_seconds: int
    appeal_suspends: bool

    @classmethod
    def from_policy(cls, policy: NetworkPolicy) -> NoticeRules:
        return cls(
            network_id=policy.network_id,
            voters=policy.voter_keys,
            quorum=policy.notice_quorum,
            majority=policy.notice_majority,
            lifetime_majority=policy.notice_lifetime_majority,
            vote_seconds=policy.notice_vote_days * DAY,
            appeal_suspends=policy.notice_appeal_suspends,
        )


@dataclass(frozen=True, slots=True)
class Tally:
    uphold: int
    reject: int
    eligible: int
    needed: int
    """Uphold votes needed (more than the majority's percent of the eligible committee)."""
    quorum: int

    @property
    def upheld(self) -> bool:
        return self.uphold >= self.needed and self.uphold + self.reject >= self.quorum

    @property
    def hopeless(self) -> bool:
        """Uphold cannot win any more, whoever is left votes."""
        left = self.eligible - self.uphold - self.reject
        return self.uphold + left < self.needed or (self.uphold + self.reject + left < self.quorum)

    def to_json(self) -> dict[str, int]:
        return {
            "uphold": self.uphold,
            "reject": self.reject,
            "eligible": self.eligible,
            "needed": self.needed,
            "quorum": self.quorum,
        }


def needed_votes(eligible: int, percent: int) -> int:
    """The fewest votes that are more than ``percent`` percent of ``eligible``."""
    return (eligible * percent) // 100 + 1


# -- building (the signing side) --------------------------------------------------------------


def seal_cases(
    text: bytes,
    readers: Mapping[str, bytes],
    sender: NodeIdentity,
    *,
    random_bytes: RandomBytes | None = None,
) -> tuple[SealedCase, ...]:
    """``text`` sealed from ``sender`` to each reader (peer id -> Ed25519 public key)."""
    out = []
    for peer_id, public_key in sorted(readers.items()):
        recipient = x25519_public_from_ed25519(public_key)
        if random_bytes is None:
            sealed = seal_to(recipient, text, sender, Purpose.NOTICE_CASE)
        else:
            sealed = seal_to(recipient, text, sender, Purpose.NOTICE_CASE, random_bytes)
        out.append(SealedCase(member=peer_id, sealed=sealed))
    return tuple(out)


def _nominator_claim(network_id: str, notice_id: bytes, peer_id: str) -> bytes:
    return canonical_pack({"network_id": network_id, "notice_id": notice_id, "peer_id": peer_id})


def nominate(
    identity: NodeIdentity,
    *,
    network_id: str,
    notice_id: bytes,
    alert_id: bytes,
    now: int,
    scope: str,
    duration_days: int | None,
    cases: tuple[SealedCase, ...],
    voter: SigningKey | None = None,
) -> BanningNomination:
    """A signed nomination; ``voter``: this venue's own pseudonym if it is on the committee."""
    fields: dict[str, object] = {
        "network_id": network_id,
        "notice_id": notice_id,
        "alert_id": alert_id,
        "nominated_by": identity.peer_id,
        "nominated_at": now,
        "scope": scope,
        "duration_days": duration_days,
        "lifetime": duration_days is None,
        "cases": cases,
        "signature": bytes(64),
    }
    if voter is not None:
        fields["nominator_voter"] = voter.public_key
        fields["nominator_proof"] = voter.sign(
            Purpose.NOTICE_NOMINATOR, _nominator_claim(network_id, notice_id, identity.peer_id)
        )
    draft = BanningNomination.model_validate(fields)
    return draft.model_copy(
        update={"signature": identity.sign(purpose_for(draft.type), signed_payload(draft))}
    )


def cast_vote(
    voter: SigningKey,
    *,
    network_id: str,
    notice_id: bytes,
    round: Literal[0, 1],
    vote: Literal["uphold", "reject"],
    now: int,
    sealed_reason: bytes | None = None,
) -> BanningVote:
    """A vote signed by the voting pseudonym (purpose ``notice-vote``)."""
    draft = BanningVote(
        network_id=network_id,
        notice_id=notice_id,
        round=round,
        voter=voter.public_key,
        vote=vote,
        voted_at=now,
        sealed_reason=sealed_reason,
        signature=bytes(64),
    )
    return draft.model_copy(
        update={"signature": voter.sign(Purpose.NOTICE_VOTE, signed_payload(draft))}
    )


def _signed(
    identity: NodeIdentity, draft: BanningAppeal | BanningOutcome | BanningCarrier
) -> bytes:
    return identity.sign(purpose_for(draft.type), signed_payload(draft))


def appeal(
    identity: NodeIdentity,
    *,
    network_id: str,
    notice_id: bytes,
    now: int,
    cases: tuple[SealedCase, ...],
) -> BanningAppeal:
    draft = BanningAppeal(
        network_id=network_id,
        notice_id=notice_id,
        recorded_by=identity.peer_id,
        appealed_at=now,
        cases=cases,
        signature=bytes(64),
    )
    return draft.model_copy(update={"signature": _signed(identity, draft)})


def carry(
    identity: NodeIdentity, *, network_id: str, notice_id: bytes, alert_id: bytes, now: int
) -> BanningCarrier:
    """The nominating venue's word that its ban now rides on ``alert_id`` too."""
    draft = BanningCarrier(
        network_id=network_id,
        notice_id=notice_id,
        alert_id=alert_id,
        carried_at=now,
        published_by=identity.peer_id,
        signature=bytes(64),
    )
    return draft.model_copy(update={"signature": _signed(identity, draft)})


def verify_vote(vote: BanningVote) -> None:
    """The vote's signature under its pseudonym; NoticeRefused(FORGED) if it does not hold."""
    try:
        verify(Purpose.NOTICE_VOTE, vote.voter, signed_payload(vote), vote.signature)
    except CryptoError as exc:
        raise NoticeRefused(
            RefusalCode.FORGED, "banning.vote: the signature does not verify (altered or forged)"
        ) from exc


def _verify_node_signed(
    message: BanningNomination | BanningAppeal | BanningOutcome | BanningCarrier,
) -> None:
    try:
        verify_message(message)
    except ProtocolError as exc:
        raise NoticeRefused(
            RefusalCode.FORGED, f"{message.type}: the signature does not verify ({exc.message})"
        ) from exc


# -- one notice -----------------------------------------------------------------------------


class NoticeState(StrEnum):
    VOTING = "voting"
    """The committee is voting on the nomination."""
    UPHELD = "upheld"
    """A ban in force."""
    APPEALED = "appealed"
    """A ban under appeal (in force unless the policy suspends it)."""
    CANCELLED = "cancelled"
    """Not upheld, or cancelled on appeal."""
    EXPIRED = "expired"
    """An upheld ban whose end date has passed."""


@dataclass
class Notice:
    nomination: BanningNomination
    votes: dict[int, dict[bytes, BanningVote]] = field(default_factory=lambda: {0: {}, 1: {}})
    appeal: BanningAppeal | None = None
    outcomes: dict[int, BanningOutcome] = field(default_factory=dict)
    carriers: dict[bytes, BanningCarrier] = field(default_factory=dict)
    """Alerts the ban moved to after the nominated one (alert id -> carrier)."""

    @property
    def notice_id(self) -> bytes:
        return self.nomination.notice_id

    def opened_at(self, round: int) -> int | None:
        if round == 0:
            return self.nomination.nominated_at
        return self.appeal.appealed_at if self.appeal is not None else None

    def deadline(self, round: int, rules: NoticeRules) -> int | None:
        opened = self.opened_at(round)
        return None if opened is None else opened + rules.vote_seconds

    def eligible(self, rules: NoticeRules) -> frozenset[bytes]:
        return rules.voters - {self.nomination.nominator_voter or b""}

    def tally(
        self, round: int, rules: NoticeRules, votes: Mapping[bytes, BanningVote] | None = None
    ) -> Tally:
        held = self.votes[round] if votes is None else votes
        eligible = self.eligible(rules)
        counted = [v for k, v in held.items() if k in eligible]
        percent = rules.lifetime_majority if self.nomination.lifetime else rules.majority
        return Tally(
            uphold=sum(v.vote == "uphold" for v in counted),
            reject=sum(v.vote == "reject" for v in counted),
            eligible=len(eligible),
            needed=needed_votes(len(eligible), percent),
            # A committee of three whose member nominates has two voters left: then
            # both must vote, rather than no ban ever reaching a quorum of three.
            quorum=min(rules.quorum, len(eligible)),
        )

    def until(self) -> int | None:
        """The end of the ban decided in round 0 (None: lifetime, or no ban)."""
        first = self.outcomes.get(0)
        return first.until if first is not None else None

    def state(self, now: int) -> NoticeState:
        first, second = self.outcomes.get(0), self.outcomes.get(1)
        if first is None:
            return NoticeState.VOTING
        if first.outcome == "cancelled" or (second is not None and second.outcome == "cancelled"):
            return NoticeState.CANCELLED
        if first.until is not None and now >= first.until:
            return NoticeState.EXPIRED
        if self.appeal is not None and second is None:
            return NoticeState.APPEALED
        return NoticeState.UPHELD

    def enforced(self, now: int, rules: NoticeRules) -> bool:
        """Is the ban to be refused at the door now?"""
        state = self.state(now)
        return state is NoticeState.UPHELD or (
            state is NoticeState.APPEALED and not rules.appeal_suspends
        )

    def carried_by(self, alert_id: bytes, originator: str) -> bool:
        """Does this notice's ban ride on that alert (the nominator's own)?"""
        if originator != self.nomination.nominated_by:
            return False
        return alert_id == self.nomination.alert_id or alert_id in self.carriers

    def moved_to(self) -> list[bytes]:
        """The alerts the ban moved to, by the date the nominator signed (not by arrival:
        sync may bring two at once, in any order)."""
        ordered = sorted(self.carriers.values(), key=lambda c: (c.carried_at, c.alert_id))
        return [c.alert_id for c in ordered]

    def carrier(self) -> bytes:
        """The alert the ban rides on now: the latest it moved to, else the nominated one."""
        moved = self.moved_to()
        return moved[-1] if moved else self.nomination.alert_id

    def open_round(self) -> Literal[0, 1] | None:
        """The round being voted on (None: none)."""
        if 0 not in self.outcomes:
            return 0
        if self.appeal is not None and 1 not in self.outcomes:
            return 1
        return None

    def decision(
        self, round: int, rules: NoticeRules, now: int
    ) -> Literal["upheld", "cancelled"] | None:
        """What an outcome of ``round`` may say now (None: not decided yet)."""
        deadline = self.deadline(round, rules)
        if deadline is None:
            return None
        t = self.tally(round, rules)
        if t.upheld:
            return "upheld"
        if t.hopeless or now >= deadline:
            return "cancelled"
        return None


# -- the book of notices --------------------------------------------------------------------


def _check_vote(notice: Notice, vote: BanningVote, rules: NoticeRules, now: int | None) -> bool:
    """Check ``vote`` against ``notice``; True if new, False if already held (identical).

    ``now`` None: the vote comes bundled in an outcome (judged by its own date only).
    """
    verify_vote(vote)
    if vote.network_id != rules.network_id:
        raise NoticeRefused(RefusalCode.INVALID, "banning.vote: network_id is not this network's")
    opened, deadline = notice.opened_at(vote.round), notice.deadline(vote.round, rules)
    if opened is None or deadline is None:
        raise NoticeRefused(RefusalCode.UNKNOWN_NOTICE, "banning.vote: round 1 has no appeal")
    if vote.voter not in rules.voters:
        raise NoticeRefused(
            RefusalCode.NOT_COMMITTEE, "banning.vote: voter is not a committee member's key"
        )
    if vote.voter == notice.nomination.nominator_voter:
        raise NoticeRefused(
            RefusalCode.SELF_INTERESTED,
            "banning.vote: the nominating venue cannot vote on its own nomination or appeal",
        )
    if vote.voted_at > deadline or vote.voted_at < opened:
        raise NoticeRefused(
            RefusalCode.LATE, "banning.vote: voted_at is outside the round's voting period"
        )
    held = notice.votes[vote.round].get(vote.voter)
    if held is not None:
        if held == vote:
            return False
        raise NoticeRefused(
            RefusalCode.DUPLICATE, "banning.vote: this voter has already voted in this round"
        )
    if now is not None:
        if vote.round in notice.outcomes:
            raise NoticeRefused(RefusalCode.CLOSED, "banning.vote: the round is decided")
        if now > deadline + SKEW:
            raise NoticeRefused(
                RefusalCode.LATE, "banning.vote: arrived after the round's deadline"
            )
        if vote.voted_at > now + SKEW:
            raise NoticeRefused(RefusalCode.LATE, "banning.vote: voted_at is in the future")
    return True


class NoticeBook:
    """Every notice of one network this node holds, and the rules that accept them."""

    def __init__(self, network_id: str) -> None:
        self.network_id = network_id
        self.notices: dict[bytes, Notice] = {}

    def get(self, notice_id: bytes) -> Notice:
        notice = self.notices.get(notice_id)
        if notice is None:
            raise NoticeRefused(RefusalCode.UNKNOWN_NOTICE, "notice_id: no such nomination is held")
        return notice

    def add_nomination(
        self,
        nomination: BanningNomination,
        rules: NoticeRules,
        certificates: Mapping[str, Certificate],
        now: int,
    ) -> bool:
        """Accept a nomination (True: new; False: already held)."""
        _verify_node_signed(nomination)
        if nomination.network_id != self.network_id:
            raise NoticeRefused(
                RefusalCode.INVALID, "banning.nomination: network_id is not this network's"
            )
        held = self.notices.get(nomination.notice_id)
        if held is not None:
            if held.nomination == nomination:
                return False
            raise NoticeRefused(
                RefusalCode.DUPLICATE, "banning.nomination: notice_id is already in use"
            )
        cert = certificates.get(nomination.nominated_by)
        if cert is None:
            raise NoticeRefused(
                RefusalCode.NOT_COMMITTEE, "banning.nomination: nominated_by is not a member"
            )
        if len(rules.voters) < MIN_COMMITTEE:
            raise NoticeRefused(
                RefusalCode.SMALL_COMMITTEE,
                f"banning.nomination: the committee has {len(rules.voters)} members; "
                f"notices need at least {MIN_COMMITTEE}",
            )
        if nomination.scope != ALL and nomination.scope not in cert.groups:
            raise NoticeRefused(
                RefusalCode.INVALID,
                "banning.nomination: scope must be 'all' or a group of the nominating venue",
            )
        if nomination.nominated_at > now + SKEW:
            raise NoticeRefused(RefusalCode.INVALID, "banning.nomination: nominated_at is ahead")
        if cert.committee and nomination.nominator_voter is None:
            raise NoticeRefused(
                RefusalCode.SELF_INTERESTED,
                "banning.nomination: a committee member must name its own voting key",
            )
        if nomination.nominator_voter is not None:
            if nomination.nominator_voter not in rules.voters:
                raise NoticeRefused(
                    RefusalCode.INVALID, "banning.nomination: nominator_voter is not on the roster"
                )
            claim = _nominator_claim(
                nomination.network_id, nomination.notice_id, nomination.nominated_by
            )
            try:
                verify(
                    Purpose.NOTICE_NOMINATOR,
                    nomination.nominator_voter,
                    claim,
                    nomination.nominator_proof or b"",
                )
            except (BadSignature, CryptoError) as exc:
                raise NoticeRefused(
                    RefusalCode.FORGED, "banning.nomination: nominator_proof does not verify"
                ) from exc
        self.notices[nomination.notice_id] = Notice(nomination)
        return True

    def add_vote(self, vote: BanningVote, rules: NoticeRules, now: int) -> bool:
        """Accept a loose (gossiped) vote (True: new; False: already held)."""
        notice = self.get(vote.notice_id)
        if not _check_vote(notice, vote, rules, now):
            return False
        notice.votes[vote.round][vote.voter] = vote
        return True

    def add_appeal(
        self, appeal: BanningAppeal, certificates: Mapping[str, Certificate], now: int
    ) -> bool:
        _verify_node_signed(appeal)
        notice = self.get(appeal.notice_id)
        if notice.appeal is not None:
            if notice.appeal == appeal:
                return False
            raise NoticeRefused(RefusalCode.DUPLICATE, "banning.appeal: the notice is appealed")
        cert = certificates.get(appeal.recorded_by)
        if appeal.recorded_by != notice.nomination.nominated_by and not (
            cert is not None and cert.liaison
        ):
            raise NoticeRefused(
                RefusalCode.NOT_COMMITTEE,
                "banning.appeal: only the nominating venue or the liaison records an appeal",
            )
        first = notice.outcomes.get(0)
        if first is None or first.outcome != "upheld":
            raise NoticeRefused(RefusalCode.INVALID, "banning.appeal: the notice is not upheld")
        if appeal.appealed_at < first.decided_at or appeal.appealed_at > now + SKEW:
            raise NoticeRefused(RefusalCode.LATE, "banning.appeal: appealed_at is out of range")
        if first.until is not None and appeal.appealed_at >= first.until:
            raise NoticeRefused(RefusalCode.LATE, "banning.appeal: the ban has ended")
        notice.appeal = appeal
        return True

    def add_outcome(self, outcome: BanningOutcome, rules: NoticeRules, now: int) -> bool:
        """Recount the outcome's votes; accept it if they decide what it says."""
        _verify_node_signed(outcome)
        notice = self.get(outcome.notice_id)
        held = notice.outcomes.get(outcome.round)
        if held is not None:
            if held == outcome:
                return False
            raise NoticeRefused(RefusalCode.DUPLICATE, "banning.outcome: the round is decided")
        if outcome.published_by != notice.nomination.nominated_by:
            raise NoticeRefused(
                RefusalCode.INVALID, "banning.outcome: published_by is not the nominating venue"
            )
        if outcome.round == 1 and 0 not in notice.outcomes:
            raise NoticeRefused(RefusalCode.INVALID, "banning.outcome: round 0 is undecided")
        opened, deadline = notice.opened_at(outcome.round), notice.deadline(outcome.round, rules)
        if opened is None or deadline is None:
            raise NoticeRefused(RefusalCode.UNKNOWN_NOTICE, "banning.outcome: no appeal is held")
        if outcome.decided_at < opened or outcome.decided_at > now + SKEW:
            raise NoticeRefused(RefusalCode.LATE, "banning.outcome: decided_at is out of range")
        probe = Notice(notice.nomination, {0: {}, 1: {}}, notice.appeal, dict(notice.outcomes))
        counted: dict[bytes, BanningVote] = {}
        for vote in outcome.votes:
            if vote.notice_id != notice.notice_id or vote.round != outcome.round:
                raise NoticeRefused(RefusalCode.INVALID, "banning.outcome: a vote of another round")
            if vote.voted_at > outcome.decided_at:
                raise NoticeRefused(RefusalCode.LATE, "banning.outcome: a vote after the decision")
            probe.votes[outcome.round] = counted
            _check_vote(probe, vote, rules, None)
            if vote.voter in counted:
                raise NoticeRefused(RefusalCode.DUPLICATE, "banning.outcome: a voter twice")
            counted[vote.voter] = vote
        t = notice.tally(outcome.round, rules, counted)
        if outcome.outcome == "upheld":
            if not t.upheld:
                raise NoticeRefused(
                    RefusalCode.INVALID,
                    f"banning.outcome: the votes do not uphold it "
                    f"({t.uphold} of {t.needed} needed)",
                )
        elif t.upheld or not (t.hopeless or outcome.decided_at >= deadline):
            raise NoticeRefused(
                RefusalCode.INVALID, "banning.outcome: the votes do not cancel it yet"
            )
        if outcome.outcome == "upheld" and outcome.round == 0:
            days = notice.nomination.duration_days
            expected = None if days is None else outcome.decided_at + days * DAY
        elif outcome.outcome == "upheld":
            expected = notice.until()
        else:
            expected = None
        if outcome.until != expected:
            raise NoticeRefused(RefusalCode.INVALID, "banning.outcome: until is not the ban's end")
        for voter, vote in counted.items():
            notice.votes[outcome.round].setdefault(voter, vote)
        notice.outcomes[outcome.round] = outcome
        return True

    def add_carrier(self, carrier: BanningCarrier, now: int) -> bool:
        """Accept the nominator's word that its upheld ban moved to another of its alerts
        (True: new; False: already held)."""
        _verify_node_signed(carrier)
        notice = self.get(carrier.notice_id)
        held = notice.carriers.get(carrier.alert_id)
        if held is not None:
            if held == carrier:
                return False
            raise NoticeRefused(
                RefusalCode.DUPLICATE, "banning.carrier: the ban already rides on that alert"
            )
        if carrier.published_by != notice.nomination.nominated_by:
            raise NoticeRefused(
                RefusalCode.INVALID, "banning.carrier: published_by is not the nominating venue"
            )
        if carrier.alert_id == notice.nomination.alert_id:
            raise NoticeRefused(
                RefusalCode.DUPLICATE, "banning.carrier: the ban already rides on that alert"
            )
        first = notice.outcomes.get(0)
        if first is None or first.outcome != "upheld":
            raise NoticeRefused(RefusalCode.INVALID, "banning.carrier: the ban is not upheld")
        if carrier.carried_at < first.decided_at or carrier.carried_at > now + SKEW:
            raise NoticeRefused(RefusalCode.LATE, "banning.carrier: carried_at is out of range")
        if first.until is not None and carrier.carried_at >= first.until:
            raise NoticeRefused(RefusalCode.LATE, "banning.carrier: the ban has ended")
        if len(notice.carriers) >= MAX_CARRIERS:
            raise NoticeRefused(
                RefusalCode.INVALID,
                f"banning.carrier: a ban moves to at most {MAX_CARRIERS} alerts",
            )
        notice.carriers[carrier.alert_id] = carrier
        return True

    def decide(
        self, notice_id: bytes, rules: NoticeRules, identity: NodeIdentity, now: int
    ) -> BanningOutcome | None:
        """The nominating venue's outcome of the open round, if it can be decided now."""
        notice = self.get(notice_id)
        round = notice.open_round()
        if round is None or notice.nomination.nominated_by != identity.peer_id:
            return None
        decision = notice.decision(round, rules, now)
        if decision is None:
            return None
        if decision == "upheld" and round == 0:
            days = notice.nomination.duration_days
            until = None if days is None else now + days * DAY
        elif decision == "upheld":
            until = notice.until()
        else:
            until = None
        eligible = notice.eligible(rules)
        votes = tuple(
            v for k, v in sorted(notice.votes[round].items()) if k in eligible and v.voted_at <= now
        )
        draft = BanningOutcome(
            network_id=self.network_id,
            notice_id=notice_id,
            round=round,
            outcome=decision,
            decided_at=now,
            until=until,
            votes=votes,
            published_by=identity.peer_id,
            signature=bytes(64),
        )
        return draft.model_copy(update={"signature": _signed(identity, draft)})

    def bans(self, now: int, rules: NoticeRules) -> list[Notice]:
        """The notices whose ban is enforced now."""
        return [n for n in self.notices.values() if n.enforced(now, rules)]


def reader_keys(certificates: Mapping[str, Certificate], *, exclude: str) -> dict[str, bytes]:
    """Who reads a case: committee members and the liaison (peer id -> public key)."""
    return {
        p: peer_id_to_public_key(p)
        for p, c in certificates.items()
        if (c.committee or c.liaison) and p != exclude
    }


__all__ = [
    "ALL",
    "DAY",
    "MAX_CARRIERS",
    "MAX_DAYS",
    "SKEW",
    "Notice",
    "NoticeBook",
    "NoticeRefused",
    "NoticeRules",
    "NoticeState",
    "RefusalCode",
    "Tally",
    "appeal",
    "carry",
    "cast_vote",
    "needed_votes",
    "nominate",
    "reader_keys",
    "seal_cases",
    "verify_vote",
]
