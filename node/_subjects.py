"""A subject's identity at rest: encrypted blobs, and the keys that recognise a person.

Every stored identity (alert subject, banned customer, visitor) is the JSON of
its ``Identity`` fields without the photo, encrypted under the node's storage
key with a purpose per kind and the row's id as context. There is no clear
or searchable column of names: a subject access request finds a person by
decrypting rows and comparing ``subject_keys``; the scan's ban check compares
keyed digests of those keys held in memory only (``KeyDigester``).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from doorwatch.crypto import StorageKey
from doorwatch.node._randomness import random_bytes
from doorwatch.segments import (
    Identity,
    first_given_name,
    name_key,
    normalise_document_number,
)


def identity_bytes(identity: Identity) -> bytes:
    return identity.model_dump_json(exclude={"photo"}).encode()


def identity_from_bytes(data: bytes) -> Identity:
    # Validated when it came in; read back as trusted data (no today-relative checks).
    return Identity.model_validate_json(data)


def seal(key: StorageKey, purpose: str, data: bytes, row_id: str) -> bytes:
    return key.encrypt(purpose, data, random_bytes, context=row_id.encode())


def unseal(key: StorageKey, purpose: str, blob: bytes, row_id: str) -> bytes:
    return key.decrypt(purpose, blob, context=row_id.encode())


def seal_identity(key: StorageKey, purpose: str, identity: Identity, row_id: str) -> bytes:
    return seal(key, purpose, identity_bytes(identity), row_id)


def unseal_identity(key: StorageKey, purpose: str, blob: bytes, row_id: str) -> Identity:
    return identity_from_bytes(unseal(key, purpose, blob, row_id))


def subject_keys(identity: Identity) -> frozenset[str]:
    """Normalised keys of a person: surname + first given name + birth date, document number.

    Two identities share a key when they name the same person on the same or
    another document (the same name and date of birth) or show the same
    document. A surname with an empty key (written only in a script with no
    transliteration table) gives no name key: two empty keys never agree. A
    partial birth date is written with XX (1985-XX-XX), which no full date is.
    """
    born = identity.date_of_birth.isoformat()
    keys: set[str] = set()
    surname = name_key(identity.surname)
    if surname:
        keys.add(f"n:{surname}:{first_given_name(identity.given_names)}:{born}")
    number = normalise_document_number(identity.document_number)
    if number:
        keys.add(f"d:{identity.issuing_country}:{number}")
    return frozenset(keys)


def identity_json(identity: Identity) -> dict[str, object]:
    """The identity's fields for an export (the photo is never in a stored identity)."""
    return identity.model_dump(mode="json", exclude={"photo"})


class KeyDigester:
    """Keyed digests of subject keys, so that memory holds no names for the ban check."""

    def __init__(self, key: StorageKey) -> None:
        self._key = key.derive_key("ban-match")

    def digests(self, identity: Identity) -> frozenset[bytes]:
        return frozenset(
            hashlib.blake2b(k.encode(), key=self._key, digest_size=16).digest()
            for k in subject_keys(identity)
        )


def day_of(ts: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts, dt.UTC).date()
