"""The requester's end of the disclosure ladder: matches against received alerts.

Theory of operation. ``scan.submit`` answers from local data only; for each
statistical match against an alert received from another venue it calls
``start``, which marks the match ``checking`` and starts the private
identity check with the alert's originator in the background (the scan's
response does not wait), if this venue's own budget of identity checks
allows it (``RequesterLimits``: per alert, per hour, over the alert's life,
and a smaller one for typed-in documents; counted durably like the
originator's). The check drives the protocol's ``RequesterSession`` over
``/doorwatch/disclose/1``; its result moves the match to
``identity_confirmed`` (the surname and date of birth, or the document
number, agree), ``identity_partial`` (only the given name and date of birth
agree: no photo is released on that) or ``not_subject`` (no longer a match:
no photo is ever asked for), or to ``originator_unreachable``,
``rate_limited``, ``expired`` or ``refused``. A limit reached, at either
end, is audited and mailed to this venue's super administrator. Each change is sent to the
scanner as a ``match.updated`` notification on the connection that
submitted the scan, while that connection's session lasts (a session
ended by ``user.disable`` or a password change, or expired, gets none).

``match.photo`` waits for the check (up to ``timeout_s``), retries it once
if the originator was unreachable, then asks for the photo with the proof of
the match; ``match.confirm`` sends the operator's answer: on "same person"
it fetches the details, on "not the same person" it tells the originator
so, in the background (no details come back), and counts the answer: a run
of them at this venue raises an alarm here, as it does at the originator. A
step that fails in transit leaves the session unusable (the originator may
have moved on), so the match goes back to
``originator_unreachable`` and the next ``match.photo`` starts a new session
(a new identity check, counted by the originator's rate limit).

Both ends audit every step (``_ladder.record_audit``). The scanned identity
is kept in memory with the match only (for a retry), never written here.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

import pydantic
import structlog
import trio

from doorwatch.crypto import NodeIdentity
from doorwatch.node import _disclosure_hits
from doorwatch.node._alert_models import (
    MatchConfirmed,
    MatchConfirmResult,
    MatchDetails,
    MatchDismissed,
    MatchPhotoResult,
)
from doorwatch.node._api_server import Session
from doorwatch.node._disclosure_limits import ALARM, LIMIT_REACHED, Reporter
from doorwatch.node._errors import ApiError, Conflict, ErrorCode
from doorwatch.node._failures import failure_trace
from doorwatch.node._jsonrpc import encode_notification
from doorwatch.node._ladder import (
    DISCLOSE_PROTOCOL,
    MAX_DISCLOSE_RESPONSE,
    PHOTO_LABELS,
    pet_values,
    record_audit,
)
from doorwatch.node._match_slots import make_room, settle
from doorwatch.node._network import NetworkService
from doorwatch.node._notice_service import refuse_text, show_ban
from doorwatch.node._p2p_errors import P2PError, PeerUnreachable
from doorwatch.node._received import ReceivedAlert
from doorwatch.node._scan import Match, MatchState
from doorwatch.node._venue import OriginatorUnreachable, Venue, actor
from doorwatch.protocol import (
    AuditEvent,
    DetailsReceived,
    IdentityChecked,
    Message,
    PhotoReceived,
    ProtocolError,
    RateLimiter,
    Refused,
    RemoteProtocolError,
    RequesterLimits,
    RequesterOutput,
    RequesterSession,
    decode,
    encode,
    requester_check_rules,
    requester_not_same_rule,
)
from doorwatch.protocol import ErrorCode as ProtocolCode
from doorwatch.segments import Identity

log = structlog.get_logger("doorwatch.ladder")

DEFAULT_TIMEOUT_S: Final = 5.0
CHECK_TIMEOUT_S: Final = 10.0
MIN_STEP_S: Final = 1.0
MAX_REMOTE: Final = 256
NOTIFICATION: Final = "match.updated"
NOT_SAME_TIMEOUT_S: Final = 10.0
_LIMIT_PREFIX: Final = "rate limit reached: "

_EXPIRED_CODES: Final = frozenset({"inactive", "unknown_alert", "expired"})
_ORIGINATOR_RULES: Final = frozenset(
    rule.name
    for rules in (
        RateLimiter().identity_check_rules("", bytes(16)),
        RateLimiter().photo_rules(""),
        RateLimiter().details_rules(""),
    )
    for rule in rules
)


class RateLimited(ApiError):
    code = ErrorCode.RATE_LIMITED


class Expired(ApiError):
    code = ErrorCode.EXPIRED


@dataclass
class _Remote:
    match: Match
    alert: ReceivedAlert
    identity: Identity = field(repr=False)
    scanner: Session | None
    actor: str
    owner: str | None = None
    """The scanner session's user when the scan was submitted."""
    typed: bool = False
    """The document was typed in, not read by a scanner."""
    session: RequesterSession | None = None
    checked: trio.Event = field(default_factory=trio.Event)
    lock: trio.Lock = field(default_factory=trio.Lock)
    photo: bytes | None = field(default=None, repr=False)
    details: MatchDetails | None = field(default=None, repr=False)
    why: str = ""


class LadderRequester:
    """Runs the ladder for matches against received alerts (see the module doc)."""

    def __init__(
        self,
        *,
        venue: Venue,
        network: NetworkService,
        identity: NodeIdentity,
        check_timeout_s: float = CHECK_TIMEOUT_S,
        limits: RequesterLimits | None = None,
    ) -> None:
        self.venue = venue
        self.network = network
        self.identity = identity
        self.check_timeout_s = check_timeout_s
        self.limits = limits or RequesterLimits()
        self.limiter = RateLimiter()
        self.reporter = Reporter(venue, "requester")
        self._remotes: OrderedDict[str, _Remote] = OrderedDict()
        self.busy_matches = 0  # matches refused as busy (every slot protected)
        self._nursery: trio.Nursery | None = None

    async def load(self) -> None:
        """Restore this venue's own identity-check budget as committed before this start."""
        now = self.venue.clock.now()
        self.limiter.restore(await self.venue.store.run(_disclosure_hits.load, now), now)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the background identity checks (start it in the daemon's nursery)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    # -- from scan.submit (the hot path: no waiting here) ------------------------------------

    def start(
        self, scanner: Session | None, match: Match, identity: Identity, *, typed: bool = False
    ) -> None:
        alert = self.venue.received.get(match.set_id)
        if match.local or alert is None or self._nursery is None:
            return
        if not make_room(self._remotes, MAX_REMOTE, lambda r: r.match):
            match.state = MatchState.BUSY  # match.photo answers busy (1009)
            self.busy_matches += 1
            if self.busy_matches & (self.busy_matches - 1) == 0:  # 1, 2, 4, ...: no log flood
                log.warning("ladder.matches_full", held=len(self._remotes), busy=self.busy_matches)
            return
        match.state = MatchState.CHECKING
        remote = _Remote(
            match,
            alert,
            identity,
            scanner,
            actor(scanner) if scanner else "?",
            owner=scanner.username if scanner else None,
            typed=typed,
        )
        self._remotes[match.match_id] = remote
        self._nursery.start_soon(self._background_check, remote)

    def knows(self, match_id: str) -> bool:
        return match_id in self._remotes

    # -- steps ------------------------------------------------------------------------------

    async def _exchange(self, peer_id: str, message: Message | None, timeout: float) -> Message:
        assert message is not None
        rr = self.network.rr
        if rr is None:
            raise PeerUnreachable(peer_id, "this node's network service is not running")
        body = await rr.request(
            peer_id,
            DISCLOSE_PROTOCOL,
            encode(message),
            timeout=timeout,
            max_response=MAX_DISCLOSE_RESPONSE,
        )
        return decode(body)

    async def _audit(
        self, r: _Remote, events: list[AuditEvent], who: str, *, typed: bool = False
    ) -> None:
        if events:
            await self.venue.store.run(
                record_audit,
                events,
                actor=who,
                match_id=r.match.match_id,
                hits=self.limiter.drain(),
                detail={"entry": "typed"} if typed else None,
            )

    def _listening(self, r: _Remote) -> Session | None:
        """The scanner's session, while it is still the one that submitted the scan: a
        session ended since (its user disabled, its password changed: see
        ``LocalApi.end_sessions``), expired, or logged in again as another user on the
        same connection hears nothing more of this match."""
        scanner = r.scanner
        if scanner is None:
            return None
        ended = scanner.username is None or scanner.username != r.owner
        expired = scanner.expires_at is not None and scanner.expires_at <= self.venue.clock.now()
        if ended or expired:
            r.scanner = None
            return None
        return scanner

    async def _notify(self, r: _Remote) -> None:
        params: dict[str, object] = {
            "match_id": r.match.match_id,
            "scan_id": r.match.scan_id,
            "state": r.match.state.value,
        }
        if r.why:
            params["message"] = r.why
        # The web consoles following the scan's lane hear it too (their own sessions).
        self.venue.console.match_updated(params)
        scanner = self._listening(r)
        if scanner is None:
            return
        await scanner.send(encode_notification(NOTIFICATION, params))

    def _set(self, r: _Remote, state: MatchState, why: str = "") -> None:
        r.match.state = state
        r.why = why
        settle(r.match)

    def _refused(self, r: _Remote, event: Refused) -> None:
        r.session = None
        if event.code == "rate_limited":
            self._set(r, MatchState.RATE_LIMITED, "the originating venue's rate limit was reached")
            # The peer's words are not echoed into the audit log or an email: only a
            # rule name this node knows.
            named = event.message.removeprefix(_LIMIT_PREFIX)
            rule = named if named in _ORIGINATOR_RULES else "a limit"
            self._spawn(self._report, LIMIT_REACHED, r, f"at the originator: {rule}")
        elif event.code in _EXPIRED_CODES:
            self._set(r, MatchState.EXPIRED, "the alert is no longer active at its originator")
        else:
            self._set(r, MatchState.REFUSED, f"the originating venue refused ({event.code})")

    def _lost(self, r: _Remote, exc: Exception) -> None:
        r.session = None
        if isinstance(exc, P2PError):
            why = f"the originating venue ({r.alert.originating_venue}) cannot be reached now"
        else:
            log.warning("ladder.bad_answer", peer_id=r.alert.originator, error=type(exc).__name__)
            why = f"the originating venue ({r.alert.originating_venue}) sent an unusable answer"
        self._set(r, MatchState.ORIGINATOR_UNREACHABLE, why)

    async def _background_check(self, r: _Remote) -> None:
        # A fault here must not take the daemon's nursery down with it.
        try:
            await self._check(r)
        except Exception as exc:
            log.error("ladder.check_failed", match_id=r.match.match_id, **failure_trace(exc))
            self._set(r, MatchState.ORIGINATOR_UNREACHABLE, "the identity check failed here")
            r.checked.set()

    def _spawn(self, fn: Any, *args: Any) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(fn, *args)

    async def _report(self, action: str, r: _Remote, rule: str) -> None:
        await self.reporter.report(
            action, rule, peer_id=r.alert.originator, alert_id=r.alert.alert_id, actor=r.actor
        )

    async def _within_budget(self, r: _Remote) -> bool:
        """Count this identity check against the venue's own budget (committed), or refuse it."""
        now = self.venue.clock.now()
        alert_id = bytes.fromhex(r.alert.alert_id)
        rules = requester_check_rules(self.limits, alert_id, typed=r.typed)
        broken = self.limiter.try_acquire(rules, now)
        if broken is not None:
            self._set(
                r,
                MatchState.RATE_LIMITED,
                f"this venue's own limit on identity checks was reached ({broken}); "
                "treat the customer as a possible match and ask a supervisor",
            )
            await self._report(LIMIT_REACHED, r, broken)
            return False
        await self.venue.store.run(_disclosure_hits.record, self.limiter.drain())
        return True

    async def _check(self, r: _Remote) -> None:
        """The identity check (background, or inline for a retry); sets ``r.checked``."""
        audit: list[AuditEvent] = []
        try:
            if not await self._within_budget(r):
                return
            session = RequesterSession(
                identity=self.identity,
                originator=r.alert.originator,
                alert_id=bytes.fromhex(r.alert.alert_id),
                request_id=secrets.token_bytes(16),
                photo_labels=PHOTO_LABELS,
            )
            r.session = session
            out = session.start_identity_check(pet_values(r.identity), self.venue.clock.now())
            audit += out.audit
            reply = await self._exchange(r.alert.originator, out.message, self.check_timeout_s)
            result = session.receive(reply, self.venue.clock.now())
            audit += result.audit
            for event in result.events:
                if isinstance(event, IdentityChecked):
                    if event.strong:
                        self._set(r, MatchState.IDENTITY_CONFIRMED)
                    elif event.matched:
                        r.session = None
                        self._set(r, MatchState.IDENTITY_PARTIAL, PARTIAL)
                    else:
                        r.session = None
                        self._set(
                            r,
                            MatchState.NOT_SUBJECT,
                            "the customer is not the alert's subject; it is no longer a match",
                        )
                elif isinstance(event, Refused):
                    self._refused(r, event)
        except (P2PError, ProtocolError, ValueError) as exc:
            self._lost(r, exc)
        finally:
            r.checked.set()
            with trio.CancelScope(shield=True):
                await self._audit(r, audit, r.actor, typed=r.typed)
                await self._notify(r)

    def _raise_for(self, r: _Remote) -> None:
        state = r.match.state
        why = r.why or state.value
        if state is MatchState.ORIGINATOR_UNREACHABLE:
            raise OriginatorUnreachable(f"originator unreachable: {why}")
        if state is MatchState.RATE_LIMITED:
            raise RateLimited(f"rate limited: {why}; try again later")
        if state is MatchState.EXPIRED:
            raise Expired(f"match_id: {why}; it is no longer a match")
        if state in (MatchState.NOT_SUBJECT, MatchState.DISMISSED, MatchState.REFUSED):
            raise Conflict(f"match_id: {why}; it is no longer a match")
        if state is MatchState.IDENTITY_PARTIAL:
            raise Conflict(f"match_id: {why}")

    async def photo(self, session: Session, m: Match, timeout_s: float | None) -> MatchPhotoResult:
        r = self._remotes.get(m.match_id)
        if r is None:
            raise OriginatorUnreachable(
                "originator unreachable: this node no longer holds the match's network state; "
                "scan the document again"
            )
        timeout = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
        deadline = trio.current_time() + timeout
        async with r.lock:
            with trio.move_on_at(deadline):
                await r.checked.wait()
            if not r.checked.is_set():
                raise OriginatorUnreachable(
                    f"originator unreachable: the identity check did not finish within "
                    f"{timeout:g} s; try again"
                )
            if r.match.state is MatchState.PHOTO_SHOWN and r.photo is not None:
                return self._photo_result(r)
            if r.match.state in (MatchState.ORIGINATOR_UNREACHABLE, MatchState.RATE_LIMITED):
                r.checked = trio.Event()
                r.match.state = MatchState.CHECKING
                with trio.move_on_at(max(deadline, trio.current_time() + MIN_STEP_S)) as scope:
                    await self._check(r)
                if scope.cancelled_caught:
                    r.session = None
                    self._set(
                        r,
                        MatchState.ORIGINATOR_UNREACHABLE,
                        f"the originating venue ({r.alert.originating_venue}) did not answer "
                        "in time",
                    )
            self._raise_for(r)
            if r.match.state is not MatchState.IDENTITY_CONFIRMED or r.session is None:
                raise Conflict(f"match_id: this match is {r.match.state.value}")
            who = actor(session)
            out = r.session.request_photo(self.venue.clock.now())
            await self._audit(r, out.audit, who)
            step = max(deadline - trio.current_time(), MIN_STEP_S)
            await self._step(r, out, step, who)
            self._raise_for(r)
            if not _is(r, MatchState.PHOTO_SHOWN):
                raise OriginatorUnreachable("originator unreachable: no photo came back")
            return self._photo_result(r)

    def _photo_result(self, r: _Remote) -> MatchPhotoResult:
        photo = r.photo or b""
        return MatchPhotoResult(
            match_id=r.match.match_id,
            state=r.match.state.value,
            photo=base64.b64encode(photo).decode("ascii") if photo else None,
        )

    async def _step(self, r: _Remote, out: RequesterOutput, timeout: float, who: str) -> None:
        """Send the photo or details request and apply the answer to the match."""
        assert r.session is not None
        session = r.session
        audit: list[AuditEvent] = []
        try:
            reply = await self._exchange(r.alert.originator, out.message, timeout)
            result = session.receive(reply, self.venue.clock.now())
            audit += result.audit
            for event in result.events:
                if isinstance(event, PhotoReceived):
                    r.photo = event.photo
                    self._set(r, MatchState.PHOTO_SHOWN)
                elif isinstance(event, DetailsReceived):
                    r.details = _parse_details(event.details)
                    r.photo = None
                    r.session = None
                    self._set(r, MatchState.CONFIRMED)
                elif isinstance(event, Refused):
                    self._refused(r, event)
        except (P2PError, ProtocolError) as exc:
            self._lost(r, exc)
        finally:
            with trio.CancelScope(shield=True):
                await self._audit(r, audit, who)
                await self._notify(r)

    async def confirm(self, session: Session, m: Match, same_person: bool) -> MatchConfirmResult:
        r = self._remotes.get(m.match_id)
        if r is None or r.session is None or m.state is not MatchState.PHOTO_SHOWN:
            raise Conflict("match_id: ask match.photo first; the photo step comes before this")
        who = actor(session)
        async with r.lock:
            if r.session is None or m.state is not MatchState.PHOTO_SHOWN:
                raise Conflict("match_id: this match has already been answered")
            now = self.venue.clock.now()
            out = r.session.confirm(who, same_person, now)
            if not same_person:
                reached = self.limiter.note(requester_not_same_rule(self.limits), now)
                await self._audit(r, out.audit, who)
                r.photo = None
                r.session = None
                self._set(r, MatchState.DISMISSED, "the operator said not the same person")
                # The originator is told in the background; its answer carries nothing.
                self._spawn(self._tell_not_same, r, out)
                if reached:
                    await self._report(ALARM, r, requester_not_same_rule(self.limits).name)
                await self._notify(r)
                return MatchConfirmResult(MatchDismissed(dismissed=True))
            notices = self.venue.notices
            ban = notices.ban_for(r.alert.alert_id, r.alert.originator) if notices else None
            if ban is not None:
                # A Pubwatch ban: the door refuses; the alert's details are not asked for.
                r.photo = None
                r.session = None
                self._set(r, MatchState.CONFIRMED, refuse_text(ban.until))
                await self._notify(r)
                return await show_ban(
                    self.venue,
                    ban,
                    alert_id=r.alert.alert_id,
                    originator=r.alert.originator,
                    match_id=m.match_id,
                    actor=who,
                )
            await self._audit(r, out.audit, who)
            await self._step(r, out, CHECK_TIMEOUT_S, who)
            self._raise_for(r)
            details, r.details = r.details, None
            if not _is(r, MatchState.CONFIRMED) or details is None:
                raise OriginatorUnreachable("originator unreachable: no details came back")
            return MatchConfirmResult(MatchConfirmed(details=details))

    async def _tell_not_same(self, r: _Remote, out: RequesterOutput) -> None:
        try:
            await self._exchange(r.alert.originator, out.message, NOT_SAME_TIMEOUT_S)
        except (P2PError, ProtocolError) as exc:
            # Best effort: this venue's own audit and alarm have it anyway.
            log.info(
                "ladder.not_same_undelivered",
                peer_id=r.alert.originator,
                alert_id=r.alert.alert_id,
                error=type(exc).__name__,
            )


PARTIAL: Final = (
    "only the first name and date of birth agree with the alert, not the surname or "
    "the document number: no photo is released on that. Check the customer's ID yourself"
)


def _is(r: _Remote, state: MatchState) -> bool:
    # A function, so that type checkers do not keep a narrowing across awaits.
    return r.match.state is state


def _parse_details(data: bytes) -> MatchDetails:
    try:
        return MatchDetails.model_validate(json.loads(data))
    except (ValueError, pydantic.ValidationError) as exc:
        raise _BadDetails() from exc


class _BadDetails(RemoteProtocolError):
    def __init__(self) -> None:
        super().__init__("details: not the documented details object", ProtocolCode.MALFORMED)
