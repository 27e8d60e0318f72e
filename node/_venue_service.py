"""Assembling the venue's half of a node: memory, methods and background tasks."""

from __future__ import annotations

from pathlib import Path

import trio

from doorwatch.crypto import StorageKey
from doorwatch.node import _alerts, _audit
from doorwatch.node._alert_api import AlertApi
from doorwatch.node._api_models import StatusCounts
from doorwatch.node._api_server import Dispatcher
from doorwatch.node._clock import Clock
from doorwatch.node._config import NodeConfig
from doorwatch.node._disclosure_limits import ACTIONS
from doorwatch.node._door_api import DoorApi
from doorwatch.node._notify import Notifier
from doorwatch.node._purge import run_scheduler
from doorwatch.node._scan import ScanEngine
from doorwatch.node._store import AsyncStore
from doorwatch.node._venue import Venue, load_memory
from doorwatch.segments import FrequencyTable, load_default_tables, load_disclosure_tables


async def start_venue(
    nursery: trio.Nursery,
    dispatcher: Dispatcher,
    *,
    store: AsyncStore,
    key: StorageKey,
    clock: Clock,
    config: NodeConfig,
    database: Path,
    tables: FrequencyTable | None = None,
    purge_interval_s: float = 60.0,
    scheduler: bool = True,
    peer_id: str | None = None,
) -> Venue:
    """Load the index and bans, register the methods, start the notifier and scheduler."""
    if tables is None:
        tables = await trio.to_thread.run_sync(load_default_tables)
    disclosure = await trio.to_thread.run_sync(load_disclosure_tables)
    notifier = Notifier(config, store)
    venue = Venue(
        store=store,
        key=key,
        engine=ScanEngine(tables, disclosure),
        clock=clock,
        config=config,
        notifier=notifier,
        database=database,
    )
    await load_memory(venue)
    alerts = AlertApi(venue, peer_id=peer_id)
    alerts.register(dispatcher)
    DoorApi(venue, alerts).register(dispatcher)
    nursery.start_soon(notifier.run)
    if scheduler:
        nursery.start_soon(
            lambda: run_scheduler(
                store,
                venue.engine,
                clock,
                visit_retention_days=config.visit_retention_days,
                database=database,
                interval_s=purge_interval_s,
                on_change=venue.alert_changed,
            )
        )
    return venue


def status_counts(venue: Venue) -> StatusCounts:
    engine = venue.engine
    return StatusCounts(
        alerts_originated_active=len(engine.local_alerts),
        alerts_received_active=len(engine.index) - len(engine.local_alerts),
    )


ALARM_WINDOW_S = 7 * 86_400


async def db_counts(venue: Venue) -> StatusCounts:
    """The same counts, read from the database (the source of truth)."""
    local = await venue.store.run(_alerts.count_active)
    since = venue.clock.now() - ALARM_WINDOW_S
    alarms = await venue.store.run(_audit.count, actions=ACTIONS, since=since)
    return StatusCounts(
        alerts_originated_active=local,
        alerts_received_active=len(venue.engine.index) - len(venue.engine.local_alerts),
        disclosure_alarms_7d=alarms,
    )
