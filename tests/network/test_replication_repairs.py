"""Alert replication between two venues around key rotations, deletions, leaves and refusals:
real libp2p hosts on 127.0.0.1, one process (``ladder_pair``), with the daemon's
``AlertReplication`` and ``SyncService`` running on both.

A ("The Crown") is the network authority and originates the alerts; B ("The Swan")
receives them. A third member, C, exists only as a certificate in A's store: revoking it
rotates the group key of ``all`` as every revocation does.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

from doorwatch.crypto import CryptoError, NodeIdentity, join_request, open_envelope
from doorwatch.node import _network_admin as admin
from doorwatch.node import _network_store as netdb
from doorwatch.node._alert_gossip import AlertReplication
from doorwatch.node._ladder_testing import LadderPair, ladder_pair
from doorwatch.node._network import BANNED
from doorwatch.node._network import SYNC_PROTOCOL as MEMBERSHIP_PROTOCOL
from doorwatch.node._p2p_errors import RemoteError
from doorwatch.node._roles import Role
from doorwatch.node._sync_service import SYNC_PROTOCOL, SyncService

from .test_ladder import WAIT, create_alert, doc, no_errors
from .test_revoked_requester import revoke_b

__all__ = ["no_errors"]  # the autouse fixture: no ERROR from either node


@dataclass
class Replicating:
    ra: AlertReplication
    rb: AlertReplication
    sa: SyncService
    sb: SyncService


@asynccontextmanager
async def replicating(pair: LadderPair) -> AsyncIterator[Replicating]:
    """Run alert replication and sync at A and B, as the daemon does."""
    made = []
    async with trio.open_nursery() as nursery:
        for v in (pair.a, pair.b):
            # The venue harness runs the alert API without a peer id (its alerts have no
            # salt, so they are never published); the daemon gives it the node's.
            alerts_api = v.h.dispatcher.methods["alert.create"].handler.__self__  # type: ignore[attr-defined]
            alerts_api.peer_id = v.peer_id
            replication = AlertReplication(service=v.network, venue=v.h.venue, identity=v.identity)
            sync = SyncService(replication)
            await replication.load()
            nursery.start_soon(replication.run)
            nursery.start_soon(sync.run)
            made.append((replication, sync))
        try:
            yield Replicating(made[0][0], made[1][0], made[0][1], made[1][1])
        finally:
            nursery.cancel_scope.cancel()


async def until(what: str, check: Callable[[], bool]) -> None:
    with trio.fail_after(WAIT):
        while not check():
            await trio.sleep(0.05)
    assert check(), what


async def add_member_c(pair: LadderPair) -> str:
    """A certificate for a third venue, C, in A's store (C never runs)."""
    now = int(time.time())
    c = NodeIdentity.generate()
    token = await pair.a.h.store.run(
        admin.issue_invite,
        storage_key=pair.a.key,
        network_id=pair.network_id,
        venue="The Bell",
        groups=[],
        bootstrap_addrs=[],
        expires_at=now + 3600,
        now=now,
    )
    await pair.a.h.store.run(
        admin.accept_join,
        storage_key=pair.a.key,
        identity=pair.a.identity,
        request=join_request(token, c, now=now),
        transport_peer_id=admin.join_identity(token).peer_id,
        now=now,
    )
    await pair.a.network.refresh()
    return c.peer_id


async def scan_at_b(pair: LadderPair) -> dict[str, Any]:
    result: dict[str, Any] = await pair.b.h.call("scan.submit", document=doc())
    return result


async def test_a_rotation_reseals_own_alerts_and_late_keys_open_what_was_stored(
    tmp_path: Path,
) -> None:
    with trio.fail_after(120):
        async with ladder_pair(tmp_path) as pair, replicating(pair) as r:
            ra, rb = r.ra, r.rb
            nid = pair.network_id
            c = await add_member_c(pair)
            alert_id = await create_alert(pair)
            raw = bytes.fromhex(alert_id)
            b_received = pair.b.h.venue.received
            await until("B receives the alert", lambda: alert_id in b_received)
            assert (b_received[alert_id].version, b_received[alert_id].epoch) == (1, 1)

            # A revokes C: the key of "all" rotates at A. B hears nothing of it yet.
            await pair.a.h.store.run(
                admin.revoke_member,
                storage_key=pair.a.key,
                network_id=nid,
                peer_id=c,
                now=int(time.time()),
            )
            await pair.a.network.refresh()
            assert pair.b.network.networks[nid].keyring.current_epoch("all") == 1

            # A re-seals its active alert under epoch 2, as version 2, and gossips it: B
            # stores the envelope it cannot open yet and keeps matching on version 1.
            def b_holds_epoch_2() -> bool:
                record = rb.replica(nid).record(raw)
                return record is not None and record.epoch == 2

            await until("B stores the re-sealed version", b_holds_epoch_2)
            resealed = ra.replica(nid).record(raw)
            assert resealed is not None
            assert (resealed.version, resealed.epoch) == (2, 2)
            assert b_received[alert_id].version == 1
            assert (await scan_at_b(pair))["verdict"] == "check"

            # C, revoked, holds only epoch 1: the re-sealed envelope is closed to it.
            old_key = pair.a.network.networks[nid].keyring.key_for("all", 1)
            assert old_key is not None
            with pytest.raises(CryptoError):
                open_envelope(resealed.message.envelope, old_key)

            # The key manager announces the change; B's membership sync brings epoch 2,
            # and B opens and indexes what it had stored.
            pair.a.network.announce_membership(nid)
            await until(
                "B indexes the re-sealed version", lambda: b_received[alert_id].version == 2
            )
            assert b_received[alert_id].epoch == 2
            assert (await scan_at_b(pair))["verdict"] == "check"
            entries = await pair.a.h.call("audit.query", Role.ADMINISTRATOR, alert_id=alert_id)
            assert "alert.resealed" in [e["action"] for e in entries]


async def test_a_deletion_whose_tombstone_was_lost_is_sent_on_catch_up(tmp_path: Path) -> None:
    with trio.fail_after(90):
        async with ladder_pair(tmp_path) as pair, replicating(pair) as r:
            ra = r.ra
            alert_id = await create_alert(pair)
            b_received = pair.b.h.venue.received
            await until("B receives the alert", lambda: alert_id in b_received)

            # The node dies between the deletion's commit and the tombstone's publication:
            # here, the publisher never hears of the deletion.
            pair.a.h.venue.alert_listeners.remove(ra._alert_changed)
            await pair.a.h.call("alert.delete", role=Role.SUPER_ADMINISTRATOR, alert_id=alert_id)
            assert alert_id in b_received

            # What the node runs at start-up (and every minute): the tombstone goes out.
            assert await ra.catch_up() == 1
            await until("B drops the deleted alert", lambda: alert_id not in b_received)
            assert (await scan_at_b(pair))["verdict"] == "admit"
            held = ra.replica(pair.network_id).record(bytes.fromhex(alert_id))
            assert held is not None
            assert held.withdrawn
            assert await ra.catch_up() == 0  # nothing left to send


async def test_a_sync_for_a_network_just_left_ends_quietly(tmp_path: Path) -> None:
    with trio.fail_after(90):
        async with ladder_pair(tmp_path) as pair, replicating(pair) as r:
            sb = r.sb
            nid = pair.network_id
            stats = await sb.sync_with(pair.a.peer_id, nid)
            assert stats.messages >= 1
            await leave(pair)
            assert nid not in pair.b.network.networks
            # A round that was already under way asks for the network next: no crash.
            stats = await sb.sync_with(pair.a.peer_id, nid)
            assert (stats.messages, stats.fetched, stats.pushed) == (0, 0, 0)
            await sb._sync_peer(pair.a.peer_id)
            assert pair.b.h.venue.received == {}


async def leave(pair: LadderPair) -> None:
    """B leaves the network, as ``network.leave`` does (store, then the running service)."""
    await pair.b.h.store.run(
        admin.leave_network,
        network_id=pair.network_id,
        self_peer_id=pair.b.peer_id,
        actor="admin",
        now=int(time.time()),
    )
    await pair.b.network.refresh()


async def test_a_membership_answer_arriving_after_a_leave_does_not_join_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with trio.fail_after(90):
        async with ladder_pair(tmp_path) as pair:
            nid = pair.network_id
            net = pair.b.network.networks[nid]
            rr = pair.b.network.rr
            assert rr is not None
            real_request = rr.request

            async def answer_then_leave(peer_id: str, protocol: str, *a: Any, **k: Any) -> bytes:
                reply = await real_request(peer_id, protocol, *a, **k)
                if protocol == MEMBERSHIP_PROTOCOL:
                    await leave(pair)  # the operator's leave completes meanwhile
                return reply

            monkeypatch.setattr(rr, "request", answer_then_leave)
            await pair.b.network._sync_once(net)  # the round under way
            networks = await pair.b.h.store.run(netdb.list_networks)
            assert [n.network_id for n in networks] == []
            assert nid not in pair.b.network.networks


async def test_a_revoked_member_still_connected_is_refused_visibly(
    tmp_path: Path, no_errors: list[dict[str, Any]]
) -> None:
    with trio.fail_after(90):
        async with ladder_pair(tmp_path) as pair, replicating(pair):
            await revoke_b(pair)
            assert pair.b.network.rr is not None
            with pytest.raises(RemoteError):
                await pair.b.network.rr.request(pair.a.peer_id, SYNC_PROTOCOL, b"\x80", timeout=10)
            gate = pair.a.network.status()["gate"]
            assert isinstance(gate, dict)
            assert gate["requests_refused"] == {"certificate revoked": 1}
            logged = [e for e in no_errors if e["event"] == "network.request_refused"]
            assert [(e["log_level"], e["peer_id"], e["protocol"]) for e in logged] == [
                ("warning", pair.b.peer_id, SYNC_PROTOCOL)
            ]


async def test_a_banned_peer_shows_as_refused_in_status(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with ladder_pair(tmp_path) as pair:
            host = pair.a.network.host
            assert host is not None

            def refused() -> object:
                peers = pair.a.network.status()["peers"]
                assert isinstance(peers, list)
                return next(p["refused"] for p in peers if p["peer_id"] == pair.b.peer_id)

            assert refused() is None
            host.gate.ban(pair.b.peer_id, 600, "gossip score too low")
            assert refused() == BANNED


async def test_a_completed_sync_is_recorded_at_both_ends_for_the_health_indicator(
    tmp_path: Path,
) -> None:
    with trio.fail_after(90):
        async with ladder_pair(tmp_path) as pair, replicating(pair) as r:
            r.ra.last_synced_at = r.rb.last_synced_at = None
            await r.sb.sync_with(pair.a.peer_id, pair.network_id)
            # B started it, A answered it: both are as up to date as each other.
            assert r.rb.last_synced_at is not None
            assert r.ra.last_synced_at is not None
