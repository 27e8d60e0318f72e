"""The local API's report methods: this venue's report, sharing counts, the network report.

``report.venue`` counts the period from this node's database and returns the
report model (``_report_model``); the CLI renders it as text, JSON, PDF or
PNG. ``report.share`` signs this venue's suppressed counts and sends them to
the network's members; ``report.network`` collects the members' shares for
the period and combines them. No report holds anything about a person.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from doorwatch.node import _audit, _reports
from doorwatch.node._api_models import MAX_TIMESTAMP, Params, Result
from doorwatch.node._api_server import Dispatcher, MethodSpec, Session
from doorwatch.node._categories import BY_CODE
from doorwatch.node._clock import Clock
from doorwatch.node._errors import Conflict, InvalidParams
from doorwatch.node._report_model import (
    Member,
    Report,
    network_report,
    share_counts,
    venue_report,
)
from doorwatch.node._report_share import ReportSharing, ShareRefused
from doorwatch.node._roles import Role
from doorwatch.node._store import AsyncStore
from doorwatch.protocol import MAX_REPORT_PERIOD

MAX_DAYS = MAX_REPORT_PERIOD // 86400


class ReportParams(Params):
    period_from: int = Field(ge=0, le=MAX_TIMESTAMP, description="Unix seconds, inclusive")
    period_to: int = Field(ge=0, le=MAX_TIMESTAMP, description="Unix seconds, exclusive")

    @model_validator(mode="after")
    def _period(self) -> ReportParams:
        if self.period_to <= self.period_from:
            raise ValueError("period_to: must be after period_from")
        if self.period_to - self.period_from > MAX_REPORT_PERIOD:
            raise ValueError(f"period_to: a report covers at most {MAX_DAYS} days")
        return self


class NetworkReportParams(ReportParams):
    network_id: str | None = Field(
        default=None, description="The network (default: the only one this node is in)"
    )


class SharedCountResult(Result):
    measure: str
    key: str
    value: int | None = Field(description="None: between 1 and 4, shared as '<5'")


class DeliveryResult(Result):
    venue: str
    peer_id: str
    reached: bool
    note: str | None


class ShareResult(Result):
    network_id: str
    issued_at: int
    counts: list[SharedCountResult]
    deliveries: list[DeliveryResult]


class ShareListResult(Result):
    shares: list[ShareResult]


class NetworkReportResult(Result):
    network_id: str
    report: Report
    asked: list[DeliveryResult]


REPORT_VENUE = MethodSpec(
    "report.venue",
    ReportParams,
    Report,
    role=Role.SUPERVISOR,
    summary="This venue's report for a period: incidents by category and month, ranked by "
    "harm (Cambridge Crime Harm Index), alerts, disclosures, bans, refusals, reviews. "
    "Counts only.",
)
REPORT_SHARE = MethodSpec(
    "report.share",
    NetworkReportParams,
    ShareListResult,
    role=Role.ADMINISTRATOR,
    summary="Sign this venue's counts for a period (1 to 4 shown as '<5') and send them to "
    "the network's members for the Pubwatch meeting's report.",
)
REPORT_NETWORK = MethodSpec(
    "report.network",
    NetworkReportParams,
    NetworkReportResult,
    role=Role.SUPERVISOR,
    summary="The Pubwatch meeting's report: every member's shared counts for the period, "
    "combined and ranked by harm, naming the venues that have not shared.",
)
SPECS = (REPORT_VENUE, REPORT_SHARE, REPORT_NETWORK)


class ReportApi:
    def __init__(
        self,
        *,
        store: AsyncStore,
        clock: Clock,
        venue: str,
        sharing: ReportSharing | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.venue = venue
        self.sharing = sharing

    def register(self, dispatcher: Dispatcher) -> None:
        for spec, handler in (
            (REPORT_VENUE, self.report_venue),
            (REPORT_SHARE, self.report_share),
            (REPORT_NETWORK, self.report_network),
        ):
            dispatcher.add(spec.bind(handler))

    async def report_venue(self, session: Session, p: ReportParams) -> Report:
        now = self.clock.now()
        counts = await self.store.run(_reports.gather, p.period_from, p.period_to, now=now)
        return venue_report(self.venue, counts, BY_CODE, generated_at=now)

    def _networks(self, network_id: str | None) -> list[str]:
        if self.sharing is None or not self.sharing.network.networks:
            raise Conflict("network_id: this node is in no network yet")
        held = sorted(self.sharing.network.networks)
        if network_id is None:
            return held
        if network_id not in held:
            raise InvalidParams(f"network_id: this node is not in network {network_id}")
        return [network_id]

    async def report_share(self, session: Session, p: NetworkReportParams) -> ShareListResult:
        networks = self._networks(p.network_id)
        assert self.sharing is not None
        now = self.clock.now()
        counts = await self.store.run(_reports.gather, p.period_from, p.period_to, now=now)
        shared = share_counts(counts)
        out = []
        for network_id in networks:
            try:
                signed, deliveries = await self.sharing.share(
                    network_id, p.period_from, p.period_to, shared
                )
            except ShareRefused as exc:
                raise Conflict(str(exc)) from None
            await self.store.run(
                _audit.record,
                at=now,
                actor=session.username or "?",
                action="report.shared",
                detail={
                    "network_id": network_id,
                    "period_from": p.period_from,
                    "period_to": p.period_to,
                    "delivered": sum(d.delivered for d in deliveries),
                },
            )
            out.append(
                ShareResult(
                    network_id=network_id,
                    issued_at=signed.issued_at,
                    counts=[SharedCountResult(**c.model_dump()) for c in signed.counts],
                    deliveries=[
                        DeliveryResult(
                            venue=d.venue, peer_id=d.peer_id, reached=d.delivered, note=d.error
                        )
                        for d in deliveries
                    ],
                )
            )
        return ShareListResult(shares=out)

    async def report_network(self, session: Session, p: NetworkReportParams) -> NetworkReportResult:
        networks = self._networks(p.network_id)
        if len(networks) > 1:
            raise InvalidParams("network_id: this node is in several networks; name one")
        assert self.sharing is not None
        (network_id,) = networks
        held, asked = await self.sharing.collect(network_id, p.period_from, p.period_to)
        members = [Member(peer, venue) for peer, venue in self.sharing.members(network_id)]
        name = self.sharing.network.networks[network_id].name
        report = network_report(
            name,
            p.period_from,
            p.period_to,
            members,
            held,
            BY_CODE,
            generated_at=self.clock.now(),
        )
        return NetworkReportResult(
            network_id=network_id,
            report=report,
            asked=[
                DeliveryResult(venue=d.venue, peer_id=d.peer_id, reached=d.delivered, note=d.error)
                for d in asked
            ],
        )
