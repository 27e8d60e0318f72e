"""An in-process venue for tests: a store in a directory, a manual clock, sessions by role.

Calls go through the real ``Dispatcher`` (role checks, parameter validation,
result models) without a socket.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import trio

from doorwatch.crypto import StorageKey
from doorwatch.node._api_server import Dispatcher, Session
from doorwatch.node._clock import ManualClock
from doorwatch.node._config import NodeConfig
from doorwatch.node._errors import ApiError
from doorwatch.node._jsonrpc import Request
from doorwatch.node._local_api import LocalApi
from doorwatch.node._report_api import ReportApi
from doorwatch.node._roles import Role
from doorwatch.node._store import AsyncStore
from doorwatch.node._venue import Venue
from doorwatch.node._venue_service import db_counts, start_venue
from doorwatch.segments import FrequencyTable, load_default_tables

START = int(dt.datetime(2026, 11, 20, 21, 0, tzinfo=dt.UTC).timestamp())


@cache
def tables() -> FrequencyTable:
    return load_default_tables()


@dataclass
class VenueHarness:
    dispatcher: Dispatcher
    venue: Venue
    store: AsyncStore
    clock: ManualClock
    database: Path

    def session(self, role: Role = Role.DOOR_STAFF, username: str | None = None) -> Session:
        return Session(username=username or role.value.replace("_", "-"), role=role)

    async def call(self, method: str, role: Role = Role.DOOR_STAFF, **params: Any) -> Any:
        return await self.call_as(self.session(role), method, **params)

    async def call_as(self, session: Session, method: str, **params: Any) -> Any:
        return await self.dispatcher.call(session, Request(1, method, params))

    async def error_of(self, method: str, role: Role = Role.DOOR_STAFF, **params: Any) -> ApiError:
        """The API error a call fails with (an AssertionError if it succeeds)."""
        try:
            result = await self.call(method, role, **params)
        except ApiError as exc:
            return exc
        raise AssertionError(f"{method} succeeded with {result!r}; an error was expected")


@asynccontextmanager
async def venue_harness(
    directory: Path,
    *,
    config: NodeConfig | None = None,
    key: StorageKey | None = None,
    now: int = START,
) -> AsyncIterator[VenueHarness]:
    clock = ManualClock(now)
    config = config or NodeConfig(venue="The Crown")
    database = directory / "doorwatch.sqlite"
    async with AsyncStore.open(database) as store, trio.open_nursery() as nursery:
        dispatcher = Dispatcher(now=clock.now)
        venue = await start_venue(
            nursery,
            dispatcher,
            store=store,
            key=key or StorageKey.generate(),
            clock=clock,
            config=config,
            database=database,
            tables=tables(),
            scheduler=False,
        )
        LocalApi(
            store=store,
            clock=clock,
            config=config,
            peer_id="12D3KooWtest",
            short_id="TEST-1",
            cookie="cookie",
            counts=lambda: db_counts(venue),
        ).register(dispatcher)
        ReportApi(store=store, clock=clock, venue=config.venue).register(dispatcher)
        try:
            yield VenueHarness(dispatcher, venue, store, clock, database)
        finally:
            venue.notifier.close()
            nursery.cancel_scope.cancel()
