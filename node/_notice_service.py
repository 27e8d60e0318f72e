"""Banning notices between venues: holding, checking, spreading and deciding them.

Theory of operation. Per network the node keeps a ``protocol.NoticeBook``, rebuilt at
start-up from ``notice_messages``. Every message (nomination, vote, appeal, outcome),
whether created here, gossiped (kind ``notice``), submitted or fetched by sync, goes
through one path: decode, the book's checks under the network's signed policy and the
members' valid certificates, then the frame is stored. Refusals are logged with the
notice id, the peer id and the refusal code only, and counted by code.

Gossip's validator refuses (does not forward, scores the sender down) a notice item
that does not decode, whose signature does not verify, or a vote by a key off the
committee roster; what depends on the book (late, duplicate, closed) is refused by
``ingest`` only.

Spreading: gossip (pubsub loses items) plus an anti-entropy sync of its own: every
``interval`` seconds, and when a peer connects, the node sends each connected member
the digests of the frames it holds (``/doorwatch/notices/1``) and ingests the frames
it lacked, in acceptance order (nominations, votes, outcome, appeal, ...). Notices are
few, so the whole digest list is sent.

Pseudonymous votes: a committee member's node does not publish its own vote (the
gossip origin would name it). It submits it to the network's hub, the authority's
node (``/doorwatch/notices/submit/1``), which checks and publishes it: on the wire a
vote comes from the hub and names a pseudonym.

Deciding: the nominating venue publishes each round's outcome as soon as the book can
decide it (upheld, hopeless, or the deadline passed), with the votes it rests on;
every node recounts them.

Carrying a ban past its alert's year: an alert lives at most a year, a ban up to two
or for life. Thirty days (``RENEW_AHEAD``) before the alert an upheld ban rides on
reaches its year, the nominating venue re-issues the subject's alert
(``_originate.renew_for_ban``) and publishes a ``BanningCarrier`` naming the new one;
every node accepts it from the nominator only, and the door's ``ban_for`` finds the
ban through either alert. Only an active alert is re-issued: a disputed, withdrawn or
expired one ends the ban at the doors (the nominator's notice view says when).

The door: ``ban_for`` answers whether a match's alert carries a ban enforced at this
venue now (scope ``all`` or one of this venue's groups; the ban's end date passed or
cancelled: no). It is asked only after the operator's "same person".
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import structlog
import trio

from doorwatch.crypto import (
    Certificate,
    CryptoError,
    NodeIdentity,
    canonical_pack,
    canonical_unpack,
    voter_identity,
)
from doorwatch.node import _alerts, _audit
from doorwatch.node import _notice_store as ndb
from doorwatch.node._alert_models import MatchBan, MatchBanned, MatchConfirmResult
from doorwatch.node._errors import NodeError
from doorwatch.node._network import NetworkRuntime, NetworkService
from doorwatch.node._originate import RENEWED_BY, renew_for_ban
from doorwatch.node._p2p_errors import RemoteError
from doorwatch.node._p2p_streams import RequestRejected
from doorwatch.node._venue import Venue
from doorwatch.protocol import (
    BanningAppeal,
    BanningCarrier,
    BanningNomination,
    BanningOutcome,
    BanningVote,
    Notice,
    NoticeBook,
    NoticeRefused,
    NoticeRules,
    NoticeState,
    ProtocolError,
    RefusalCode,
    carry,
    decode,
    encode,
    verify_message,
    verify_vote,
)

log = structlog.get_logger("doorwatch.notices")

NOTICE_SYNC_PROTOCOL: Final = "/doorwatch/notices/1"
NOTICE_SUBMIT_PROTOCOL: Final = "/doorwatch/notices/submit/1"
GOSSIP_KIND: Final = "notice"
MAX_SYNC_REQUEST: Final = 1 << 20
MAX_SYNC_RESPONSE: Final = 8 << 20
RENEW_AHEAD: Final = 30 * 86400
"""How long before the alert a ban rides on reaches its year the alert is re-issued."""
RECHECK: Final = 3600
"""How soon a renewal that could not be made (alert disputed) is looked at again."""
_FAR: Final = 2**62
_TYPES = ndb.NOTICE_TYPES


@dataclass(frozen=True, slots=True)
class BanAtDoor:
    notice_id: str
    until: int | None
    """None: a lifetime ban."""
    scope: str


class NoticeService:
    def __init__(
        self,
        *,
        service: NetworkService,
        venue: Venue,
        identity: NodeIdentity,
        interval: float = 5.0,
    ) -> None:
        self.service = service
        self.venue = venue
        self.identity = identity
        self.interval = interval
        self.books: dict[str, NoticeBook] = {}
        self.refused: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self._lock = trio.Lock()
        self._wake = trio.Event()
        self._voters: dict[tuple[str, int], NodeIdentity | None] = {}
        # Own upheld notices: when (wall clock) to look at renewing their alert next.
        self._renew_at: dict[bytes, int] = {}
        self._skipped: dict[bytes, str] = {}  # the alert status last logged as not renewed
        service.gossip_hooks.append(self._on_gossip)
        service.gossip_checks.append(self._check_gossip)
        service.leave_hooks.append(self._forget)
        service.extend(self._install)
        if service.rr is not None:
            self._install(service)
        venue.notices = self

    def _install(self, service: NetworkService) -> None:
        service.register(
            NOTICE_SYNC_PROTOCOL, self._serve_sync, max_request=MAX_SYNC_REQUEST, timeout=30.0
        )
        service.register(
            NOTICE_SUBMIT_PROTOCOL, self._serve_submit, max_request=64 * 1024, timeout=30.0
        )

    # -- state -----------------------------------------------------------------------------

    def book(self, network_id: str) -> NoticeBook:
        book = self.books.get(network_id)
        if book is None:
            book = self.books[network_id] = NoticeBook(network_id)
        return book

    def rules(self, net: NetworkRuntime) -> NoticeRules:
        if net.policy is None:
            raise NoticeRefused(
                RefusalCode.SMALL_COMMITTEE,
                "this node holds no signed network policy yet, so no committee",
            )
        return NoticeRules.from_policy(net.policy)

    def certificates(self, net: NetworkRuntime) -> dict[str, Certificate]:
        """The members' certificates valid now (unrevoked, within their dates)."""
        return {p: c for p, c in net.certificates.items() if net.membership.admit(p) is None}

    def my_certificate(self, net: NetworkRuntime) -> Certificate | None:
        return net.certificates.get(self.identity.peer_id)

    def voter(self, net: NetworkRuntime) -> NodeIdentity | None:
        """This venue's voting pseudonym under the network's policy (None: not on the committee)."""
        if net.policy is None:
            return None
        key = (net.network_id, net.policy.serial)
        if key not in self._voters:
            self._voters[key] = voter_identity(net.policy, self.identity)
        return self._voters[key]

    def find(self, notice_id: bytes) -> tuple[NetworkRuntime, Notice]:
        for network_id, book in self.books.items():
            notice = book.notices.get(notice_id)
            net = self.service.networks.get(network_id)
            if notice is not None and net is not None:
                return net, notice
        raise NoticeRefused(RefusalCode.UNKNOWN_NOTICE, "notice_id: no such notice is held")

    async def load(self) -> None:
        """Rebuild the books from the store (each message checked again, at its arrival time)."""
        rows = await self.venue.store.run(ndb.messages)
        decoded = []
        for network_id, frame, at in rows:
            try:
                message = decode(frame)
            except ProtocolError:
                continue
            if isinstance(message, _TYPES):
                decoded.append((ndb.rank(message), at, network_id, message))
        decoded.sort(key=lambda item: (item[0], item[1]))
        async with self._lock:
            for _, at, network_id, message in decoded:
                net = self.service.networks.get(network_id)
                if net is None:
                    continue
                try:
                    self._apply(net, message, at)
                except NoticeRefused as exc:
                    log.info(
                        "notice.not_reloaded",
                        notice_id=message.notice_id.hex(),
                        code=exc.code.value,
                    )

    # -- one path for every message --------------------------------------------------------

    def _apply(self, net: NetworkRuntime, message: ndb.NoticeMessage, now: int) -> bool:
        book = self.book(net.network_id)
        rules = self.rules(net)
        if isinstance(message, BanningNomination):
            return book.add_nomination(message, rules, self.certificates(net), now)
        if isinstance(message, BanningVote):
            return book.add_vote(message, rules, now)
        if isinstance(message, BanningAppeal):
            return book.add_appeal(message, self.certificates(net), now)
        if isinstance(message, BanningCarrier):
            return book.add_carrier(message, now)
        return book.add_outcome(message, rules, now)

    async def ingest(
        self, network_id: str, entries: Iterable[tuple[str, bytes]], *, source: str
    ) -> list[bytes]:
        """Check and keep each (peer id, frame); returns the frames newly accepted."""
        decoded = []
        for peer_id, frame in entries:
            try:
                message = decode(frame)
            except ProtocolError as exc:
                self._refused(peer_id, None, "malformed", exc.message, source)
                continue
            if not isinstance(message, _TYPES):
                self._refused(peer_id, None, "not_a_notice", message.type, source)
                continue
            decoded.append((ndb.rank(message), peer_id, frame, message))
        decoded.sort(key=lambda item: item[0])
        accepted: list[bytes] = []
        async with self._lock:
            net = self.service.networks.get(network_id)
            if net is None:
                return []
            now = self.venue.clock.now()
            for _, peer_id, frame, message in decoded:
                try:
                    new = self._apply(net, message, now)
                except NoticeRefused as exc:
                    self._refused(peer_id, message.notice_id, exc.code.value, exc.message, source)
                    continue
                # Kept even when already held (a vote learnt from an outcome's bundle), so
                # that sync stops offering it.
                await self.venue.store.run(ndb.put_message, network_id, message, frame, now)
                if new:
                    self.accepted[message.type] += 1
                    accepted.append(frame)
                    log.info(
                        "notice.accepted",
                        notice_id=message.notice_id.hex(),
                        type=message.type,
                        peer_id=peer_id,
                        source=source,
                    )
        if accepted:
            self._wake.set()
        return accepted

    def _refused(
        self, peer_id: str, notice_id: bytes | None, code: str, why: str, source: str
    ) -> None:
        self.refused[code] += 1
        # An unknown notice is the usual gossip race (a vote before its nomination):
        # sync brings both again.
        level = log.info if code == RefusalCode.UNKNOWN_NOTICE.value else log.warning
        level(
            "notice.refused",
            notice_id=None if notice_id is None else notice_id.hex(),
            peer_id=peer_id,
            code=code,
            why=why,
            source=source,
        )

    async def submit(self, network_id: str, message: ndb.NoticeMessage) -> None:
        """A message made here: checked like any other (NoticeRefused), kept, published."""
        frame = encode(message)
        async with self._lock:
            net = self.service.networks.get(network_id)
            if net is None:
                raise NoticeRefused(RefusalCode.INVALID, "network_id: this node left it")
            now = self.venue.clock.now()
            if self._apply(net, message, now):
                await self.venue.store.run(ndb.put_message, network_id, message, frame, now)
                self.accepted[message.type] += 1
        if isinstance(message, BanningOutcome) and message.round == 0:
            await self._carry(network_id, message)
        self.service.publish(network_id, GOSSIP_KIND, frame)
        self._wake.set()

    async def send_vote(self, network_id: str, vote: BanningVote) -> None:
        """Hand a vote to the hub (which checks and publishes it); the hub itself applies it."""
        net = self.service.networks.get(network_id)
        if net is None:
            raise NoticeRefused(RefusalCode.INVALID, "network_id: this node left it")
        # Checked here first, on a copy of the book, so the caller hears why it is refused.
        probe = self.book(network_id)
        notice = probe.get(vote.notice_id)
        copy = Notice(
            notice.nomination,
            {r: dict(v) for r, v in notice.votes.items()},
            notice.appeal,
            dict(notice.outcomes),
        )
        trial = NoticeBook(network_id)
        trial.notices[vote.notice_id] = copy
        trial.add_vote(vote, self.rules(net), self.venue.clock.now())
        hub = next((p for p, c in net.certificates.items() if c.key_manager), None)
        if hub is None or hub == self.identity.peer_id:
            await self.submit(network_id, vote)
            return
        rr = self.service.rr
        if rr is None:
            raise NoticeRefused(RefusalCode.INVALID, "the network is not running yet")
        request = canonical_pack({"network_id": network_id, "frame": encode(vote)})
        try:
            await rr.request(hub, NOTICE_SUBMIT_PROTOCOL, request, timeout=30.0)
        except RemoteError as exc:
            raise NoticeRefused(RefusalCode.INVALID, f"the hub refused the vote: {exc}") from exc
        except (NodeError, ProtocolError) as exc:
            raise NoticeUndelivered(
                "the vote could not be handed to the network's hub (the authority's node); "
                "try again when it is connected"
            ) from exc

    async def _serve_submit(self, peer_id: str, request: bytes) -> bytes:
        network_id, frames = _decode_request(request, "frame")
        net = self.service.networks.get(network_id)
        if net is None or net.membership.admit(peer_id) is not None:
            raise RequestRejected("not a member of that network")
        mine = self.my_certificate(net)
        if mine is None or not mine.key_manager:
            raise RequestRejected("votes go to the network's hub")
        try:
            message = decode(frames[0])
        except ProtocolError as exc:
            raise RequestRejected(f"notice submit: {exc.message}") from None
        if not isinstance(message, BanningVote):
            raise RequestRejected("notice submit: only votes are submitted")
        accepted = await self.ingest(network_id, [(peer_id, frames[0])], source="submit")
        if not accepted:
            raise RequestRejected("notice submit: the vote was refused")
        self.service.publish(network_id, GOSSIP_KIND, frames[0])
        return b""

    # -- gossip and sync -----------------------------------------------------------------------

    def _check_gossip(self, network_id: str, origin: str, kind: str, body: bytes) -> bool:
        """Gossip validator: a notice item that does not decode, is signed wrongly, or is a
        vote by a key off the committee is not forwarded (and scores its sender down).
        What depends on the book (late, duplicate, closed) is left to ``ingest``."""
        if kind != GOSSIP_KIND:
            return True
        net = self.service.networks.get(network_id)
        if net is None:
            return False
        try:
            message = decode(body)
        except ProtocolError as exc:
            self._refused(origin, None, "malformed", exc.message, "gossip")
            return False
        if not isinstance(message, _TYPES) or message.network_id != network_id:
            self._refused(origin, None, RefusalCode.INVALID.value, message.type, "gossip")
            return False
        try:
            if isinstance(message, BanningVote):
                verify_vote(message)
            else:
                verify_message(message)
        except NoticeRefused as exc:
            self._refused(origin, message.notice_id, exc.code.value, exc.message, "gossip")
            return False
        except ProtocolError as exc:
            self._refused(
                origin, message.notice_id, RefusalCode.FORGED.value, exc.message, "gossip"
            )
            return False
        return True

    async def _on_gossip(self, network_id: str, origin: str, kind: str, body: bytes) -> None:
        if kind != GOSSIP_KIND:
            return
        await self.ingest(network_id, [(origin, body)], source="gossip")

    async def _serve_sync(self, peer_id: str, request: bytes) -> bytes:
        network_id, have = _decode_request(request, "have")
        net = self.service.networks.get(network_id)
        if net is None or net.membership.admit(peer_id) is not None:
            raise RequestRejected("not a member of that network")
        held = set(have)
        rows = await self.venue.store.run(ndb.messages, network_id)
        book = self.book(network_id)
        frames = []
        for _, f, _ in rows:
            if ndb.frame_digest(f) in held:
                continue
            try:
                message = decode(f)
            except ProtocolError:
                continue
            # A decided round's outcome carries the votes it counted: loose votes of it
            # are not offered (a late one would only be refused as closed, every round).
            if isinstance(message, BanningVote):
                notice = book.notices.get(message.notice_id)
                if notice is not None and message.round in notice.outcomes:
                    continue
            frames.append(f)
        out: list[bytes] = []
        size = 0
        for frame in frames:
            if size + len(frame) > MAX_SYNC_RESPONSE - 4096:
                break
            out.append(frame)
            size += len(frame)
        return canonical_pack({"network_id": network_id, "items": out})

    async def sync_with(self, peer_id: str, network_id: str) -> int:
        rr = self.service.rr
        if rr is None:
            return 0
        have = await self.venue.store.run(ndb.digests, network_id)
        request = canonical_pack({"network_id": network_id, "have": have})
        reply = await rr.request(
            peer_id, NOTICE_SYNC_PROTOCOL, request, timeout=30.0, max_response=MAX_SYNC_RESPONSE
        )
        _, items = _decode_request(reply, "items")
        accepted = await self.ingest(network_id, [(peer_id, i) for i in items], source="sync")
        return len(accepted)

    def request_sync(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Sync with every connected member every ``interval`` seconds (and when woken or
        a peer connects); publish the outcomes this venue can decide."""
        known: set[str] = set()
        next_round = 0.0
        next_purge = 0.0
        while True:
            with trio.move_on_after(1.0):
                await self._wake.wait()
            woken = self._wake.is_set()
            self._wake = trio.Event()
            await self._decide_all()
            await self._renew_all()
            if trio.current_time() >= next_purge:
                await self.purge()
                next_purge = trio.current_time() + 3600
            host = self.service.host
            connected = set(host.connected_peers()) if host is not None and host.running else set()
            due = woken or trio.current_time() >= next_round
            peers = connected if due else connected - known
            known = connected
            if due:
                next_round = trio.current_time() + self.interval
            for peer_id in sorted(peers):
                for net in list(self.service.networks.values()):
                    if net.membership.admit(peer_id) is not None:
                        continue
                    try:
                        await self.sync_with(peer_id, net.network_id)
                    except (NodeError, ProtocolError, CryptoError, ValueError) as exc:
                        log.info("notice.sync_failed", peer_id=peer_id, error=type(exc).__name__)

    async def _decide_all(self) -> None:
        now = self.venue.clock.now()
        for network_id, book in list(self.books.items()):
            net = self.service.networks.get(network_id)
            if net is None or net.policy is None:
                continue
            rules = self.rules(net)
            for notice_id in list(book.notices):
                outcome = book.decide(notice_id, rules, self.identity, now)
                if outcome is None:
                    continue
                try:
                    await self.submit(network_id, outcome)
                except NoticeRefused as exc:
                    log.warning("notice.outcome_refused", notice_id=notice_id.hex(), code=exc.code)
                    continue
                log.info(
                    "notice.decided",
                    notice_id=notice_id.hex(),
                    round=outcome.round,
                    outcome=outcome.outcome,
                )

    async def purge(self) -> int:
        """Forget notices that ended long ago (``RETAIN_ENDED_DAYS``); returns how many."""
        async with self._lock:
            gone = await self.venue.store.run(ndb.purge_ended, now=self.venue.clock.now())
            for network_id, notice_id in gone:
                book = self.books.get(network_id)
                if book is not None:
                    book.notices.pop(notice_id, None)
        if gone:
            log.info("notice.purged", count=len(gone))
        return len(gone)

    async def _carry(self, network_id: str, outcome: BanningOutcome) -> None:
        """An upheld ban rides on the nominator's alert: extend the alert's expiry to the
        ban's end (a lifetime ban: as far as an alert may live), never beyond it, so the
        alert's segments and photo last as long as the ban and no longer for its sake."""
        if outcome.outcome != "upheld":
            return
        notice = self.book(network_id).notices.get(outcome.notice_id)
        if notice is None or notice.nomination.nominated_by != self.identity.peer_id:
            return
        alert_id = notice.nomination.alert_id.hex()
        now = self.venue.clock.now()

        def extend(conn: sqlite3.Connection) -> bool:
            try:
                alert = _alerts.get(conn, alert_id)
            except NodeError:
                return False
            if alert.status not in _alerts.LIVE:
                return False
            limit = alert.created_at + _alerts.MAX_LIFETIME
            target = limit if outcome.until is None else min(outcome.until, limit)
            if target <= alert.expires_at:
                return False
            _alerts.change(
                conn,
                alert_id,
                now=now,
                actor=RENEWED_BY,
                action="alert.extended_for_ban",
                set_columns={"expires_at": target},
                detail={"notice_id": outcome.notice_id.hex(), "expires_at": target},
            )
            return True

        if await self.venue.store.run(extend):
            self.venue.alert_changed(alert_id)

    async def _renew_all(self) -> None:
        """Re-issue the alert an own upheld ban rides on when its year is nearly out."""
        now = self.venue.clock.now()
        for network_id, book in list(self.books.items()):
            for notice in list(book.notices.values()):
                if notice.nomination.nominated_by != self.identity.peer_id:
                    continue
                if notice.state(now) not in (NoticeState.UPHELD, NoticeState.APPEALED):
                    continue
                if now < self._renew_at.get(notice.notice_id, 0):
                    continue
                self._renew_at[notice.notice_id] = await self._renew(network_id, notice, now)

    async def _renew(self, network_id: str, notice: Notice, now: int) -> int:
        """Renew ``notice``'s alert if due; returns when to look again."""
        alert_id = notice.carrier().hex()
        try:
            alert = await self.venue.store.run(_alerts.get, alert_id)
        except NodeError:
            return now + RECHECK
        limit = alert.created_at + _alerts.MAX_LIFETIME
        end = notice.until()
        if end is not None and end <= limit:
            return end  # the alert lives as long as the ban (``_carry``): nothing to do
        if now < limit - RENEW_AHEAD:
            return limit - RENEW_AHEAD
        if alert.status != "active":
            # Disputed (suspended): looked at again, it may be reinstated. Withdrawn or
            # expired: a ban does not bring an alert back; it lapses at the doors.
            # Logged once per status, not at every hourly look.
            if self._skipped.get(notice.notice_id) != alert.status:
                self._skipped[notice.notice_id] = alert.status
                log.warning(
                    "notice.renewal_skipped",
                    notice_id=notice.notice_id.hex(),
                    alert_id=alert_id,
                    status=alert.status,
                )
            final = _FAR if end is None else end
            return now + RECHECK if alert.status in _alerts.LIVE else final
        expires_at = (
            now + _alerts.MAX_LIFETIME if end is None else min(end, now + _alerts.MAX_LIFETIME)
        )
        try:
            record = await renew_for_ban(
                self.venue,
                self.identity.peer_id,
                alert_id,
                expires_at=expires_at,
                notice_id=notice.notice_id.hex(),
            )
        except (NodeError, CryptoError) as exc:  # a renewal never stops the service
            log.warning(
                "notice.renewal_failed",
                notice_id=notice.notice_id.hex(),
                alert_id=alert_id,
                error=type(exc).__name__,
            )
            return now + RECHECK
        if record is None:  # changed meanwhile
            return now + RECHECK
        message = carry(
            self.identity,
            network_id=network_id,
            notice_id=notice.notice_id,
            alert_id=bytes.fromhex(record.id),
            now=now,
        )
        try:
            await self.submit(network_id, message)
        except NoticeRefused as exc:
            log.warning(
                "notice.carrier_refused", notice_id=notice.notice_id.hex(), code=exc.code.value
            )
            return now + RECHECK
        log.info(
            "notice.alert_renewed",
            notice_id=notice.notice_id.hex(),
            alert_id=record.id,
            renews=alert_id,
        )
        return record.created_at + _alerts.MAX_LIFETIME - RENEW_AHEAD

    async def _forget(self, network_id: str) -> None:
        self.books.pop(network_id, None)
        await self.venue.store.run(ndb.forget_network, network_id)

    # -- the door ------------------------------------------------------------------------------

    def ban_for(self, alert_id: str, originator: str) -> BanAtDoor | None:
        """The ban enforced at this venue now that rides on this alert, if any."""
        try:
            raw = bytes.fromhex(alert_id)
        except ValueError:
            return None
        now = self.venue.clock.now()
        for network_id, book in self.books.items():
            net = self.service.networks.get(network_id)
            if net is None or net.policy is None:
                continue
            mine = self.my_certificate(net)
            groups = set(mine.groups) if mine is not None else set()
            for notice in book.bans(now, self.rules(net)):
                scope = notice.nomination.scope
                if notice.carried_by(raw, originator) and (scope == "all" or scope in groups):
                    return BanAtDoor(notice.notice_id.hex(), notice.until(), scope)
        return None

    def status(self) -> dict[str, object]:
        return {
            "held": sum(len(b.notices) for b in self.books.values()),
            "accepted": dict(self.accepted),
            "refused": dict(self.refused),
        }


def refuse_text(until: int | None) -> str:
    """What the door shows: ``Refuse: Pubwatch ban until 4 December 2027`` (UTC date)."""
    if until is None:
        return "Refuse: Pubwatch ban for life"
    day = dt.datetime.fromtimestamp(until, dt.UTC).date()
    return f"Refuse: Pubwatch ban until {day.day} {day:%B %Y}"


async def show_ban(
    venue: Venue, ban: BanAtDoor, *, alert_id: str, originator: str, match_id: str, actor: str
) -> MatchConfirmResult:
    """The door's answer on a confirmed match of a banned subject (audited)."""
    await venue.store.run(
        _audit.record,
        at=venue.clock.now(),
        actor=actor,
        action="notice.ban_shown",
        alert_id=alert_id,
        peer_id=originator,
        detail={"notice_id": ban.notice_id, "match_id": match_id},
    )
    return MatchConfirmResult(
        MatchBanned(
            banned=MatchBan(
                notice_id=ban.notice_id,
                until=ban.until,
                scope=ban.scope,
                refuse=refuse_text(ban.until),
            )
        )
    )


class NoticeUndelivered(NodeError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _decode_request(data: bytes, field: str) -> tuple[str, list[bytes]]:
    try:
        value = canonical_unpack(data)
    except CryptoError:
        raise RequestRejected("notices: not canonical msgpack") from None
    if not isinstance(value, dict) or not isinstance(value.get("network_id"), str):
        raise RequestRejected("notices: expected a map with network_id")
    items = value.get(field)
    if isinstance(items, bytes):
        items = [items]
    if not isinstance(items, list) or not all(isinstance(i, bytes) for i in items):
        raise RequestRejected(f"notices: {field} must be a list of byte strings")
    return value["network_id"], items


def counts_by_state(conn: sqlite3.Connection, start: int, end: int) -> dict[str, int]:
    """Notices nominated in ``[start, end)`` by state at ``end`` (see ``notice_counts``)."""
    return ndb.notice_counts(conn, start=start, end=end)


__all__ = [
    "GOSSIP_KIND",
    "NOTICE_SUBMIT_PROTOCOL",
    "NOTICE_SYNC_PROTOCOL",
    "RENEW_AHEAD",
    "BanAtDoor",
    "NoticeService",
    "NoticeUndelivered",
    "counts_by_state",
    "refuse_text",
    "show_ban",
]
