"""Banning notices on the store: the signed messages held, this venue's own cases, and
counts by state for reports.

``notice_messages`` holds every accepted nomination, vote, appeal, outcome and carrier as its
signed frame, keyed by a digest of the frame (what the notice sync compares). The book
(``protocol.NoticeBook``) is rebuilt from them at start-up. ``notice_cases`` holds this
venue's own nominations' cases (and appeals' grounds) sealed under the storage key.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass

from doorwatch.protocol import (
    BanningAppeal,
    BanningCarrier,
    BanningNomination,
    BanningOutcome,
    BanningVote,
    Notice,
    NoticeState,
    ProtocolError,
    decode,
)

NoticeMessage = BanningNomination | BanningVote | BanningAppeal | BanningOutcome | BanningCarrier
NOTICE_TYPES = (BanningNomination, BanningVote, BanningAppeal, BanningOutcome, BanningCarrier)


def frame_digest(frame: bytes) -> bytes:
    return hashlib.blake2b(b"doorwatch:notice-frame:v1\x00" + frame, digest_size=16).digest()


def rank(message: NoticeMessage) -> int:
    """The order in which a peer can accept them: nomination, votes, outcome, appeal,
    the appeal's votes and outcome, carriers (which need the first round upheld)."""
    if isinstance(message, BanningNomination):
        return 0
    if isinstance(message, BanningCarrier):
        return 6
    if isinstance(message, BanningAppeal):
        return 3
    base = 1 if isinstance(message, BanningVote) else 2
    return base + 3 * message.round


def put_message(
    conn: sqlite3.Connection, network_id: str, message: NoticeMessage, frame: bytes, now: int
) -> bool:
    cur = conn.execute(
        "INSERT OR IGNORE INTO notice_messages "
        "(digest, network_id, notice_id, kind, frame, received_at) VALUES (?, ?, ?, ?, ?, ?)",
        (frame_digest(frame), network_id, message.notice_id, message.type, frame, now),
    )
    return cur.rowcount == 1


def messages(
    conn: sqlite3.Connection, network_id: str | None = None
) -> list[tuple[str, bytes, int]]:
    """(network id, frame, received_at) of every held message, oldest first."""
    sql = "SELECT network_id, frame, received_at FROM notice_messages"
    args: tuple[object, ...] = ()
    if network_id is not None:
        sql += " WHERE network_id = ?"
        args = (network_id,)
    rows = conn.execute(sql + " ORDER BY received_at, rowid", args).fetchall()
    return [(str(r[0]), bytes(r[1]), int(r[2])) for r in rows]


def digests(conn: sqlite3.Connection, network_id: str) -> list[bytes]:
    rows = conn.execute(
        "SELECT digest FROM notice_messages WHERE network_id = ?", (network_id,)
    ).fetchall()
    return [bytes(r[0]) for r in rows]


def delete_notice(conn: sqlite3.Connection, network_id: str, notice_id: bytes) -> int:
    cur = conn.execute(
        "DELETE FROM notice_messages WHERE network_id = ? AND notice_id = ?",
        (network_id, notice_id),
    )
    conn.execute("DELETE FROM notice_cases WHERE notice_id = ?", (notice_id,))
    return cur.rowcount


def forget_network(conn: sqlite3.Connection, network_id: str) -> None:
    conn.execute("DELETE FROM notice_messages WHERE network_id = ?", (network_id,))
    conn.execute("DELETE FROM notice_cases WHERE network_id = ?", (network_id,))


@dataclass(frozen=True, slots=True)
class OwnCase:
    notice_id: bytes
    network_id: str
    alert_id: str
    sealed_case: bytes
    created_by: str
    created_at: int
    sealed_appeal: bytes | None


def put_case(conn: sqlite3.Connection, case: OwnCase) -> None:
    conn.execute(
        "INSERT INTO notice_cases (notice_id, network_id, alert_id, sealed_case, created_by, "
        "created_at, sealed_appeal) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            case.notice_id,
            case.network_id,
            case.alert_id,
            case.sealed_case,
            case.created_by,
            case.created_at,
            case.sealed_appeal,
        ),
    )


def put_appeal_grounds(conn: sqlite3.Connection, notice_id: bytes, sealed: bytes) -> None:
    conn.execute(
        "UPDATE notice_cases SET sealed_appeal = ? WHERE notice_id = ?", (sealed, notice_id)
    )


def case(conn: sqlite3.Connection, notice_id: bytes) -> OwnCase | None:
    row = conn.execute(
        "SELECT notice_id, network_id, alert_id, sealed_case, created_by, created_at, "
        "sealed_appeal FROM notice_cases WHERE notice_id = ?",
        (notice_id,),
    ).fetchone()
    if row is None:
        return None
    return OwnCase(
        notice_id=bytes(row[0]),
        network_id=str(row[1]),
        alert_id=str(row[2]),
        sealed_case=bytes(row[3]),
        created_by=str(row[4]),
        created_at=int(row[5]),
        sealed_appeal=None if row[6] is None else bytes(row[6]),
    )


def held_notices(conn: sqlite3.Connection) -> list[Notice]:
    """Every notice held, rebuilt from the stored messages as they were accepted (each
    was checked on arrival; this does not check them again)."""
    decoded: list[NoticeMessage] = []
    for _, frame, _ in messages(conn):
        try:
            message = decode(frame)
        except ProtocolError:
            continue
        if isinstance(message, NOTICE_TYPES):
            decoded.append(message)
    notices: dict[bytes, Notice] = {}
    for message in sorted(decoded, key=rank):
        if isinstance(message, BanningNomination):
            notices.setdefault(message.notice_id, Notice(message))
            continue
        notice = notices.get(message.notice_id)
        if notice is None:
            continue
        if isinstance(message, BanningVote):
            notice.votes[message.round].setdefault(message.voter, message)
        elif isinstance(message, BanningAppeal):
            notice.appeal = message
        elif isinstance(message, BanningCarrier):
            notice.carriers.setdefault(message.alert_id, message)
        else:
            notice.outcomes[message.round] = message
    return list(notices.values())


RETAIN_ENDED_DAYS = 400
"""How long a cancelled or expired notice's messages are kept after its end (for a year's
reports); then they are deleted everywhere."""


def ended_at(notice: Notice) -> int | None:
    """When the notice stopped being a ban or a nomination (None: it has not)."""
    first, second = notice.outcomes.get(0), notice.outcomes.get(1)
    if first is not None and first.outcome == "cancelled":
        return first.decided_at
    if second is not None and second.outcome == "cancelled":
        return second.decided_at
    return first.until if first is not None else None


def purge_ended(conn: sqlite3.Connection, *, now: int) -> list[tuple[str, bytes]]:
    """Delete the notices that ended more than RETAIN_ENDED_DAYS ago; returns their
    (network id, notice id)."""
    cutoff = now - RETAIN_ENDED_DAYS * 86400
    networks = {
        bytes(r[1]): str(r[0])
        for r in conn.execute("SELECT DISTINCT network_id, notice_id FROM notice_messages")
    }
    gone = []
    for notice in held_notices(conn):
        ended = ended_at(notice)
        if ended is not None and ended < cutoff:
            network_id = networks.get(notice.notice_id, notice.nomination.network_id)
            delete_notice(conn, network_id, notice.notice_id)
            gone.append((network_id, notice.notice_id))
    return gone


def notice_counts(conn: sqlite3.Connection, *, start: int, end: int) -> dict[str, int]:
    """Notices nominated in ``[start, end)``, counted by their state at ``end``: every
    ``NoticeState`` value (``voting``, ``upheld``, ``appealed``, ``cancelled``,
    ``expired``) and ``appeals`` (how many of them were appealed). Counts only: nothing
    about a person. For reports (``doorwatch report``)."""
    counts = {state.value: 0 for state in NoticeState}
    counts["appeals"] = 0
    for notice in held_notices(conn):
        if start <= notice.nomination.nominated_at < end:
            counts[notice.state(end).value] += 1
            counts["appeals"] += notice.appeal is not None
    return counts


__all__ = [
    "NOTICE_TYPES",
    "RETAIN_ENDED_DAYS",
    "NoticeMessage",
    "OwnCase",
    "case",
    "delete_notice",
    "digests",
    "ended_at",
    "forget_network",
    "frame_digest",
    "held_notices",
    "messages",
    "notice_counts",
    "purge_ended",
    "put_appeal_grounds",
    "put_case",
    "put_message",
    "rank",
]
