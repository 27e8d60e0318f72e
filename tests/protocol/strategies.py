"""Hypothesis strategies: one per wire message, covering every field's range."""

from __future__ import annotations

from hypothesis import strategies as st

from doorwatch.crypto import (
    KIND_SEGMENTS,
    KIND_TOMBSTONE,
    KIND_UPDATE,
    Certificate,
    EnvelopeHeader,
    PetBlinded,
    PetEvaluated,
    PetProof,
    PetRequest,
    PetResponse,
    PetUnblinded,
    RevocationList,
    SignedEnvelope,
)
from doorwatch.protocol import (
    ALL_MESSAGES,
    KIND_SUSPENDED,
    AlertPublish,
    AlertUpdate,
    Annotation,
    BanningAppeal,
    BanningCarrier,
    BanningNomination,
    BanningOutcome,
    BanningVote,
    CertificateDistribution,
    DetailsRequest,
    DetailsResponse,
    DisclosureRefusal,
    Dispute,
    GroupEpoch,
    GroupKeyDelivery,
    IdentityCheckRequest,
    IdentityCheckResponse,
    Message,
    OperatorConfirmation,
    PhotoRequest,
    PhotoResponse,
    PresenceRecord,
    RangeFingerprint,
    RangeItems,
    RangeSplit,
    ReportCount,
    ReportCounts,
    ReportRequest,
    ReviewRecord,
    RevocationListDistribution,
    SealedCase,
    SealedGroupKey,
    SyncHello,
    SyncItem,
    SyncRanges,
    Withdrawal,
)
from tests.protocol.factories import NETWORK_ID, identity

PEERS = [identity(f"peer-{n}").peer_id for n in range(4)]

peer = st.sampled_from(PEERS)
b16 = st.binary(min_size=16, max_size=16)
sig = st.binary(min_size=64, max_size=64)
time = st.integers(min_value=0, max_value=2**63 - 1)
counter = st.integers(min_value=0, max_value=2**63 - 1)
network = st.sampled_from([NETWORK_ID, "0123456789abcdef"])
group = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,31}\Z")
label = st.from_regex(r"\A[a-z0-9][a-z0-9_+-]{0,31}\Z")
blob = st.binary(min_size=1, max_size=64)
text = st.text(max_size=40)
point = st.binary(min_size=32, max_size=32)


@st.composite
def envelopes(draw: st.DrawFn, kinds: tuple[str, ...]) -> SignedEnvelope:
    kind = draw(st.sampled_from(kinds))
    header = EnvelopeHeader(
        network_id=draw(network),
        group=draw(group),
        epoch=draw(counter),
        alert_id=draw(b16),
        alert_salt=draw(b16),
        version=draw(counter),
        originator=draw(peer),
        created_at=draw(time),
        expires_at=draw(time),
        kind=kind,
    )
    if kind == KIND_TOMBSTONE:
        nonce, ciphertext = b"", b""
    else:
        nonce = draw(st.binary(min_size=24, max_size=24))
        ciphertext = draw(st.binary(min_size=16, max_size=80))
    return SignedEnvelope(header=header, nonce=nonce, ciphertext=ciphertext, signature=draw(sig))


certificates = st.builds(
    Certificate,
    network_id=network,
    venue=st.text(min_size=1, max_size=20),
    peer_id=peer,
    groups=st.lists(group, max_size=3).map(tuple),
    committee=st.booleans(),
    key_manager=st.booleans(),
    jurisdiction=st.from_regex(r"\A[A-Z]{2}(-[A-Z0-9]{1,3})?\Z"),
    valid_from=time,
    valid_until=time,
    agreement_version=st.text(min_size=1, max_size=10),
    serial=counter,
    signature=sig,
)
revocation_lists = st.builds(
    RevocationList,
    network_id=network,
    serial=counter,
    issued_at=time,
    revoked_peer_ids=st.lists(peer, max_size=3).map(tuple),
    revoked_certificate_serials=st.lists(counter, max_size=3).map(tuple),
    signature=sig,
)


@st.composite
def pet_request(draw: st.DrawFn, alert_id: bytes, request_id: bytes) -> PetRequest:
    labels = draw(st.lists(label, min_size=1, max_size=8, unique=True))
    items = tuple(PetBlinded(label=lab, point=draw(point)) for lab in labels)
    return PetRequest(alert_id=alert_id, request_id=request_id, items=items)


@st.composite
def pet_response(draw: st.DrawFn, alert_id: bytes, request_id: bytes) -> PetResponse:
    labels = draw(st.lists(label, min_size=1, max_size=8, unique=True))
    items = tuple(
        PetEvaluated(label=lab, evaluated=draw(point), commitment=draw(point)) for lab in labels
    )
    return PetResponse(alert_id=alert_id, request_id=request_id, items=items)


@st.composite
def pet_proof(draw: st.DrawFn, alert_id: bytes, request_id: bytes) -> PetProof:
    labels = draw(st.lists(label, min_size=1, max_size=8, unique=True))
    items = tuple(PetUnblinded(label=lab, point=draw(point)) for lab in labels)
    return PetProof(alert_id=alert_id, request_id=request_id, items=items)


@st.composite
def identity_check_requests(draw: st.DrawFn) -> IdentityCheckRequest:
    alert_id, request_id = draw(b16), draw(b16)
    return IdentityCheckRequest(
        request_id=request_id,
        alert_id=alert_id,
        requester=draw(peer),
        pet=draw(pet_request(alert_id, request_id)),
    )


@st.composite
def identity_check_responses(draw: st.DrawFn) -> IdentityCheckResponse:
    alert_id, request_id = draw(b16), draw(b16)
    return IdentityCheckResponse(
        request_id=request_id, alert_id=alert_id, pet=draw(pet_response(alert_id, request_id))
    )


@st.composite
def photo_requests(draw: st.DrawFn) -> PhotoRequest:
    alert_id, request_id = draw(b16), draw(b16)
    return PhotoRequest(
        request_id=request_id,
        alert_id=alert_id,
        requester=draw(peer),
        proof=draw(pet_proof(alert_id, request_id)),
    )


@st.composite
def group_key_deliveries(draw: st.DrawFn) -> GroupKeyDelivery:
    certificate = draw(certificates)
    members = draw(st.lists(peer, min_size=1, max_size=3, unique=True))
    return GroupKeyDelivery(
        network_id=draw(network),
        group=draw(group),
        epoch=draw(counter),
        sender=certificate.peer_id,
        sender_certificate=certificate,
        keys=tuple(SealedGroupKey(member=m, sealed=draw(blob)) for m in members),
    )


range_fingerprints = st.builds(
    RangeFingerprint, count=counter, fingerprint=st.binary(min_size=8, max_size=8)
)
prefixes = st.lists(st.integers(0, 15), max_size=32).map(bytes)
group_epochs = st.lists(st.builds(GroupEpoch, group=group, epoch=counter), max_size=4).map(tuple)
sync_items = st.builds(
    SyncItem,
    alert_id=b16,
    version=counter,
    withdrawn=st.booleans(),
    digest=st.binary(min_size=16, max_size=16),
)


@st.composite
def range_items(draw: st.DrawFn) -> RangeItems:
    items = draw(st.lists(sync_items, max_size=5))
    wanted = draw(st.lists(b16, max_size=3))
    return RangeItems.pack(draw(prefixes), draw(st.booleans()), items, wanted)


range_splits = st.builds(
    RangeSplit,
    prefix=prefixes,
    counts=st.lists(counter, min_size=16, max_size=16).map(tuple),
    fingerprints=st.binary(min_size=128, max_size=128),
)

STRATEGIES: dict[type[Message], st.SearchStrategy[Message]] = {
    AlertPublish: st.builds(AlertPublish, envelope=envelopes((KIND_SEGMENTS,))),
    AlertUpdate: st.builds(AlertUpdate, envelope=envelopes((KIND_UPDATE, KIND_SUSPENDED))),
    Withdrawal: st.builds(Withdrawal, envelope=envelopes((KIND_TOMBSTONE,))),
    Annotation: st.builds(
        Annotation,
        network_id=network,
        alert_id=b16,
        annotation_id=b16,
        annotator=peer,
        created_at=time,
        sealed_note=blob,
        signature=sig,
    ),
    Dispute: st.builds(
        Dispute,
        network_id=network,
        alert_id=b16,
        dispute_id=b16,
        raised_by=peer,
        raised_at=time,
        sealed_reason=blob,
        signature=sig,
    ),
    ReviewRecord: st.builds(
        ReviewRecord,
        network_id=network,
        alert_id=b16,
        reviewer=peer,
        reviewed_at=time,
        outcome=st.sampled_from(["kept", "amended", "withdrawn"]),
        next_review_at=time,
        signature=sig,
    ),
    CertificateDistribution: st.builds(
        CertificateDistribution,
        certificates=st.lists(certificates, min_size=1, max_size=3).map(tuple),
    ),
    RevocationListDistribution: st.builds(
        RevocationListDistribution, revocation_list=revocation_lists
    ),
    GroupKeyDelivery: group_key_deliveries(),
    PresenceRecord: st.builds(
        PresenceRecord,
        network_id=network,
        peer=peer,
        addrs=st.lists(
            st.from_regex(r"\A/ip4/[0-9.]{7,15}/tcp/[0-9]{1,5}\Z"), min_size=1, max_size=4
        ).map(tuple),
        timestamp=time,
        signature=sig,
    ),
    SyncHello: st.builds(
        SyncHello,
        network_id=network,
        session=b16,
        revocation_serial=counter,
        group_epochs=group_epochs,
        root=range_fingerprints,
    ),
    SyncRanges: st.builds(
        SyncRanges,
        session=b16,
        revocation_serial=st.none() | counter,
        group_epochs=st.none() | group_epochs,
        splits=st.lists(range_splits, max_size=3).map(tuple),
        items=st.lists(range_items(), max_size=3).map(tuple),
        more=st.booleans(),
    ),
    IdentityCheckRequest: identity_check_requests(),
    IdentityCheckResponse: identity_check_responses(),
    PhotoRequest: photo_requests(),
    PhotoResponse: st.builds(
        PhotoResponse,
        request_id=b16,
        alert_id=b16,
        sealed_photo=st.binary(min_size=1, max_size=2000),
    ),
    DetailsRequest: st.builds(
        DetailsRequest,
        request_id=b16,
        alert_id=b16,
        requester=peer,
        confirmation=st.builds(
            OperatorConfirmation,
            operator=st.text(min_size=1, max_size=20),
            same_person=st.booleans(),
            confirmed_at=time,
        ),
    ),
    DetailsResponse: st.builds(DetailsResponse, request_id=b16, alert_id=b16, sealed_details=blob),
    DisclosureRefusal: st.builds(
        DisclosureRefusal,
        request_id=b16,
        alert_id=b16,
        step=st.sampled_from(["identity_check", "photo", "details"]),
        code=st.text(min_size=1, max_size=32),
        message=text,
    ),
    BanningNomination: st.builds(
        BanningNomination,
        network_id=network,
        notice_id=b16,
        alert_id=b16,
        nominated_by=peer,
        nominated_at=time,
        scope=group,
        duration_days=st.just(365),
        lifetime=st.just(False),
        cases=st.lists(
            st.builds(SealedCase, member=peer, sealed=blob),
            min_size=1,
            max_size=4,
            unique_by=lambda c: c.member,
        ).map(tuple),
        signature=sig,
    ),
    BanningVote: st.builds(
        BanningVote,
        network_id=network,
        notice_id=b16,
        round=st.sampled_from([0, 1]),
        voter=point,
        vote=st.sampled_from(["uphold", "reject"]),
        voted_at=time,
        sealed_reason=st.none() | blob,
        signature=sig,
    ),
    BanningAppeal: st.builds(
        BanningAppeal,
        network_id=network,
        notice_id=b16,
        recorded_by=peer,
        appealed_at=time,
        cases=st.tuples(st.builds(SealedCase, member=peer, sealed=blob)),
        signature=sig,
    ),
    BanningOutcome: st.builds(
        BanningOutcome,
        network_id=network,
        notice_id=b16,
        round=st.sampled_from([0, 1]),
        outcome=st.sampled_from(["upheld", "cancelled"]),
        decided_at=time,
        until=st.none() | time,
        votes=st.just(()),
        published_by=peer,
        signature=sig,
    ),
    BanningCarrier: st.builds(
        BanningCarrier,
        network_id=network,
        notice_id=b16,
        alert_id=b16,
        carried_at=time,
        published_by=peer,
        signature=sig,
    ),
    ReportCounts: st.builds(
        ReportCounts,
        network_id=network,
        venue=peer,
        period_from=st.just(1_790_000_000),
        period_to=st.just(1_792_592_000),
        issued_at=time,
        counts=st.lists(
            st.builds(
                ReportCount,
                measure=st.sampled_from(["incidents", "refusals"]),
                key=st.sampled_from(["", "theft", "2026-11"]),
                value=st.none() | st.integers(min_value=5, max_value=10_000),
            ),
            max_size=6,
            unique_by=lambda c: (c.measure, c.key),
        ).map(tuple),
        signature=sig,
    ),
    ReportRequest: st.builds(ReportRequest, network_id=network, period_from=time, period_to=time),
}

assert set(STRATEGIES) == set(ALL_MESSAGES), "every message type needs a strategy"

any_message: st.SearchStrategy[Message] = st.one_of(*STRATEGIES.values())
