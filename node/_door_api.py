"""The door methods: scan verdicts, admission decisions, local bans, and the exports.

``scan.submit`` is the hot path: validation, a few in-memory look-ups, one
small encryption and one group-committed insert; nothing in it is slow
(no password hashing, no decryption of other rows).

Roles (agreement 6.5): door staff scan and record decisions; a supervisor
sees the ban list; the super administrator alone adds and removes bans (the
agreement's "amending the watch list"); the police export of the visit log
and subject access exports are for an administrator, and both are audited.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog
import trio

from doorwatch.crypto import DecryptionFailed
from doorwatch.node import _alerts, _audit, _bans, _visits
from doorwatch.node._alert_api import AlertApi
from doorwatch.node._alert_models import (
    MRZ_FIELDS,
    AdmissionParams,
    BanAddParams,
    BanIdParams,
    BanIdResult,
    BanListResult,
    BanResult,
    MatchResult,
    RecordedResult,
    RemovedResult,
    SarAlert,
    SarParams,
    SarResult,
    ScanParams,
    ScanResult,
    VisitResult,
    VisitsExportParams,
    VisitsExportResult,
)
from doorwatch.node._alerts import DAY
from doorwatch.node._api_models import NoParams
from doorwatch.node._api_server import Dispatcher, MethodSpec, Session
from doorwatch.node._categories import harm_band
from doorwatch.node._errors import Forbidden, InvalidParams
from doorwatch.node._roles import Role
from doorwatch.node._scan import Reason
from doorwatch.node._subjects import (
    day_of,
    identity_json,
    seal,
    seal_identity,
    subject_keys,
    unseal,
    unseal_identity,
)
from doorwatch.node._venue import (
    ALERT_IDENTITY,
    BAN_IDENTITY,
    BAN_REASON,
    VISIT_IDENTITY,
    VISIT_NOTE,
    Venue,
    actor,
)
from doorwatch.segments import Identity, InvalidMRZ, Problem, read_mrz

log = structlog.get_logger("doorwatch.door")


def _mrz_error(problems: Iterable[Problem], hint: str = "") -> InvalidParams:
    """Every problem as a rule of ``mrz`` (naming the line and field, never a value)."""
    listed: list[dict[str, str]] = []
    for p in problems:
        entry = {"field": "mrz", "rule": p.rule if p.field == "mrz" else str(p)}
        if p.code:
            entry["code"] = p.code  # e.g. not_identity_document: for scanner software
        listed.append(entry)
    if not listed:
        listed = [{"field": "mrz", "rule": "is not a machine-readable zone"}]
    return InvalidParams(f"mrz: {listed[0]['rule']}{hint}", data={"problems": listed})


MAX_BAN_LIFETIME = 2 * 365 * DAY

SCAN = MethodSpec(
    "scan.submit",
    ScanParams,
    ScanResult,
    summary="The door's verdict on a scanned document, from local data only.",
)
ADMISSION = MethodSpec(
    "admission.decide",
    AdmissionParams,
    RecordedResult,
    summary="Record whether the customer of a scan was let in.",
)
BAN_ADD = MethodSpec(
    "ban.add",
    BanAddParams,
    BanIdResult,
    role=Role.SUPER_ADMINISTRATOR,
    summary="Ban a person from this venue (not shared), until an expiry.",
)
BAN_LIST = MethodSpec(
    "ban.list",
    NoParams,
    BanListResult,
    role=Role.SUPERVISOR,
    summary="This venue's bans, with their subjects.",
)
BAN_REMOVE = MethodSpec(
    "ban.remove", BanIdParams, RemovedResult, role=Role.SUPER_ADMINISTRATOR, summary="Lift a ban."
)
VISITS_EXPORT = MethodSpec(
    "visits.export",
    VisitsExportParams,
    VisitsExportResult,
    role=Role.ADMINISTRATOR,
    summary="The visit log of a time window (a police request); audited.",
)
SAR_EXPORT = MethodSpec(
    "sar.export",
    SarParams,
    SarResult,
    role=Role.ADMINISTRATOR,
    summary="Everything held about the person on an ID (subject access).",
)

SPECS = (SCAN, ADMISSION, BAN_ADD, BAN_LIST, BAN_REMOVE, VISITS_EXPORT, SAR_EXPORT)


@dataclass
class _Held:
    visits: list[_visits.VisitRecord]
    bans: list[_bans.BanRecord]
    alerts: list[_alerts.AlertRecord]


def _held(conn: sqlite3.Connection) -> _Held:
    return _Held(_visits.all_visits(conn), _bans.list_all(conn), _alerts.list_all(conn))


class DoorApi:
    def __init__(self, venue: Venue, alerts: AlertApi) -> None:
        self.v = venue
        self.alerts = alerts

    def register(self, dispatcher: Dispatcher) -> None:
        for spec, handler in (
            (SCAN, self.scan),
            (ADMISSION, self.admission),
            (BAN_ADD, self.ban_add),
            (BAN_LIST, self.ban_list),
            (BAN_REMOVE, self.ban_remove),
            (VISITS_EXPORT, self.visits_export),
            (SAR_EXPORT, self.sar_export),
        ):
            dispatcher.add(spec.bind(handler))

    async def scan(self, session: Session, p: ScanParams) -> ScanResult:
        v = self.v
        now = v.clock.now()
        today = day_of(now)
        typed = p.entry == "typed"
        if typed and not (session.role is not None and session.role.at_least(Role.SUPERVISOR)):
            raise Forbidden(
                "entry: typing a document in needs a supervisor or above; "
                "door staff scan the document"
            )
        identity = self._document(p, today=today, typed=typed)
        if typed and identity.authentic is not None:
            # Nobody's scanner looked at a typed-in document.
            identity = identity.model_copy(update={"authentic": None})
        verdict = v.engine.verdict(identity, v.digester.digests(identity), today=today, sex=p.sex)
        if typed:
            verdict.reasons.append(Reason.TYPED.value)
        key, scan_id, staff = v.key, verdict.scan_id, actor(session)

        def visit() -> tuple[object, ...]:
            # Sealed on the store's thread, not the event loop's: PyNaCl releases
            # the GIL around even a tiny encryption, and taking it back from the
            # writer cost the event loop ~70 us a scan.
            blob = seal_identity(key, VISIT_IDENTITY, identity, scan_id)
            return _visits.row(
                scan_id=scan_id,
                at=now,
                staff=staff,
                verdict=verdict.verdict,
                reasons=verdict.reasons,
                identity=blob,
            )

        # Written with the other scans of its transaction by one statement, and
        # no savepoint each: the store's thread takes the GIL back half as often.
        await v.store.append(_visits.INSERT, visit)
        v.engine.remember_scan(verdict.scan_id, identity, now)
        if v.ladder is not None:
            # Matches against received alerts: the identity check with the
            # originating venue starts in the background (state "checking").
            for m in verdict.matches:
                if not m.local:
                    v.ladder.start(session, m, identity, typed=typed)
        result = ScanResult(
            scan_id=verdict.scan_id,
            verdict=verdict.verdict,
            reasons=verdict.reasons,
            age=verdict.age,
            matches=[
                MatchResult(
                    match_id=m.match_id,
                    score=m.score,
                    harm_band=harm_band(m.harm),
                    state=m.state.value,
                )
                for m in verdict.matches
            ],
        )
        if v.console.follows(p.lane):
            # Only when a console follows this lane: one dict look-up otherwise.
            v.console.publish_scan(p.lane, scan_id, result.model_dump(mode="json"), identity.photo)
        return result

    def _document(self, p: ScanParams, *, today: dt.date, typed: bool) -> Identity:
        """The scanned identity: from the fields, or read from the raw MRZ."""
        if p.mrz is None:
            if p.document is None:
                raise InvalidParams("document: give document (the fields) or mrz (the raw MRZ)")
            return self.v.parse(p.document, today=today)
        extras = dict(p.document or {})
        both = sorted(MRZ_FIELDS.intersection(extras))
        if both:
            raise InvalidParams(
                f"document.{both[0]}: is read from the mrz; give the fields or the mrz, not both"
            )
        try:
            reading = read_mrz(p.mrz, today=today)
        except InvalidMRZ as exc:
            raise _mrz_error(exc.problems) from None
        if typed and not reading.check_digits_ok:
            # Typed in by hand: a typing mistake to correct, not a verdict on the document.
            raise _mrz_error(reading.problems, " (typed in: check what was typed)")
        fields: dict[str, object] = {**reading.identity.model_dump(), **extras}
        if not reading.check_digits_ok:
            # The check digits are the reader's evidence: misread or altered.
            fields["authentic"] = False
        return self.v.parse(fields, today=today)

    async def admission(self, session: Session, p: AdmissionParams) -> RecordedResult:
        v = self.v
        note = None if p.note is None else seal(v.key, VISIT_NOTE, p.note.encode(), p.scan_id)
        await v.store.run(
            _visits.decide,
            p.scan_id,
            admitted=p.admitted,
            actor=actor(session),
            now=v.clock.now(),
            note=note,
        )
        return RecordedResult(recorded=True)

    async def ban_add(self, session: Session, p: BanAddParams) -> BanIdResult:
        v = self.v
        now = v.clock.now()
        if p.expires_at <= now:
            raise InvalidParams("expires_at: must be in the future")
        if p.expires_at > now + MAX_BAN_LIFETIME:
            raise InvalidParams("expires_at: a ban may last at most 2 years")
        identity = await self.alerts.subject(p.scan_id, p.document)
        ban_id = secrets.token_hex(16)
        ban = _bans.BanRecord(
            id=ban_id,
            created_at=now,
            created_by=actor(session),
            expires_at=p.expires_at,
            identity=seal_identity(v.key, BAN_IDENTITY, identity, ban_id),
            reason=seal(v.key, BAN_REASON, p.reason.encode(), ban_id),
        )
        await v.store.run(_bans.insert, ban)
        v.engine.add_ban(ban_id, v.digester.digests(identity))
        return BanIdResult(ban_id=ban_id, expires_at=p.expires_at)

    def _ban_json(self, b: _bans.BanRecord) -> dict[str, Any]:
        key = self.v.key
        return {
            "ban_id": b.id,
            "created_at": b.created_at,
            "created_by": b.created_by,
            "expires_at": b.expires_at,
            "reason": unseal(key, BAN_REASON, b.reason, b.id).decode(),
            "subject": identity_json(unseal_identity(key, BAN_IDENTITY, b.identity, b.id)),
        }

    async def ban_list(self, session: Session, p: NoParams) -> BanListResult:
        bans = await self.v.store.run(_bans.list_all)
        items = await trio.to_thread.run_sync(lambda: [self._ban_json(b) for b in bans])
        await self.v.store.run(
            _audit.record,
            at=self.v.clock.now(),
            actor=actor(session),
            action="ban.listed",
            detail={"count": len(items)},
        )
        return BanListResult([BanResult.model_validate(i) for i in items])

    async def ban_remove(self, session: Session, p: BanIdParams) -> RemovedResult:
        v = self.v
        await v.store.run(_bans.remove, p.ban_id, now=v.clock.now(), actor=actor(session))
        v.engine.remove_ban(p.ban_id)
        await v.checkpoint()
        return RemovedResult(removed=True)

    def _visit_json(self, r: _visits.VisitRecord) -> dict[str, Any]:
        key = self.v.key
        return {
            "scan_id": r.scan_id,
            "at": r.at,
            "staff": r.staff,
            "verdict": r.verdict,
            "reasons": r.reasons,
            "admitted": r.admitted,
            "decided_by": r.decided_by,
            "decided_at": r.decided_at,
            "note": None if r.note is None else unseal(key, VISIT_NOTE, r.note, r.scan_id).decode(),
            "subject": identity_json(unseal_identity(key, VISIT_IDENTITY, r.identity, r.scan_id)),
        }

    async def visits_export(self, session: Session, p: VisitsExportParams) -> VisitsExportResult:
        v = self.v
        if p.to <= p.from_:
            raise InvalidParams("to: must be after from")
        rows = await v.store.run(_visits.window, p.from_, p.to)
        items = await trio.to_thread.run_sync(lambda: [self._visit_json(r) for r in rows])
        await v.store.run(
            _audit.record,
            at=v.clock.now(),
            actor=actor(session),
            action="visits.exported",
            detail={"from": p.from_, "to": p.to, "count": len(items)},
        )
        return VisitsExportResult(visits=[VisitResult.model_validate(i) for i in items])

    async def sar_export(self, session: Session, p: SarParams) -> SarResult:
        v = self.v
        person = subject_keys(v.parse(p.document))
        held = await v.store.run(_held)

        def find() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
            visits = [
                self._visit_json(r)
                for r in held.visits
                if self._is(person, VISIT_IDENTITY, r.identity, r.scan_id)
            ]
            bans = [
                self._ban_json(b)
                for b in held.bans
                if self._is(person, BAN_IDENTITY, b.identity, b.id)
            ]
            alerts = [
                a.id
                for a in held.alerts
                if a.identity is not None and self._is(person, ALERT_IDENTITY, a.identity, a.id)
            ]
            return visits, bans, alerts

        visits, bans, alert_ids = await trio.to_thread.run_sync(find)
        alerts = [SarAlert.model_validate(await self.alerts.detail(i)) for i in alert_ids]
        disclosures: list[dict[str, Any]] = []
        for alert_id in alert_ids:
            entries = await v.store.run(_audit.query, alert_id=alert_id, limit=10000)
            disclosures.extend(e.to_json() for e in entries)
        await v.store.run(
            _audit.record,
            at=v.clock.now(),
            actor=actor(session),
            action="sar.exported",
            detail={"visits": len(visits), "bans": len(bans), "alerts": alert_ids},
        )
        return SarResult(
            visits=[VisitResult.model_validate(i) for i in visits],
            bans=[BanResult.model_validate(i) for i in bans],
            alerts=alerts,
            disclosures=disclosures,
        )

    def _is(self, person: frozenset[str], purpose: str, blob: bytes, row_id: str) -> bool:
        try:
            other: Identity = unseal_identity(self.v.key, purpose, blob, row_id)
        except DecryptionFailed:
            log.warning("sar.undecryptable_row", purpose=purpose)
            return False
        return not person.isdisjoint(subject_keys(other))
