"""What the alert, door and export methods share: the venue's store, key and memory."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

import trio

from doorwatch.crypto import StorageKey
from doorwatch.node import _alerts, _bans
from doorwatch.node._alert_models import MatchConfirmResult, MatchPhotoResult
from doorwatch.node._api_server import Session
from doorwatch.node._clock import Clock
from doorwatch.node._config import NodeConfig
from doorwatch.node._console_hub import ConsoleHub
from doorwatch.node._errors import ApiError, ErrorCode, InvalidParams
from doorwatch.node._notify import Notifier
from doorwatch.node._purge import checkpoint
from doorwatch.node._received import ReceivedAlert
from doorwatch.node._scan import Match, ScanEngine
from doorwatch.node._store import AsyncStore
from doorwatch.node._subjects import KeyDigester, day_of, unseal_identity

if TYPE_CHECKING:
    from doorwatch.node._notice_service import NoticeService

from doorwatch.segments import (
    MAX_PHOTO_BYTES,
    Factor,
    Identity,
    InvalidDocument,
    SegmentSet,
    parse_document,
)

# Purposes of the at-rest encryption: a blob only decrypts in its own column and row.
ALERT_IDENTITY: Final = "alert-identity"
ALERT_PHOTO: Final = "alert-photo"
ALERT_DETAILS: Final = "alert-details"
ALERT_NOTE: Final = "alert-note"
BAN_IDENTITY: Final = "ban-identity"
BAN_REASON: Final = "ban-reason"
VISIT_IDENTITY: Final = "visit-identity"
VISIT_NOTE: Final = "visit-note"

_JPEG_SOI = b"\xff\xd8\xff"


class OriginatorUnreachable(ApiError):
    code = ErrorCode.ORIGINATOR_UNREACHABLE


class RemoteLadder(Protocol):
    """The ladder for matches against received alerts, as the door methods use it."""

    def start(
        self, scanner: Session | None, match: Match, identity: Identity, *, typed: bool = False
    ) -> None: ...

    def knows(self, match_id: str) -> bool: ...

    async def photo(
        self, session: Session, m: Match, timeout_s: float | None
    ) -> MatchPhotoResult: ...

    async def confirm(
        self, session: Session, m: Match, same_person: bool
    ) -> MatchConfirmResult: ...


@dataclass
class Venue:
    store: AsyncStore
    key: StorageKey
    engine: ScanEngine
    clock: Clock
    config: NodeConfig
    notifier: Notifier
    database: Path

    def __post_init__(self) -> None:
        self.digester = KeyDigester(self.key)
        # Called with an alert id after every committed change of one of this
        # venue's alerts (create, amend, annotate, review, dispute, withdraw,
        # delete, expiry, automatic deletion): the network half gossips them.
        self.alert_listeners: list[Callable[[str], None]] = []
        # Alerts received from other venues, by alert id (hex): filled by the
        # network half, read by the door half to run the disclosure ladder.
        self.received: dict[str, ReceivedAlert] = {}
        # The disclosure ladder with other venues (node/_ladder_requester.py), set
        # when the node runs its network service; None: received alerts' matches
        # answer originator_unreachable.
        self.ladder: RemoteLadder | None = None
        # Pubwatch banning notices (node/_notice_service.py), set when the node runs
        # its network service: a confirmed match on a banned subject shows the ban.
        self.notices: NoticeService | None = None
        # The web consoles following a lane (node/_console_hub.py): scans and
        # match.updated changes are fanned out to them, at no cost when none follows.
        self.console = ConsoleHub()

    def alert_changed(self, alert_id: str) -> None:
        for listener in self.alert_listeners:
            listener(alert_id)

    def today(self) -> dt.date:
        return day_of(self.clock.now())

    def parse(
        self,
        document: Mapping[str, object],
        field: str = "document",
        *,
        today: dt.date | None = None,
    ) -> Identity:
        try:
            return parse_document(document, today=self.today() if today is None else today)
        except InvalidDocument as exc:
            problems = [
                {"field": f"{field}.{p.field}" if p.field else field, "rule": p.rule}
                for p in exc.problems
            ]
            first = problems[0]
            raise InvalidParams(
                f"{first['field']}: {first['rule']}", data={"problems": problems}
            ) from None

    async def checkpoint(self) -> bool:
        return await trio.to_thread.run_sync(checkpoint, self.database)


def actor(session: Session) -> str:
    return session.username or "?"


def decode_photo(value: str, field: str = "photo") -> bytes:
    try:
        data = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidParams(f"{field}: must be base64-encoded JPEG bytes") from None
    if len(data) > MAX_PHOTO_BYTES:
        raise InvalidParams(f"{field}: must be at most {MAX_PHOTO_BYTES} bytes")
    if not data.startswith(_JPEG_SOI):
        raise InvalidParams(f"{field}: must be a JPEG image (starting FF D8 FF)")
    return data


async def load_memory(venue: Venue) -> None:
    """Rebuild the in-memory index and ban digests from the database (at start-up)."""
    rows = await venue.store.run(_alerts.live_segments)
    engine = venue.engine
    for alert_id, wire, bits, harm in rows:
        # This node's own rows, written by it: rebuilt without re-validating them.
        factors = tuple(Factor(code, value) for code, value in json.loads(wire))
        engine.add_alert(alert_id, SegmentSet(factors, bits), harm, local=True)
    bans = await venue.store.run(_bans.list_all)

    def digests() -> list[tuple[str, frozenset[bytes]]]:
        return [
            (
                b.id,
                venue.digester.digests(unseal_identity(venue.key, BAN_IDENTITY, b.identity, b.id)),
            )
            for b in bans
        ]

    for ban_id, d in await trio.to_thread.run_sync(digests):
        engine.add_ban(ban_id, d)
