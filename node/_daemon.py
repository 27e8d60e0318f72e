"""`doorwatch run`: the daemon's main task and its clean shutdown.

Start-up order: take the data directory's lock (a second daemon refuses),
load keys and configuration, open and migrate the database, write the
login cookie (0600) for the operating-system account that owns the data
directory, start the peer-to-peer ``NetworkService`` (docs/network.md),
then serve the local socket. SIGINT or SIGTERM cancels the
serving tasks; the database is closed, the socket and cookie removed.
"""

from __future__ import annotations

import secrets
import signal
from collections.abc import Sequence
from pathlib import Path

import structlog
import trio

from doorwatch.node._api_server import ApiServer, Dispatcher
from doorwatch.node._clock import Clock, SystemClock
from doorwatch.node._datadir import DataDir
from doorwatch.node._local_api import LocalApi
from doorwatch.node._network import NetworkService
from doorwatch.node._network_api import NetworkApi
from doorwatch.node._setup import load_identity, load_node_config, load_storage_key
from doorwatch.node._store import AsyncStore
from doorwatch.node._venue_service import db_counts, start_venue

log = structlog.get_logger("doorwatch.node")

COOKIE_NAME = "doorwatch.cookie"


async def run_daemon(
    data_dir: Path,
    *,
    clock: Clock | None = None,
    listen: Sequence[str] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    clock = clock or SystemClock()
    d = DataDir(data_dir)
    d.lock()
    try:
        config = load_node_config(d)
        identity = load_identity(d)
        storage_key = load_storage_key(d)  # fail at start-up if it is unreadable
        async with AsyncStore.open(d.database) as store:
            cookie = secrets.token_urlsafe(32)
            d.write_secret(COOKIE_NAME, cookie.encode())
            try:
                dispatcher = Dispatcher(now=clock.now)
                server = ApiServer(dispatcher, d.socket)
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async with trio.open_nursery() as nursery:
                        network = NetworkService(
                            store=store,
                            identity=identity,
                            storage_key=storage_key,
                            clock=clock,
                            listen=list(listen) if listen else config.listen,
                        )
                        await nursery.start(network.run)
                        NetworkApi(network, venue=config.venue).register(dispatcher)
                        venue = await start_venue(
                            nursery,
                            dispatcher,
                            store=store,
                            key=storage_key,
                            clock=clock,
                            config=config,
                            database=d.database,
                        )
                        LocalApi(
                            store=store,
                            clock=clock,
                            config=config,
                            peer_id=identity.peer_id,
                            short_id=identity.short_id,
                            cookie=cookie,
                            counts=lambda: db_counts(venue),
                            network_status=network.status,
                        ).register(dispatcher)
                        await nursery.start(server.serve)
                        log.info("node.started", peer_id=identity.peer_id, socket=str(d.socket))
                        task_status.started()
                        async for signum in signals:
                            log.info("node.stopping", signal=signal.Signals(signum).name)
                            nursery.cancel_scope.cancel()
                            break
            finally:
                (d.path / COOKIE_NAME).unlink(missing_ok=True)
    finally:
        d.unlock()
    log.info("node.stopped", peer_id=identity.peer_id)
