"""Re-issuing an alert that carries a Pubwatch ban (``_originate.renew_for_ban``), in
process: the same subject, photo and reason under a new id, the old alert cut short,
audited, never twice for one ban, and never for an alert that is not active."""

from __future__ import annotations

import base64
from pathlib import Path

from doorwatch.node._alerts import DAY
from doorwatch.node._originate import OVERLAP, RENEWED_BY, renew_for_ban
from doorwatch.node._roles import Role
from doorwatch.node._venue_testing import venue_harness

from .test_alerts import CANARY, JPEG, doc

NOTICE = "ab" * 16
PEER = "12D3KooWLoPqzJ6TW8QxM8iCVVXmWQF7xkdkm1k6LxxgTaotcKvY"


async def test_the_renewed_alert_is_the_same_subject_and_the_old_one_goes(
    tmp_path: Path,
) -> None:
    async with venue_harness(tmp_path) as h:
        photo = base64.b64encode(JPEG).decode()
        made = await h.call(
            "alert.create",
            document=doc(photo=photo),
            category="common_assault",
            reason="threw a glass",
            expires_at=h.clock.now() + 365 * DAY,
        )
        old_id = made["alert_id"]
        h.clock.advance(340 * DAY)
        ends = h.clock.now() + 365 * DAY
        record = await renew_for_ban(h.venue, PEER, old_id, expires_at=ends, notice_id=NOTICE)
        assert record is not None
        assert record.id != old_id
        new = await h.call("alert.get", Role.SUPERVISOR, alert_id=record.id)
        assert new["subject"]["surname"] == CANARY
        assert new["reason"] == "threw a glass"
        assert new["category"] == "common_assault"
        assert new["created_by"] == RENEWED_BY
        assert new["expires_at"] == ends
        assert new["has_photo"] is True
        old = await h.call("alert.get", Role.SUPERVISOR, alert_id=old_id)
        assert old["expires_at"] == h.clock.now() + OVERLAP

        # Said twice (the node stopped before publishing that the ban moved): the same one.
        again = await renew_for_ban(h.venue, PEER, old_id, expires_at=ends, notice_id=NOTICE)
        assert again is not None
        assert again.id == record.id
        assert len(await h.call("alert.list")) == 2

        audit = await h.call("audit.query", Role.ADMINISTRATOR, alert_id=record.id)
        [entry] = [e for e in audit if e["action"] == "alert.renewed_for_ban"]
        assert entry["detail"] == {"notice_id": NOTICE, "renews": old_id, "expires_at": ends}
        assert CANARY not in str(audit)

        # For two days the subject matches both alerts.
        scan = await h.call("scan.submit", document=doc())
        assert scan["verdict"] == "check"
        assert len(scan["matches"]) == 2


async def test_a_disputed_or_withdrawn_alert_is_not_brought_back(tmp_path: Path) -> None:
    async with venue_harness(tmp_path) as h:
        made = await h.call("alert.create", document=doc(), category="theft", reason="r")
        alert_id = made["alert_id"]
        await h.call("alert.dispute", Role.SUPERVISOR, alert_id=alert_id, note="not me")
        renewed = await renew_for_ban(
            h.venue, PEER, alert_id, expires_at=h.clock.now() + DAY, notice_id=NOTICE
        )
        assert renewed is None
        await h.call("alert.withdraw", Role.SUPERVISOR, alert_id=alert_id, note="wrong person")
        renewed = await renew_for_ban(
            h.venue, PEER, alert_id, expires_at=h.clock.now() + DAY, notice_id=NOTICE
        )
        assert renewed is None
        assert (
            await renew_for_ban(
                h.venue, PEER, "00" * 16, expires_at=h.clock.now() + DAY, notice_id=NOTICE
            )
            is None
        )
        assert len(await h.call("alert.list")) == 1
