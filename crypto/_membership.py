"""Network membership: the authority key, certificates, revocation lists and
one-time invites.

Theory of operation. The network's coordinator holds an Ed25519 authority
key; the network id is a hash of its public key, so a network id names one
authority. The authority signs certificates (purpose ``certificate``) binding a
venue's peer id to its groups, committee role, jurisdiction and validity, and
revocation lists (purpose ``revocation``) whose serial only goes up.

Invites are stateless for the authority: the one-time secret is a keyed hash
of the invite's terms (network, token id, venue, groups, expiry) under the
authority's seed (purpose ``invite``), so the authority need not store issued
invites; it keeps only the set of token ids already used. The joiner proves
knowledge of the secret with a keyed BLAKE2b over its join request (purpose
``join``) and signs the whole request with its node key, so the request binds
the node key to the invite and cannot be altered or replayed.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Sequence
from typing import Annotated, ClassVar, Self

import nacl.bindings
import nacl.exceptions
import nacl.utils
from pydantic import Field, StrictBool, StrictStr, model_validator

from doorwatch.crypto._canonical import canonical_pack, canonical_unpack
from doorwatch.crypto._domain import Purpose, RandomBytes, derive, digest
from doorwatch.crypto._errors import (
    BadSignature,
    CertificateBadSignature,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    InvalidEncoding,
    InvalidKey,
    InvalidToken,
    InviteExpired,
    InviteReplayed,
    InviteUnknown,
    PolicyError,
    RevocationListError,
    StalePolicy,
    StaleRevocationList,
    WrongNetwork,
)
from doorwatch.crypto._identity import (
    NodeIdentity,
    SigningKey,
    peer_id_from_public_key,
    peer_id_to_public_key,
    verify,
    x25519_public_from_ed25519,
)
from doorwatch.crypto._text import b32decode, b32encode
from doorwatch.crypto._wire import (
    Bytes16,
    Bytes32,
    Bytes64,
    Counter,
    GroupName,
    Jurisdiction,
    NetworkId,
    PeerIdStr,
    ShortText,
    Time,
    VenueName,
    WireModel,
)

INVITE_PREFIX = "dwinv1-"
DEFAULT_ANONYMITY_FLOOR = 50
"""The anonymity floor of a network that has not signed another (people, K >= floor)."""
MAX_ANONYMITY_FLOOR = 1_000_000
_INVITE_CHECK_SIZE = 5
_MAX_GROUPS = 64
_MAX_BOOTSTRAP = 16


def network_id_from_public_key(authority_public_key: bytes) -> str:
    """The network id: 16 lower-case Crockford base32 characters (80 bits) of a hash."""
    if not isinstance(authority_public_key, bytes) or len(authority_public_key) != 32:
        raise InvalidKey("authority_public_key: an Ed25519 public key is exactly 32 bytes")
    return b32encode(digest(Purpose.NETWORK, authority_public_key, 10)).lower()


def _groups(groups: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(set(groups)))


class Certificate(WireModel):
    """A network membership certificate, signed by the network authority."""

    network_id: NetworkId
    venue: VenueName
    peer_id: PeerIdStr
    groups: tuple[GroupName, ...] = Field(max_length=_MAX_GROUPS)
    committee: StrictBool
    key_manager: StrictBool = False
    """The network's designated group-key manager: recipients accept group keys only from it."""
    liaison: StrictBool = False
    """The police licensing officer's node: banning notices and appeals are sealed to it too,
    and it may record an appeal. It never votes (the procedure keeps the police out of the
    decision)."""
    jurisdiction: Jurisdiction
    valid_from: Time
    valid_until: Time
    agreement_version: ShortText
    serial: Counter
    signature: Bytes64

    _OMIT_AT_DEFAULT: ClassVar[frozenset[str]] = frozenset({"liaison"})

    def signed_bytes(self) -> bytes:
        """The canonical bytes the signature covers (every field but the signature)."""
        return self._body("signature")

    @property
    def public_key(self) -> bytes:
        """The member's Ed25519 public key (inlined in its peer id)."""
        return peer_id_to_public_key(self.peer_id)


class RevocationList(WireModel):
    """The authority's list of revoked peer ids and certificate serials."""

    network_id: NetworkId
    serial: Counter
    issued_at: Time
    revoked_peer_ids: tuple[PeerIdStr, ...] = Field(max_length=100_000)
    revoked_certificate_serials: tuple[Counter, ...] = Field(max_length=100_000)
    signature: Bytes64

    def signed_bytes(self) -> bytes:
        return self._body("signature")

    def covers(self, certificate: Certificate) -> bool:
        """True if the certificate's peer id or serial is revoked."""
        return (
            certificate.peer_id in self.revoked_peer_ids
            or certificate.serial in self.revoked_certificate_serials
        )


SEALED_SEED_SIZE = 32 + 48  # crypto_box_seal: ephemeral key (32) and tag (16) around the seed
MIN_COMMITTEE = 3
"""The Pubwatch sub-committee has at least three members (the Essex procedure)."""


class CommitteeVoter(WireModel):
    """One committee member's voting pseudonym in the network policy: its public key and
    its seed sealed (anonymously) to the member. The roster is sorted by key, so nothing
    in it says which member holds which key; only the authority can link them."""

    key: Bytes32
    sealed_seed: Annotated[bytes, Field(strict=True, min_length=80, max_length=80)]


Percent = Annotated[int, Field(strict=True, ge=50, le=100)]


class NetworkPolicy(WireModel):
    """The network's rules every member applies, signed by the authority (purpose
    ``network-policy``). A newer policy has a higher serial and replaces the old
    one whole.

    ``anonymity_floor``: the smallest expected anonymity set K (people in the UK
    sharing every disclosed value) an alert may have; members select segments
    within ``log2(67 million / floor)`` bits and refuse received sets above it.

    Extending: new rules are new fields with defaults. A node that does not know
    a field cannot decode (so cannot verify) a policy carrying it and keeps the
    policy it holds; networks raise the fields' use only once members run a
    version that knows them.
    """

    network_id: NetworkId
    serial: Counter
    issued_at: Time
    anonymity_floor: Annotated[int, Field(strict=True, ge=2, le=MAX_ANONYMITY_FLOOR)]
    notice_quorum: Annotated[int, Field(strict=True, ge=1, le=1000)] = MIN_COMMITTEE
    """Banning notices: the fewest votes cast for a decision to uphold."""
    notice_majority: Percent = 50
    """Upholding takes more than this percent of the eligible committee (50: a simple majority)."""
    notice_lifetime_majority: Percent = 75
    """The same for a lifetime ban (over two years)."""
    notice_vote_days: Annotated[int, Field(strict=True, ge=1, le=90)] = 14
    """How long a vote (on a nomination or an appeal) stays open."""
    notice_appeal_suspends: StrictBool = False
    """Whether a ban under appeal stops being enforced until the appeal is decided."""
    committee_voters: tuple[CommitteeVoter, ...] = Field(default=(), max_length=256)
    """The committee's voting pseudonyms (one per committee member)."""
    signature: Bytes64

    _OMIT_AT_DEFAULT: ClassVar[frozenset[str]] = frozenset(
        {
            "notice_quorum",
            "notice_majority",
            "notice_lifetime_majority",
            "notice_vote_days",
            "notice_appeal_suspends",
            "committee_voters",
        }
    )

    def signed_bytes(self) -> bytes:
        return self._body("signature")

    @property
    def voter_keys(self) -> frozenset[bytes]:
        return frozenset(v.key for v in self.committee_voters)


class InviteToken(WireModel):
    """What a joining venue receives: where to connect and a one-time secret."""

    network_id: NetworkId
    authority_public_key: Bytes32
    token_id: Bytes16
    secret: Bytes16
    venue: VenueName
    groups: tuple[GroupName, ...] = Field(max_length=_MAX_GROUPS)
    expires_at: Time
    bootstrap_addrs: tuple[Annotated[StrictStr, Field(min_length=1, max_length=256)], ...] = Field(
        max_length=_MAX_BOOTSTRAP
    )

    @model_validator(mode="after")
    def _network_matches_key(self) -> Self:
        if network_id_from_public_key(self.authority_public_key) != self.network_id:
            raise ValueError("network_id does not match authority_public_key")
        return self

    def encode(self) -> str:
        """``dwinv1-`` + lower-case Crockford base32 of (compact body || 5-byte check).

        The compact body is the canonical array [authority_public_key,
        token_id, secret, venue, groups, expires_at, bootstrap_addrs] (the
        network id is derived from the key), so the text stays short.
        """
        body = canonical_pack(
            [
                self.authority_public_key,
                self.token_id,
                self.secret,
                self.venue,
                self.groups,
                self.expires_at,
                self.bootstrap_addrs,
            ]
        )
        check = digest(Purpose.INVITE, body, _INVITE_CHECK_SIZE)
        return INVITE_PREFIX + b32encode(body + check).lower()

    @classmethod
    def decode(cls, text: str) -> InviteToken:
        """Parse an encoded invite; raise InvalidToken for anything mistyped or truncated."""
        if not isinstance(text, str):
            raise InvalidToken()
        compact = "".join(text.split())
        if not compact.lower().startswith(INVITE_PREFIX) or len(compact) > 8192:
            raise InvalidToken()
        try:
            raw = b32decode(compact[len(INVITE_PREFIX) :])
        except InvalidEncoding as exc:
            raise InvalidToken() from exc
        body, check = raw[:-_INVITE_CHECK_SIZE], raw[-_INVITE_CHECK_SIZE:]
        if len(raw) <= _INVITE_CHECK_SIZE or not hmac.compare_digest(
            digest(Purpose.INVITE, body, _INVITE_CHECK_SIZE), check
        ):
            raise InvalidToken()
        try:
            return cls.from_dict(_invite_fields(canonical_unpack(body)))
        except InvalidEncoding as exc:
            raise InvalidToken(f"the invite token's content is not valid ({exc.message})") from exc


def _invite_fields(fields: object) -> dict[str, object]:
    if not isinstance(fields, list) or len(fields) != 7:
        raise InvalidEncoding("the invite token body is not a 7-element array")
    key, token_id, secret, venue, groups, expires_at, addrs = fields
    if not isinstance(key, bytes) or len(key) != 32:
        raise InvalidEncoding("authority_public_key: exactly 32 bytes")
    return {
        "network_id": network_id_from_public_key(key),
        "authority_public_key": key,
        "token_id": token_id,
        "secret": secret,
        "venue": venue,
        "groups": groups,
        "expires_at": expires_at,
        "bootstrap_addrs": addrs,
    }


class JoinRequest(WireModel):
    """A joining node's request for a certificate, signed by its node key."""

    network_id: NetworkId
    token_id: Bytes16
    venue: VenueName
    groups: tuple[GroupName, ...] = Field(max_length=_MAX_GROUPS)
    expires_at: Time
    public_key: Bytes32
    requested_at: Time
    proof: Bytes32
    signature: Bytes64

    @property
    def peer_id(self) -> str:
        return peer_id_from_public_key(self.public_key)

    def signed_bytes(self) -> bytes:
        return self._body("signature")

    def proved_bytes(self) -> bytes:
        return self._body("signature", "proof")


def _invite_terms(
    network_id: str, token_id: bytes, venue: str, groups: Sequence[str], expires_at: int
) -> bytes:
    return canonical_pack(
        {
            "network_id": network_id,
            "token_id": token_id,
            "venue": venue,
            "groups": list(groups),
            "expires_at": expires_at,
        }
    )


def join_request(token: InviteToken, identity: NodeIdentity, *, now: int) -> JoinRequest:
    """Build the signed join request for ``token``; raise InviteExpired if it has expired."""
    if now >= token.expires_at:
        raise InviteExpired()
    fields = {
        "network_id": token.network_id,
        "token_id": token.token_id,
        "venue": token.venue,
        "groups": token.groups,
        "expires_at": token.expires_at,
        "public_key": identity.public_key,
        "requested_at": now,
    }
    proof = derive(token.secret, Purpose.JOIN, canonical_pack(fields))
    unsigned = {**fields, "proof": proof}
    signature = identity.sign(Purpose.JOIN, canonical_pack(unsigned))
    return JoinRequest.from_dict({**unsigned, "signature": signature})


class AuthorityKey(SigningKey):
    """A network authority's Ed25519 key (held by the network coordinator)."""

    __slots__ = ()

    @classmethod
    def from_seed(cls, seed: bytes) -> AuthorityKey:
        base = SigningKey.from_seed(seed)
        return cls(base._key)

    @classmethod
    def generate(cls, random_bytes: RandomBytes = nacl.utils.random) -> AuthorityKey:
        return cls.from_seed(random_bytes(32))

    @property
    def network_id(self) -> str:
        return network_id_from_public_key(self.public_key)

    def issue_certificate(
        self,
        *,
        venue: str,
        peer_id: str,
        groups: Sequence[str],
        committee: bool,
        jurisdiction: str,
        valid_from: int,
        valid_until: int,
        agreement_version: str,
        serial: int,
        key_manager: bool = False,
        liaison: bool = False,
    ) -> Certificate:
        """Sign a membership certificate. Groups are stored sorted and de-duplicated."""
        if valid_until <= valid_from:
            raise InvalidEncoding("Certificate: valid_until must be after valid_from")
        fields = {
            "network_id": self.network_id,
            "venue": venue,
            "peer_id": peer_id,
            "groups": _groups(groups),
            "committee": committee,
            "key_manager": key_manager,
            "liaison": liaison,
            "jurisdiction": jurisdiction,
            "valid_from": valid_from,
            "valid_until": valid_until,
            "agreement_version": agreement_version,
            "serial": serial,
        }
        # Validate before signing so a bad field is reported as such.
        draft = Certificate.from_dict({**fields, "signature": bytes(64)})
        return draft.model_copy(
            update={"signature": self.sign(Purpose.CERTIFICATE, draft.signed_bytes())}
        )

    def revoke(
        self,
        *,
        serial: int,
        issued_at: int,
        peer_ids: Collection[str] = (),
        certificate_serials: Collection[int] = (),
    ) -> RevocationList:
        """Sign a revocation list. It replaces, not extends, earlier lists: include everything."""
        fields = {
            "network_id": self.network_id,
            "serial": serial,
            "issued_at": issued_at,
            "revoked_peer_ids": tuple(sorted(set(peer_ids))),
            "revoked_certificate_serials": tuple(sorted(set(certificate_serials))),
        }
        draft = RevocationList.from_dict({**fields, "signature": bytes(64)})
        return draft.model_copy(
            update={"signature": self.sign(Purpose.REVOCATION, draft.signed_bytes())}
        )

    def voter_seed(self, peer_id: str) -> bytes:
        """A committee member's voting pseudonym seed: a PRF of the authority seed and its
        peer id, so the authority alone can say whose a pseudonym is."""
        return derive(
            self.to_seed(), Purpose.NOTICE_VOTER, self.network_id.encode() + peer_id.encode()
        )

    def sign_policy(
        self,
        *,
        serial: int,
        issued_at: int,
        anonymity_floor: int,
        committee: Collection[str] = (),
        notice_rules: dict[str, object] | None = None,
    ) -> NetworkPolicy:
        """Sign a network policy (it replaces every policy of a lower serial).

        ``committee``: the committee members' peer ids; each gets a voting pseudonym.
        ``notice_rules``: the ``notice_*`` fields (defaults for those left out).
        """
        voters = []
        for peer_id in sorted(set(committee)):
            seed = self.voter_seed(peer_id)
            recipient = x25519_public_from_ed25519(peer_id_to_public_key(peer_id))
            voters.append(
                {
                    "key": SigningKey.from_seed(seed).public_key,
                    "sealed_seed": nacl.bindings.crypto_box_seal(seed, recipient),
                }
            )
        voters.sort(key=lambda v: v["key"])
        draft = NetworkPolicy.from_dict(
            {
                "network_id": self.network_id,
                "serial": serial,
                "issued_at": issued_at,
                "anonymity_floor": anonymity_floor,
                **(notice_rules or {}),
                "committee_voters": tuple(voters),
                "signature": bytes(64),
            }
        )
        return draft.model_copy(
            update={"signature": self.sign(Purpose.POLICY, draft.signed_bytes())}
        )

    def selection_key(self) -> bytes:
        """The network's selection key: a PRF of the authority seed and the network id.

        Fixed for the network's life (group-key rotations do not touch it) and
        recomputable from the authority key alone, so an authority moved to
        another node (export, import) still hands members the same key.
        """
        return derive(self.to_seed(), Purpose.SELECTION_KEY, self.network_id.encode())

    def _invite_secret(
        self, token_id: bytes, venue: str, groups: Sequence[str], expires_at: int
    ) -> bytes:
        terms = _invite_terms(self.network_id, token_id, venue, groups, expires_at)
        return derive(self.to_seed(), Purpose.INVITE, terms, 16)

    def issue_invite(
        self,
        *,
        venue: str,
        groups: Sequence[str],
        bootstrap_addrs: Sequence[str],
        expires_at: int,
        random_bytes: RandomBytes = nacl.utils.random,
    ) -> InviteToken:
        """A one-time invite for ``venue`` to join ``groups``; nothing needs storing."""
        token_id = random_bytes(16)
        sorted_groups = _groups(groups)
        return InviteToken.from_dict(
            {
                "network_id": self.network_id,
                "authority_public_key": self.public_key,
                "token_id": token_id,
                "secret": self._invite_secret(token_id, venue, sorted_groups, expires_at),
                "venue": venue,
                "groups": sorted_groups,
                "expires_at": expires_at,
                "bootstrap_addrs": tuple(bootstrap_addrs),
            }
        )

    def accept_join(
        self,
        request: JoinRequest,
        *,
        now: int,
        used: Collection[bytes],
        valid_until: int,
        jurisdiction: str,
        agreement_version: str,
        serial: int,
        committee: bool = False,
    ) -> Certificate:
        """Check a join request and issue its certificate (valid from ``now``).

        Raises BadSignature (altered request), WrongNetwork, InviteExpired,
        InviteReplayed (``request.token_id`` in ``used``) or InviteUnknown (no
        such invite from this authority). The caller must add
        ``request.token_id`` to its persisted used set before sending the
        certificate.
        """
        verify(Purpose.JOIN, request.public_key, request.signed_bytes(), request.signature)
        if request.network_id != self.network_id:
            raise WrongNetwork("the join request's network_id is not this network's")
        if now >= request.expires_at:
            raise InviteExpired()
        if request.token_id in used:
            raise InviteReplayed()
        secret = self._invite_secret(
            request.token_id, request.venue, request.groups, request.expires_at
        )
        expected = derive(secret, Purpose.JOIN, request.proved_bytes())
        if not hmac.compare_digest(expected, request.proof):
            raise InviteUnknown()
        return self.issue_certificate(
            venue=request.venue,
            peer_id=request.peer_id,
            groups=request.groups,
            committee=committee,
            jurisdiction=jurisdiction,
            valid_from=now,
            valid_until=valid_until,
            agreement_version=agreement_version,
            serial=serial,
        )


def voter_identity(policy: NetworkPolicy, identity: NodeIdentity) -> NodeIdentity | None:
    """This node's voting pseudonym in ``policy`` (None: it is not on the committee).

    A NodeIdentity, so that a vote's reason can be sealed from the pseudonym too.
    """
    for voter in policy.committee_voters:
        try:
            seed = nacl.bindings.crypto_box_seal_open(
                voter.sealed_seed, identity.x25519_public_key, identity.x25519_private_key
            )
        except (nacl.exceptions.CryptoError, ValueError):
            continue
        pseudonym = NodeIdentity.from_seed(seed)
        if pseudonym.public_key == voter.key:
            return pseudonym
    return None


def verify_revocation_list(
    revocations: RevocationList, *, authority_public_key: bytes, network_id: str
) -> None:
    """Check a revocation list's network and signature."""
    if revocations.network_id != network_id:
        raise RevocationListError("the revocation list's network_id is not this network's")
    try:
        verify(
            Purpose.REVOCATION,
            authority_public_key,
            revocations.signed_bytes(),
            revocations.signature,
        )
    except BadSignature as exc:
        raise RevocationListError(
            "the revocation list's signature does not verify: it was altered or forged"
        ) from exc


def accept_revocation_list(
    new: RevocationList,
    current: RevocationList | None,
    *,
    authority_public_key: bytes,
    network_id: str,
) -> RevocationList:
    """Verify ``new`` and return it if its serial is higher than ``current``'s.

    Raises StaleRevocationList for an equal or lower serial (replay/rollback).
    """
    verify_revocation_list(new, authority_public_key=authority_public_key, network_id=network_id)
    if current is not None and new.serial <= current.serial:
        raise StaleRevocationList()
    return new


def accept_policy(
    new: NetworkPolicy,
    current: NetworkPolicy | None,
    *,
    authority_public_key: bytes,
    network_id: str,
) -> NetworkPolicy:
    """Verify ``new`` and return it if its serial is higher than ``current``'s.

    Raises PolicyError (another network's, or a bad signature) or StalePolicy
    (an equal or lower serial: replay or rollback).
    """
    if new.network_id != network_id:
        raise PolicyError("the network policy's network_id is not this network's")
    try:
        verify(Purpose.POLICY, authority_public_key, new.signed_bytes(), new.signature)
    except BadSignature as exc:
        raise PolicyError(
            "the network policy's signature does not verify: it was altered or forged"
        ) from exc
    if current is not None and new.serial <= current.serial:
        raise StalePolicy()
    return new


def verify_certificate(
    certificate: Certificate,
    *,
    authority_public_key: bytes,
    network_id: str,
    now: int,
    revocations: RevocationList | None,
) -> None:
    """Check a membership certificate at time ``now`` (valid_from <= now < valid_until).

    Raises WrongNetwork, CertificateBadSignature, CertificateRevoked,
    CertificateNotYetValid or CertificateExpired, checked in that order. The
    revocation list, if given, is verified too.
    """
    if certificate.network_id != network_id:
        raise WrongNetwork("the certificate's network_id is not this network's")
    try:
        verify(
            Purpose.CERTIFICATE,
            authority_public_key,
            certificate.signed_bytes(),
            certificate.signature,
        )
    except BadSignature as exc:
        raise CertificateBadSignature() from exc
    if revocations is not None:
        verify_revocation_list(
            revocations, authority_public_key=authority_public_key, network_id=network_id
        )
        if revocations.covers(certificate):
            raise CertificateRevoked()
    if now < certificate.valid_from:
        raise CertificateNotYetValid()
    if now >= certificate.valid_until:
        raise CertificateExpired()
