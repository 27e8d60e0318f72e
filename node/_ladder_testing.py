"""Two venues in one process with real libp2p hosts on 127.0.0.1, for ladder tests and benches.

Each venue is a ``VenueHarness`` (real store in its own directory, the real
dispatcher) plus its own ``NetworkService`` and the ladder (``start_ladder``).
The network is formed with the same functions the CLI uses (create, invite,
accept the join, install the bundle), so the membership gate, certificates
and groups are real. Only the delivery of the alert's segments to the
requester is done here directly (``install_received``): the ladder is tested
independently of alert gossip.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import trio

from doorwatch.crypto import NodeIdentity, StorageKey, join_request
from doorwatch.node import _alerts
from doorwatch.node import _network_admin as admin
from doorwatch.node._config import NodeConfig
from doorwatch.node._ladder_service import Ladder, start_ladder
from doorwatch.node._network import NetworkService
from doorwatch.node._received import ReceivedAlert
from doorwatch.node._venue_testing import VenueHarness, venue_harness
from doorwatch.node.testing import PASSWORD, Daemon, doorwatch
from doorwatch.protocol import RateLimits, RequesterLimits
from doorwatch.segments import Factor, SegmentSet


@dataclass
class LadderVenue:
    name: str
    identity: NodeIdentity
    key: StorageKey
    h: VenueHarness
    stop: trio.CancelScope
    stopped: trio.Event
    network: NetworkService
    ladder: Ladder

    @property
    def peer_id(self) -> str:
        return self.identity.peer_id

    async def shutdown(self) -> None:
        """Stop this venue's node (network, ladder, store) and wait until it has stopped."""
        self.stop.cancel()
        await self.stopped.wait()


@dataclass
class LadderPair:
    a: LadderVenue  # the originator (network authority)
    b: LadderVenue  # the requester
    network_id: str

    async def install_received(
        self, alert_id: str, *, segments: SegmentSet | None = None, group: str = "all"
    ) -> ReceivedAlert:
        """Put A's alert into B's index and ``venue.received``, as alert gossip would."""
        record = await self.a.h.store.run(_alerts.get, alert_id)
        if segments is None:
            factors = tuple(Factor(code, value) for code, value in record.segments)
            segments = SegmentSet(factors, record.segment_bits)
        received = ReceivedAlert(
            alert_id=alert_id,
            network_id=self.network_id,
            group=group,
            epoch=1,
            originator=self.a.peer_id,
            originating_venue=self.a.name,
            version=record.version,
            category=record.category,
            harm=record.harm,
            created_at=record.created_at,
            expires_at=record.expires_at,
        )
        venue = self.b.h.venue
        venue.engine.add_alert(alert_id, segments, record.harm, local=False)
        venue.received[alert_id] = received
        return received


class _Started(NamedTuple):
    h: VenueHarness
    stop: trio.CancelScope
    stopped: trio.Event
    network: NetworkService
    ladder: Ladder


async def _start_venue(
    nursery: trio.Nursery,
    directory: Path,
    name: str,
    identity: NodeIdentity,
    key: StorageKey,
    now: int,
    limits: RateLimits | None,
    sync_interval: float,
    requester_limits: RequesterLimits | None = None,
) -> _Started:
    stopped = trio.Event()
    ready: trio.Event = trio.Event()
    out: list[object] = []
    scope = trio.CancelScope()

    async def run() -> None:
        try:
            await serve()
        finally:
            stopped.set()

    async def serve() -> None:
        with scope:
            async with venue_harness(
                directory, config=NodeConfig(venue=name), key=key, now=now
            ) as h:
                network = NetworkService(
                    store=h.store,
                    identity=identity,
                    storage_key=key,
                    clock=h.clock,
                    listen=["/ip4/127.0.0.1/tcp/0"],
                    sync_interval=sync_interval,
                )
                async with trio.open_nursery() as inner:
                    await inner.start(network.run)
                    ladder = await start_ladder(
                        inner,
                        venue=h.venue,
                        network=network,
                        identity=identity,
                        limits=limits,
                        requester_limits=requester_limits,
                    )
                    out.extend([h, network, ladder])
                    ready.set()
                    await trio.sleep_forever()

    nursery.start_soon(run)
    await ready.wait()
    h, network, ladder = out
    assert isinstance(h, VenueHarness)
    assert isinstance(network, NetworkService)
    assert isinstance(ladder, Ladder)
    return _Started(h, scope, stopped, network, ladder)


@asynccontextmanager
async def ladder_pair(
    directory: Path,
    *,
    b_groups: Sequence[str] = (),
    limits: RateLimits | None = None,
    requester_limits: RequesterLimits | None = None,
) -> AsyncIterator[LadderPair]:
    """A ("The Crown", authority) and B ("The Swan", groups ``all`` + ``b_groups``), connected."""
    now = int(time.time())
    a_id, b_id = NodeIdentity.generate(), NodeIdentity.generate()
    a_key, b_key = StorageKey.generate(), StorageKey.generate()
    (directory / "a").mkdir()
    (directory / "b").mkdir()
    async with trio.open_nursery() as nursery:
        sa = await _start_venue(
            nursery, directory / "a", "The Crown", a_id, a_key, now, limits, 2.0
        )
        network_id = await sa.h.store.run(
            admin.create_network,
            identity=a_id,
            storage_key=a_key,
            venue="The Crown",
            name="Town",
            jurisdiction="GB",
            now=now,
        )
        await sa.network.reload()
        assert sa.network.host is not None
        token = await sa.h.store.run(
            admin.issue_invite,
            storage_key=a_key,
            network_id=network_id,
            venue="The Swan",
            groups=list(b_groups),
            bootstrap_addrs=[],
            expires_at=now + 3600,
            now=now,
        )
        bundle = await sa.h.store.run(
            admin.accept_join,
            storage_key=a_key,
            identity=a_id,
            request=join_request(token, b_id, now=now),
            transport_peer_id=admin.join_identity(token).peer_id,
            now=now,
        )
        await sa.network.refresh()
        sb = await _start_venue(
            nursery, directory / "b", "The Swan", b_id, b_key, now, limits, 3600.0, requester_limits
        )

        a_addrs = list(sa.network.host.listen_addrs)

        def install(conn: sqlite3.Connection) -> None:
            admin.install_bundle(
                conn,
                storage_key=b_key,
                identity=b_id,
                bundle=bundle,
                authority_public_key=token.authority_public_key,
                sender_peer_id=a_id.peer_id,
                now=now,
            )

        await sb.h.store.run(install)
        await sb.network.reload()
        # One explicit connection: B's dialer and its membership sync racing to
        # dial A can leave a socket py-libp2p never closes (B has its bundle
        # already, so its sync is kept idle and the dialer has no address).
        assert sb.network.host is not None
        with trio.fail_after(20):
            await sb.network.host.connect(a_id.peer_id, a_addrs)
        pair = LadderPair(
            LadderVenue("The Crown", a_id, a_key, *sa),
            LadderVenue("The Swan", b_id, b_key, *sb),
            network_id,
        )
        try:
            yield pair
        finally:
            # The requester first, so that it does not redial the stopping originator.
            with trio.CancelScope(shield=True), trio.move_on_after(10):
                await pair.b.shutdown()
                await pair.a.shutdown()
            nursery.cancel_scope.cancel()


@contextmanager
def daemon_pair_with_alert(
    root: Path, alert: dict[str, object], *, wait: float = 30.0
) -> Iterator[tuple[Daemon, Daemon, str]]:
    """Two real daemons (processes) in one network, and an alert made at A and received by B.

    A is "The Crown" (network authority), B "The Swan"; both have the
    super administrator ``admin`` with ``PASSWORD``. ``alert`` is the
    ``alert.create`` params at A. Yields ``(a, b, alert_id)`` once B holds the
    alert's segments; stops both daemons on exit and, when the body succeeded,
    fails on any unexpected ERROR line in their logs.
    """

    def cli(*args: str) -> str:
        done = doorwatch(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def status(d: Daemon) -> Any:
        client = d.client()
        try:
            return client.result("node.status")
        finally:
            client.close()
            d.clients.remove(client)

    def wait_for(what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + wait
        while not check():
            assert time.monotonic() < deadline, f"not reached within {wait} s: {what}"
            time.sleep(0.25)

    (root / "pw").write_text(PASSWORD + "\n")
    a, b = Daemon(root / "a", root / "a.log"), Daemon(root / "b", root / "b.log")
    try:
        for d, venue in ((a, "The Crown"), (b, "The Swan")):
            pw = str(root / "pw")
            cli(
                "init",
                "--data-dir",
                str(d.data_dir),
                "--venue",
                venue,
                "--admin-user",
                "admin",
                "--password-file",
                pw,
            )
        cli("network", "create", "--data-dir", str(a.data_dir), "--name", "Town")
        a.start()
        b.start()
        token = cli("network", "invite", "--data-dir", str(a.data_dir), "--venue", "The Swan")
        cli("network", "join", token, "--data-dir", str(b.data_dir))
        wait_for(
            "B connects to A",
            lambda: {p["venue"] for p in status(b)["peers"] if p["connected"]} == {"The Crown"},
        )
        client = a.client()
        alert_id = str(client.result("alert.create", **alert)["alert_id"])  # type: ignore[index]
        wait_for("the alert reaches B", lambda: status(b)["counts"]["alerts_received_active"] == 1)
        yield a, b, alert_id
    finally:
        for d in (b, a):
            if d.proc is not None:
                d.stop()
    bad = {d.data_dir.name: d.unexpected_errors() for d in (a, b) if d.unexpected_errors()}
    assert not bad, f"unexpected ERROR lines in the daemons' logs: {bad}"
