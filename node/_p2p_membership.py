"""Certificate-based admission for the membership gate.

``NetworkMembership`` holds, for one network, the certificates the node knows
(its peers' and its own), the current revocation list and the permitted
jurisdictions; ``admit(peer_id)`` says whether that peer has a valid,
unrevoked certificate from a permitted jurisdiction *now* (the node's clock).
``admit_any`` combines several networks (a venue may belong to several):
a peer is admitted if any shared network admits it.

``admit`` runs on every connection and every gossip message, so signatures
are verified once, when a certificate or revocation list is installed;
admission itself is set lookups and two comparisons.

Reasons are short fixed phrases (they are logged and counted), never a
certificate field's value.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from doorwatch.crypto import (
    Certificate,
    CertificateBadSignature,
    CertificateError,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    RevocationList,
    WrongNetwork,
    verify_certificate,
    verify_revocation_list,
)
from doorwatch.node._clock import Clock

NO_CERTIFICATE = "no certificate"
_REASONS: dict[type[CertificateError], str] = {
    WrongNetwork: "certificate for another network",
    CertificateBadSignature: "certificate signature invalid",
    CertificateRevoked: "certificate revoked",
    CertificateNotYetValid: "certificate not yet valid",
    CertificateExpired: "certificate expired",
}
JURISDICTION_REFUSED = "jurisdiction not permitted"


def jurisdiction_permitted(jurisdiction: str, permitted: Collection[str]) -> bool:
    """``GB-ENG`` is permitted by ``GB-ENG`` or by ``GB``."""
    return jurisdiction in permitted or jurisdiction.split("-", 1)[0] in permitted


class NetworkMembership:
    """Admission rule of one network (see the module docstring)."""

    def __init__(
        self,
        *,
        authority_public_key: bytes,
        network_id: str,
        clock: Clock,
        permitted_jurisdictions: Collection[str] | None = None,
    ) -> None:
        self.authority_public_key = authority_public_key
        self.network_id = network_id
        self._clock = clock
        self.permitted_jurisdictions = (
            None if permitted_jurisdictions is None else frozenset(permitted_jurisdictions)
        )
        self._certificates: dict[str, Certificate] = {}
        self._revocations: RevocationList | None = None
        self._revoked_peers: frozenset[str] = frozenset()
        self._revoked_serials: frozenset[int] = frozenset()

    def add_certificate(self, certificate: Certificate) -> None:
        """Remember a peer's certificate (a higher serial replaces a lower one).

        Raises the ``CertificateError`` of a certificate that is for another
        network or badly signed; validity in time is checked at admission.
        """
        if certificate.network_id != self.network_id:
            raise WrongNetwork("the certificate's network_id is not this network's")
        # now=valid_from: only the network and the signature can fail here.
        verify_certificate(
            certificate,
            authority_public_key=self.authority_public_key,
            network_id=self.network_id,
            now=certificate.valid_from,
            revocations=None,
        )
        known = self._certificates.get(certificate.peer_id)
        if known is None or certificate.serial > known.serial:
            self._certificates[certificate.peer_id] = certificate

    def set_revocations(self, revocations: RevocationList) -> None:
        """Install a verified revocation list (the caller enforces serial order,
        e.g. with ``accept_revocation_list``). Then call ``P2PHost.reevaluate``."""
        verify_revocation_list(
            revocations, authority_public_key=self.authority_public_key, network_id=self.network_id
        )
        self._revocations = revocations
        self._revoked_peers = frozenset(revocations.revoked_peer_ids)
        self._revoked_serials = frozenset(revocations.revoked_certificate_serials)

    def revoked(self, peer_id: str) -> bool:
        """Does the installed revocation list revoke ``peer_id`` (by peer id, or the serial
        of the certificate held for it)? An unknown or expired peer is not "revoked"."""
        if peer_id in self._revoked_peers:
            return True
        certificate = self._certificates.get(peer_id)
        return certificate is not None and certificate.serial in self._revoked_serials

    def certificate(self, peer_id: str) -> Certificate | None:
        return self._certificates.get(peer_id)

    def members(self) -> list[str]:
        return sorted(p for p in self._certificates if self.admit(p) is None)

    def admit(self, peer_id: str) -> str | None:
        certificate = self._certificates.get(peer_id)
        if certificate is None:
            return NO_CERTIFICATE
        # Signature and network were checked by add_certificate.
        if peer_id in self._revoked_peers or certificate.serial in self._revoked_serials:
            return _REASONS[CertificateRevoked]
        now = self._clock.now()
        if now < certificate.valid_from:
            return _REASONS[CertificateNotYetValid]
        if now >= certificate.valid_until:
            return _REASONS[CertificateExpired]
        if self.permitted_jurisdictions is not None and not jurisdiction_permitted(
            certificate.jurisdiction, self.permitted_jurisdictions
        ):
            return JURISDICTION_REFUSED
        return None


def admit_any(memberships: Sequence[NetworkMembership]) -> Callable[[str], str | None]:
    """An ``admit`` for the gate: admitted by any network, else the first reason."""

    def admit(peer_id: str) -> str | None:
        reasons = [m.admit(peer_id) for m in memberships]
        if any(r is None for r in reasons):
            return None
        return reasons[0] if reasons else NO_CERTIFICATE

    return admit
