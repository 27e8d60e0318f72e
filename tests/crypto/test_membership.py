from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.crypto import (
    AuthorityKey,
    BadSignature,
    Certificate,
    CertificateBadSignature,
    CertificateError,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    CryptoError,
    InvalidEncoding,
    InvalidToken,
    InviteExpired,
    InviteReplayed,
    InviteToken,
    InviteUnknown,
    JoinRequest,
    NodeIdentity,
    RevocationList,
    RevocationListError,
    StaleRevocationList,
    WrongNetwork,
    accept_revocation_list,
    join_request,
    network_id_from_public_key,
    verify_certificate,
    verify_revocation_list,
)

Random = Callable[[str], Callable[[int], bytes]]
T0 = 1_700_000_000
DAY = 86_400


def issue(authority: AuthorityKey, node: NodeIdentity, serial: int = 7) -> Certificate:
    return authority.issue_certificate(
        venue="The Crown & Anchor",
        peer_id=node.peer_id,
        groups=["town-centre", "all", "all"],
        committee=True,
        jurisdiction="GB-ENG",
        valid_from=T0,
        valid_until=T0 + 365 * DAY,
        agreement_version="2024.1",
        serial=serial,
    )


def check(cert: Certificate, authority: AuthorityKey, now: int = T0 + DAY, **kw: object) -> None:
    verify_certificate(
        cert,
        authority_public_key=kw.get("key", authority.public_key),  # type: ignore[arg-type]
        network_id=kw.get("network_id", authority.network_id),  # type: ignore[arg-type]
        now=now,
        revocations=kw.get("revocations"),  # type: ignore[arg-type]
    )


def test_network_id_is_derived_from_the_authority_key(authority: AuthorityKey) -> None:
    nid = authority.network_id
    assert nid == network_id_from_public_key(authority.public_key)
    assert len(nid) == 16
    assert nid == nid.lower()
    other = AuthorityKey.from_seed(bytes(32))
    assert other.network_id != nid


def test_certificate_fields_and_round_trip(authority: AuthorityKey, alice: NodeIdentity) -> None:
    cert = issue(authority, alice)
    assert cert.groups == ("all", "town-centre")
    assert cert.peer_id == alice.peer_id
    assert cert.network_id == authority.network_id
    again = Certificate.from_bytes(cert.to_bytes())
    assert again == cert
    check(again, authority)


def test_validity_window(authority: AuthorityKey, alice: NodeIdentity) -> None:
    cert = issue(authority, alice)
    check(cert, authority, now=T0)
    check(cert, authority, now=T0 + 365 * DAY - 1)
    with pytest.raises(CertificateNotYetValid):
        check(cert, authority, now=T0 - 1)
    with pytest.raises(CertificateExpired):
        check(cert, authority, now=T0 + 365 * DAY)


def test_wrong_network(authority: AuthorityKey, alice: NodeIdentity) -> None:
    other = AuthorityKey.from_seed(b"\x01" * 32)
    cert = issue(other, alice)
    with pytest.raises(WrongNetwork):
        check(cert, authority)


def test_forged_by_another_key_claiming_the_network(
    authority: AuthorityKey, alice: NodeIdentity
) -> None:
    other = AuthorityKey.from_seed(b"\x01" * 32)
    forged = issue(other, alice).model_copy(update={"network_id": authority.network_id})
    with pytest.raises(CertificateBadSignature):
        check(forged, authority)


def test_revoked_by_peer_id_and_by_serial(
    authority: AuthorityKey, alice: NodeIdentity, bob: NodeIdentity
) -> None:
    cert = issue(authority, alice, serial=7)
    by_peer = authority.revoke(serial=1, issued_at=T0, peer_ids=[alice.peer_id])
    by_serial = authority.revoke(serial=2, issued_at=T0, certificate_serials=[7])
    unrelated = authority.revoke(serial=3, issued_at=T0, peer_ids=[bob.peer_id])
    with pytest.raises(CertificateRevoked):
        check(cert, authority, revocations=by_peer)
    with pytest.raises(CertificateRevoked):
        check(cert, authority, revocations=by_serial)
    check(cert, authority, revocations=unrelated)


def test_errors_are_distinct_and_all_certificate_errors() -> None:
    classes = [
        CertificateExpired,
        CertificateNotYetValid,
        CertificateRevoked,
        WrongNetwork,
        CertificateBadSignature,
    ]
    assert len(set(classes)) == len(classes)
    for cls in classes:
        assert issubclass(cls, CertificateError)
        assert cls().message
    assert issubclass(CertificateBadSignature, BadSignature)


def flip_each_byte(data: bytes) -> list[bytes]:
    return [data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :] for i in range(len(data))]


def test_every_flipped_byte_of_a_certificate_fails(
    authority: AuthorityKey, alice: NodeIdentity
) -> None:
    raw = issue(authority, alice).to_bytes()
    for tampered in flip_each_byte(raw):
        with pytest.raises(CryptoError):
            check(Certificate.from_bytes(tampered), authority)


def test_every_flipped_byte_of_a_revocation_list_fails(
    authority: AuthorityKey, alice: NodeIdentity
) -> None:
    rl = authority.revoke(serial=4, issued_at=T0, peer_ids=[alice.peer_id], certificate_serials=[9])
    raw = rl.to_bytes()
    kw = {"authority_public_key": authority.public_key, "network_id": authority.network_id}
    verify_revocation_list(RevocationList.from_bytes(raw), **kw)  # type: ignore[arg-type]
    for tampered in flip_each_byte(raw):
        with pytest.raises((InvalidEncoding, RevocationListError)):
            verify_revocation_list(RevocationList.from_bytes(tampered), **kw)  # type: ignore[arg-type]


def test_revocation_list_serial_only_goes_up(authority: AuthorityKey) -> None:
    kw = {"authority_public_key": authority.public_key, "network_id": authority.network_id}
    first = authority.revoke(serial=5, issued_at=T0)
    assert accept_revocation_list(first, None, **kw) is first  # type: ignore[arg-type]
    newer = authority.revoke(serial=6, issued_at=T0 + 1)
    assert accept_revocation_list(newer, first, **kw) is newer  # type: ignore[arg-type]
    with pytest.raises(StaleRevocationList):
        accept_revocation_list(first, newer, **kw)  # type: ignore[arg-type]
    with pytest.raises(StaleRevocationList):
        accept_revocation_list(newer, newer, **kw)  # type: ignore[arg-type]
    forged = AuthorityKey.from_seed(b"\x02" * 32).revoke(serial=99, issued_at=T0)
    with pytest.raises(RevocationListError):
        accept_revocation_list(forged, newer, **kw)  # type: ignore[arg-type]


def test_a_forged_revocation_list_is_refused_when_checking_certificates(
    authority: AuthorityKey, alice: NodeIdentity
) -> None:
    cert = issue(authority, alice)
    good = authority.revoke(serial=1, issued_at=T0)
    forged = good.model_copy(update={"revoked_peer_ids": (alice.peer_id,)})
    with pytest.raises(RevocationListError):
        check(cert, authority, revocations=forged)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("jurisdiction", "England"),
        ("groups", ["Bad Group"]),
        ("venue", ""),
        ("peer_id", "not-a-peer-id"),
        ("serial", -1),
        ("agreement_version", ""),
    ],
)
def test_issue_certificate_validates_fields(
    authority: AuthorityKey, alice: NodeIdentity, field: str, value: object
) -> None:
    kwargs: dict[str, object] = {
        "venue": "The Crown",
        "peer_id": alice.peer_id,
        "groups": ["all"],
        "committee": False,
        "jurisdiction": "GB",
        "valid_from": T0,
        "valid_until": T0 + DAY,
        "agreement_version": "1",
        "serial": 1,
    }
    kwargs[field] = value
    with pytest.raises(InvalidEncoding, match=field):
        authority.issue_certificate(**kwargs)  # type: ignore[arg-type]


def test_error_messages_name_the_field_not_the_value(authority: AuthorityKey) -> None:
    with pytest.raises(InvalidEncoding) as info:
        authority.issue_certificate(
            venue="Secret Venue Name",
            peer_id="Jane Doe 1990-01-01",
            groups=["all"],
            committee=False,
            jurisdiction="GB",
            valid_from=T0,
            valid_until=T0 + DAY,
            agreement_version="1",
            serial=1,
        )
    assert "peer_id" in info.value.message
    assert "Jane" not in info.value.message


# -- invites -------------------------------------------------------------------------------


def invite(authority: AuthorityKey, make_random: Random, label: str = "inv") -> InviteToken:
    return authority.issue_invite(
        venue="The Bell",
        groups=["all", "late-licence"],
        bootstrap_addrs=["/dns4/hub.example.org/tcp/4001"],
        expires_at=T0 + 7 * DAY,
        random_bytes=make_random(label),
    )


def accept(authority: AuthorityKey, req: JoinRequest, used: set[bytes], now: int) -> Certificate:
    return authority.accept_join(
        req,
        now=now,
        used=used,
        valid_until=now + 365 * DAY,
        jurisdiction="GB",
        agreement_version="2024.1",
        serial=11,
    )


def test_invite_encode_decode(authority: AuthorityKey, make_random: Random) -> None:
    tok = invite(authority, make_random)
    text = tok.encode()
    assert text.startswith("dwinv1-")
    assert len(text) < 300
    assert InviteToken.decode(text) == tok
    assert InviteToken.decode("  " + text.upper().replace("DWINV1-", "dwinv1-") + "\n") == tok
    assert tok.network_id == authority.network_id
    assert tok.authority_public_key == authority.public_key


def test_join_flow(authority: AuthorityKey, bob: NodeIdentity, make_random: Random) -> None:
    tok = InviteToken.decode(invite(authority, make_random).encode())
    req = join_request(tok, bob, now=T0 + DAY)
    req = JoinRequest.from_bytes(req.to_bytes())
    used: set[bytes] = set()
    cert = accept(authority, req, used, T0 + DAY)
    assert cert.peer_id == bob.peer_id
    assert cert.venue == "The Bell"
    assert cert.groups == ("all", "late-licence")
    check(cert, authority, now=T0 + 2 * DAY)
    used.add(req.token_id)
    with pytest.raises(InviteReplayed):
        accept(authority, req, used, T0 + DAY)
    again = join_request(tok, bob, now=T0 + DAY + 5)
    with pytest.raises(InviteReplayed):
        accept(authority, again, used, T0 + DAY + 5)


def test_expired_invite(authority: AuthorityKey, bob: NodeIdentity, make_random: Random) -> None:
    tok = invite(authority, make_random)
    with pytest.raises(InviteExpired):
        join_request(tok, bob, now=T0 + 7 * DAY)
    req = join_request(tok, bob, now=T0 + 7 * DAY - 10)
    with pytest.raises(InviteExpired):
        accept(authority, req, set(), T0 + 7 * DAY)


def test_unknown_invite(authority: AuthorityKey, bob: NodeIdentity, make_random: Random) -> None:
    tok = invite(authority, make_random)
    guessed = tok.model_copy(update={"secret": bytes(16)})
    req = join_request(guessed, bob, now=T0)
    with pytest.raises(InviteUnknown):
        accept(authority, req, set(), T0)
    other = AuthorityKey.from_seed(b"\x03" * 32)
    foreign = join_request(invite(other, make_random), bob, now=T0)
    with pytest.raises(WrongNetwork):
        accept(authority, foreign, set(), T0)


def test_joiner_cannot_change_the_invited_terms(
    authority: AuthorityKey, bob: NodeIdentity, make_random: Random
) -> None:
    tok = invite(authority, make_random)
    widened = tok.model_copy(update={"groups": ("all", "committee", "late-licence")})
    req = join_request(widened, bob, now=T0)
    with pytest.raises(InviteUnknown):
        accept(authority, req, set(), T0)


def test_every_flipped_byte_of_a_join_request_fails(
    authority: AuthorityKey, bob: NodeIdentity, make_random: Random
) -> None:
    raw = join_request(invite(authority, make_random), bob, now=T0).to_bytes()
    for tampered in flip_each_byte(raw):
        with pytest.raises((InvalidEncoding, BadSignature, WrongNetwork, InviteUnknown)):
            accept(authority, JoinRequest.from_bytes(tampered), set(), T0)


def test_every_flipped_character_of_an_invite_fails(
    authority: AuthorityKey, make_random: Random
) -> None:
    text = invite(authority, make_random).encode()
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    for i in range(len("dwinv1-"), len(text)):
        swapped = alphabet[(alphabet.index(text[i]) + 1) % 32]
        with pytest.raises(InvalidToken):
            InviteToken.decode(text[:i] + swapped + text[i + 1 :])


@pytest.mark.parametrize("bad", ["", "dwinv1-", "hello", "dwinv1-!!!!", "dwinv2-abcdef"])
def test_garbage_invites(bad: str) -> None:
    with pytest.raises(InvalidToken):
        InviteToken.decode(bad)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_is_an_invalid_token(text: str) -> None:
    with pytest.raises(InvalidToken):
        InviteToken.decode("dwinv1-" + text)


def test_truncated_invite(authority: AuthorityKey, make_random: Random) -> None:
    text = invite(authority, make_random).encode()
    for cut in (1, 2, 5, 20, len(text) // 2):
        with pytest.raises(InvalidToken):
            InviteToken.decode(text[:-cut])


def test_the_key_manager_flag_is_signed_and_off_by_default(
    authority: AuthorityKey, alice: NodeIdentity
) -> None:
    cert = issue(authority, alice)
    assert cert.key_manager is False
    # A member cannot promote itself to key manager: the flag is under the signature.
    promoted = cert.model_copy(update={"key_manager": True})
    with pytest.raises(CertificateBadSignature):
        check(promoted, authority)
    manager = authority.issue_certificate(
        venue="Pubwatch coordinator",
        peer_id=alice.peer_id,
        groups=["all"],
        committee=False,
        key_manager=True,
        jurisdiction="GB-ENG",
        valid_from=T0,
        valid_until=T0 + DAY * 2,
        agreement_version="2024.1",
        serial=9,
    )
    check(Certificate.from_bytes(manager.to_bytes()), authority)
    assert Certificate.from_bytes(manager.to_bytes()).key_manager is True
