"""Email to the super administrator about each new alert (agreement 6.1.3), and
about a member whose alert was refused for disclosing more than the network's
privacy budget (``OverBudgetNotice``: alert id and the originator's peer id).

The audit entry written with the alert is the notification of record; the
email is sent afterwards from a worker thread (smtplib blocks), so a slow or
absent mail server never delays the door. The message names the alert id,
category, expiry and creating user: no personal data of the subject.
A mail server that refuses or cannot be reached is an expected failure
(a warning and an ``alert.notify_failed`` audit entry); anything else is
logged at ERROR with the alert id only, and the notifier goes on.
"""

from __future__ import annotations

import math
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

import structlog
import trio

from doorwatch.node import _audit
from doorwatch.node._config import NodeConfig
from doorwatch.node._failures import failure_fields
from doorwatch.node._store import AsyncStore

log = structlog.get_logger("doorwatch.notify")

SMTP_TIMEOUT_S = 20


@dataclass(frozen=True)
class NewAlertNotice:
    alert_id: str
    category: str
    created_by: str
    created_at: int
    expires_at: int


@dataclass(frozen=True)
class OverBudgetNotice:
    """A received segment set over the network's budget was refused (issue 14)."""

    alert_id: str
    originator: str
    network_id: str
    at: int
    bits: float
    budget_bits: float
    anonymity_floor: int


Notice = NewAlertNotice | OverBudgetNotice


class Notifier:
    def __init__(self, config: NodeConfig, store: AsyncStore) -> None:
        self._config = config
        self._store = store
        self._send, self._receive = trio.open_memory_channel[Notice](math.inf)

    @property
    def enabled(self) -> bool:
        return bool(self._config.smtp_host and self._config.super_admin_email)

    def notify(self, notice: Notice) -> None:
        if self.enabled:
            self._send.send_nowait(notice)

    def close(self) -> None:
        self._send.close()

    async def run(self) -> None:
        async for notice in self._receive:
            try:
                await self.send_one(notice)
            except Exception as exc:
                # A fault in one notice (the mail library, the audit write) must not
                # end the notifier, nor the daemon with it: log it, go on with the next.
                log.error("notify.failed", alert_id=notice.alert_id, **failure_fields(exc))

    async def send_one(self, notice: Notice) -> None:
        if isinstance(notice, OverBudgetNotice):
            # The audit entry (written by the receiver) is the notice of record.
            try:
                await trio.to_thread.run_sync(self._deliver_over_budget, notice)
            except (OSError, smtplib.SMTPException) as exc:
                log.warning(
                    "notify.email_failed", alert_id=notice.alert_id, error=type(exc).__name__
                )
            return
        try:
            await trio.to_thread.run_sync(self._deliver, notice)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("notify.email_failed", alert_id=notice.alert_id, error=type(exc).__name__)
            outcome = "alert.notify_failed"
            detail: dict[str, object] = {"error": type(exc).__name__}
        else:
            outcome, detail = "alert.emailed", {"to": "super_administrator"}
        await self._store.run(
            _audit.record,
            at=notice.created_at,
            actor="doorwatch",
            action=outcome,
            alert_id=notice.alert_id,
            detail=detail,
        )

    def _deliver(self, notice: NewAlertNotice) -> None:
        config = self._config
        assert config.smtp_host is not None
        assert config.super_admin_email is not None
        msg = EmailMessage()
        msg["Subject"] = f"Doorwatch: new alert {notice.alert_id[:8]} at {config.venue}"
        msg["From"] = f"doorwatch@{_mail_domain(config.venue)}"
        msg["To"] = config.super_admin_email
        msg.set_content(
            f"A new alert was created at {config.venue}.\n\n"
            f"Alert id:   {notice.alert_id}\n"
            f"Category:   {notice.category}\n"
            f"Created by: {notice.created_by}\n"
            f"Created at: {notice.created_at} (Unix time)\n"
            f"Expires at: {notice.expires_at} (Unix time)\n\n"
            "Review it with `doorwatch alert get` (the subject's details are on the node only).\n"
        )
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
            smtp.send_message(msg)

    def _deliver_over_budget(self, notice: OverBudgetNotice) -> None:
        config = self._config
        assert config.smtp_host is not None
        assert config.super_admin_email is not None
        msg = EmailMessage()
        msg["Subject"] = (
            f"Doorwatch: refused alert {notice.alert_id[:8]} over the privacy budget "
            f"at {config.venue}"
        )
        msg["From"] = f"doorwatch@{_mail_domain(config.venue)}"
        msg["To"] = config.super_admin_email
        msg.set_content(
            f"{config.venue} refused a received alert whose segments disclose more than "
            "the network's privacy budget allows.\n\n"
            f"Alert id:        {notice.alert_id}\n"
            f"Originator peer: {notice.originator}\n"
            f"Network:         {notice.network_id}\n"
            f"Disclosed:       {notice.bits} bits (budget {notice.budget_bits} bits, "
            f"anonymity floor {notice.anonymity_floor} people)\n\n"
            "The set is not used here. Up-to-date member nodes never publish such a set; "
            "an older version, a policy not yet synced, or tampering can. Tell the "
            "network's coordinator.\n"
        )
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
            smtp.send_message(msg)


def _mail_domain(venue: str) -> str:
    cleaned = "".join(ch for ch in venue.lower() if ch.isalnum())
    return f"{cleaned or 'venue'}.invalid"
