"""Shared pydantic plumbing for the signed formats: strict field types and a
frozen base model whose canonical bytes are ``canonical_pack(model_dump())``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBytes, ValidationError
from pydantic import StrictInt as _StrictInt
from pydantic import StrictStr as _StrictStr

from doorwatch.crypto._canonical import canonical_pack, canonical_unpack
from doorwatch.crypto._errors import InvalidEncoding, InvalidPeerId
from doorwatch.crypto._identity import peer_id_to_public_key

Bytes16 = Annotated[StrictBytes, Field(min_length=16, max_length=16)]
Bytes32 = Annotated[StrictBytes, Field(min_length=32, max_length=32)]
Bytes64 = Annotated[StrictBytes, Field(min_length=64, max_length=64)]
Time = Annotated[_StrictInt, Field(ge=0, lt=2**63)]
Counter = Annotated[_StrictInt, Field(ge=0, lt=2**63)]
NetworkId = Annotated[_StrictStr, Field(pattern=r"^[0-9a-hjkmnp-tv-z]{16}$")]
GroupName = Annotated[_StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
VenueName = Annotated[_StrictStr, Field(min_length=1, max_length=120)]
Jurisdiction = Annotated[_StrictStr, Field(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")]
ShortText = Annotated[_StrictStr, Field(min_length=1, max_length=64)]


def _peer_id_ok(value: str) -> str:
    try:
        peer_id_to_public_key(value)
    except InvalidPeerId as exc:
        raise ValueError("not an Ed25519 identity peer id") from exc
    return value


PeerIdStr = Annotated[_StrictStr, AfterValidator(_peer_id_ok)]


def validation_message(exc: ValidationError, what: str) -> str:
    """A message naming the fields and rules at fault, never the values."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(whole value)"
        parts.append(f"{loc}: {err['msg']}")
    return f"{what}: " + "; ".join(parts)


class WireModel(BaseModel):
    """Frozen, no extra fields; ``to_bytes``/``from_bytes`` use canonical msgpack."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    _OMIT_AT_DEFAULT: ClassVar[frozenset[str]] = frozenset()
    """Fields added after the format was released: left out of the canonical bytes
    (encoding and signature alike) while they hold their default, so that what was
    signed before they existed stays byte for byte the same."""

    def _dump(self, exclude: set[str]) -> dict[str, Any]:
        dumped = self.model_dump(exclude=exclude)
        for name in self._OMIT_AT_DEFAULT:
            if name in dumped and dumped[name] == type(self).model_fields[name].default:
                del dumped[name]
        return dumped

    def to_bytes(self) -> bytes:
        return canonical_pack(self._dump(set()))

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidEncoding(validation_message(exc, cls.__name__)) from exc

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls.from_dict(canonical_unpack(data))

    def _body(self, *exclude: str) -> bytes:
        return canonical_pack(self._dump(set(exclude)))
