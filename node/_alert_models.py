"""Parameter and result models of the alert, scan, ban, visit and SAR methods.

Like ``_api_models``: strict parameter models that forbid unknown fields.
``document`` parameters are objects validated by ``segments.parse_document``
in the handler (so the message names ``document.<field>``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, RootModel, model_validator

from doorwatch.node._api_models import MAX_TIMESTAMP, Params, Result
from doorwatch.segments import MAX_PHOTO_BYTES

AlertStatus = Literal["active", "suspended", "withdrawn", "expired"]
Document = dict[str, Any]
PhotoB64 = str
GroupName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]

_PHOTO_FIELD = Field(
    default=None,
    max_length=(MAX_PHOTO_BYTES + 2) // 3 * 4 + 4,
    description=f"Base64 JPEG, at most {MAX_PHOTO_BYTES} bytes",
)
_TS = "Unix seconds, UTC"


class _SubjectParams(Params):
    scan_id: str | None = Field(default=None, min_length=1, max_length=64)
    document: Document | None = Field(default=None, description="An identity document object")

    @model_validator(mode="after")
    def _one_subject(self) -> _SubjectParams:
        if (self.scan_id is None) == (self.document is None):
            raise ValueError("give scan_id or document, one of them")
        return self


# -- categories and alerts ------------------------------------------------------


class CategoryResult(Result):
    code: str
    label: str
    harm: float = Field(description="Cambridge Crime Harm Index days (an approximation)")


class CategoryListResult(RootModel[list[CategoryResult]]):
    pass


class AlertCreateParams(_SubjectParams):
    category: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=2000)
    notes: str | None = Field(default=None, max_length=4000)
    expires_at: int | None = Field(default=None, ge=0, le=MAX_TIMESTAMP, description=_TS)
    groups: list[GroupName] | None = Field(default=None, max_length=32)
    photo: PhotoB64 | None = _PHOTO_FIELD


class AlertCreateResult(Result):
    alert_id: str
    expires_at: int
    review_due: int | None


class AlertListParams(Params):
    status: AlertStatus | None = None


class AlertSummary(Result):
    alert_id: str
    version: int
    category: str
    harm: float
    status: AlertStatus
    created_at: int
    updated_at: int
    expires_at: int
    review_due: int | None
    review_overdue: bool
    created_by: str
    groups: list[str]


class AlertListResult(RootModel[list[AlertSummary]]):
    pass


class ReceivedCategoryCount(Result):
    category: str = Field(description="The category code (alert.categories)")
    label: str
    harm_band: Literal["low", "medium", "high"]
    count: int = Field(ge=1)


class ReceivedSummaryResult(Result):
    total: int = Field(ge=0, description="Alerts received from other venues, active here")
    by_category: list[ReceivedCategoryCount] = Field(
        description="Categories with at least one alert, highest harm first"
    )
    by_harm_band: dict[Literal["low", "medium", "high"], int]
    originating_venues: int = Field(ge=0, description="How many venues made them")
    loading: bool = Field(
        description="True while received alerts are still loading after a start: the counts "
        "grow until it is false"
    )


class AlertIdParams(Params):
    alert_id: str = Field(min_length=1, max_length=64)


class AnnotationResult(Result):
    at: int
    origin: Literal["local", "recipient"]
    venue: str
    author: str
    text: str | None


class ReviewResult(Result):
    at: int
    reviewer: str
    note: str | None


class AlertDetail(AlertSummary):
    reason: str | None
    notes: str | None
    annotations: list[AnnotationResult]
    reviews: list[ReviewResult]
    subject: dict[str, Any] | None = Field(description="Identity fields; null once purged")
    has_photo: bool
    segments: list[list[str]]
    anonymity_set: float


_VERSION_FIELD = Field(
    default=None,
    ge=1,
    description="The version you read (alert.get); if the alert has changed since, "
    "the call fails with conflict (1004) and changes nothing",
)


class AlertAmendParams(AlertIdParams):
    reason: str | None = Field(default=None, min_length=1, max_length=2000)
    notes: str | None = Field(default=None, max_length=4000)
    expires_at: int | None = Field(default=None, ge=0, le=MAX_TIMESTAMP, description=_TS)
    groups: list[GroupName] | None = Field(default=None, max_length=32)
    version: int | None = _VERSION_FIELD


class AlertVersionResult(Result):
    alert_id: str
    version: int
    status: AlertStatus
    expires_at: int
    review_due: int | None


class AlertAnnotateParams(AlertIdParams):
    text: str = Field(min_length=1, max_length=4000)


class AlertNoteParams(AlertIdParams):
    note: str | None = Field(default=None, max_length=4000)


class AlertReinstateParams(AlertIdParams):
    note: str | None = Field(
        default=None, max_length=4000, description="The outcome of the review, kept encrypted"
    )
    version: int | None = _VERSION_FIELD


class DeletedResult(Result):
    deleted: Literal[True]


# -- scans and matches --------------------------------------------------------------


# Fields an MRZ carries: with ``mrz``, ``document`` may hold only the others.
MRZ_FIELDS = frozenset(
    {
        "document_type",
        "document_number",
        "given_names",
        "surname",
        "date_of_birth",
        "expiry_date",
        "issuing_country",
    }
)


class ScanParams(Params):
    document: Document | None = Field(
        default=None,
        description="The document's fields (the identity model). With mrz, only what an MRZ "
        "does not carry: photo, authentic, address, postcode.",
    )
    mrz: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="The raw machine-readable zone as the reader saw it: two lines of 44 "
        "(TD3) or 36 (TD2) characters, or three of 30 (TD1), separated by newlines. Its check "
        "digits are verified: if they disagree, the document is not authentic.",
    )
    sex: Literal["M", "F", "X"] | None = Field(
        default=None,
        description="The holder's sex as printed on the document, if the scanner reads it: "
        "used only to check a GB driving licence's number (which encodes it); not stored.",
    )
    entry: Literal["scanner", "typed"] = Field(
        default="scanner",
        description="How the document was captured: read by the scanner, or typed in by "
        "hand (supervisor and above only; the scanner's authenticity verdict is ignored and "
        "the visit is marked 'typed').",
    )
    lane: str = Field(
        default="main",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$",
        description="The door or lane the scanner stands at: the web consoles logged in at "
        "that lane show the scan and its ladder live. Not personal data; not stored.",
    )


class MatchResult(Result):
    match_id: str
    score: float
    harm_band: Literal["low", "medium", "high"] = Field(
        description="The alert's coarse harm band; the category and its harm weight come "
        "with the details, after the operator's confirmation."
    )
    state: str


class ScanResult(Result):
    scan_id: str
    verdict: Literal["admit", "check", "refuse"]
    reasons: list[str]
    age: int
    matches: list[MatchResult]


class MatchPhotoParams(Params):
    match_id: str = Field(min_length=1, max_length=64)
    timeout_s: float | None = Field(default=None, ge=0, le=60)


class MatchPhotoResult(Result):
    match_id: str
    state: str
    photo: str | None = Field(description="Base64 JPEG, or null if the alert has none")


class MatchConfirmParams(Params):
    match_id: str = Field(min_length=1, max_length=64)
    same_person: bool


class MatchDetails(Result):
    category: str
    reason: str | None
    harm: float
    originating_venue: str
    created_at: int
    expires_at: int
    notes: str | None
    annotations: list[AnnotationResult]


class MatchConfirmed(Result):
    details: MatchDetails


class MatchDismissed(Result):
    dismissed: Literal[True]


class MatchBan(Result):
    notice_id: str
    until: int | None = Field(description="When the ban ends, Unix seconds; null: for life")
    scope: str = Field(description="'all' (the whole network) or the group it covers")
    refuse: str = Field(description="What the door shows, e.g. 'Refuse: Pubwatch ban until ...'")


class MatchBanned(Result):
    """A confirmed match on the subject of an upheld Pubwatch banning notice: the door
    refuses entry; the alert's details are not asked for."""

    banned: MatchBan


class MatchConfirmResult(RootModel[MatchConfirmed | MatchBanned | MatchDismissed]):
    pass


class AdmissionParams(Params):
    scan_id: str = Field(min_length=1, max_length=64)
    admitted: bool
    note: str | None = Field(default=None, max_length=2000)


class RecordedResult(Result):
    recorded: Literal[True]


# -- bans -------------------------------------------------------------------------------


class BanAddParams(_SubjectParams):
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: int = Field(ge=0, le=MAX_TIMESTAMP, description=_TS)


class BanIdResult(Result):
    ban_id: str
    expires_at: int


class BanResult(Result):
    ban_id: str
    created_at: int
    created_by: str
    expires_at: int
    reason: str
    subject: dict[str, Any]


class BanListResult(RootModel[list[BanResult]]):
    pass


class BanIdParams(Params):
    ban_id: str = Field(min_length=1, max_length=64)


class RemovedResult(Result):
    removed: Literal[True]


# -- exports ----------------------------------------------------------------------------


class VisitsExportParams(Params):
    from_: int = Field(alias="from", ge=0, le=MAX_TIMESTAMP, description=_TS + ", inclusive")
    to: int = Field(ge=0, le=MAX_TIMESTAMP, description=_TS + ", exclusive")


class VisitResult(Result):
    scan_id: str
    at: int
    staff: str
    verdict: str
    reasons: list[str]
    admitted: bool | None
    decided_by: str | None
    decided_at: int | None
    note: str | None
    subject: dict[str, Any]


class VisitsExportResult(Result):
    visits: list[VisitResult]


class SarParams(Params):
    document: Document


class SarAlert(AlertDetail):
    pass


class SarResult(Result):
    visits: list[VisitResult]
    bans: list[BanResult]
    alerts: list[SarAlert]
    disclosures: list[dict[str, Any]] = Field(
        description="Audit entries about those alerts: who saw or changed them, and when"
    )
