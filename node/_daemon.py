"""`doorwatch run`: the daemon's main task and its clean shutdown.

Start-up order: take the data directory's lock (a second daemon refuses),
load keys and configuration (the storage key unsealed with the passphrase the
command line found, ``node/_storage_key.py``; a raw key from before is sealed
there and then), open and migrate the database, write the
login cookie (0600) for the operating-system account that owns the data
directory, start the peer-to-peer ``NetworkService`` (docs/network.md),
then serve the local socket, and only then load the received alerts
(``replicate``: a venue with 100,000 of them must not wait minutes for its
scanners to get an answer; until loaded, scans say ``alerts_loading``).
SIGINT or SIGTERM cancels the serving tasks; the database is closed, the
socket and cookie removed.

With ``DOORWATCH_DEMO_CLOCK=1`` in its environment the daemon runs on a clock
that the ``clock.advance`` method moves forward (``_clock_api``; for
``doorwatch demo`` only) and logs a warning saying so at start.
"""

from __future__ import annotations

import grp
import os
import secrets
import signal
from collections.abc import Sequence
from pathlib import Path

import structlog
import trio

from doorwatch.node import _audit as audit
from doorwatch.node._alert_gossip import AlertReplication
from doorwatch.node._api_server import ApiServer, Dispatcher
from doorwatch.node._clock import Clock, OffsetClock, SystemClock
from doorwatch.node._clock_api import (
    DEMO_CLOCK_ENV,
    ClockApi,
    demo_clock_requested,
    retention_pass,
)
from doorwatch.node._config import NodeConfig
from doorwatch.node._console import ConsoleServer, parse_listen
from doorwatch.node._console_tls import ensure_certificate, fingerprint
from doorwatch.node._datadir import COOKIE_NAME, DataDir
from doorwatch.node._errors import DataDirError
from doorwatch.node._ladder_service import start_ladder
from doorwatch.node._local_api import LocalApi
from doorwatch.node._network import NetworkService
from doorwatch.node._network_api import NetworkApi
from doorwatch.node._node_key import load_node_key
from doorwatch.node._notice_api import NoticeApi
from doorwatch.node._notice_service import NoticeService
from doorwatch.node._presence import Presence
from doorwatch.node._report_api import ReportApi
from doorwatch.node._report_share import ReportSharing
from doorwatch.node._setup import load_node_config
from doorwatch.node._storage_key import Passphrase, load_storage_key
from doorwatch.node._store import AsyncStore
from doorwatch.node._sync_service import SyncService
from doorwatch.node._venue import Venue
from doorwatch.node._venue_service import db_counts, start_venue

log = structlog.get_logger("doorwatch.node")


API_TOKEN_NAME = "api.token"  # noqa: S105 - a file name, not a secret


async def run_daemon(
    data_dir: Path,
    *,
    passphrase: Passphrase,
    clock: Clock | None = None,
    listen: Sequence[str] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    demo_clock: OffsetClock | None = None
    if clock is None and demo_clock_requested():
        clock = demo_clock = OffsetClock()
        log.warning(
            "node.clock_controllable",
            why=f"{DEMO_CLOCK_ENV}=1: clock.advance can move this node's clock; "
            "for demonstrations only, never for a venue's node",
        )
    clock = clock or SystemClock()
    d = DataDir(data_dir)
    d.lock()
    try:
        config = load_node_config(d)
        loaded = load_storage_key(d, passphrase)  # fail at start-up if it does not open
        storage_key = loaded.key
        node_key = load_node_key(d, storage_key)
        identity = node_key.identity
        if node_key.migrated:
            log.warning(
                "node.node_key_sealed",
                why="node.key held the raw identity seed (made by an older Doorwatch); it is "
                "now sealed under the storage key and the raw bytes overwritten; destroy "
                "backups made before now, whoever holds them can act as this venue",
            )
        if loaded.migrated:
            log.warning(
                "node.storage_key_sealed",
                why="storage.key held the raw key (made by an older Doorwatch); it is now "
                "sealed under the passphrase and the raw bytes overwritten; destroy backups "
                "made before now, they hold the raw key",
                source=passphrase.source,
            )
        if loaded.weak:
            log.warning(
                "node.storage_key_weak_kdf",
                why="storage.key is sealed with the test-only Argon2id cost "
                "(DOORWATCH_INSECURE_TEST_KDF); for tests only: run `doorwatch passphrase "
                "change` without that variable to seal it properly",
            )
        async with AsyncStore.open(d.database) as store:
            if loaded.migrated:
                await store.run(
                    audit.record,
                    at=clock.now(),
                    actor="doorwatch run",
                    action="node.storage_key_sealed",
                    detail={"passphrase_from": passphrase.source},
                )
            if node_key.migrated:
                await store.run(
                    audit.record,
                    at=clock.now(),
                    actor="doorwatch run",
                    action="node.node_key_sealed",
                    detail={},
                )
            cookie = secrets.token_urlsafe(32)
            d.write_secret(COOKIE_NAME, cookie.encode())
            try:
                dispatcher = Dispatcher(now=clock.now)
                server = ApiServer(dispatcher, d.socket, group=socket_group(d, config))
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async with trio.open_nursery() as nursery:
                        network = NetworkService(
                            store=store,
                            identity=identity,
                            storage_key=storage_key,
                            clock=clock,
                            listen=list(listen) if listen else config.listen,
                        )
                        Presence(network)
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
                            peer_id=identity.peer_id,
                        )
                        replication = AlertReplication(
                            service=network, venue=venue, identity=identity
                        )
                        replication.start_loading()
                        local_api = LocalApi(
                            store=store,
                            clock=clock,
                            config=config,
                            peer_id=identity.peer_id,
                            short_id=identity.short_id,
                            cookie=cookie,
                            counts=lambda: db_counts(venue),
                            network_status=network.status,
                            loading=replication.loading_status,
                            last_synced=lambda: replication.last_synced_at,
                        )
                        local_api.register(dispatcher)
                        await start_ladder(nursery, venue=venue, network=network, identity=identity)
                        sharing = ReportSharing(network=network, store=store, identity=identity)
                        network.extend(sharing.install)
                        if network.rr is not None:
                            sharing.install(network)
                        ReportApi(
                            store=store, clock=clock, venue=config.venue, sharing=sharing
                        ).register(dispatcher)
                        notices = NoticeService(service=network, venue=venue, identity=identity)
                        await notices.load()
                        NoticeApi(notices).register(dispatcher)
                        nursery.start_soon(notices.run)
                        if demo_clock is not None:
                            ClockApi(
                                demo_clock,
                                store=store,
                                after_advance=lambda: retention_pass(venue, replication),
                            ).register(dispatcher)
                        await nursery.start(server.serve)
                        if config.api_tcp:
                            local_api.api_token = api_token(d)
                            host, _, port = config.api_tcp.rpartition(":")
                            await nursery.start(server.serve_tcp, host.strip("[]"), int(port))
                        await start_console(nursery, d, config, dispatcher, venue, local_api)
                        log.info("node.started", peer_id=identity.peer_id, socket=str(d.socket))
                        nursery.start_soon(replicate, nursery, replication)
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


async def replicate(nursery: trio.Nursery, replication: AlertReplication) -> None:
    """Load the received alerts behind the open socket, then replicate.

    Sync serves and applies against the replicas, so it starts once they are
    rebuilt (a peer that tried meanwhile is synced with at once); alerts are then
    opened and indexed while scans are answered (``AlertReplication.load_alerts``).
    """
    await replication.load_replicas()
    sync = SyncService(replication)
    nursery.start_soon(replication.run)
    nursery.start_soon(sync.run)
    sync.request_sync()
    await replication.load_alerts()


async def start_console(
    nursery: trio.Nursery,
    d: DataDir,
    config: NodeConfig,
    dispatcher: Dispatcher,
    venue: Venue,
    local_api: LocalApi,
) -> None:
    """Serve the web console at ``console_listen`` (HTTPS off loopback)."""
    address = parse_listen(config.console_listen)
    cert = key = None
    if address.tls:
        if config.console_cert and config.console_key:
            cert, key = Path(config.console_cert), Path(config.console_key)
        elif config.console_cert or config.console_key:
            raise DataDirError("console_cert and console_key: give both, or neither")
        else:
            cert, key = ensure_certificate(d, config.venue)
        local_api.console_fingerprint = fingerprint(cert)
    console = ConsoleServer(dispatcher, venue.console, address, certfile=cert, keyfile=key)
    local_api.console_url = await nursery.start(console.serve)


def socket_group(d: DataDir, config: NodeConfig) -> int | None:
    """The group opted in to the socket (mode 0660), or None for owner only (0600).

    Group members must be able to reach the socket, so the data directory
    becomes 0710 for that group: they can traverse it but not list it, and
    every other file in it stays 0600.
    """
    if config.socket_group is None:
        return None
    try:
        gid = grp.getgrnam(config.socket_group).gr_gid
    except KeyError:
        raise DataDirError(
            f"socket_group: there is no group named {config.socket_group!r}"
        ) from None
    os.chown(d.path, -1, gid)
    os.chmod(d.path, 0o710)  # noqa: S103 - traverse only, for the opted-in group
    return gid


def api_token(d: DataDir) -> str:
    """The bearer token of the loopback TCP listener, made once and kept (0600)."""
    try:
        return d.read_secret(API_TOKEN_NAME).decode().strip()
    except DataDirError:
        token = secrets.token_urlsafe(32)
        d.write_secret(API_TOKEN_NAME, token.encode())
        return token
