"""The wire messages: one frozen, strict pydantic model per message type.

Theory of operation: every message is a msgpack map with ``v`` (the protocol
version, 1) and ``type`` (a dotted name, unique per model); the codec picks
the model by ``type`` and validates the rest strictly (no coercion, unknown
fields refused, nested models included). Alert, request and record ids are 16
random bytes; nodes are named by their libp2p peer id, which inlines their
Ed25519 public key; signatures are 64 bytes; times are int Unix seconds UTC.
Personal data (notes, reasons, photos, details) only ever travels as sealed
ciphertext, never as a plain field.

Alert messages carry ``doorwatch.crypto``'s ``SignedEnvelope`` unchanged: its
header (network, group, epoch, alert id, version, originator, created_at,
expires_at, kind) is signed by the originator, and ``kind`` carries the
alert's status: ``segments`` (new), ``update`` (active), ``suspended``,
``tombstone`` (withdrawn). Membership material (certificates, revocation
lists, PET requests and responses) is crypto's models too, so there is one
definition of each signed format. Other node-signed messages (``SIGNED_BY``)
carry ``signature`` over their other fields (see ``_signing``). Disclosure
messages are not signed: they travel on a libp2p stream whose remote peer id
is authenticated by the secure channel, and the originator checks that the
``requester`` field is that peer.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from doorwatch.crypto import (
    KIND_SEGMENTS,
    KIND_TOMBSTONE,
    KIND_UPDATE,
    Certificate,
    InvalidPeerId,
    PetProof,
    PetRequest,
    PetResponse,
    RevocationList,
    SignedEnvelope,
    peer_id_to_public_key,
)

PROTOCOL_VERSION = 1

KIND_SUSPENDED = "suspended"
"""Envelope kind of an update that suspends the alert (a dispute): signed like any header field."""
ENVELOPE_KINDS = (KIND_SEGMENTS, KIND_UPDATE, KIND_SUSPENDED, KIND_TOMBSTONE)


def _peer_id(value: str) -> str:
    try:
        peer_id_to_public_key(value)
    except InvalidPeerId as exc:
        raise ValueError("not an Ed25519 identity peer id") from exc
    return value


Bytes16 = Annotated[bytes, Field(min_length=16, max_length=16)]
AlertId = Bytes16
RequestId = Bytes16
PeerId = Annotated[str, StringConstraints(min_length=40, max_length=60), AfterValidator(_peer_id)]
"""A libp2p peer id (``12D3KooW...``): it inlines the node's Ed25519 public key."""
Signature = Annotated[bytes, Field(min_length=64, max_length=64)]
Digest = Annotated[bytes, Field(min_length=32, max_length=32)]
Timestamp = Annotated[int, Field(ge=0, lt=2**63)]
Counter = Annotated[int, Field(ge=0, lt=2**63)]
NetworkId = Annotated[str, StringConstraints(pattern=r"^[0-9a-hjkmnp-tv-z]{16}$")]
GroupName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Label = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_+-]{0,31}$")]
Sealed = Annotated[bytes, Field(min_length=1, max_length=680 * 1024)]
SmallBlob = Annotated[bytes, Field(min_length=1, max_length=16 * 1024)]
Multiaddr = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^/")]


class Model(BaseModel):
    """Base of every wire structure: frozen, strict, no unknown fields."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


class Message(Model):
    """Base of every top-level message."""

    v: Literal[1] = 1
    type: str


# --- Alerts ---------------------------------------------------------------------------------


def _check_kind(envelope: SignedEnvelope, kinds: tuple[str, ...], what: str) -> None:
    if envelope.header.kind not in kinds:
        raise ValueError(f"{what} must carry an envelope of kind " + " or ".join(kinds))


class AlertPublish(Message):
    """A new alert's segments (envelope kind ``segments``): the only gossiped part of an alert."""

    type: Literal["alert.publish"] = "alert.publish"
    envelope: SignedEnvelope

    @model_validator(mode="after")
    def _kind(self) -> Self:
        _check_kind(self.envelope, (KIND_SEGMENTS,), "alert.publish")
        return self


class AlertUpdate(Message):
    """A new version of an alert: higher version, new expiry, and kind ``update`` (active)
    or ``suspended`` (a dispute suspends it)."""

    type: Literal["alert.update"] = "alert.update"
    envelope: SignedEnvelope

    @model_validator(mode="after")
    def _kind(self) -> Self:
        _check_kind(self.envelope, (KIND_UPDATE, KIND_SUSPENDED), "alert.update")
        return self


class Withdrawal(Message):
    """The signed tombstone of an alert (kind ``tombstone``): nothing resurrects the alert."""

    type: Literal["alert.withdraw"] = "alert.withdraw"
    envelope: SignedEnvelope

    @model_validator(mode="after")
    def _kind(self) -> Self:
        _check_kind(self.envelope, (KIND_TOMBSTONE,), "alert.withdraw")
        return self


class Annotation(Message):
    """A recipient's note on an alert, sent to the originator and marked as the recipient's."""

    type: Literal["alert.annotate"] = "alert.annotate"
    network_id: NetworkId
    alert_id: AlertId
    annotation_id: Bytes16
    annotator: PeerId
    created_at: Timestamp
    sealed_note: SmallBlob
    signature: Signature


class Dispute(Message):
    """A dispute raised about an alert; the originator suspends it with an update."""

    type: Literal["alert.dispute"] = "alert.dispute"
    network_id: NetworkId
    alert_id: AlertId
    dispute_id: Bytes16
    raised_by: PeerId
    raised_at: Timestamp
    sealed_reason: SmallBlob
    signature: Signature


class ReviewRecord(Message):
    """The originator's recorded three-monthly review of an alert."""

    type: Literal["alert.review"] = "alert.review"
    network_id: NetworkId
    alert_id: AlertId
    reviewer: PeerId
    reviewed_at: Timestamp
    outcome: Literal["kept", "amended", "withdrawn"]
    next_review_at: Timestamp
    signature: Signature


# --- Membership -----------------------------------------------------------------------------


class CertificateDistribution(Message):
    """Membership certificates, as the network authority signed them."""

    type: Literal["certificate.distribution"] = "certificate.distribution"
    certificates: Annotated[tuple[Certificate, ...], Field(min_length=1, max_length=64)]


class RevocationListDistribution(Message):
    """The network authority's signed revocation list (the highest serial wins)."""

    type: Literal["revocation_list.distribution"] = "revocation_list.distribution"
    revocation_list: RevocationList


class SealedGroupKey(Model):
    member: PeerId
    sealed: Annotated[bytes, Field(min_length=1, max_length=1024)]


class GroupKeyDelivery(Message):
    """A group key epoch, sealed by ``sender`` to each member.

    ``sender_certificate`` is the sender's authority-signed certificate; it
    must carry ``key_manager``, or recipients refuse the delivery.
    """

    type: Literal["group_key.delivery"] = "group_key.delivery"
    network_id: NetworkId
    group: GroupName
    epoch: Counter
    sender: PeerId
    sender_certificate: Certificate
    keys: Annotated[tuple[SealedGroupKey, ...], Field(min_length=1, max_length=1000)]

    @model_validator(mode="after")
    def _sender(self) -> Self:
        if self.sender_certificate.peer_id != self.sender:
            raise ValueError("sender_certificate must be the sender's certificate")
        if len({k.member for k in self.keys}) != len(self.keys):
            raise ValueError("keys must name each member once")
        return self


class PresenceRecord(Message):
    """Where a node can be reached: signed by the node, newest ``timestamp`` wins."""

    type: Literal["presence.record"] = "presence.record"
    network_id: NetworkId
    peer: PeerId
    addrs: Annotated[tuple[Multiaddr, ...], Field(min_length=1, max_length=16)]
    timestamp: Timestamp
    signature: Signature


# --- Sync -----------------------------------------------------------------------------------

NibblePrefix = Annotated[bytes, Field(max_length=32)]
"""A range of the alert-id space: the ids whose first hex digits (nibbles) are these bytes."""


class GroupEpoch(Model):
    group: GroupName
    epoch: Counter


FINGERPRINT_SIZE = 8
SYNC_DIGEST_SIZE = 16


class RangeFingerprint(Model):
    """Summary of one range: how many items, and the sum of their 8-byte hashes."""

    count: Counter
    fingerprint: Annotated[bytes, Field(min_length=FINGERPRINT_SIZE, max_length=FINGERPRINT_SIZE)]


class SyncItem(Model):
    """One alert as sync sees it (not on the wire as such: ``RangeItems`` packs them)."""

    alert_id: AlertId
    version: Counter
    withdrawn: bool
    digest: Annotated[bytes, Field(min_length=SYNC_DIGEST_SIZE, max_length=SYNC_DIGEST_SIZE)]
    """The first 16 bytes of the record digest (enough to order and tell records apart)."""


class RangeSplit(Model):
    """The sender's summaries of the 16 sub-ranges of ``prefix`` (whose summary differed).

    ``fingerprints`` is the 16 sub-range fingerprints concatenated, in nibble order.
    """

    prefix: NibblePrefix
    counts: Annotated[tuple[Counter, ...], Field(min_length=16, max_length=16)]
    fingerprints: Annotated[
        bytes, Field(min_length=16 * FINGERPRINT_SIZE, max_length=16 * FINGERPRINT_SIZE)
    ]

    def child(self, nibble: int) -> RangeFingerprint:
        start = nibble * FINGERPRINT_SIZE
        return RangeFingerprint(
            count=self.counts[nibble],
            fingerprint=self.fingerprints[start : start + FINGERPRINT_SIZE],
        )


_MAX_RANGE_ITEMS = 4096


class RangeItems(Model):
    """The sender's items in ``prefix``, packed column-wise.

    With ``reply`` the peer answers with its differences. In an answer
    (``reply`` false) the items are only the sender's items that differ, and
    ``wanted`` the ids (concatenated) the sender lacks or holds an older record of.
    """

    prefix: NibblePrefix
    reply: bool
    ids: Annotated[bytes, Field(max_length=16 * _MAX_RANGE_ITEMS)]
    digests: Annotated[bytes, Field(max_length=SYNC_DIGEST_SIZE * _MAX_RANGE_ITEMS)]
    versions: Annotated[tuple[Counter, ...], Field(max_length=_MAX_RANGE_ITEMS)]
    withdrawn: Annotated[tuple[bool, ...], Field(max_length=_MAX_RANGE_ITEMS)]
    wanted: Annotated[bytes, Field(max_length=16 * _MAX_RANGE_ITEMS)] = b""

    @model_validator(mode="after")
    def _columns(self) -> Self:
        count = len(self.versions)
        if (
            len(self.ids) != 16 * count
            or len(self.digests) != SYNC_DIGEST_SIZE * count
            or len(self.withdrawn) != count
            or len(self.wanted) % 16
        ):
            raise ValueError("ids, digests, versions and withdrawn must describe the same items")
        return self

    @classmethod
    def pack(
        cls, prefix: bytes, reply: bool, items: list[SyncItem], wanted: list[bytes] | None = None
    ) -> RangeItems:
        return cls(
            prefix=prefix,
            reply=reply,
            ids=b"".join(i.alert_id for i in items),
            digests=b"".join(i.digest for i in items),
            versions=tuple(i.version for i in items),
            withdrawn=tuple(i.withdrawn for i in items),
            wanted=b"".join(wanted or ()),
        )

    def unpack(self) -> list[SyncItem]:
        return [
            SyncItem(
                alert_id=self.ids[16 * n : 16 * n + 16],
                version=version,
                withdrawn=self.withdrawn[n],
                digest=self.digests[SYNC_DIGEST_SIZE * n : SYNC_DIGEST_SIZE * (n + 1)],
            )
            for n, version in enumerate(self.versions)
        ]

    def wanted_ids(self) -> list[bytes]:
        return [self.wanted[n : n + 16] for n in range(0, len(self.wanted), 16)]


class SyncHello(Message):
    """Opens a sync: the whole-set fingerprint and the membership state of the initiator."""

    type: Literal["sync.hello"] = "sync.hello"
    network_id: NetworkId
    session: Bytes16
    revocation_serial: Counter
    group_epochs: Annotated[tuple[GroupEpoch, ...], Field(max_length=256)]
    root: RangeFingerprint


class SyncRanges(Message):
    """One turn of the reconciliation; an empty turn with ``more`` false ends the exchange."""

    type: Literal["sync.ranges"] = "sync.ranges"
    session: Bytes16
    revocation_serial: Counter | None = None
    group_epochs: Annotated[tuple[GroupEpoch, ...], Field(max_length=256)] | None = None
    splits: Annotated[tuple[RangeSplit, ...], Field(max_length=2048)] = ()
    items: Annotated[tuple[RangeItems, ...], Field(max_length=4096)] = ()
    more: bool = False


# --- Disclosure -----------------------------------------------------------------------------


class IdentityCheckRequest(Message):
    """Step 1: the requester's blinded values for the private equality test."""

    type: Literal["disclosure.identity_check.request"] = "disclosure.identity_check.request"
    request_id: RequestId
    alert_id: AlertId
    requester: PeerId
    pet: PetRequest

    @model_validator(mode="after")
    def _same_alert(self) -> Self:
        if self.pet.alert_id != self.alert_id or self.pet.request_id != self.request_id:
            raise ValueError("pet.alert_id and pet.request_id must be the request's")
        return self


class IdentityCheckResponse(Message):
    """Step 1 answer: the originator's evaluations; the requester learns equal or not."""

    type: Literal["disclosure.identity_check.response"] = "disclosure.identity_check.response"
    request_id: RequestId
    alert_id: AlertId
    pet: PetResponse

    @model_validator(mode="after")
    def _same_alert(self) -> Self:
        if self.pet.alert_id != self.alert_id or self.pet.request_id != self.request_id:
            raise ValueError("pet.alert_id and pet.request_id must be the response's")
        return self


class PhotoRequest(Message):
    """Step 2: asked only with ``proof`` of the labels that matched in the identity check.

    The proof carries, per matched label, the requester's unblinded value,
    which the originator checks against its own evaluation: a requester that
    did not match cannot produce it.
    """

    type: Literal["disclosure.photo.request"] = "disclosure.photo.request"
    request_id: RequestId
    alert_id: AlertId
    requester: PeerId
    proof: PetProof

    @model_validator(mode="after")
    def _same_request(self) -> Self:
        if self.proof.alert_id != self.alert_id or self.proof.request_id != self.request_id:
            raise ValueError("proof.alert_id and proof.request_id must be the request's")
        return self

    @property
    def matched_labels(self) -> tuple[str, ...]:
        return self.proof.labels


class PhotoResponse(Message):
    type: Literal["disclosure.photo.response"] = "disclosure.photo.response"
    request_id: RequestId
    alert_id: AlertId
    sealed_photo: Sealed


class OperatorConfirmation(Model):
    """The door operator's answer to "are these two people the same person?"."""

    operator: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    same_person: bool
    confirmed_at: Timestamp


class DetailsRequest(Message):
    """Step 3: after the photo, only with the operator's confirmation of the same person."""

    type: Literal["disclosure.details.request"] = "disclosure.details.request"
    request_id: RequestId
    alert_id: AlertId
    requester: PeerId
    confirmation: OperatorConfirmation


class DetailsResponse(Message):
    type: Literal["disclosure.details.response"] = "disclosure.details.response"
    request_id: RequestId
    alert_id: AlertId
    sealed_details: Annotated[bytes, Field(min_length=1, max_length=240 * 1024)]


class DisclosureRefusal(Message):
    """The originator's refusal of a step, with the machine-readable code and a message."""

    type: Literal["disclosure.refusal"] = "disclosure.refusal"
    request_id: RequestId
    alert_id: AlertId
    step: Literal["identity_check", "photo", "details"]
    code: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    message: Annotated[str, StringConstraints(max_length=512)]


# --- Banning notices -------------------------------------------------------------------------

NoticeId = Bytes16
VoterKey = Annotated[bytes, Field(min_length=32, max_length=32)]


class SealedCase(Model):
    """A notice's case (or an appeal's grounds) sealed to one reader (a committee member or
    the liaison), by the nominating (or recording) venue."""

    member: PeerId
    sealed: Annotated[bytes, Field(min_length=1, max_length=8 * 1024)]


SealedCases = Annotated[tuple[SealedCase, ...], Field(min_length=1, max_length=256)]


class BanningNomination(Message):
    """A venue nominates the subject of one of its own alerts for a Pubwatch banning notice.

    ``scope``: ``all`` (the whole network) or one group. ``duration_days``: at most 730
    (two years), or None for a lifetime ban, which needs the higher majority. The
    summary (and a lifetime ban's reason) travel only sealed to the committee and the
    liaison. A nominator on the committee names its own voting pseudonym
    (``nominator_voter``, proven by ``nominator_proof``) so that it cannot vote.
    """

    type: Literal["banning.nomination"] = "banning.nomination"
    network_id: NetworkId
    notice_id: NoticeId
    alert_id: AlertId
    nominated_by: PeerId
    nominated_at: Timestamp
    scope: GroupName
    duration_days: Annotated[int, Field(ge=1, le=730)] | None
    lifetime: bool
    cases: SealedCases
    nominator_voter: VoterKey | None = None
    nominator_proof: Signature | None = None
    signature: Signature

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.lifetime != (self.duration_days is None):
            raise ValueError("duration_days: a number of days, or none for a lifetime ban")
        if (self.nominator_voter is None) != (self.nominator_proof is None):
            raise ValueError("nominator_voter and nominator_proof go together")
        if len({c.member for c in self.cases}) != len(self.cases):
            raise ValueError("cases must name each reader once")
        return self


class BanningVote(Message):
    """A committee member's vote, signed by its voting pseudonym (not its node key).

    ``round`` 0 is the nomination, 1 the appeal. ``sealed_reason`` (optional) is sealed
    from the pseudonym to the nominating venue.
    """

    type: Literal["banning.vote"] = "banning.vote"
    network_id: NetworkId
    notice_id: NoticeId
    round: Literal[0, 1]
    voter: VoterKey
    vote: Literal["uphold", "reject"]
    voted_at: Timestamp
    sealed_reason: SmallBlob | None = None
    signature: Signature


class BanningAppeal(Message):
    """The subject's appeal, recorded by the nominating venue or the liaison; the grounds
    travel sealed to the committee (and the liaison)."""

    type: Literal["banning.appeal"] = "banning.appeal"
    network_id: NetworkId
    notice_id: NoticeId
    recorded_by: PeerId
    appealed_at: Timestamp
    cases: SealedCases
    signature: Signature


class BanningOutcome(Message):
    """The decision of one round with the signed votes it rests on, published by the
    nominating venue; every node recounts the votes before believing it.

    ``until``: the end of an upheld ban (None: lifetime); None when cancelled.
    """

    type: Literal["banning.outcome"] = "banning.outcome"
    network_id: NetworkId
    notice_id: NoticeId
    round: Literal[0, 1]
    outcome: Literal["upheld", "cancelled"]
    decided_at: Timestamp
    until: Timestamp | None
    votes: Annotated[tuple[BanningVote, ...], Field(max_length=256)]
    published_by: PeerId
    signature: Signature


class BanningCarrier(Message):
    """The ban now also rides on another alert of the nominating venue.

    An alert lives at most 12 months; a ban up to two years, or for life. Before the
    alert a ban rides on reaches its limit, the nominating venue re-issues the subject's
    alert (new id, new segments) and publishes this, signed by its node key, so that a
    match on the new alert shows the ban at every member door.
    """

    type: Literal["banning.carrier"] = "banning.carrier"
    network_id: NetworkId
    notice_id: NoticeId
    alert_id: AlertId
    carried_at: Timestamp
    published_by: PeerId
    signature: Signature


# --- Reports ------------------------------------------------------------------------------

SUPPRESS_BELOW = 5
"""Counts from 1 to ``SUPPRESS_BELOW - 1`` are never shared: a share says "fewer than 5"
(``value`` None). One assault at one pub in one month can point at the person who was
hurt, or at the one who did it; five or more cannot (see docs/reports.md)."""

ReportMeasure = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
ReportKey = Annotated[str, StringConstraints(pattern=r"^([a-z0-9][a-z0-9_-]{0,31})?$")]
SharedCount = Annotated[int, Field(ge=SUPPRESS_BELOW, lt=2**31)]
MAX_REPORT_PERIOD = 400 * 86400


class ReportCount(Model):
    """One shared figure: ``measure`` (e.g. ``incidents``), ``key`` (a category code, a
    month ``YYYY-MM``, or empty) and ``value`` (None: between 1 and 4, suppressed).
    A zero is not sent: an absent figure is zero."""

    measure: ReportMeasure
    key: ReportKey
    value: SharedCount | None


class ReportCounts(Message):
    """A venue's aggregate counts for a period, signed by the venue, for the Pubwatch
    meeting's network report. Counts only: nothing in it is about a person."""

    type: Literal["report.counts"] = "report.counts"
    network_id: NetworkId
    venue: PeerId
    period_from: Timestamp
    period_to: Timestamp
    issued_at: Timestamp
    counts: Annotated[tuple[ReportCount, ...], Field(max_length=512)]
    signature: Signature

    @model_validator(mode="after")
    def _period(self) -> Self:
        if not self.period_from < self.period_to <= self.period_from + MAX_REPORT_PERIOD:
            raise ValueError("period_to must be after period_from, by at most 400 days")
        if len({(c.measure, c.key) for c in self.counts}) != len(self.counts):
            raise ValueError("counts must name each (measure, key) once")
        return self


class ReportRequest(Message):
    """Ask a member for the counts it has shared for exactly this period (on an
    authenticated stream; the answer is its ``report.counts`` or nothing)."""

    type: Literal["report.request"] = "report.request"
    network_id: NetworkId
    period_from: Timestamp
    period_to: Timestamp


ALL_MESSAGES: tuple[type[Message], ...] = (
    AlertPublish,
    AlertUpdate,
    Withdrawal,
    Annotation,
    Dispute,
    ReviewRecord,
    CertificateDistribution,
    RevocationListDistribution,
    GroupKeyDelivery,
    PresenceRecord,
    SyncHello,
    SyncRanges,
    IdentityCheckRequest,
    IdentityCheckResponse,
    PhotoRequest,
    PhotoResponse,
    DetailsRequest,
    DetailsResponse,
    DisclosureRefusal,
    BanningNomination,
    BanningVote,
    ReportCounts,
    ReportRequest,
    BanningAppeal,
    BanningOutcome,
    BanningCarrier,
)


def _type_name(model: type[Message]) -> str:
    default = model.model_fields["type"].default
    assert isinstance(default, str)
    return default


MESSAGE_TYPES: dict[str, type[Message]] = {_type_name(m): m for m in ALL_MESSAGES}

SIGNED_BY: dict[str, str] = {
    "alert.annotate": "annotator",
    "alert.dispute": "raised_by",
    "alert.review": "reviewer",
    "presence.record": "peer",
    "banning.nomination": "nominated_by",
    "banning.appeal": "recorded_by",
    "banning.outcome": "published_by",
    "banning.carrier": "published_by",
    "report.counts": "venue",
}
"""For each node-signed message type, the field holding the signer's peer id (a vote is
signed by a voting pseudonym instead: ``protocol._notices``)."""
