"""The identity model: one scanned ID document.

The field names are a contract: the socket API, the CSV tools and the scanner
integrations use them exactly.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class DocumentType(StrEnum):
    PASSPORT = "passport"
    DRIVING_LICENCE = "driving_licence"
    NATIONAL_ID = "national_id"
    OTHER = "other"


class Identity(BaseModel):
    """What a scanner read off one ID document."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    document_type: DocumentType
    document_number: str
    given_names: str
    surname: str
    date_of_birth: dt.date
    expiry_date: dt.date
    issuing_country: str = Field(min_length=3, max_length=3)
    address: str | None = None
    postcode: str | None = None
    photo: bytes | None = None
    authentic: bool | None = None
