"""Banning notices: roles, the pseudonymous roster, nomination, votes, tally, appeal."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from doorwatch.crypto import (
    Certificate,
    NetworkPolicy,
    NodeIdentity,
    SigningKey,
    accept_policy,
    unseal,
    voter_identity,
)
from doorwatch.protocol import (
    BanningCarrier,
    BanningOutcome,
    BanningVote,
    NoticeBook,
    NoticeRefused,
    NoticeRules,
    NoticeState,
    RefusalCode,
    carry,
    cast_vote,
    decode,
    encode,
    nominate,
    reader_keys,
    seal_cases,
)
from doorwatch.protocol._notices import DAY, MAX_CARRIERS, SKEW, appeal
from tests.protocol.factories import AUTHORITY, NETWORK_ID, T0, identity

VENUES = [identity(f"venue-{n}") for n in range(6)]
LIAISON = identity("liaison")
NOTICE_ID = bytes(range(16))
ALERT_ID = bytes(range(16, 32))


def certificates(committee: int) -> dict[str, Certificate]:
    out = {}
    for n, venue in enumerate([*VENUES, LIAISON]):
        out[venue.peer_id] = AUTHORITY.issue_certificate(
            venue=f"venue {n}",
            peer_id=venue.peer_id,
            groups=("all", "door"),
            committee=n < committee,
            liaison=venue is LIAISON,
            jurisdiction="GB",
            valid_from=T0 - DAY,
            valid_until=T0 + 1000 * DAY,
            agreement_version="1",
            serial=n + 1,
        )
    return out


def policy(committee: int, **rules: object) -> NetworkPolicy:
    return AUTHORITY.sign_policy(
        serial=2,
        issued_at=T0,
        anonymity_floor=50,
        committee=[v.peer_id for v in VENUES[:committee]],
        notice_rules=dict(rules),
    )


class Net:
    """A network of six venues, the first ``committee`` on the committee, and a liaison."""

    def __init__(self, committee: int = 4, **rules: object) -> None:
        self.policy = policy(committee, **rules)
        self.rules = NoticeRules.from_policy(self.policy)
        self.certs = certificates(committee)
        self.voters = [voter_identity(self.policy, v) for v in VENUES]
        self.book = NoticeBook(NETWORK_ID)

    def voter(self, n: int) -> NodeIdentity:
        found = self.voters[n]
        assert found is not None
        return found

    def nomination(self, by: int = 0, days: int | None = 365, scope: str = "all") -> object:
        readers = reader_keys(self.certs, exclude=VENUES[by].peer_id)
        return nominate(
            VENUES[by],
            network_id=NETWORK_ID,
            notice_id=NOTICE_ID,
            alert_id=ALERT_ID,
            now=T0,
            scope=scope,
            duration_days=days,
            cases=seal_cases(b"threw a glass at the bar", readers, VENUES[by]),
            voter=self.voters[by],
        )

    def nominate(self, by: int = 0, days: int | None = 365) -> None:
        assert self.book.add_nomination(self.nomination(by, days), self.rules, self.certs, T0)

    def vote(
        self, n: int, choice: str = "uphold", at: int = T0 + 60, round: int = 0
    ) -> BanningVote:
        return cast_vote(
            self.voter(n),
            network_id=NETWORK_ID,
            notice_id=NOTICE_ID,
            round=round,  # type: ignore[arg-type]
            vote=choice,  # type: ignore[arg-type]
            now=at,
        )

    def refused(self, vote: BanningVote, now: int = T0 + 120) -> RefusalCode:
        with pytest.raises(NoticeRefused) as caught:
            self.book.add_vote(vote, self.rules, now)
        return caught.value.code

    def fresh(self) -> NoticeBook:
        """Another node's book: it holds the nomination only."""
        book = NoticeBook(NETWORK_ID)
        book.add_nomination(self.book.get(NOTICE_ID).nomination, self.rules, self.certs, T0)
        return book


def test_roster_gives_each_committee_member_one_pseudonym_only_it_opens() -> None:
    net = Net(committee=4)
    keys = [v.public_key for v in net.voters[:4] if v is not None]
    assert len(set(keys)) == 4
    assert set(keys) == net.policy.voter_keys
    assert net.voters[4] is None
    assert net.voters[5] is None
    assert voter_identity(net.policy, LIAISON) is None
    # Nothing in the roster names a venue: only keys and anonymous sealed seeds.
    for peer_id in (v.peer_id for v in VENUES):
        assert peer_id.encode() not in net.policy.to_bytes()
    # The authority alone can link a pseudonym to its venue.
    assert SigningKey.from_seed(AUTHORITY.voter_seed(VENUES[2].peer_id)).public_key == keys[2]
    # Signed and carried like any policy; the notice rules are in the signed bytes.
    accept_policy(
        NetworkPolicy.from_bytes(net.policy.to_bytes()),
        None,
        authority_public_key=AUTHORITY.public_key,
        network_id=NETWORK_ID,
    )


def test_a_policy_without_notice_rules_keeps_its_old_bytes() -> None:
    plain = AUTHORITY.sign_policy(serial=1, issued_at=T0, anonymity_floor=50)
    assert set(plain.model_dump()) > {"notice_quorum", "committee_voters"}
    raw = plain.to_bytes()
    assert b"notice_quorum" not in raw
    assert b"committee_voters" not in raw
    assert b"liaison" not in certificates(1)[VENUES[0].peer_id].to_bytes()
    assert b"liaison" in certificates(1)[LIAISON.peer_id].to_bytes()


def test_upheld_by_a_majority_of_the_committee_and_checked_by_any_node() -> None:
    net = Net(committee=4)  # the nominator (venue 0) is on it: 3 eligible, 2 needed, quorum 3
    net.nominate()
    for n, choice in ((1, "uphold"), (2, "uphold")):
        assert net.book.add_vote(net.vote(n, choice), net.rules, T0 + 120)
    notice = net.book.get(NOTICE_ID)
    assert notice.tally(0, net.rules).to_json() == {
        "uphold": 2,
        "reject": 0,
        "eligible": 3,
        "needed": 2,
        "quorum": 3,
    }
    assert net.book.decide(NOTICE_ID, net.rules, VENUES[0], T0 + 120) is None  # no quorum yet
    assert net.book.add_vote(net.vote(3, "reject"), net.rules, T0 + 120)
    outcome = net.book.decide(NOTICE_ID, net.rules, VENUES[0], T0 + 180)
    assert outcome is not None
    assert outcome.outcome == "upheld"
    assert outcome.until == T0 + 180 + 365 * DAY
    assert net.book.decide(NOTICE_ID, net.rules, VENUES[1], T0 + 180) is None  # not its notice
    net.book.add_outcome(outcome, net.rules, T0 + 180)

    other = net.fresh()
    decoded = decode(encode(outcome))
    assert isinstance(decoded, BanningOutcome)
    assert other.add_outcome(decoded, net.rules, T0 + 200)
    held = other.get(NOTICE_ID)
    assert held.state(T0 + 200) is NoticeState.UPHELD
    assert held.enforced(T0 + 200, net.rules)
    assert len(held.votes[0]) == 3  # the node learnt the votes from the outcome
    assert held.state(T0 + 180 + 365 * DAY) is NoticeState.EXPIRED
    assert not held.enforced(T0 + 180 + 365 * DAY, net.rules)
    assert held.carried_by(ALERT_ID, VENUES[0].peer_id)
    assert not held.carried_by(ALERT_ID, VENUES[1].peer_id)


def test_a_ban_moves_to_the_nominators_renewed_alert_and_to_no_one_elses() -> None:
    net = Net(committee=4)
    net.nominate(days=None)  # a lifetime ban: it outlives any alert
    renewed = bytes(range(32, 48))
    moved = carry(
        VENUES[0], network_id=NETWORK_ID, notice_id=NOTICE_ID, alert_id=renewed, now=T0 + 300
    )

    def refused(carrier: BanningCarrier, now: int = T0 + 400) -> tuple[RefusalCode, str]:
        with pytest.raises(NoticeRefused) as caught:
            net.book.add_carrier(carrier, now)
        return caught.value.code, caught.value.message

    # Not before the ban is upheld.
    code, message = refused(moved)
    assert code is RefusalCode.INVALID
    assert message == "banning.carrier: the ban is not upheld"
    for n in (1, 2, 3):
        net.book.add_vote(net.vote(n), net.rules, T0 + 120)
    outcome = net.book.decide(NOTICE_ID, net.rules, VENUES[0], T0 + 180)
    assert outcome is not None
    net.book.add_outcome(outcome, net.rules, T0 + 180)
    notice = net.book.get(NOTICE_ID)
    assert notice.carrier() == ALERT_ID
    assert not notice.carried_by(renewed, VENUES[0].peer_id)

    # Another venue cannot move the ban, even onto an alert of its own.
    theirs = carry(
        VENUES[1], network_id=NETWORK_ID, notice_id=NOTICE_ID, alert_id=renewed, now=T0 + 300
    )
    assert refused(theirs) == (
        RefusalCode.INVALID,
        "banning.carrier: published_by is not the nominating venue",
    )
    forged = moved.model_copy(update={"alert_id": bytes(16)})  # altered after signing
    assert refused(forged)[0] is RefusalCode.FORGED
    early = carry(
        VENUES[0], network_id=NETWORK_ID, notice_id=NOTICE_ID, alert_id=renewed, now=T0 + 100
    )
    assert refused(early)[0] is RefusalCode.LATE  # before the ban was decided
    assert refused(moved, now=T0 + 300 - SKEW - 1)[0] is RefusalCode.LATE  # dated ahead
    again = carry(
        VENUES[0], network_id=NETWORK_ID, notice_id=NOTICE_ID, alert_id=ALERT_ID, now=T0 + 300
    )
    assert refused(again)[0] is RefusalCode.DUPLICATE

    # Any node takes it from the wire; the ban then rides on either alert.
    other = net.fresh()
    other.add_outcome(outcome, net.rules, T0 + 200)
    decoded = decode(encode(moved))
    assert isinstance(decoded, BanningCarrier)
    assert other.add_carrier(decoded, T0 + 400)
    assert not other.add_carrier(decoded, T0 + 500)  # held already
    held = other.get(NOTICE_ID)
    assert held.carried_by(renewed, VENUES[0].peer_id)
    assert held.carried_by(ALERT_ID, VENUES[0].peer_id)
    assert not held.carried_by(renewed, VENUES[1].peer_id)
    assert held.carrier() == renewed
    later = carry(
        VENUES[0], network_id=NETWORK_ID, notice_id=NOTICE_ID, alert_id=bytes(16), now=T0 + 600
    )
    assert other.add_carrier(later, T0 + 600)
    assert held.carrier() == bytes(16)
    # A node that was away learns both at once, newest first: the signed dates decide.
    away = net.fresh()
    away.add_outcome(outcome, net.rules, T0 + 200)
    assert away.add_carrier(later, T0 + 700)
    assert away.add_carrier(moved, T0 + 700)
    assert away.get(NOTICE_ID).moved_to() == [renewed, bytes(16)]
    assert away.get(NOTICE_ID).carrier() == bytes(16)

    # A ban moves a bounded number of times.
    for n in range(MAX_CARRIERS - 2):
        step = carry(
            VENUES[0],
            network_id=NETWORK_ID,
            notice_id=NOTICE_ID,
            alert_id=(1000 + n).to_bytes(16, "big"),
            now=T0 + 700,
        )
        assert other.add_carrier(step, T0 + 700)
    one_more = carry(
        VENUES[0], network_id=NETWORK_ID, notice_id=NOTICE_ID, alert_id=b"\xff" * 16, now=T0 + 800
    )
    with pytest.raises(NoticeRefused, match="at most 100 alerts"):
        other.add_carrier(one_more, T0 + 800)


def test_no_carrier_after_a_ban_has_ended() -> None:
    net = Net(committee=4)
    net.nominate(days=30)
    for n in (1, 2, 3):
        net.book.add_vote(net.vote(n), net.rules, T0 + 120)
    outcome = net.book.decide(NOTICE_ID, net.rules, VENUES[0], T0 + 180)
    assert outcome is not None
    assert outcome.until is not None
    net.book.add_outcome(outcome, net.rules, T0 + 180)
    late = carry(
        VENUES[0],
        network_id=NETWORK_ID,
        notice_id=NOTICE_ID,
        alert_id=bytes(16),
        now=outcome.until,
    )
    with pytest.raises(NoticeRefused, match="the ban has ended"):
        net.book.add_carrier(late, outcome.until)


def test_an_outcome_the_votes_do_not_support_is_refused() -> None:
    net = Net(committee=4)
    net.nominate()
    votes = [net.vote(1, "uphold"), net.vote(2, "uphold"), net.vote(3, "reject")]
    for v in votes:
        net.book.add_vote(v, net.rules, T0 + 120)
    outcome = net.book.decide(NOTICE_ID, net.rules, VENUES[0], T0 + 180)
    assert outcome is not None
    # Leaving out the reject vote loses the quorum: upheld no longer follows.
    thin = outcome.model_copy(update={"votes": outcome.votes[:2]})
    from doorwatch.protocol._signing import signed_payload

    thin = thin.model_copy(
        update={"signature": VENUES[0].sign("msg-banning-outcome", signed_payload(thin))}
    )
    with pytest.raises(NoticeRefused) as caught:
        net.fresh().add_outcome(thin, net.rules, T0 + 200)
    assert caught.value.code is RefusalCode.INVALID
    # Claiming "cancelled" against an upholding majority, or a longer ban, is refused too.
    for change in ({"outcome": "cancelled", "until": None}, {"until": outcome.until + DAY}):
        bad = outcome.model_copy(update=change)
        bad = bad.model_copy(
            update={"signature": VENUES[0].sign("msg-banning-outcome", signed_payload(bad))}
        )
        with pytest.raises(NoticeRefused):
            net.fresh().add_outcome(bad, net.rules, T0 + 200)
    # Signed by anyone but the nominating venue, it is refused whatever it says.
    forged = outcome.model_copy(update={"published_by": VENUES[1].peer_id})
    forged = forged.model_copy(
        update={"signature": VENUES[1].sign("msg-banning-outcome", signed_payload(forged))}
    )
    with pytest.raises(NoticeRefused):
        net.fresh().add_outcome(forged, net.rules, T0 + 200)


def test_forged_late_duplicate_outsider_and_self_interested_votes_are_refused() -> None:
    net = Net(committee=4)
    net.nominate()
    good = net.vote(1)
    flipped = bytearray(good.signature)
    flipped[5] ^= 1
    assert net.refused(good.model_copy(update={"signature": bytes(flipped)})) is RefusalCode.FORGED
    assert net.refused(good.model_copy(update={"vote": "reject"})) is RefusalCode.FORGED
    outsider = NodeIdentity.from_seed(bytes(32))
    assert (
        net.refused(
            cast_vote(
                outsider,
                network_id=NETWORK_ID,
                notice_id=NOTICE_ID,
                round=0,
                vote="uphold",
                now=T0 + 60,
            )
        )
        is RefusalCode.NOT_COMMITTEE
    )
    assert net.refused(net.vote(0)) is RefusalCode.SELF_INTERESTED
    deadline = T0 + 14 * DAY
    assert net.refused(net.vote(2, at=deadline + 1), now=deadline + 2) is RefusalCode.LATE
    # Dated in time but delivered loose long after the deadline: refused as well.
    assert net.refused(net.vote(2, at=deadline), now=deadline + SKEW + 1) is RefusalCode.LATE
    assert net.book.add_vote(good, net.rules, T0 + 120)
    assert not net.book.add_vote(good, net.rules, T0 + 130)  # the same vote again: a no-op
    assert net.refused(net.vote(1, "reject", at=T0 + 90)) is RefusalCode.DUPLICATE
    assert net.book.get(NOTICE_ID).tally(0, net.rules).uphold == 1


def test_nominations_are_refused_without_a_committee_or_the_nominators_own_key() -> None:
    small = Net(committee=2)
    with pytest.raises(NoticeRefused) as caught:
        small.book.add_nomination(small.nomination(), small.rules, small.certs, T0)
    assert caught.value.code is RefusalCode.SMALL_COMMITTEE
    net = Net(committee=4)
    hidden = nominate(
        VENUES[0],
        network_id=NETWORK_ID,
        notice_id=NOTICE_ID,
        alert_id=ALERT_ID,
        now=T0,
        scope="all",
        duration_days=30,
        cases=seal_cases(b"x", {VENUES[1].peer_id: VENUES[1].public_key}, VENUES[0]),
    )
    with pytest.raises(NoticeRefused) as caught:
        net.book.add_nomination(hidden, net.rules, net.certs, T0)
    assert caught.value.code is RefusalCode.SELF_INTERESTED
    # Naming another member's key needs that key's signature: it cannot be done.
    stolen = hidden.model_copy(
        update={"nominator_voter": net.voter(1).public_key, "nominator_proof": bytes(64)}
    )
    with pytest.raises(NoticeRefused):
        net.book.add_nomination(stolen, net.rules, net.certs, T0)
    with pytest.raises(NoticeRefused):
        net.book.add_nomination(net.nomination(scope="bar"), net.rules, net.certs, T0)
    # A venue off the committee nominates without a key; all four committee members vote.
    assert net.book.add_nomination(net.nomination(by=5), net.rules, net.certs, T0)
    assert net.book.get(NOTICE_ID).tally(0, net.rules).eligible == 4


def test_committee_and_liaison_read_the_case_others_do_not() -> None:
    net = Net(committee=4)
    nomination = net.nomination()
    readers = {c.member for c in nomination.cases}  # type: ignore[attr-defined]
    assert readers == {VENUES[1].peer_id, VENUES[2].peer_id, VENUES[3].peer_id, LIAISON.peer_id}
    sealed = next(c.sealed for c in nomination.cases if c.member == LIAISON.peer_id)  # type: ignore[attr-defined]
    assert unseal(sealed, LIAISON, VENUES[0].public_key, "notice-case") == (
        b"threw a glass at the bar"
    )


def test_a_committee_of_three_whose_member_nominates_decides_with_both_others() -> None:
    net = Net(committee=3)
    net.nominate()
    net.book.add_vote(net.vote(1), net.rules, T0 + 120)
    t = net.book.get(NOTICE_ID).tally(0, net.rules)
    assert (t.eligible, t.needed, t.quorum, t.upheld) == (2, 2, 2, False)
    net.book.add_vote(net.vote(2), net.rules, T0 + 120)
    assert net.book.get(NOTICE_ID).tally(0, net.rules).upheld


def test_a_lifetime_ban_needs_the_higher_majority() -> None:
    net = Net(committee=4)
    net.nominate(days=None)
    net.book.add_vote(net.vote(1), net.rules, T0 + 120)
    net.book.add_vote(net.vote(2), net.rules, T0 + 120)
    net.book.add_vote(net.vote(3, "reject"), net.rules, T0 + 120)
    t = net.book.get(NOTICE_ID).tally(0, net.rules)
    assert (t.uphold, t.needed, t.upheld, t.hopeless) == (2, 3, False, True)
    outcome = net.book.decide(NOTICE_ID, net.rules, VENUES[0], T0 + 180)
    assert outcome is not None
    assert (outcome.outcome, outcome.until) == ("cancelled", None)


def test_appeal_is_a_fresh_vote_without_the_nominator_and_can_cancel() -> None:
    net = Net(committee=4)
    net.nominate()
    for n in (1, 2, 3):
        net.book.add_vote(net.vote(n), net.rules, T0 + 120)
    first = net.book.decide(NOTICE_ID, net.rules, VENUES[0], T0 + 180)
    assert first is not None
    net.book.add_outcome(first, net.rules, T0 + 180)
    other = net.fresh()
    other.add_outcome(first, net.rules, T0 + 200)
    readers = reader_keys(net.certs, exclude=LIAISON.peer_id)
    lodged = appeal(
        LIAISON,
        network_id=NETWORK_ID,
        notice_id=NOTICE_ID,
        now=T0 + DAY,
        cases=seal_cases(b"I was not there", readers, LIAISON),
    )
    by_outsider = appeal(
        VENUES[5], network_id=NETWORK_ID, notice_id=NOTICE_ID, now=T0 + DAY, cases=lodged.cases
    )
    with pytest.raises(NoticeRefused):
        net.book.add_appeal(by_outsider, net.certs, T0 + DAY)
    assert net.book.add_appeal(lodged, net.certs, T0 + DAY)
    assert other.add_appeal(lodged, net.certs, T0 + DAY)
    notice = net.book.get(NOTICE_ID)
    assert notice.state(T0 + DAY) is NoticeState.APPEALED
    assert notice.enforced(T0 + DAY, net.rules)  # an appeal suspends nothing by default
    assert not notice.enforced(T0 + DAY, Net(committee=4, notice_appeal_suspends=True).rules)
    assert net.refused(net.vote(0, "uphold", at=T0 + DAY + 60, round=1), T0 + DAY + 90) is (
        RefusalCode.SELF_INTERESTED
    )
    # A vote of the first round is closed now; the appeal round takes fresh votes.
    assert net.refused(net.vote(1, "uphold", at=T0 + 100), T0 + DAY) is RefusalCode.DUPLICATE
    for n in (1, 2):
        net.book.add_vote(
            net.vote(n, "reject", at=T0 + DAY + 60, round=1), net.rules, T0 + DAY + 90
        )
    second = net.book.decide(NOTICE_ID, net.rules, VENUES[0], T0 + DAY + 120)
    assert second is not None
    assert (second.round, second.outcome) == (1, "cancelled")
    assert other.add_outcome(second, net.rules, T0 + DAY + 130)
    assert other.get(NOTICE_ID).state(T0 + DAY + 130) is NoticeState.CANCELLED
    assert not other.get(NOTICE_ID).enforced(T0 + DAY + 130, net.rules)
    assert other.bans(T0 + DAY + 130, net.rules) == []


def test_nobody_voting_by_the_deadline_cancels() -> None:
    net = Net(committee=4)
    net.nominate()
    net.book.add_vote(net.vote(1), net.rules, T0 + 120)
    assert net.book.decide(NOTICE_ID, net.rules, VENUES[0], T0 + 14 * DAY - 1) is None
    outcome = net.book.decide(NOTICE_ID, net.rules, VENUES[0], T0 + 14 * DAY)
    assert outcome is not None
    assert outcome.outcome == "cancelled"
    assert net.fresh().add_outcome(outcome, net.rules, T0 + 14 * DAY)
    early = outcome.model_copy(update={"decided_at": T0 + DAY})
    from doorwatch.protocol._signing import signed_payload

    early = early.model_copy(
        update={"signature": VENUES[0].sign("msg-banning-outcome", signed_payload(early))}
    )
    with pytest.raises(NoticeRefused):
        net.fresh().add_outcome(early, net.rules, T0 + 14 * DAY)


class TallyMachine(RuleBasedStateMachine):
    """Any mix of good and bad votes: only first, in-time, signed votes of eligible committee
    members count; a published outcome always survives another node's recount."""

    def __init__(self) -> None:
        super().__init__()
        self.net = NET
        self.book = NoticeBook(NETWORK_ID)
        self.book.add_nomination(NOMINATION, self.net.rules, self.net.certs, T0)
        self.now = T0 + 10
        self.counted: dict[int, str] = {}
        self.cast_at: dict[int, int] = {}
        self.published: BanningOutcome | None = None

    def _offer(self, vote: BanningVote) -> RefusalCode | None:
        try:
            self.book.add_vote(vote, self.net.rules, self.now)
        except NoticeRefused as exc:
            return exc.code
        return None

    @precondition(lambda self: self.published is None)
    @rule(member=st.integers(1, 5), choice=st.sampled_from(["uphold", "reject"]))
    def vote(self, member: int, choice: str) -> None:
        code = self._offer(self.net.vote(member, choice, at=self.now))
        if self.now > T0 + 14 * DAY:
            expected: RefusalCode | None = RefusalCode.LATE
        elif member in self.counted:
            same = self.counted[member] == choice and self.cast_at[member] == self.now
            expected = None if same else RefusalCode.DUPLICATE  # a second, different vote
        else:
            expected = None
            self.counted[member] = choice
            self.cast_at[member] = self.now
        assert code is expected

    @rule(member=st.integers(1, 5), byte=st.integers(0, 63))
    def forged(self, member: int, byte: int) -> None:
        vote = self.net.vote(member, "uphold", at=self.now)
        sig = bytearray(vote.signature)
        sig[byte] ^= 0x40
        assert self._offer(vote.model_copy(update={"signature": bytes(sig)})) in (
            RefusalCode.FORGED,
        )

    @rule()
    def nominator(self) -> None:
        assert self._offer(self.net.vote(0, "uphold", at=self.now)) is RefusalCode.SELF_INTERESTED

    @rule(seed=st.binary(min_size=32, max_size=32))
    def outsider(self, seed: bytes) -> None:
        vote = cast_vote(
            SigningKey.from_seed(seed),
            network_id=NETWORK_ID,
            notice_id=NOTICE_ID,
            round=0,
            vote="uphold",
            now=self.now,
        )
        assert self._offer(vote) is RefusalCode.NOT_COMMITTEE

    @rule(seconds=st.integers(1, 8 * DAY))
    def wait(self, seconds: int) -> None:
        self.now += seconds

    @precondition(lambda self: self.published is None)
    @rule()
    def publish(self) -> None:
        outcome = self.book.decide(NOTICE_ID, self.net.rules, VENUES[0], self.now)
        if outcome is None:
            return
        other = NoticeBook(NETWORK_ID)
        other.add_nomination(NOMINATION, self.net.rules, self.net.certs, T0)
        assert other.add_outcome(outcome, self.net.rules, self.now)
        self.book.add_outcome(outcome, self.net.rules, self.now)
        self.published = outcome

    @invariant()
    def tally_counts_only_the_accepted(self) -> None:
        t = self.book.get(NOTICE_ID).tally(0, self.net.rules)
        assert t.uphold == sum(c == "uphold" for c in self.counted.values())
        assert t.reject == sum(c == "reject" for c in self.counted.values())
        assert t.eligible == 5

    @invariant()
    def upheld_follows_the_majority(self) -> None:
        ups = sum(c == "uphold" for c in self.counted.values())
        decision = self.book.get(NOTICE_ID).decision(0, self.net.rules, self.now)
        if ups >= 3 and len(self.counted) >= 3:
            assert decision == "upheld"
        else:
            assert decision != "upheld"
        if self.published is not None:
            assert self.published.outcome == ("upheld" if ups >= 3 else "cancelled")


NET = Net(committee=6)
NOMINATION = NET.nomination()
TallyMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
test_tally_machine = TallyMachine.TestCase


def test_a_vote_on_a_decided_round_is_refused_as_closed() -> None:
    net = Net(committee=5)  # four eligible: three upholds decide it early
    net.nominate()
    for n in (1, 2, 3):
        net.book.add_vote(net.vote(n), net.rules, T0 + 120)
    outcome = net.book.decide(NOTICE_ID, net.rules, VENUES[0], T0 + 180)
    assert outcome is not None
    net.book.add_outcome(outcome, net.rules, T0 + 180)
    assert net.refused(net.vote(4, "reject", at=T0 + 200), now=T0 + 210) is RefusalCode.CLOSED
