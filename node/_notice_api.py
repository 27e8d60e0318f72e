"""The banning-notice methods: ``notice.nominate``, ``notice.list``, ``notice.get``,
``notice.vote``, ``notice.appeal``, ``notice.letter``.

Nominating, voting, appealing and letters are for administrators (the licensee or
manager); supervisors may read. A nomination names one of this venue's own active
alerts; its summary (and a lifetime ban's reason) is sealed to the committee and the
liaison, and kept here under the storage key for the letters. The summary is shown by
``notice.get`` only to those who can open it: the nominating venue, committee members
and the liaison. Votes name no venue: this node's pseudonym signs them.
"""

from __future__ import annotations

import base64
import builtins
import functools
import json
import os
import sqlite3
from collections.abc import Sequence
from typing import Any, Literal

import trio
from pydantic import Field, model_validator

from doorwatch.crypto import (
    CryptoError,
    Purpose,
    canonical_pack,
    canonical_unpack,
    peer_id_to_public_key,
    seal_to,
    unseal,
    x25519_public_from_ed25519,
)
from doorwatch.node import _alerts, _audit
from doorwatch.node import _notice_store as ndb
from doorwatch.node._alert_gossip import distribution_group
from doorwatch.node._api_models import Params, Result
from doorwatch.node._api_server import Dispatcher, MethodSpec, Session
from doorwatch.node._errors import Conflict, Forbidden, InvalidParams, NotFound
from doorwatch.node._network import NetworkRuntime
from doorwatch.node._notice_service import NoticeService, NoticeUndelivered
from doorwatch.node._roles import Role
from doorwatch.node._subjects import seal as seal_at_rest
from doorwatch.node._subjects import unseal as unseal_at_rest
from doorwatch.node._subjects import unseal_identity
from doorwatch.node._venue import ALERT_IDENTITY, actor
from doorwatch.protocol import (
    Notice,
    NoticeRefused,
    RefusalCode,
    cast_vote,
    nominate,
    reader_keys,
    seal_cases,
)
from doorwatch.protocol._notices import MAX_DAYS, appeal

NOTICE_CASE_AT_REST = "notice-case"
NOTICE_APPEAL_AT_REST = "notice-appeal"
APPEAL_WINDOW_DAYS = 28
"""What the notice letter gives the subject to appeal in (the procedure sets no period)."""


class NominateParams(Params):
    alert_id: str = Field(min_length=32, max_length=32, description="One of this venue's alerts")
    summary: str = Field(
        min_length=1, max_length=2000, description="The incident, for the committee"
    )
    scope: str = Field(default="all", description="'all' (the whole network) or a group")
    duration_days: int | None = Field(
        default=None, ge=1, description="Up to 730 (two years); omit for a lifetime ban"
    )
    lifetime_reason: str | None = Field(
        default=None, min_length=1, max_length=2000, description="Required for a lifetime ban"
    )
    network_id: str | None = None

    @model_validator(mode="after")
    def _duration(self) -> NominateParams:
        if self.duration_days is not None and self.duration_days > MAX_DAYS:
            raise ValueError(
                "duration_days: a ban over two years (730 days) is a lifetime ban: omit "
                "duration_days and give lifetime_reason"
            )
        if self.duration_days is None and self.lifetime_reason is None:
            raise ValueError("lifetime_reason: a lifetime ban needs a recorded reason")
        if self.duration_days is not None and self.lifetime_reason is not None:
            raise ValueError("lifetime_reason: only for a lifetime ban (no duration_days)")
        return self


class NoticeIdParams(Params):
    notice_id: str = Field(min_length=32, max_length=32)


class ListParams(Params):
    state: Literal["voting", "upheld", "appealed", "cancelled", "expired"] | None = None


class VoteParams(Params):
    notice_id: str = Field(min_length=32, max_length=32)
    vote: Literal["uphold", "reject"]
    reason: str | None = Field(default=None, min_length=1, max_length=2000)


class AppealParams(Params):
    notice_id: str = Field(min_length=32, max_length=32)
    grounds: str = Field(min_length=1, max_length=4000, description="The appellant's grounds")


class LetterParams(Params):
    notice_id: str = Field(min_length=32, max_length=32)
    kind: Literal["notice", "appeal_outcome"] = "notice"


class TallyResult(Result):
    uphold: int
    reject: int
    eligible: int
    needed: int
    quorum: int


class RoundResult(Result):
    round: int
    opened_at: int
    deadline: int
    tally: TallyResult
    outcome: Literal["upheld", "cancelled"] | None
    decided_at: int | None


class NoticeResult(Result):
    notice_id: str
    network_id: str
    alert_id: str
    nominated_by: str = Field(description="The nominating venue's name")
    own: bool = Field(description="Nominated by this venue")
    nominated_at: int
    scope: str
    duration_days: int | None
    lifetime: bool
    state: Literal["voting", "upheld", "appealed", "cancelled", "expired"]
    until: int | None = Field(description="The ban's end (upheld); null for life or no ban")
    rounds: list[RoundResult]
    can_vote: bool = Field(description="This venue is on the committee and not the nominator")
    summary: str | None = Field(
        default=None, description="notice.get only, and only where this node can open the case"
    )
    lifetime_reason: str | None = None
    appeal_grounds: str | None = None
    reasons: list[str] | None = Field(
        default=None,
        description="notice.get at the nominating venue: the reasons voters gave (no voter named)",
    )
    carriers: list[str] = Field(
        default_factory=list,
        description="Alerts of the nominating venue the ban moved to after alert_id, oldest "
        "first: it re-issues the subject's alert before the last one's year is out",
    )
    door_until: int | None = Field(
        default=None,
        description="At the nominating venue, when the alert the ban rides on is no longer "
        "active (disputed, withdrawn, expired, deleted) and so will not be re-issued: the "
        "latest time member doors enforce the ban (compare with until). Null while it is "
        "active, and at other venues",
    )


class NoticesResult(Result):
    notices: list[NoticeResult]


class VotedResult(Result):
    notice_id: str
    round: int
    accepted: Literal[True]


class LetterResult(Result):
    notice_id: str
    kind: str
    filename: str
    pdf: str = Field(description="The PDF, base64")


_READ = Role.SUPERVISOR
_ACT = Role.ADMINISTRATOR
NOMINATE = MethodSpec(
    "notice.nominate",
    NominateParams,
    NoticeResult,
    role=_ACT,
    summary="Nominate the subject of one of this venue's alerts for a Pubwatch banning notice.",
)
LIST = MethodSpec(
    "notice.list",
    ListParams,
    NoticesResult,
    role=_READ,
    summary="List the banning notices this node holds (no case text).",
)
GET = MethodSpec(
    "notice.get",
    NoticeIdParams,
    NoticeResult,
    role=_READ,
    summary="One notice, with its case summary where this node may read it.",
)
VOTE = MethodSpec(
    "notice.vote",
    VoteParams,
    VotedResult,
    role=_ACT,
    summary="Vote on a nomination or appeal (committee members; signed by a pseudonym).",
)
APPEAL = MethodSpec(
    "notice.appeal",
    AppealParams,
    NoticeResult,
    role=_ACT,
    summary="Record the subject's appeal (the nominating venue or the liaison): a fresh vote.",
)
LETTER = MethodSpec(
    "notice.letter",
    LetterParams,
    LetterResult,
    role=_ACT,
    summary="The notice letter or the appeal outcome letter to the subject, as PDF "
    "(the nominating venue).",
)
SPECS = (NOMINATE, LIST, GET, VOTE, APPEAL, LETTER)


def _refused(exc: NoticeRefused) -> Exception:
    if exc.code is RefusalCode.UNKNOWN_NOTICE:
        return NotFound(exc.message)
    if exc.code in (RefusalCode.NOT_COMMITTEE, RefusalCode.SELF_INTERESTED):
        return Forbidden(exc.message)
    return Conflict(f"{exc.message} ({exc.code.value})")


def _carrier(view: NoticeResult) -> str:
    """The alert the ban rides on now."""
    return view.carriers[-1] if view.carriers else view.alert_id


def _notice_id(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InvalidParams("notice_id: 32 hexadecimal characters") from None


class NoticeApi:
    def __init__(self, notices: NoticeService) -> None:
        self.n = notices
        self.v = notices.venue

    def register(self, dispatcher: Dispatcher) -> None:
        for spec, handler in (
            (NOMINATE, self.nominate),
            (LIST, self.list),
            (GET, self.get),
            (VOTE, self.vote),
            (APPEAL, self.appeal),
            (LETTER, self.letter),
        ):
            dispatcher.add(spec.bind(handler))

    # -- views ---------------------------------------------------------------------------------

    def _venue_of(self, net: NetworkRuntime, peer_id: str) -> str:
        cert = net.certificates.get(peer_id)
        return cert.venue if cert is not None else peer_id

    def _view(self, net: NetworkRuntime, notice: Notice) -> NoticeResult:
        now = self.v.clock.now()
        rules = self.n.rules(net)
        nomination = notice.nomination
        rounds = []
        for r in (0, 1):
            opened, deadline = notice.opened_at(r), notice.deadline(r, rules)
            if opened is None or deadline is None:
                continue
            outcome = notice.outcomes.get(r)
            rounds.append(
                RoundResult(
                    round=r,
                    opened_at=opened,
                    deadline=deadline,
                    tally=TallyResult.model_validate(notice.tally(r, rules).to_json()),
                    outcome=outcome.outcome if outcome else None,
                    decided_at=outcome.decided_at if outcome else None,
                )
            )
        me = self.n.identity.peer_id
        voter = self.n.voter(net)
        return NoticeResult(
            notice_id=nomination.notice_id.hex(),
            network_id=net.network_id,
            alert_id=nomination.alert_id.hex(),
            carriers=[a.hex() for a in notice.moved_to()],
            nominated_by=self._venue_of(net, nomination.nominated_by),
            own=nomination.nominated_by == me,
            nominated_at=nomination.nominated_at,
            scope=nomination.scope,
            duration_days=nomination.duration_days,
            lifetime=nomination.lifetime,
            state=notice.state(now).value,
            until=notice.until(),
            rounds=rounds,
            can_vote=voter is not None and voter.public_key != nomination.nominator_voter,
        )

    def _find(self, notice_id: str) -> tuple[NetworkRuntime, Notice]:
        try:
            return self.n.find(_notice_id(notice_id))
        except NoticeRefused as exc:
            raise _refused(exc) from exc

    async def list(self, session: Session, p: ListParams) -> NoticesResult:
        out = []
        for network_id, book in self.n.books.items():
            net = self.n.service.networks.get(network_id)
            if net is None:
                continue
            for notice in book.notices.values():
                view = self._view(net, notice)
                if p.state is None or view.state == p.state:
                    out.append(view)
        out.sort(key=lambda n: n.nominated_at, reverse=True)
        return NoticesResult(notices=await self._door_until(out))

    async def _door_until(self, views: Sequence[NoticeResult]) -> builtins.list[NoticeResult]:
        """Own notices with ``door_until``, when the alert the ban rides on now is not
        active, so will not be re-issued before its year is out: a disputed alert can
        be kept to ``_alerts.MAX_LIFETIME`` from its creation; one expired or withdrawn
        carried the ban until then (deleted: nothing is known, so the nomination's time)."""
        wanted = {_carrier(v) for v in views if v.own}
        if not wanted:
            return [*views]

        def limits(conn: sqlite3.Connection) -> dict[str, int | None]:
            found: dict[str, int | None] = {}
            for alert_id in wanted:
                try:
                    alert = _alerts.get(conn, alert_id)
                except NotFound:
                    continue
                found[alert_id] = None if alert.status == "active" else alert.carries_ban_until()
            return found

        ends = await self.v.store.run(limits)
        return [
            v.model_copy(update={"door_until": ends.get(_carrier(v), v.nominated_at)})
            if v.own
            else v
            for v in views
        ]

    async def get(self, session: Session, p: NoticeIdParams) -> NoticeResult:
        net, notice = self._find(p.notice_id)
        view = self._view(net, notice)
        case, grounds = await self._read_case(net, notice)
        reasons = None
        me = self.n.identity
        if notice.nomination.nominated_by == me.peer_id:
            reasons = []
            for r in (0, 1):
                for vote in notice.votes[r].values():
                    if vote.sealed_reason is None:
                        continue
                    try:
                        text = unseal(vote.sealed_reason, me, vote.voter, Purpose.NOTICE_CASE)
                        reasons.append(text.decode())
                    except (CryptoError, UnicodeDecodeError):
                        continue
        [view] = await self._door_until([view])
        return view.model_copy(
            update={
                "summary": case.get("summary") if case else None,
                "lifetime_reason": case.get("lifetime_reason") if case else None,
                "appeal_grounds": grounds,
                "reasons": reasons,
            }
        )

    async def _read_case(
        self, net: NetworkRuntime, notice: Notice
    ) -> tuple[dict[str, Any] | None, str | None]:
        nomination = notice.nomination
        raw_id = nomination.notice_id
        own = await self.v.store.run(ndb.case, raw_id)
        if own is not None:
            case = json.loads(
                unseal_at_rest(self.v.key, NOTICE_CASE_AT_REST, own.sealed_case, raw_id.hex())
            )
            grounds = None
            if own.sealed_appeal is not None:
                grounds = unseal_at_rest(
                    self.v.key, NOTICE_APPEAL_AT_REST, own.sealed_appeal, raw_id.hex()
                ).decode()
            return case, grounds
        me = self.n.identity
        case = None
        sealed = next((c.sealed for c in nomination.cases if c.member == me.peer_id), None)
        if sealed is not None:
            try:
                opened = unseal(
                    sealed,
                    me,
                    peer_id_to_public_key(nomination.nominated_by),
                    Purpose.NOTICE_CASE,
                )
                value = canonical_unpack(opened)
                case = value if isinstance(value, dict) else None
            except CryptoError:
                case = None
        grounds = None
        if notice.appeal is not None:
            sealed = next((c.sealed for c in notice.appeal.cases if c.member == me.peer_id), None)
            if sealed is not None:
                try:
                    grounds = unseal(
                        sealed,
                        me,
                        peer_id_to_public_key(notice.appeal.recorded_by),
                        Purpose.NOTICE_CASE,
                    ).decode()
                except (CryptoError, UnicodeDecodeError):
                    grounds = None
        return case, grounds

    # -- acts ----------------------------------------------------------------------------------

    async def nominate(self, session: Session, p: NominateParams) -> NoticeResult:
        v, n = self.v, self.n
        alert = await v.store.run(_alerts.get, p.alert_id)
        if alert.status != "active":
            raise Conflict(f"alert_id: the alert is {alert.status}; only an active alert's subject")
        nets = list(n.service.networks.values())
        if p.network_id is not None:
            nets = [x for x in nets if x.network_id == p.network_id]
        if len(nets) != 1:
            raise InvalidParams(
                "network_id: name the network" if nets else "this node belongs to no such network"
            )
        net = nets[0]
        me = n.identity
        mine = n.my_certificate(net)
        if p.scope != "all" and (mine is None or p.scope not in mine.groups):
            raise InvalidParams("scope: 'all' or a group this venue is in")
        carried = distribution_group(alert.groups)
        if carried != "all" and p.scope != carried:
            # Doors outside the alert's group never receive its segments: they could
            # not recognise the subject, so the ban would not be "banned from all".
            raise InvalidParams(
                f"scope: the alert travels only to group {carried}; nominate with scope "
                f"'{carried}', or nominate from an alert for every member"
            )
        notice_id = os.urandom(16)
        case = {"summary": p.summary, "lifetime_reason": p.lifetime_reason}
        readers = reader_keys(n.certificates(net), exclude=me.peer_id)
        if not readers:
            raise Conflict("the network has no committee to read the case")
        nomination = nominate(
            me,
            network_id=net.network_id,
            notice_id=notice_id,
            alert_id=bytes.fromhex(p.alert_id),
            now=v.clock.now(),
            scope=p.scope,
            duration_days=p.duration_days,
            cases=seal_cases(canonical_pack(case), readers, me),
            voter=n.voter(net),
        )
        sealed = seal_at_rest(
            v.key, NOTICE_CASE_AT_REST, json.dumps(case).encode(), notice_id.hex()
        )
        try:
            await n.submit(net.network_id, nomination)
        except NoticeRefused as exc:
            raise _refused(exc) from exc
        who = actor(session)

        def keep(conn: sqlite3.Connection) -> None:
            ndb.put_case(
                conn,
                ndb.OwnCase(
                    notice_id, net.network_id, p.alert_id, sealed, who, v.clock.now(), None
                ),
            )
            _audit.record(
                conn,
                at=v.clock.now(),
                actor=who,
                action="notice.nominated",
                alert_id=p.alert_id,
                detail={
                    "notice_id": notice_id.hex(),
                    "scope": p.scope,
                    "lifetime": p.duration_days is None,
                },
            )

        await v.store.run(keep)
        [view] = await self._door_until([self._view(net, n.find(notice_id)[1])])
        return view

    async def vote(self, session: Session, p: VoteParams) -> VotedResult:
        n = self.n
        net, notice = self._find(p.notice_id)
        voter = n.voter(net)
        if voter is None:
            raise Forbidden("this venue is not on the network's banning committee")
        round = notice.open_round()
        if round is None:
            raise Conflict("notice_id: no vote is open on this notice (decided or not appealed)")
        reason = None
        if p.reason is not None:
            recipient = x25519_public_from_ed25519(
                peer_id_to_public_key(notice.nomination.nominated_by)
            )
            reason = seal_to(recipient, p.reason.encode(), voter, Purpose.NOTICE_CASE)
        vote = cast_vote(
            voter,
            network_id=net.network_id,
            notice_id=notice.notice_id,
            round=round,
            vote=p.vote,
            now=self.v.clock.now(),
            sealed_reason=reason,
        )
        try:
            await n.send_vote(net.network_id, vote)
        except NoticeRefused as exc:
            raise _refused(exc) from exc
        except NoticeUndelivered as exc:
            raise Conflict(exc.message) from exc
        # Not audited with the choice: the audit log would link the venue to its vote.
        await self.v.store.run(
            _audit.record,
            at=self.v.clock.now(),
            actor=actor(session),
            action="notice.voted",
            detail={"notice_id": p.notice_id, "round": round},
        )
        return VotedResult(notice_id=p.notice_id, round=round, accepted=True)

    async def appeal(self, session: Session, p: AppealParams) -> NoticeResult:
        n, v = self.n, self.v
        net, notice = self._find(p.notice_id)
        me = n.identity
        readers = reader_keys(n.certificates(net), exclude=me.peer_id)
        lodged = appeal(
            me,
            network_id=net.network_id,
            notice_id=notice.notice_id,
            now=v.clock.now(),
            cases=seal_cases(p.grounds.encode(), readers, me),
        )
        try:
            await n.submit(net.network_id, lodged)
        except NoticeRefused as exc:
            raise _refused(exc) from exc
        sealed = seal_at_rest(v.key, NOTICE_APPEAL_AT_REST, p.grounds.encode(), p.notice_id)
        who = actor(session)

        def keep(conn: sqlite3.Connection) -> None:
            ndb.put_appeal_grounds(conn, notice.notice_id, sealed)
            _audit.record(
                conn,
                at=v.clock.now(),
                actor=who,
                action="notice.appealed",
                detail={"notice_id": p.notice_id},
            )

        await v.store.run(keep)
        return self._view(net, notice)

    async def letter(self, session: Session, p: LetterParams) -> LetterResult:
        n, v = self.n, self.v
        net, notice = self._find(p.notice_id)
        own = await v.store.run(ndb.case, notice.notice_id)
        if own is None:
            raise Forbidden("notice_id: letters come from the nominating venue")
        first = notice.outcomes.get(0)
        if first is None or first.outcome != "upheld":
            raise Conflict("notice_id: the notice is not upheld; there is no letter to send")
        alert = await v.store.run(_alerts.get, own.alert_id)
        if alert.identity is None:
            raise Conflict("the alert's subject has been deleted; the letter cannot name them")
        subject = unseal_identity(v.key, ALERT_IDENTITY, alert.identity, alert.id)
        name = " ".join(x for x in (subject.given_names, subject.surname) if x)
        scope = notice.nomination.scope
        venues = [
            c.venue for c in n.certificates(net).values() if scope == "all" or scope in c.groups
        ]
        # matplotlib is imported on the first letter, not at every daemon start, and
        # the page is drawn off the event loop: the door's scans do not wait for it.
        from doorwatch.node._letters import LetterFacts, appeal_outcome_letter, notice_letter

        facts = LetterFacts(
            pubwatch=net.name,
            subject=name,
            issued_at=v.clock.now(),
            from_at=first.decided_at,
            until=first.until,
            scope=scope,
            venues=venues,
            appeal_days=APPEAL_WINDOW_DAYS,
            reference=p.notice_id[:8],
        )
        if p.kind == "notice":
            pdf = await trio.to_thread.run_sync(notice_letter, facts)
        else:
            second = notice.outcomes.get(1)
            if second is None:
                raise Conflict("notice_id: no appeal has been decided on this notice")
            pdf = await trio.to_thread.run_sync(
                functools.partial(
                    appeal_outcome_letter,
                    facts,
                    outcome=second.outcome,
                    decided_at=second.decided_at,
                )
            )
        await v.store.run(
            _audit.record,
            at=v.clock.now(),
            actor=actor(session),
            action="notice.letter",
            alert_id=own.alert_id,
            detail={"notice_id": p.notice_id, "kind": p.kind},
        )
        return LetterResult(
            notice_id=p.notice_id,
            kind=p.kind,
            filename=f"banning-{p.kind.replace('_', '-')}-{p.notice_id[:8]}.pdf",
            pdf=base64.b64encode(pdf).decode("ascii"),
        )


__all__ = ["SPECS", "NoticeApi"]
