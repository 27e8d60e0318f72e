"""The typed errors of doorwatch.crypto.

Every error carries a user-facing message naming the field and the rule at
fault, never a value (values may be personal data or key material). Foreign
exceptions (PyNaCl, msgpack, pydantic) are mapped to these once, where they
are raised.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error doorwatch.crypto raises."""

    default_message = "a cryptographic check failed"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class InvalidEncoding(CryptoError):
    """Bytes or text that do not decode to the expected canonical structure."""

    default_message = "the data is not in the expected canonical encoding"


class InvalidKey(CryptoError):
    """A key of the wrong length or form, or a key that does not match its holder."""

    default_message = "the key is not valid"


class InvalidPurpose(CryptoError):
    """A purpose string that is not lowercase letters, digits and hyphens."""

    default_message = "the purpose must be 1-32 characters of a-z, 0-9 and '-'"


class BadSignature(CryptoError):
    """A signature that does not verify: the data was altered or signed by another key."""

    default_message = (
        "the signature does not verify: the data was altered or not signed by this key"
    )


class DecryptionFailed(CryptoError):
    """Ciphertext that does not decrypt and authenticate under the key given."""

    default_message = "decryption failed: wrong key, wrong context or altered ciphertext"


class WrongPassphrase(DecryptionFailed):
    """A passphrase-sealed secret that does not open with the passphrase given."""

    default_message = "wrong passphrase, or the sealed data was altered"


class InvalidPeerId(CryptoError):
    """A libp2p peer id that is not an inlined Ed25519 public key."""

    default_message = "the peer id is not a base58 identity-multihash Ed25519 peer id"


class InvalidShortId(CryptoError):
    """A short id with the wrong length, a character outside the alphabet or a bad check."""

    default_message = "the short id is mistyped: its check character does not match"


class InvalidPoint(CryptoError):
    """A group element that is not a valid prime-order Ed25519 point."""

    default_message = "a point is not a valid element of the prime-order Ed25519 group"


class PetError(CryptoError):
    """A private equality test message that does not fit the exchange."""

    default_message = "the private equality test message does not match the request"


class PetProofInvalid(PetError):
    """A photo request's proof of a match does not open the originator's commitment."""

    default_message = "the proof of a match is not the originator's evaluated value"


class InvalidAlertId(BadSignature):
    """An envelope whose alert_id is not derived from its originator's key and alert_salt."""

    default_message = "alert_id is not derived from the originator's key and the alert_salt"


class CertificateError(CryptoError):
    """Base class of the membership-certificate checks."""

    default_message = "the membership certificate is not valid"


class CertificateExpired(CertificateError):
    default_message = "the membership certificate has expired (valid_until is in the past)"


class CertificateNotYetValid(CertificateError):
    default_message = "the membership certificate is not valid yet (valid_from is in the future)"


class CertificateRevoked(CertificateError):
    default_message = "the membership certificate or its peer id is on the revocation list"


class WrongNetwork(CertificateError):
    default_message = "the network_id does not match this network"


class CertificateBadSignature(CertificateError, BadSignature):
    default_message = "the certificate's signature does not verify: it was altered or forged"


class RevocationListError(CryptoError):
    default_message = "the revocation list is not valid"


class StaleRevocationList(RevocationListError):
    default_message = "the revocation list's serial is not higher than the one already held"


class PolicyError(CryptoError):
    default_message = "the network policy is not valid"


class StalePolicy(PolicyError):
    default_message = "the network policy's serial is not higher than the one already held"


class InviteError(CryptoError):
    default_message = "the invite is not valid"


class InvalidToken(InviteError):
    default_message = (
        "the invite token is mistyped or incomplete: it must be the whole 'dwinv1-...' text"
    )


class InviteExpired(InviteError):
    default_message = "the invite has expired (expires_at is in the past)"


class InviteUnknown(InviteError):
    default_message = "the invite was not issued by this network authority"


class InviteReplayed(InviteError):
    default_message = "the invite has already been used: invites are one-time"
