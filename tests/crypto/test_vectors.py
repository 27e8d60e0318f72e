"""Known-answer vectors for every signed and encrypted format.

The vectors in ``vectors/v1.json`` were generated once from fixed seeds and a
deterministic byte stream and are committed: a change to any format (field
names, encoding, purpose strings, key derivation, nonce handling) changes the
bytes and fails here. If a change is deliberate it is a new format version:
bump the version, keep reading the old one, and regenerate with

    .venv/bin/python tests/crypto/test_vectors.py --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from doorwatch.crypto import (
    KIND_SEGMENTS,
    KIND_TOMBSTONE,
    AuthorityKey,
    Certificate,
    EnvelopeHeader,
    GroupKey,
    InviteToken,
    JoinRequest,
    NodeIdentity,
    PetProof,
    PetRequest,
    PetResponse,
    RevocationList,
    SignedEnvelope,
    StorageKey,
    canonical_pack,
    derive_alert_id,
    join_request,
    new_group_key,
    open_envelope,
    open_group_key,
    pet_blind,
    pet_check_proof,
    pet_finish,
    pet_respond,
    pet_secret,
    seal_envelope,
    seal_group_key,
    seal_to,
    sign_tombstone,
    unseal,
    verify,
    verify_certificate,
    verify_envelope,
    verify_password,
    verify_revocation_list,
)

VECTORS = Path(__file__).parent / "vectors" / "v1.json"
T0 = 1_750_000_000
PASSWORD = "correct horse battery staple"


ALERT_SALT = bytes(range(16, 32))
PET_REQUEST_ID = bytes(range(32, 48))
PET_VALUES = {"surname-dob": "SMITH|1990-04-01", "document": "X1"}
PET_OWN = {"surname-dob": "SMITH|1990-04-01", "document": "X2"}


def stream(label: str) -> Callable[[int], bytes]:
    counter = 0

    def random_bytes(n: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < n:
            out += hashlib.blake2b(
                b"doorwatch-kat:" + label.encode() + counter.to_bytes(8, "big"), digest_size=64
            ).digest()
            counter += 1
        return out[:n]

    return random_bytes


def seed(name: str) -> bytes:
    return hashlib.sha256(b"doorwatch-kat-seed:" + name.encode()).digest()


def build() -> dict[str, str]:
    """Every format, hex-encoded, from fixed seeds and streams."""
    authority = AuthorityKey.from_seed(seed("authority"))
    alice = NodeIdentity.from_seed(seed("alice"))
    bob = NodeIdentity.from_seed(seed("bob"))
    nid = authority.network_id
    cert = authority.issue_certificate(
        venue="The Crown",
        peer_id=alice.peer_id,
        groups=["all", "town-centre"],
        committee=True,
        jurisdiction="GB-ENG",
        valid_from=T0,
        valid_until=T0 + 31_536_000,
        agreement_version="2024.1",
        serial=1,
    )
    revocations = authority.revoke(
        serial=3, issued_at=T0 + 10, peer_ids=[bob.peer_id], certificate_serials=[2]
    )
    invite = authority.issue_invite(
        venue="The Bell",
        groups=["all"],
        bootstrap_addrs=["/ip4/192.0.2.1/tcp/4001"],
        expires_at=T0 + 604_800,
        random_bytes=stream("invite"),
    )
    join = join_request(invite, bob, now=T0 + 60)
    group_key = new_group_key(nid, "all", epoch=1, random_bytes=stream("groupkey"))
    sealed_group_key = seal_group_key(group_key, bob.x25519_public_key, alice, stream("gk-seal"))
    header = EnvelopeHeader(
        network_id=nid,
        group="all",
        epoch=1,
        alert_id=derive_alert_id(alice.peer_id, ALERT_SALT),
        alert_salt=ALERT_SALT,
        version=1,
        originator=alice.peer_id,
        created_at=T0,
        expires_at=T0 + 15_552_000,
        kind=KIND_SEGMENTS,
    )
    envelope = seal_envelope(
        header, b"segments: first[2:4]=HN; dob.year[-2:]=90", group_key, alice, stream("env")
    )
    tombstone = sign_tombstone(
        header.model_copy(update={"kind": KIND_TOMBSTONE, "version": 2}), alice
    )
    sealed_photo = seal_to(bob.x25519_public_key, b"\xff\xd8 photo", alice, "photo", stream("s"))
    storage = StorageKey.generate(stream("storage"))
    stored = storage.encrypt("details", b"reason: violence", stream("at-rest"), context=b"a1")
    pet_state, pet_request = pet_blind(bytes(range(16)), PET_REQUEST_ID, PET_VALUES, stream("pet"))
    _, pet_response = pet_respond(
        seed("pet-node-secret"), bytes(range(16)), pet_request, PET_OWN, stream("pet-own")
    )
    pet_result = pet_finish(pet_state, pet_response)
    key_manager_cert = authority.issue_certificate(
        venue="Pubwatch coordinator",
        peer_id=bob.peer_id,
        groups=["all"],
        committee=False,
        key_manager=True,
        jurisdiction="GB-ENG",
        valid_from=T0,
        valid_until=T0 + 31_536_000,
        agreement_version="2024.1",
        serial=2,
    )
    return {
        "canonical": canonical_pack({"b": [1, -1, "s", b"b", None, True], "a": {"x": 2**40}}).hex(),
        "alice_seed": alice.to_seed().hex(),
        "alice_public_key": alice.public_key.hex(),
        "alice_peer_id": alice.peer_id,
        "alice_short_id": alice.short_id,
        "alice_x25519_public_key": alice.x25519_public_key.hex(),
        "alice_signature_segment": alice.sign("segment", b"hello").hex(),
        "authority_public_key": authority.public_key.hex(),
        "network_id": nid,
        "certificate": cert.to_bytes().hex(),
        "key_manager_certificate": key_manager_cert.to_bytes().hex(),
        "revocation_list": revocations.to_bytes().hex(),
        "invite": invite.encode(),
        "join_request": join.to_bytes().hex(),
        "group_key": group_key.to_bytes().hex(),
        "sealed_group_key": sealed_group_key.hex(),
        "envelope": envelope.to_bytes().hex(),
        "envelope_plaintext": open_envelope(envelope, group_key).hex(),
        "tombstone": tombstone.to_bytes().hex(),
        "sealed_photo": sealed_photo.hex(),
        "storage_key": storage.to_bytes().hex(),
        "stored_details": stored.hex(),
        "pet_secret": pet_secret(seed("pet-node-secret"), bytes(range(16))).hex(),
        "pet_request": pet_request.to_bytes().hex(),
        "pet_response": pet_response.to_bytes().hex(),
        "pet_result": json.dumps(dict(pet_result.equal), sort_keys=True),
        "pet_proof": pet_result.proof().to_bytes().hex(),
    }


def committed() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text())
    return data


@pytest.fixture(scope="module")
def fresh() -> dict[str, str]:
    return build()


def test_every_vector_is_unchanged(fresh: dict[str, str]) -> None:
    old = committed()["vectors"]
    assert set(fresh) == set(old)
    changed = sorted(k for k in fresh if fresh[k] != old[k])
    assert changed == []


def test_committed_bytes_still_verify_and_open() -> None:
    v = committed()["vectors"]
    authority_pk = bytes.fromhex(v["authority_public_key"])
    nid = v["network_id"]
    alice_pk = bytes.fromhex(v["alice_public_key"])
    bob = NodeIdentity.from_seed(seed("bob"))

    verify("segment", alice_pk, b"hello", bytes.fromhex(v["alice_signature_segment"]))
    cert = Certificate.from_bytes(bytes.fromhex(v["certificate"]))
    rl = RevocationList.from_bytes(bytes.fromhex(v["revocation_list"]))
    verify_revocation_list(rl, authority_public_key=authority_pk, network_id=nid)
    verify_certificate(
        cert, authority_public_key=authority_pk, network_id=nid, now=T0 + 1, revocations=rl
    )
    invite = InviteToken.decode(v["invite"])
    assert invite.network_id == nid
    join = JoinRequest.from_bytes(bytes.fromhex(v["join_request"]))
    issued = AuthorityKey.from_seed(seed("authority")).accept_join(
        join,
        now=T0 + 61,
        used=(),
        valid_until=T0 + 100_000,
        jurisdiction="GB",
        agreement_version="1",
        serial=5,
    )
    assert issued.peer_id == bob.peer_id

    group_key = open_group_key(bytes.fromhex(v["sealed_group_key"]), bob, alice_pk)
    assert group_key == GroupKey.from_bytes(bytes.fromhex(v["group_key"]))
    envelope = SignedEnvelope.from_bytes(bytes.fromhex(v["envelope"]))
    verify_envelope(envelope, alice_pk)
    assert open_envelope(envelope, group_key) == bytes.fromhex(v["envelope_plaintext"])
    verify_envelope(SignedEnvelope.from_bytes(bytes.fromhex(v["tombstone"])), alice_pk)
    assert unseal(bytes.fromhex(v["sealed_photo"]), bob, alice_pk, "photo") == b"\xff\xd8 photo"
    storage = StorageKey(bytes.fromhex(v["storage_key"]))
    blob = bytes.fromhex(v["stored_details"])
    assert storage.decrypt("details", blob, context=b"a1") == b"reason: violence"
    # The requester's state is rebuilt from its stream; the committed answer must still
    # finish to the committed result (an originator's answer stays readable).
    pet_state, pet_request = pet_blind(bytes(range(16)), PET_REQUEST_ID, PET_VALUES, stream("pet"))
    assert pet_request == PetRequest.from_bytes(bytes.fromhex(v["pet_request"]))
    pet_response = PetResponse.from_bytes(bytes.fromhex(v["pet_response"]))
    result = pet_finish(pet_state, pet_response)
    assert dict(result.equal) == json.loads(v["pet_result"])
    assert json.loads(v["pet_result"]) == {"document": False, "surname-dob": True}
    # The originator's opening is rebuilt from its stream; the committed proof must open it.
    opening, _ = pet_respond(
        seed("pet-node-secret"), bytes(range(16)), pet_request, PET_OWN, stream("pet-own")
    )
    proof = PetProof.from_bytes(bytes.fromhex(v["pet_proof"]))
    assert pet_check_proof(opening, proof) == ("surname-dob",)
    km = Certificate.from_bytes(bytes.fromhex(v["key_manager_certificate"]))
    verify_certificate(
        km, authority_public_key=authority_pk, network_id=nid, now=T0 + 1, revocations=None
    )
    assert km.key_manager
    assert not cert.key_manager


def test_committed_password_hash_still_verifies() -> None:
    stored = committed()["argon2id_password_hash"]
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + "!")


def main(argv: list[str]) -> None:
    from doorwatch.crypto import hash_password

    if argv != ["--write"]:
        print(__doc__)
        return
    # Keep the committed Argon2id hash (hashing re-salts it, which is no format change).
    stored = committed()["argon2id_password_hash"] if VECTORS.exists() else None
    if stored is None or not verify_password(stored, PASSWORD):
        stored = hash_password(PASSWORD)
    data = {
        "comment": "doorwatch.crypto known-answer vectors, format v1; see test_vectors.py",
        "argon2id_password_hash": stored,
        "argon2id_password": PASSWORD,
        "vectors": build(),
    }
    VECTORS.parent.mkdir(parents=True, exist_ok=True)
    VECTORS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"wrote {VECTORS}")


if __name__ == "__main__":
    main(sys.argv[1:])
