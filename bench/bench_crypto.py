"""Crypto figures: envelope sign+encrypt / verify+decrypt per second, private
equality test time per combination (both sides), Argon2id verify time, and
certificate verification.

    python -m bench crypto [--seconds S] [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from doorwatch.crypto import (
    KIND_SEGMENTS,
    AuthorityKey,
    EnvelopeHeader,
    NodeIdentity,
    SignedEnvelope,
    hash_password,
    new_alert_id,
    new_group_key,
    open_envelope,
    pet_blind,
    pet_check_proof,
    pet_finish,
    pet_respond,
    seal_envelope,
    seal_to,
    unseal,
    verify_certificate,
    verify_envelope,
    verify_password,
)

T0 = 1_750_000_000


def rate(fn: Callable[[], object], seconds: float) -> tuple[float, int]:
    """Operations per second of ``fn`` over about ``seconds``."""
    fn()
    n = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(20):
            fn()
        n += 20
    return n / (time.perf_counter() - started), n


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench crypto")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per figure")
    parser.add_argument("--quick", action="store_true", help="0.2 s per figure")
    args = parser.parse_args(argv)
    seconds = 0.2 if args.quick else args.seconds

    authority = AuthorityKey.generate()
    alice = NodeIdentity.generate()
    bob = NodeIdentity.generate()
    key = new_group_key(authority.network_id, "all")
    envelope_alert_id, alert_salt = new_alert_id(alice.peer_id)
    header = EnvelopeHeader(
        network_id=authority.network_id,
        group="all",
        epoch=1,
        alert_id=envelope_alert_id,
        alert_salt=alert_salt,
        version=1,
        originator=alice.peer_id,
        created_at=T0,
        expires_at=T0 + 15_552_000,
        kind=KIND_SEGMENTS,
    )
    plaintext = os.urandom(200)
    wire = seal_envelope(header, plaintext, key, alice).to_bytes()
    print(f"segment envelope: {len(plaintext)} B plaintext -> {len(wire)} B on the wire")

    def seal() -> bytes:
        return seal_envelope(header, plaintext, key, alice).to_bytes()

    def check() -> bytes:
        env = SignedEnvelope.from_bytes(wire)
        verify_envelope(env)
        return open_envelope(env, key)

    ops, n = rate(seal, seconds)
    print(f"  sign+encrypt+encode   {ops:10,.0f} /s  ({1e6 / ops:7.1f} us each, n={n})")
    ops, n = rate(check, seconds)
    print(f"  decode+verify+decrypt {ops:10,.0f} /s  ({1e6 / ops:7.1f} us each, n={n})")

    cert = authority.issue_certificate(
        venue="The Crown",
        peer_id=bob.peer_id,
        groups=["all"],
        committee=False,
        jurisdiction="GB",
        valid_from=T0,
        valid_until=T0 + 10**7,
        agreement_version="1",
        serial=1,
    )
    rl = authority.revoke(serial=1, issued_at=T0, peer_ids=[alice.peer_id])
    ops, n = rate(
        lambda: verify_certificate(
            cert,
            authority_public_key=authority.public_key,
            network_id=authority.network_id,
            now=T0 + 1,
            revocations=rl,
        ),
        seconds,
    )
    print(f"certificate verify (with revocation list) {ops:8,.0f} /s  ({1e6 / ops:.1f} us)")

    photo = os.urandom(200_000)
    sealed = seal_to(bob.x25519_public_key, photo, alice, "photo")
    ops, _ = rate(lambda: seal_to(bob.x25519_public_key, photo, alice, "photo"), seconds)
    print(f"seal 200 KB photo   {1e3 / ops:7.3f} ms")
    ops, _ = rate(lambda: unseal(sealed, bob, alice.public_key, "photo"), seconds)
    print(f"unseal 200 KB photo {1e3 / ops:7.3f} ms")

    alert_id = os.urandom(16)
    request_id = os.urandom(16)
    secret = os.urandom(32)
    values = {
        "surname-dob": "SMITH|1990-04-01",
        "given-dob": "JOHN|1990-04-01",
        "document": "123456789GBR",
    }
    labels = len(values)
    state, request = pet_blind(alert_id, request_id, values)
    opening, response = pet_respond(secret, alert_id, request, values)
    proof = pet_finish(state, response).proof()
    print(f"private equality test ({labels} combinations per query):")
    for name, fn in (
        ("requester blind ", lambda: pet_blind(alert_id, request_id, values)),
        ("originator answer", lambda: pet_respond(secret, alert_id, request, values)),
        ("requester finish", lambda: pet_finish(state, response)),
        ("originator checks proof", lambda: pet_check_proof(opening, proof)),
    ):
        ops, _ = rate(fn, seconds)
        print(
            f"  {name}  {1e3 / ops:7.3f} ms per query, {1e3 / ops / labels:6.3f} ms per combination"
        )
    print(f"  request {len(request.to_bytes())} B, response {len(response.to_bytes())} B")

    stored = hash_password("correct horse battery staple")
    rounds = 3 if args.quick else 10
    started = time.perf_counter()
    for _ in range(rounds):
        verify_password(stored, "correct horse battery staple")
    per = (time.perf_counter() - started) / rounds
    print(f"Argon2id verify (INTERACTIVE limits) {per * 1e3:7.1f} ms")
