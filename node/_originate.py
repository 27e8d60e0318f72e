"""Making one of this venue's own alerts: the segments chosen within the privacy budget,
everything personal sealed under the storage key (bound to the new alert's id), the
record stored and audited, the scan index and replication told.

Two callers: ``alert.create`` (a person at the door or in the office), and a banning
notice's renewal (``renew_for_ban``): an alert lives at most a year, a Pubwatch ban up
to two years or for life, so before the alert a ban rides on reaches its year the
nominating venue re-issues the subject's alert (new id, new salt, new segments, the
same subject, photo, reason, category and group) and cuts the old one short.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import trio

from doorwatch.crypto import new_alert_id
from doorwatch.node import _alerts, _audit, _received_store
from doorwatch.node import _network_store as netdb
from doorwatch.node._alerts import DAY, RENEWED_BY, AlertRecord
from doorwatch.node._categories import BY_CODE, Category
from doorwatch.node._errors import InvalidParams, NotFound
from doorwatch.node._notify import NewAlertNotice
from doorwatch.node._selection import choose_segments, selection_context
from doorwatch.node._subjects import seal, seal_identity, unseal, unseal_identity
from doorwatch.node._venue import ALERT_DETAILS, ALERT_IDENTITY, ALERT_PHOTO, Venue
from doorwatch.segments import BudgetError, Identity, identity_keys

RENEWED: Final = "alert.renewed_for_ban"
OVERLAP: Final = 2 * DAY
"""How long the old alert lives on after its renewal: time for the new one, and the
notice's word that the ban rides on it, to reach every member (gossip, else sync)."""


@dataclass(frozen=True)
class NewAlert:
    identity: Identity
    photo: bytes | None
    details: bytes
    """The sealed part of the alert: JSON ``{"reason": ..., "notes": ...}``."""
    category: Category
    groups: list[str]
    expires_at: int
    created_by: str


def check_groups(conn: sqlite3.Connection, peer_id: str | None, groups: list[str]) -> None:
    """Refuse more than one group, and groups that none of this venue's own certificates names.

    Recipients refuse an envelope sealed to a group its originator's certificate
    does not name (``alerts.item_refused reason=group_not_permitted``), so such
    an alert would reach no one. A venue in no network yet (or without a node
    identity) may name any group: the alert stays local until it joins.
    """
    if len(set(groups)) > 1:
        # An envelope is sealed under one group's key, and a replica holds one
        # record per alert: several groups would silently narrow to one.
        raise InvalidParams(
            "groups: an alert is shared with one distribution group (or, with no group, "
            "with the whole network); name one group, or make one alert per group"
        )
    if not groups or peer_id is None:
        return
    own: set[str] = set()
    member = False
    for network in netdb.list_networks(conn):
        revocations = netdb.revocations(conn, network.network_id)
        for certificate in netdb.certificates(conn, network.network_id):
            if certificate.peer_id != peer_id:
                continue
            if revocations is not None and revocations.covers(certificate):
                continue
            member = True
            own.update(certificate.groups)
    if not member:
        return
    for group in sorted(set(groups)):
        if group not in own:
            held = ", ".join(repr(g) for g in sorted(own))
            raise InvalidParams(
                f"groups: this venue is not a member of group {group!r}; its certificates "
                f"name {held}, and an alert sealed to another group reaches no one (the "
                f"network's key manager adds a venue to a group: doorwatch network group add)"
            )


async def originate(
    v: Venue,
    peer_id: str | None,
    new: NewAlert,
    *,
    also: Callable[[sqlite3.Connection, AlertRecord], None] | None = None,
) -> AlertRecord:
    """Store, index and announce a new own alert (``InvalidParams`` if nothing of the
    identity fits the privacy budget, or the group is not this venue's). ``also`` runs
    in the transaction that stores it."""
    now = v.clock.now()
    context = await v.store.run(selection_context, v.key)
    try:
        segments = choose_segments(identity_keys(new.identity), context, tables=v.engine.disclosure)
    except BudgetError:
        raise InvalidParams(
            "document: no part of this identity fits within the privacy budget"
        ) from None
    salt: bytes | None = None
    if peer_id is not None:
        raw_id, salt = new_alert_id(peer_id)
        alert_id = raw_id.hex()
    else:
        # Without a node identity (the venue alone, in tests) ids are random and the
        # alert is never published.
        alert_id = secrets.token_hex(16)
    record = AlertRecord(
        id=alert_id,
        version=1,
        status="active",
        category=new.category.code,
        harm=new.category.harm,
        created_at=now,
        updated_at=now,
        expires_at=new.expires_at,
        review_due=_alerts.review_due_for(now, new.expires_at, now),
        groups=sorted(set(new.groups)),
        created_by=new.created_by,
        segments=segments.to_wire(),
        segment_bits=segments.bits,
        anonymity_set=segments.anonymity_set,
        identity=seal_identity(v.key, ALERT_IDENTITY, new.identity, alert_id),
        photo=None if new.photo is None else seal(v.key, ALERT_PHOTO, new.photo, alert_id),
        details=seal(v.key, ALERT_DETAILS, new.details, alert_id),
        purged_at=None,
    )

    def insert(conn: sqlite3.Connection) -> None:
        check_groups(conn, peer_id, record.groups)
        _alerts.insert(conn, record, venue=v.config.venue)
        if salt is not None:
            _received_store.set_salt(conn, alert_id, salt)
        if also is not None:
            also(conn, record)

    await v.store.run(insert)
    v.engine.add_alert(alert_id, segments, new.category.harm, local=True)
    v.alert_changed(alert_id)
    v.notifier.notify(
        NewAlertNotice(alert_id, new.category.code, new.created_by, now, new.expires_at)
    )
    return record


async def renew_for_ban(
    v: Venue, peer_id: str, alert_id: str, *, expires_at: int, notice_id: str
) -> AlertRecord | None:
    """Re-issue active alert ``alert_id`` for the ban ``notice_id`` rides on: a new alert
    of the same subject until ``expires_at``; the old one then expires within
    ``OVERLAP``. None when the old alert is gone or not active (a disputed, withdrawn or
    expired alert is not brought back by a ban). If it was re-issued already (the node
    stopped before it could say so), that alert is returned, not another made."""
    try:
        old = await v.store.run(_alerts.get, alert_id)
    except NotFound:
        return None
    category = BY_CODE.get(old.category)
    if old.status != "active" or old.identity is None or category is None:
        return None
    made = await v.store.run(_renewed_already, alert_id, notice_id)
    if made is not None:
        return made

    def opened() -> NewAlert:
        identity = unseal_identity(v.key, ALERT_IDENTITY, old.identity or b"", old.id)
        photo = None if old.photo is None else unseal(v.key, ALERT_PHOTO, old.photo, old.id)
        details = (
            unseal(v.key, ALERT_DETAILS, old.details, old.id)
            if old.details is not None
            else json.dumps({"reason": None, "notes": None}).encode()
        )
        return NewAlert(
            identity=identity,
            photo=photo,
            details=details,
            category=category,
            groups=old.groups,
            expires_at=expires_at,
            created_by=RENEWED_BY,
        )

    def supersede(conn: sqlite3.Connection, record: AlertRecord) -> None:
        now, cut = record.created_at, record.created_at + OVERLAP
        _audit.record(
            conn,
            at=now,
            actor=RENEWED_BY,
            action=RENEWED,
            alert_id=record.id,
            detail={"notice_id": notice_id, "renews": old.id, "expires_at": expires_at},
        )
        current = _alerts.get(conn, old.id)
        if current.status == "active" and current.expires_at > cut:
            _alerts.change(
                conn,
                old.id,
                now=now,
                actor=RENEWED_BY,
                action="alert.superseded_for_ban",
                set_columns={"expires_at": cut},
                detail={"notice_id": notice_id, "renewed_as": record.id, "expires_at": cut},
            )

    record = await originate(v, peer_id, await trio.to_thread.run_sync(opened), also=supersede)
    v.alert_changed(old.id)
    return record


def _renewed_already(conn: sqlite3.Connection, alert_id: str, notice_id: str) -> AlertRecord | None:
    """The active alert that renewed ``alert_id`` for ``notice_id``, if there is one."""
    for entry in reversed(_audit.query(conn, action=RENEWED, limit=100_000)):
        if entry.detail.get("renews") == alert_id and entry.detail.get("notice_id") == notice_id:
            try:
                found = _alerts.get(conn, str(entry.alert_id))
            except NotFound:
                return None
            return found if found.status == "active" else None
    return None


__all__ = ["OVERLAP", "RENEWED_BY", "NewAlert", "check_groups", "originate", "renew_for_ban"]
