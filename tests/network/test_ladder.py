"""The disclosure ladder between two venues: real libp2p hosts on 127.0.0.1, one process.

A ("The Crown") creates the alert; B ("The Swan") has received it (installed
directly into B's index and ``venue.received``, as alert gossip does) and
scans customers. Every call goes through the real dispatcher; the ladder
runs over ``/doorwatch/disclose/1`` between the two hosts.
"""

from __future__ import annotations

import base64
import datetime as dt
import gc
import json
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nacl.bindings
import pytest
import structlog
import trio
import trio.testing

from doorwatch.crypto import PetProof, PetUnblinded
from doorwatch.node import _ladder_requester
from doorwatch.node._api_server import Session
from doorwatch.node._errors import ApiError, ErrorCode
from doorwatch.node._ladder import DISCLOSE_PROTOCOL, MAX_DISCLOSE_RESPONSE, pet_values
from doorwatch.node._ladder_testing import LadderPair, ladder_pair
from doorwatch.node._roles import Role
from doorwatch.node.testing import PASSWORD
from doorwatch.protocol import (
    DisclosureRefusal,
    IdentityCheckResponse,
    PhotoRequest,
    RateLimits,
    RequesterSession,
    decode,
    encode,
)
from doorwatch.segments import Factor, SegmentSet, parse_document

CANARY = "Quillfeatherington"
PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(200 * 1024)
WAIT = 20


def doc(**changes: Any) -> dict[str, Any]:
    base = {
        "document_type": "driving_licence",
        "document_number": "QUILL905170AM9XY",
        "given_names": "Alice May",
        "surname": CANARY,
        "date_of_birth": "1990-05-17",
        "expiry_date": "2030-01-01",
        "issuing_country": "GBR",
    }
    base.update(changes)
    return base


# A customer born the same day, with other names and another document: she
# matches date-of-birth segments, and the identity check says she is not the subject.
LOOKALIKE = {"surname": "Brown", "given_names": "Beatrice", "document_number": "BROWN905170BB9ZZ"}
DOB_SEGMENTS = SegmentSet((Factor("dd", "17"), Factor("mm", "05"), Factor("yy", "90")), 20.0)


@pytest.fixture(autouse=True)
def no_errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[dict[str, Any]]]:
    """Fail the test if either node logged at ERROR (structlog or libp2p)."""
    caplog.set_level(logging.WARNING)
    with structlog.testing.capture_logs() as events:
        yield events
    bad = [e for e in events if e.get("log_level") in ("error", "critical")]
    bad += [
        {"logger": r.name, "message": r.getMessage()}
        for r in caplog.records
        if r.levelno >= logging.ERROR
    ]
    assert bad == []
    # py-libp2p 0.8 leaves the TCP socket of a connection open when its host
    # closes (in one process both hosts stop under the same test); the garbage
    # collector closes it. Collect here, where that known warning is ignored.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


async def create_alert(pair: LadderPair, groups: list[str] | None = None) -> str:
    made = await pair.a.h.call(
        "alert.create",
        document=doc(),
        category="weapon",
        reason="carried a knife",
        notes="CCTV kept",
        photo=base64.b64encode(PHOTO).decode(),
        groups=groups or [],
    )
    return str(made["alert_id"])


class Scanner:
    """A door scanner's connection at B: a session that can receive notifications."""

    def __init__(self, pair: LadderPair) -> None:
        self.pair = pair
        ours, self.theirs = trio.testing.memory_stream_pair()
        self.session = Session(username="door1", role=Role.DOOR_STAFF, stream=ours)
        self.buf = b""

    async def call(self, method: str, **params: Any) -> Any:
        return await self.pair.b.h.call_as(self.session, method, **params)

    async def error(self, method: str, **params: Any) -> ApiError:
        with pytest.raises(ApiError) as info:
            await self.call(method, **params)
        return info.value

    async def update(self) -> dict[str, Any]:
        with trio.fail_after(WAIT):
            while b"\n" not in self.buf:
                self.buf += await self.theirs.receive_some(65536)
        line, self.buf = self.buf.split(b"\n", 1)
        message = json.loads(line)
        assert message["method"] == "match.updated"
        assert "id" not in message
        params: dict[str, Any] = message["params"]
        return params


async def audit(venue_h: Any, alert_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = await venue_h.call(
        "audit.query", Role.ADMINISTRATOR, alert_id=alert_id
    )
    return entries


def actions(entries: list[dict[str, Any]]) -> list[str]:
    return [e["action"] for e in entries if e["action"].startswith("disclosure.")]


async def test_full_ladder_between_two_venues(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with ladder_pair(tmp_path) as pair:
            alert_id = await create_alert(pair)
            await pair.install_received(alert_id)
            scanner = Scanner(pair)

            scan = await scanner.call("scan.submit", document=doc(given_names="Alice"))
            assert scan["verdict"] == "check"
            [match] = scan["matches"]
            assert match["state"] == "checking"
            assert match["harm"] == 90.0
            update = await scanner.update()
            assert update == {
                "match_id": match["match_id"],
                "scan_id": scan["scan_id"],
                "state": "identity_confirmed",
            }

            shown = await scanner.call("match.photo", match_id=match["match_id"])
            assert shown["state"] == "photo_shown"
            assert base64.b64decode(shown["photo"]) == PHOTO
            assert (await scanner.update())["state"] == "photo_shown"
            # Asking again (a scanner that lost the answer) shows the same photo, no new request.
            again = await scanner.call("match.photo", match_id=match["match_id"])
            assert again == shown

            confirmed = await scanner.call(
                "match.confirm", match_id=match["match_id"], same_person=True
            )
            details = confirmed["details"]
            assert details["category"] == "weapon"
            assert details["reason"] == "carried a knife"
            assert details["notes"] == "CCTV kept"
            assert details["harm"] == 90.0
            assert details["originating_venue"] == "The Crown"
            assert (await scanner.update())["state"] == "confirmed"

            at_a = await audit(pair.a.h, alert_id)
            assert actions(at_a) == [
                "disclosure.identity_check.requested",
                "disclosure.identity_check.answered",
                "disclosure.photo.requested",
                "disclosure.photo.answered",
                "disclosure.details.requested",
                "disclosure.details.answered",
            ]
            assert {e["peer_id"] for e in at_a if e["action"].startswith("disclosure.")} == {
                pair.b.peer_id
            }
            at_b = await audit(pair.b.h, alert_id)
            assert actions(at_b) == [
                "disclosure.identity_check.requested",
                "disclosure.identity_check.match",
                "disclosure.photo.requested",
                "disclosure.photo.photo_received",
                "disclosure.operator_confirmation.same_person",
                "disclosure.details.requested",
                "disclosure.details.details_received",
            ]
            assert {e["peer_id"] for e in at_b} == {pair.a.peer_id}
            assert {e["detail"]["match_id"] for e in at_b} == {match["match_id"]}
            confirmation = next(e for e in at_b if "operator_confirmation" in e["action"])
            assert confirmation["actor"] == "door1"
            # No personal data in either audit log.
            for entry in at_a + at_b:
                text = json.dumps(entry)
                assert CANARY.upper() not in text.upper()
                assert "1990-05-17" not in text
                assert "QUILL905170AM9XY" not in text


async def test_not_the_subject_gets_no_photo(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with ladder_pair(tmp_path) as pair:
            alert_id = await create_alert(pair)
            await pair.install_received(alert_id, segments=DOB_SEGMENTS)
            scanner = Scanner(pair)
            scan = await scanner.call("scan.submit", document=doc(**LOOKALIKE))
            [match] = scan["matches"]
            assert match["state"] == "checking"
            update = await scanner.update()
            assert update["state"] == "not_subject"
            assert "not the alert's subject" in update["message"]

            err = await scanner.error("match.photo", match_id=match["match_id"])
            assert err.code == ErrorCode.CONFLICT
            assert "no longer a match" in err.message
            err = await scanner.error("match.confirm", match_id=match["match_id"], same_person=True)
            assert err.code == ErrorCode.CONFLICT

            at_a = actions(await audit(pair.a.h, alert_id))
            assert at_a == [
                "disclosure.identity_check.requested",
                "disclosure.identity_check.answered",
            ]
            at_b = actions(await audit(pair.b.h, alert_id))
            assert at_b == [
                "disclosure.identity_check.requested",
                "disclosure.identity_check.no_match",
            ]


async def test_an_innocent_customer_triggers_no_request(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with ladder_pair(tmp_path) as pair:
            alert_id = await create_alert(pair)
            await pair.install_received(alert_id)
            scanner = Scanner(pair)
            scan = await scanner.call(
                "scan.submit",
                document=doc(date_of_birth="1984-02-29", **LOOKALIKE),
            )
            assert scan["verdict"] == "admit"
            assert scan["matches"] == []
            assert pair.a.ladder.originator.served == pair.a.ladder.originator.refused == 0
            assert actions(await audit(pair.a.h, alert_id)) == []


async def test_a_requester_outside_the_alerts_groups_is_refused(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with ladder_pair(tmp_path) as pair:  # B is in "all" only
            alert_id = await create_alert(pair, groups=["door"])
            await pair.install_received(alert_id, group="door")
            scanner = Scanner(pair)
            scan = await scanner.call("scan.submit", document=doc())
            [match] = scan["matches"]
            update = await scanner.update()
            assert update["state"] == "refused"
            assert "not_member" in update["message"]
            err = await scanner.error("match.photo", match_id=match["match_id"])
            assert err.code == ErrorCode.CONFLICT
            entries = await audit(pair.a.h, alert_id)
            refused = [e for e in entries if e["action"] == "disclosure.identity_check.refused"]
            assert [e["detail"]["code"] for e in refused] == ["not_member"]


async def test_a_photo_request_without_a_valid_proof_is_refused(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with ladder_pair(tmp_path) as pair:
            alert_id = await create_alert(pair)
            rr = pair.b.network.rr
            assert rr is not None
            request_id = os.urandom(16)
            session = RequesterSession(
                identity=pair.b.identity,
                originator=pair.a.peer_id,
                alert_id=bytes.fromhex(alert_id),
                request_id=request_id,
            )
            lookalike = parse_document(doc(**LOOKALIKE), today=dt.date.today())
            out = session.start_identity_check(pet_values(lookalike), 0)
            assert out.message is not None
            reply = decode(
                await rr.request(pair.a.peer_id, DISCLOSE_PROTOCOL, encode(out.message), timeout=10)
            )
            assert isinstance(reply, IdentityCheckResponse)
            # Claim a match anyway, with made-up unblinded values.
            fake = PetProof(
                alert_id=bytes.fromhex(alert_id),
                request_id=request_id,
                items=(
                    PetUnblinded(
                        label="surname-dob",
                        point=nacl.bindings.crypto_core_ed25519_from_uniform(os.urandom(32)),
                    ),
                ),
            )
            photo_request = PhotoRequest(
                request_id=request_id,
                alert_id=bytes.fromhex(alert_id),
                requester=pair.b.peer_id,
                proof=fake,
            )
            answer = decode(
                await rr.request(
                    pair.a.peer_id,
                    DISCLOSE_PROTOCOL,
                    encode(photo_request),
                    timeout=10,
                    max_response=MAX_DISCLOSE_RESPONSE,
                )
            )
            assert isinstance(answer, DisclosureRefusal)
            assert answer.code == "bad_proof"
            entries = await audit(pair.a.h, alert_id)
            assert [
                e["detail"].get("code") for e in entries if e["action"].endswith(".refused")
            ] == ["bad_proof"]
            assert "disclosure.photo.answered" not in actions(entries)


async def test_an_unreachable_originator_is_1005(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with ladder_pair(tmp_path) as pair:
            alert_id = await create_alert(pair)
            await pair.install_received(alert_id)
            pair.a.stop.cancel()  # The Crown's node stops
            with trio.fail_after(WAIT):
                while pair.b.network.host is not None and pair.b.network.host.is_connected(
                    pair.a.peer_id
                ):
                    await trio.sleep(0.05)
            scanner = Scanner(pair)
            scan = await scanner.call("scan.submit", document=doc())
            [match] = scan["matches"]
            assert match["state"] == "checking"
            update = await scanner.update()
            assert update["state"] == "originator_unreachable"
            assert "The Crown" in update["message"]
            err = await scanner.error("match.photo", match_id=match["match_id"], timeout_s=2)
            assert err.code == ErrorCode.ORIGINATOR_UNREACHABLE == 1005
            assert "The Crown" in err.message
            assert "cannot be reached" in err.message
            # The retry inside match.photo is audited too.
            at_b = actions(await audit(pair.b.h, alert_id))
            assert at_b.count("disclosure.identity_check.requested") == 2


async def test_rate_limited_identity_checks_are_1006(tmp_path: Path) -> None:
    limits = RateLimits(identity_checks_per_requester_alert=1)
    with trio.fail_after(60):
        async with ladder_pair(tmp_path, limits=limits) as pair:
            alert_id = await create_alert(pair)
            await pair.install_received(alert_id)
            scanner = Scanner(pair)
            first = await scanner.call("scan.submit", document=doc())
            assert (await scanner.update())["state"] == "identity_confirmed"
            second = await scanner.call("scan.submit", document=doc())
            update = await scanner.update()
            assert update["match_id"] == second["matches"][0]["match_id"]
            assert update["state"] == "rate_limited"
            err = await scanner.error("match.photo", match_id=second["matches"][0]["match_id"])
            assert err.code == ErrorCode.RATE_LIMITED == 1006
            # The first match is unaffected.
            shown = await scanner.call("match.photo", match_id=first["matches"][0]["match_id"])
            assert base64.b64decode(shown["photo"]) == PHOTO
            entries = await audit(pair.a.h, alert_id)
            codes = [e["detail"].get("code") for e in entries if e["action"].endswith(".refused")]
            assert "rate_limited" in codes


async def test_operator_says_not_the_same_person(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with ladder_pair(tmp_path) as pair:
            alert_id = await create_alert(pair)
            await pair.install_received(alert_id)
            scanner = Scanner(pair)
            scan = await scanner.call("scan.submit", document=doc())
            mid = scan["matches"][0]["match_id"]
            await scanner.call("match.photo", match_id=mid, timeout_s=10)
            assert await scanner.call("match.confirm", match_id=mid, same_person=False) == {
                "dismissed": True
            }
            err = await scanner.error("match.photo", match_id=mid)
            assert err.code == ErrorCode.CONFLICT
            at_a = actions(await audit(pair.a.h, alert_id))
            assert "disclosure.details.requested" not in at_a
            at_b = actions(await audit(pair.b.h, alert_id))
            assert at_b[-1] == "disclosure.operator_confirmation.not_same_person"


async def test_an_alert_withdrawn_at_its_originator_is_1007(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with ladder_pair(tmp_path) as pair:
            alert_id = await create_alert(pair)
            await pair.install_received(alert_id)
            # Withdrawn at The Crown; the withdrawal has not reached The Swan yet.
            await pair.a.h.call("alert.withdraw", Role.SUPERVISOR, alert_id=alert_id)
            scanner = Scanner(pair)
            scan = await scanner.call("scan.submit", document=doc())
            [match] = scan["matches"]
            assert (await scanner.update())["state"] == "expired"
            err = await scanner.error("match.photo", match_id=match["match_id"])
            assert err.code == ErrorCode.EXPIRED == 1007
            entries = await audit(pair.a.h, alert_id)
            refusals = [e for e in entries if e["action"].endswith(".refused")]
            assert [e["detail"]["code"] for e in refusals] == ["inactive"]


async def test_an_ended_session_hears_no_more_of_its_matches(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with ladder_pair(tmp_path) as pair:
            alert_id = await create_alert(pair)
            await pair.install_received(alert_id)
            admin = Role.SUPER_ADMINISTRATOR
            await pair.b.h.call_as(
                pair.b.h.session(admin),
                "user.add",
                username="door1",
                role="door_staff",
                password=PASSWORD,
            )
            scanner = Scanner(pair)
            scanner.session.username = scanner.session.role = None
            await scanner.call("session.login", username="door1", password=PASSWORD)
            scan = await scanner.call("scan.submit", document=doc())
            mid = scan["matches"][0]["match_id"]
            assert (await scanner.update())["state"] == "identity_confirmed"

            # The account is disabled: that connection is logged out at once ...
            await pair.b.h.call("user.disable", admin, username="door1")
            err = await scanner.error("match.photo", match_id=mid)
            assert err.code == ErrorCode.UNAUTHENTICATED
            # ... and a supervisor taking the match over changes its state, which the
            # ended session is not told about.
            shown = await pair.b.h.call("match.photo", Role.SUPERVISOR, match_id=mid)
            assert shown["state"] == "photo_shown"
            with trio.move_on_after(0.5):
                scanner.buf += await scanner.theirs.receive_some(65536)
            assert scanner.buf == b""


async def test_matches_a_door_acts_on_are_never_pushed_out_new_ones_are_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ladder_requester, "MAX_REMOTE", 3)
    with trio.fail_after(60):
        async with ladder_pair(tmp_path) as pair:
            alert_id = await create_alert(pair)
            await pair.install_received(alert_id)
            scanner = Scanner(pair)
            # Three matches awaiting the door (identity confirmed): the table is full.
            held = []
            for _ in range(3):
                [match] = (await scanner.call("scan.submit", document=doc()))["matches"]
                assert (await scanner.update())["state"] == "identity_confirmed"
                held.append(match["match_id"])
            # A fourth evicts none of them: it is refused, plainly.
            scan = await scanner.call("scan.submit", document=doc())
            assert scan["verdict"] == "check"
            [busy] = scan["matches"]
            assert busy["state"] == "busy"
            err = await scanner.error("match.photo", match_id=busy["match_id"])
            assert err.code == ErrorCode.BUSY == 1009
            assert err.message.startswith("busy:")
            # Every held match still goes up the ladder; one settled frees its slot.
            shown = await scanner.call("match.photo", match_id=held[0])
            assert shown["state"] == "photo_shown"
            assert (await scanner.update())["state"] == "photo_shown"
            dismissed = await scanner.call("match.confirm", match_id=held[0], same_person=False)
            assert dismissed == {"dismissed": True}
            assert (await scanner.update())["state"] == "dismissed"
            [fresh] = (await scanner.call("scan.submit", document=doc()))["matches"]
            assert fresh["state"] == "checking"
            assert (await scanner.update())["state"] == "identity_confirmed"
            shown = await scanner.call("match.photo", match_id=held[1])
            assert shown["state"] == "photo_shown"
