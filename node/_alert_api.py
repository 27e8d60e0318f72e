"""The alert methods: categories, the originated alert's lifecycle, and the local ladder.

Roles follow the agreement (6.5): door staff receive, process and create
alerts; a supervisor sees an alert's details and checks, disputes and
withdraws alerts; only the super administrator deletes alerts or changes
their distribution (groups). Withdrawing is a tombstone (the alert stops
matching, here and at every recipient, but the record stays for the audit
trail until the retention purge); deleting erases the record at once. A
disputed alert is reinstated by the super administrator or the
administrator who created it. Every change bumps the version and is audited
with the alert id and the user; audit entries never hold personal data.
"""

from __future__ import annotations

import base64
import json
import sqlite3

import trio

from doorwatch.node import _alerts, _audit, _visits
from doorwatch.node._alert_models import (
    AlertAmendParams,
    AlertAnnotateParams,
    AlertCreateParams,
    AlertCreateResult,
    AlertDetail,
    AlertIdParams,
    AlertListParams,
    AlertListResult,
    AlertNoteParams,
    AlertReinstateParams,
    AlertSummary,
    AlertVersionResult,
    AnnotationResult,
    CategoryListResult,
    CategoryResult,
    DeletedResult,
    MatchConfirmed,
    MatchConfirmParams,
    MatchConfirmResult,
    MatchDetails,
    MatchDismissed,
    MatchPhotoParams,
    MatchPhotoResult,
    ReceivedCategoryCount,
    ReceivedSummaryResult,
)
from doorwatch.node._alerts import DAY, MAX_LIFETIME, AlertRecord
from doorwatch.node._api_models import NoParams
from doorwatch.node._api_server import Dispatcher, MethodSpec, Session
from doorwatch.node._categories import BY_CODE, CATEGORIES, HarmBand, harm_band
from doorwatch.node._errors import Busy, Conflict, Forbidden, InvalidParams, NotFound
from doorwatch.node._match_slots import opened
from doorwatch.node._notice_service import show_ban
from doorwatch.node._originate import NewAlert, check_groups, originate
from doorwatch.node._roles import Role
from doorwatch.node._scan import Match, MatchState
from doorwatch.node._subjects import (
    identity_json,
    seal,
    unseal,
    unseal_identity,
)
from doorwatch.node._venue import (
    ALERT_DETAILS,
    ALERT_IDENTITY,
    ALERT_NOTE,
    ALERT_PHOTO,
    VISIT_IDENTITY,
    OriginatorUnreachable,
    Venue,
    actor,
    decode_photo,
)
from doorwatch.segments import Identity, identity_keys

_spec = MethodSpec
CATEGORIES_SPEC = _spec(
    "alert.categories",
    NoParams,
    CategoryListResult,
    summary="The coded alert reasons with their harm weights.",
)
CREATE = _spec(
    "alert.create",
    AlertCreateParams,
    AlertCreateResult,
    summary="Create an alert about the subject of a scan or a document.",
)
LIST = _spec(
    "alert.list",
    AlertListParams,
    AlertListResult,
    summary="This venue's alerts, highest harm first; no personal data.",
)
GET = _spec(
    "alert.get",
    AlertIdParams,
    AlertDetail,
    role=Role.SUPERVISOR,
    summary="One alert with its details, annotations, reviews and subject.",
)
AMEND = _spec(
    "alert.amend",
    AlertAmendParams,
    AlertVersionResult,
    role=Role.SUPERVISOR,
    summary="Change an alert's reason, notes, expiry or (super administrator) groups.",
)
ANNOTATE = _spec(
    "alert.annotate",
    AlertAnnotateParams,
    AlertVersionResult,
    role=Role.SUPERVISOR,
    summary="Add an annotation, marked as this venue's.",
)
REVIEW = _spec(
    "alert.review",
    AlertNoteParams,
    AlertVersionResult,
    role=Role.SUPERVISOR,
    summary="Record the three-monthly check of an alert.",
)
DISPUTE = _spec(
    "alert.dispute",
    AlertNoteParams,
    AlertVersionResult,
    role=Role.SUPERVISOR,
    summary="Record a complaint by the subject: suspends the alert at once.",
)
WITHDRAW = _spec(
    "alert.withdraw",
    AlertNoteParams,
    AlertVersionResult,
    role=Role.SUPERVISOR,
    summary="Withdraw an alert: it stops matching everywhere (a tombstone); the record stays "
    "for the audit trail until retention purges it.",
)
DELETE = _spec(
    "alert.delete",
    AlertIdParams,
    DeletedResult,
    role=Role.SUPER_ADMINISTRATOR,
    summary="Delete an alert: erase it here at once; a tombstone goes to the network.",
)
REINSTATE = _spec(
    "alert.reinstate",
    AlertReinstateParams,
    AlertVersionResult,
    role=Role.ADMINISTRATOR,
    summary="Restore a disputed (suspended) alert after review (super administrator, or the "
    "administrator who created it).",
)
RECEIVED_SUMMARY = _spec(
    "received.summary",
    NoParams,
    ReceivedSummaryResult,
    role=Role.SUPERVISOR,
    summary="The alerts received from other venues as counts by category and harm band: "
    "never a list, never anyone's identity.",
)
MATCH_PHOTO = _spec(
    "match.photo",
    MatchPhotoParams,
    MatchPhotoResult,
    summary="Run the identity check of a match and fetch the subject's photo.",
)
MATCH_CONFIRM = _spec(
    "match.confirm",
    MatchConfirmParams,
    MatchConfirmResult,
    summary="Answer 'same person?'; on yes, the alert's details.",
)

SPECS = (
    CATEGORIES_SPEC,
    CREATE,
    LIST,
    GET,
    AMEND,
    ANNOTATE,
    REVIEW,
    DISPUTE,
    WITHDRAW,
    DELETE,
    REINSTATE,
    RECEIVED_SUMMARY,
    MATCH_PHOTO,
    MATCH_CONFIRM,
)

DISPUTED_TEXT = "Disputed by the subject: the subject considers the allegation inaccurate."
REINSTATED_TEXT = "Reinstated by the originating venue after review of the subject's complaint."


def _summary(a: AlertRecord, now: int) -> dict[str, object]:
    return {
        "alert_id": a.id,
        "version": a.version,
        "category": a.category,
        "harm": a.harm,
        "status": a.status,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "expires_at": a.expires_at,
        "review_due": a.review_due,
        "review_overdue": a.review_due is not None and a.review_due <= now,
        "created_by": a.created_by,
        "groups": a.groups,
    }


def _version(a: AlertRecord) -> AlertVersionResult:
    return AlertVersionResult(
        alert_id=a.id,
        version=a.version,
        status=a.status,
        expires_at=a.expires_at,
        review_due=a.review_due,
    )


def check_expiry(expires_at: int, *, created_at: int, now: int) -> None:
    if expires_at <= now:
        raise InvalidParams("expires_at: must be in the future")
    if expires_at > created_at + MAX_LIFETIME:
        raise InvalidParams("expires_at: must be at most 12 months after the alert's creation")


class AlertApi:
    def __init__(self, venue: Venue, *, peer_id: str | None = None) -> None:
        self.v = venue
        # Alert ids derive from the originator's key and a salt (crypto.new_alert_id),
        # so that no other member can publish under them. Without a node identity
        # (the venue alone, in tests) ids are random and the alert is never published.
        self.peer_id = peer_id
        # Matches whose match.confirm is being answered right now.
        self._answering: set[str] = set()

    def register(self, dispatcher: Dispatcher) -> None:
        for spec, handler in (
            (CATEGORIES_SPEC, self.categories),
            (CREATE, self.create),
            (LIST, self.list_alerts),
            (GET, self.get),
            (AMEND, self.amend),
            (ANNOTATE, self.annotate),
            (REVIEW, self.review),
            (DISPUTE, self.dispute),
            (WITHDRAW, self.withdraw),
            (DELETE, self.delete),
            (REINSTATE, self.reinstate),
            (RECEIVED_SUMMARY, self.received_summary),
            (MATCH_PHOTO, self.match_photo),
            (MATCH_CONFIRM, self.match_confirm),
        ):
            dispatcher.add(spec.bind(handler))

    async def categories(self, session: Session, p: NoParams) -> CategoryListResult:
        return CategoryListResult(
            [CategoryResult(code=c.code, label=c.label, harm=c.harm) for c in CATEGORIES]
        )

    async def received_summary(self, session: Session, p: NoParams) -> ReceivedSummaryResult:
        # Counts only: the node holds no identity of a received alert's subject, and a
        # list (even of categories and dates) is not what a manager needs to see.
        received = list(self.v.received.values())
        by_code: dict[str, int] = {}
        bands: dict[HarmBand, int] = {"low": 0, "medium": 0, "high": 0}
        for r in received:
            by_code[r.category] = by_code.get(r.category, 0) + 1
            bands[harm_band(r.harm)] += 1
        harms = {r.category: r.harm for r in received}
        rows = []
        for code, count in sorted(by_code.items(), key=lambda kv: (-harms[kv[0]], kv[0])):
            known = BY_CODE.get(code)
            rows.append(
                ReceivedCategoryCount(
                    category=code,
                    label=known.label if known is not None else code,
                    harm_band=harm_band(harms[code]),
                    count=count,
                )
            )
        return ReceivedSummaryResult(
            total=len(received),
            by_category=rows,
            by_harm_band=bands,
            originating_venues=len({r.originator for r in received}),
            loading=self.v.engine.loading,
        )

    async def subject(self, scan_id: str | None, document: dict[str, object] | None) -> Identity:
        if document is not None:
            return self.v.parse(document)
        assert scan_id is not None
        return await self._scanned(scan_id)

    async def create(self, session: Session, p: AlertCreateParams) -> AlertCreateResult:
        v = self.v
        now = v.clock.now()
        category = BY_CODE.get(p.category)
        if category is None:
            raise InvalidParams("category: unknown category code; see alert.categories")
        expires_at = p.expires_at
        if expires_at is None:
            expires_at = now + min(v.config.default_alert_days * DAY, MAX_LIFETIME)
        check_expiry(expires_at, created_at=now, now=now)
        photo = decode_photo(p.photo) if p.photo is not None else None
        identity = await self.subject(p.scan_id, p.document)
        if photo is None:
            photo = identity.photo
        record = await originate(
            v,
            self.peer_id,
            NewAlert(
                identity=identity,
                photo=photo,
                details=json.dumps({"reason": p.reason, "notes": p.notes}).encode(),
                category=category,
                groups=p.groups or [],
                expires_at=expires_at,
                created_by=actor(session),
            ),
        )
        return AlertCreateResult(
            alert_id=record.id, expires_at=expires_at, review_due=record.review_due
        )

    async def list_alerts(self, session: Session, p: AlertListParams) -> AlertListResult:
        rows = await self.v.store.run(_alerts.list_all, p.status)
        now = self.v.clock.now()
        return AlertListResult([AlertSummary.model_validate(_summary(a, now)) for a in rows])

    async def detail(self, alert_id: str) -> dict[str, object]:
        """The alert with everything decrypted (for alert.get and sar.export)."""
        v = self.v

        def load(
            conn: sqlite3.Connection,
        ) -> tuple[AlertRecord, list[_alerts.Annotation], list[_alerts.Review]]:
            return (
                _alerts.get(conn, alert_id),
                _alerts.list_annotations(conn, alert_id),
                _alerts.list_reviews(conn, alert_id),
            )

        a, notes, checks = await v.store.run(load)
        return await trio.to_thread.run_sync(self._decrypt, a, notes, checks)

    def _decrypt(
        self, a: AlertRecord, notes: list[_alerts.Annotation], checks: list[_alerts.Review]
    ) -> dict[str, object]:
        key = self.v.key
        details = {"reason": None, "notes": None}
        if a.details is not None:
            details = json.loads(unseal(key, ALERT_DETAILS, a.details, a.id))
        subject = None
        if a.identity is not None:
            subject = identity_json(unseal_identity(key, ALERT_IDENTITY, a.identity, a.id))
        return {
            **_summary(a, self.v.clock.now()),
            "reason": details["reason"],
            "notes": details["notes"],
            "annotations": _alerts.annotation_json(
                notes, lambda blob: unseal(key, ALERT_NOTE, blob, a.id).decode()
            ),
            "reviews": [
                {
                    "at": r.at,
                    "reviewer": r.reviewer,
                    "note": None
                    if r.note is None
                    else unseal(key, ALERT_NOTE, r.note, a.id).decode(),
                }
                for r in checks
            ],
            "subject": subject,
            "has_photo": a.photo is not None,
            "segments": a.segments,
            "anonymity_set": a.anonymity_set,
        }

    async def get(self, session: Session, p: AlertIdParams) -> AlertDetail:
        result = AlertDetail.model_validate(await self.detail(p.alert_id))
        await self.v.store.run(
            _audit.record,
            at=self.v.clock.now(),
            actor=actor(session),
            action="alert.viewed",
            alert_id=p.alert_id,
        )
        return result

    async def amend(self, session: Session, p: AlertAmendParams) -> AlertVersionResult:
        v = self.v
        now = v.clock.now()
        if p.groups is not None and session.role != Role.SUPER_ADMINISTRATOR:
            raise Forbidden(
                "groups: only the super administrator may amend an alert's distribution"
            )
        if p.reason is None and p.notes is None and p.expires_at is None and p.groups is None:
            raise InvalidParams("params: give at least one of reason, notes, expires_at, groups")
        who = actor(session)

        def amend(conn: sqlite3.Connection) -> AlertRecord:
            # Read, modify and write in ONE transaction: two amendments at once
            # (one of the reason, one of the notes) both land, in some order.
            current = _alerts.get(conn, p.alert_id)
            _alerts.check_version(current, p.version)
            if p.groups is not None:
                check_groups(conn, self.peer_id, p.groups)
            columns, changed = self._amendment(current, p, now)
            return _alerts.change(
                conn,
                p.alert_id,
                now=now,
                actor=who,
                action="alert.amended",
                set_columns=columns,
                detail={"changed": changed},
                expected_version=current.version,
            )

        a = await v.store.run(amend)
        self.v.alert_changed(a.id)
        return _version(a)

    def _amendment(
        self, current: AlertRecord, p: AlertAmendParams, now: int
    ) -> tuple[dict[str, object], list[str]]:
        """The columns an amendment writes (runs on the database thread: the details
        are small, so unsealing and sealing them there costs microseconds)."""
        v = self.v
        columns: dict[str, object] = {}
        changed: list[str] = []
        if p.expires_at is not None:
            check_expiry(p.expires_at, created_at=current.created_at, now=now)
            columns["expires_at"] = p.expires_at
            due = current.review_due
            if due is None or due >= p.expires_at:
                due = _alerts.review_due_for(
                    current.created_at, p.expires_at, max(now, current.created_at)
                )
            columns["review_due"] = due
            changed.append("expires_at")
        if p.groups is not None:
            columns["groups"] = json.dumps(sorted(set(p.groups)))
            changed.append("groups")
        if p.reason is not None or p.notes is not None:
            if current.details is None:
                raise Conflict("alert_id: the alert's details have been purged")
            old = json.loads(unseal(v.key, ALERT_DETAILS, current.details, current.id))
            if p.reason is not None:
                old["reason"] = p.reason
                changed.append("reason")
            if p.notes is not None:
                old["notes"] = p.notes
                changed.append("notes")
            columns["details"] = seal(v.key, ALERT_DETAILS, json.dumps(old).encode(), current.id)
        return columns, changed

    async def _annotated(
        self,
        session: Session,
        alert_id: str,
        text: str,
        action: str = "alert.annotated",
        set_columns: dict[str, object] | None = None,
    ) -> AlertRecord:
        """Annotate the alert as this venue and the session's user (the text sealed),
        recording ``action`` and the columns it changes."""
        v = self.v
        return await v.store.run(
            _alerts.annotate,
            alert_id,
            now=v.clock.now(),
            actor=actor(session),
            venue=v.config.venue,
            text=seal(v.key, ALERT_NOTE, text.encode(), alert_id),
            action=action,
            set_columns=set_columns,
        )

    async def annotate(self, session: Session, p: AlertAnnotateParams) -> AlertVersionResult:
        a = await self._annotated(session, p.alert_id, p.text)
        self.v.alert_changed(a.id)
        return _version(a)

    async def review(self, session: Session, p: AlertNoteParams) -> AlertVersionResult:
        v = self.v
        note = None if p.note is None else seal(v.key, ALERT_NOTE, p.note.encode(), p.alert_id)
        a = await v.store.run(
            _alerts.add_review, p.alert_id, now=v.clock.now(), actor=actor(session), note=note
        )
        self.v.alert_changed(a.id)
        return _version(a)

    async def dispute(self, session: Session, p: AlertNoteParams) -> AlertVersionResult:
        v = self.v
        text = DISPUTED_TEXT + (f" {p.note}" if p.note else "")
        a = await self._annotated(
            session, p.alert_id, text, "alert.disputed", set_columns={"status": "suspended"}
        )
        v.engine.remove_alert(p.alert_id)
        self.v.alert_changed(a.id)
        return _version(a)

    async def reinstate(self, session: Session, p: AlertReinstateParams) -> AlertVersionResult:
        """Agreement 6.6.3: after investigating the complaint, the originator may
        restore the alert; the dispute annotation stays, a new revision propagates."""
        v = self.v
        now = v.clock.now()
        who = actor(session)
        text = REINSTATED_TEXT + (f" {p.note}" if p.note else "")
        sealed = seal(v.key, ALERT_NOTE, text.encode(), p.alert_id)

        def reinstate(conn: sqlite3.Connection) -> AlertRecord:
            current = _alerts.get(conn, p.alert_id)
            if session.role != Role.SUPER_ADMINISTRATOR and current.created_by != who:
                raise Forbidden(
                    "alert_id: only the super administrator or the administrator who "
                    "created this alert may reinstate it"
                )
            if current.status == "suspended" and current.expires_at <= now:
                raise Conflict("alert_id: the alert has expired; it cannot be reinstated")
            return _alerts.annotate(
                conn,
                p.alert_id,
                now=now,
                actor=who,
                venue=v.config.venue,
                text=sealed,
                action="alert.reinstated",
                set_columns={"status": "active"},
                allowed=("suspended",),
                expected_version=p.version,
            )

        a = await v.store.run(reinstate)
        v.engine.add_alert(a.id, _alerts.segment_set(a), a.harm, local=True)
        v.alert_changed(a.id)
        return _version(a)

    async def withdraw(self, session: Session, p: AlertNoteParams) -> AlertVersionResult:
        """A tombstone: the alert stops matching here and everywhere (the network half
        sends a signed tombstone); the record stays, encrypted, for the audit trail
        until the retention purge (see _purge)."""
        v = self.v
        now = v.clock.now()
        columns: dict[str, object] = {"status": "withdrawn", "review_due": None}
        if p.note:
            a = await self._annotated(
                session, p.alert_id, f"Withdrawn: {p.note}", "alert.withdrawn", columns
            )
        else:
            a = await v.store.run(
                _alerts.change,
                p.alert_id,
                now=now,
                actor=actor(session),
                action="alert.withdrawn",
                set_columns=columns,
            )
        v.engine.remove_alert(p.alert_id)
        v.alert_changed(p.alert_id)
        return _version(a)

    async def delete(self, session: Session, p: AlertIdParams) -> DeletedResult:
        """Erase the alert, whatever its status (super administrator only, agreement 6.5.3)."""
        v = self.v
        await v.store.run(
            _alerts.erase,
            p.alert_id,
            now=v.clock.now(),
            actor=actor(session),
            why="deleted by the super administrator",
        )
        v.engine.remove_alert(p.alert_id)
        v.alert_changed(p.alert_id)
        await v.checkpoint()
        return DeletedResult(deleted=True)

    # -- the disclosure ladder for this venue's own alerts ---------------------------

    def _match(self, match_id: str) -> Match:
        m = self.v.engine.matches.get(match_id)
        if m is None:
            raise NotFound("match_id: there is no match with this id (it may have expired)")
        if m.state is MatchState.BUSY:
            raise Busy(
                "busy: no identity check was started for this match, as the door staff are "
                "acting on as many matches as this node holds; finish or dismiss one, then "
                "scan the document again"
            )
        opened(m)  # a flood of new matches does not push it out while a door acts on it
        if not m.local and (self.v.ladder is None or not self.v.ladder.knows(match_id)):
            raise OriginatorUnreachable(
                "originator unreachable: the alert's originating venue cannot be reached; this "
                "node is not connected to the network yet, so decide from the scan verdict"
            )
        return m

    async def match_photo(self, session: Session, p: MatchPhotoParams) -> MatchPhotoResult:
        v = self.v
        m = self._match(p.match_id)
        if not m.local and v.ladder is not None:
            return await v.ladder.photo(session, m, p.timeout_s)
        if m.state in (MatchState.NOT_SUBJECT, MatchState.DISMISSED):
            raise Conflict(f"match_id: this match is {m.state.value}; it is no longer a match")
        alert = await v.store.run(_alerts.get, m.set_id)
        if alert.status != "active" or alert.identity is None:
            raise Conflict(f"match_id: the alert is {alert.status}; it is no longer a match")
        scanned = await self._scanned(m.scan_id)

        def check() -> tuple[bool, bytes | None]:
            subject = unseal_identity(v.key, ALERT_IDENTITY, alert.identity or b"", alert.id)
            same = same_identity(subject, scanned)
            photo = None
            if same and alert.photo is not None:
                photo = unseal(v.key, ALERT_PHOTO, alert.photo, alert.id)
            return same, photo

        same, photo = await trio.to_thread.run_sync(check)
        now = v.clock.now()
        if not same:
            m.state = MatchState.NOT_SUBJECT
            await self._audit_match(session, m, "match.not_subject", now)
            raise Conflict(
                "match_id: the identity check found that the customer is not the "
                "alert's subject; it is no longer a match"
            )
        m.state = MatchState.PHOTO_SHOWN
        await self._audit_match(session, m, "disclosure.photo", now, disclosed=True)
        return MatchPhotoResult(
            match_id=m.match_id,
            state=m.state.value,
            photo=None if photo is None else base64.b64encode(photo).decode("ascii"),
        )

    async def _audit_match(
        self, session: Session, m: Match, action: str, now: int, *, disclosed: bool = False
    ) -> None:
        """Audit one step of the local ladder; a disclosure names its recipient."""
        detail: dict[str, object] = {"match_id": m.match_id, "scan_id": m.scan_id}
        if disclosed:
            detail["to"] = "this venue"
        await self.v.store.run(
            _audit.record,
            at=now,
            actor=actor(session),
            action=action,
            alert_id=m.set_id,
            detail=detail,
        )

    async def _scanned(self, scan_id: str) -> Identity:
        held = self.v.engine.recent_scan(scan_id, self.v.clock.now())
        if held is not None:
            return held
        visit = await self.v.store.run(_visits.get, scan_id)
        return await trio.to_thread.run_sync(
            unseal_identity, self.v.key, VISIT_IDENTITY, visit.identity, scan_id
        )

    async def match_confirm(self, session: Session, p: MatchConfirmParams) -> MatchConfirmResult:
        v = self.v
        m = self._match(p.match_id)
        if not m.local and v.ladder is not None:
            return await v.ladder.confirm(session, m, p.same_person)
        if m.state in (MatchState.CONFIRMED, MatchState.DISMISSED) or m.match_id in self._answering:
            raise Conflict("match_id: this match has already been answered")
        if m.state is not MatchState.PHOTO_SHOWN:
            raise Conflict("match_id: ask match.photo first; the photo step comes before this")
        # Claimed before the first await: of two answers at once, one wins and
        # the other is a conflict, so the details are released (and audited) once.
        self._answering.add(m.match_id)
        try:
            return await self._answer(session, m, p.same_person)
        finally:
            self._answering.discard(m.match_id)

    async def _answer(self, session: Session, m: Match, same_person: bool) -> MatchConfirmResult:
        v = self.v
        now = v.clock.now()
        if not same_person:
            m.state = MatchState.DISMISSED
            await self._audit_match(session, m, "match.dismissed", now)
            return MatchConfirmResult(MatchDismissed(dismissed=True))
        full = await self.detail(m.set_id)
        if full["status"] != "active":
            raise Conflict("match_id: the alert is no longer active; it is no longer a match")
        notices = v.notices
        ban = notices.ban_for(m.set_id, notices.identity.peer_id) if notices else None
        if ban is not None:
            m.state = MatchState.CONFIRMED
            return await show_ban(
                v,
                ban,
                alert_id=m.set_id,
                originator=notices.identity.peer_id if notices else "",
                match_id=m.match_id,
                actor=actor(session),
            )
        await self._audit_match(session, m, "disclosure.details", now, disclosed=True)
        m.state = MatchState.CONFIRMED
        annotations: list[dict[str, object]] = full["annotations"]  # type: ignore[assignment]
        return MatchConfirmResult(
            MatchConfirmed(
                details=MatchDetails(
                    category=str(full["category"]),
                    reason=full["reason"],
                    harm=float(full["harm"]),  # type: ignore[arg-type]
                    originating_venue=v.config.venue,
                    created_at=int(full["created_at"]),  # type: ignore[call-overload]
                    expires_at=int(full["expires_at"]),  # type: ignore[call-overload]
                    notes=full["notes"],
                    annotations=[AnnotationResult.model_validate(a) for a in annotations],
                )
            )
        )


def same_identity(a: Identity, b: Identity) -> bool:
    """The local stand-in for the private identity check: surname and birth date, or document."""
    ka, kb = identity_keys(a), identity_keys(b)
    if ka.date_of_birth == kb.date_of_birth and set(ka.surnames) & set(kb.surnames):
        return True
    return bool(ka.document_number) and ka.document_number == kb.document_number
