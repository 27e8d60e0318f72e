"""Email to the super administrator about each new alert (agreement 6.1.3), about
the disclosure ladder's limits and alarms (someone may be guessing), and about
a member whose alert was refused for disclosing more than the network's privacy
budget (``OverBudgetNotice``: alert id and the originator's peer id).

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

    @property
    def at(self) -> int:
        return self.created_at

    def subject(self, venue: str) -> str:
        return f"Doorwatch: new alert {self.alert_id[:8]} at {venue}"

    def body(self, venue: str) -> str:
        return (
            f"A new alert was created at {venue}.\n\n"
            f"Alert id:   {self.alert_id}\n"
            f"Category:   {self.category}\n"
            f"Created by: {self.created_by}\n"
            f"Created at: {self.created_at} (Unix time)\n"
            f"Expires at: {self.expires_at} (Unix time)\n\n"
            "Review it with `doorwatch alert get` (the subject's details are on the node only).\n"
        )


@dataclass(frozen=True)
class SecurityNotice:
    """A disclosure limit or alarm was reached: a member (or a door here) may be guessing."""

    action: str
    rule: str
    side: str
    peer_id: str
    alert_id: str | None
    at: int

    def subject(self, venue: str) -> str:
        return f"Doorwatch: disclosure limit reached at {venue} ({self.rule})"

    def body(self, venue: str) -> str:
        if self.side == "originator":
            who = f"The member venue {self.peer_id} asked about this venue's alert"
        else:
            who = f"This venue's own door asked the member venue {self.peer_id}"
        return (
            f"{who}, and reached a limit or alarm at {venue}:\n\n"
            f"Rule:     {self.rule}\n"
            f"Alert id: {self.alert_id or '-'}\n"
            f"At:       {self.at} (Unix time)\n\n"
            "Repeated identity checks, or a run of 'not the same person' answers, can mean\n"
            "that someone is typing in guesses to find out who an alert is about. Look at\n"
            f"`doorwatch audit --action {self.action}` and talk to the other venue's manager\n"
            "or your Pubwatch coordinator. No personal data is in this message.\n"
        )


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

    def subject(self, venue: str) -> str:
        return f"Doorwatch: refused alert {self.alert_id[:8]} over the privacy budget at {venue}"

    def body(self, venue: str) -> str:
        return (
            f"{venue} refused a received alert whose segments disclose more than "
            "the network's privacy budget allows.\n\n"
            f"Alert id:        {self.alert_id}\n"
            f"Originator peer: {self.originator}\n"
            f"Network:         {self.network_id}\n"
            f"Disclosed:       {self.bits} bits (budget {self.budget_bits} bits, "
            f"anonymity floor {self.anonymity_floor} people)\n\n"
            "The set is not used here. Up-to-date member nodes never publish such a set; "
            "an older version, a policy not yet synced, or tampering can. Tell the "
            "network's coordinator.\n"
        )


Notice = NewAlertNotice | SecurityNotice | OverBudgetNotice


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
        try:
            await trio.to_thread.run_sync(self._deliver, notice)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("notify.email_failed", alert_id=notice.alert_id, error=type(exc).__name__)
            outcome = "notify_failed"
            detail: dict[str, object] = {"error": type(exc).__name__}
        else:
            outcome, detail = "emailed", {"to": "super_administrator"}
        prefix = "alert" if isinstance(notice, NewAlertNotice) else "security"
        if isinstance(notice, SecurityNotice):
            detail["rule"] = notice.rule
        elif isinstance(notice, OverBudgetNotice):
            detail["rule"] = "segments over the network's privacy budget"
        await self._store.run(
            _audit.record,
            at=notice.at,
            actor="doorwatch",
            action=f"{prefix}.{outcome}",
            alert_id=notice.alert_id,
            detail=detail,
        )

    def _deliver(self, notice: Notice) -> None:
        config = self._config
        assert config.smtp_host is not None
        assert config.super_admin_email is not None
        msg = EmailMessage()
        msg["Subject"] = notice.subject(config.venue)
        msg["From"] = f"doorwatch@{_mail_domain(config.venue)}"
        msg["To"] = config.super_admin_email
        msg.set_content(notice.body(config.venue))
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
            smtp.send_message(msg)


def _mail_domain(venue: str) -> str:
    cleaned = "".join(ch for ch in venue.lower() if ch.isalnum())
    return f"{cleaned or 'venue'}.invalid"
