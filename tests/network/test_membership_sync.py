"""Membership syncs answer "unchanged" while nothing changed, and in full when it did."""

from __future__ import annotations

from pathlib import Path

from doorwatch.crypto import NodeIdentity
from doorwatch.node._ladder_testing import ladder_pair
from doorwatch.node._membership_sync import SyncAnswer, SyncQuery, membership_tag
from doorwatch.node._network import SYNC_PROTOCOL

from .test_ladder import no_errors
from .test_replication_repairs import add_member_c

__all__ = ["no_errors"]  # the autouse fixture: no ERROR from either node


async def test_an_unchanged_membership_is_not_sent_again_and_a_change_is(tmp_path: Path) -> None:
    async with ladder_pair(tmp_path) as pair:
        a, b = pair.a.network, pair.b.network
        net_b = b.networks[pair.network_id]
        await b._sync_once(net_b)
        full = a.membership_syncs["full"]
        unchanged = a.membership_syncs["unchanged"]

        await b._sync_once(net_b)
        await b._sync_once(net_b)
        assert a.membership_syncs["full"] == full
        assert a.membership_syncs["unchanged"] == unchanged + 2

        # A third venue joins at A: B's next sync brings its certificate.
        c_id = await add_member_c(pair)
        assert c_id not in net_b.certificates
        await b._sync_once(net_b)
        assert a.membership_syncs["full"] == full + 1
        assert c_id in b.networks[pair.network_id].certificates
        await b._sync_once(net_b)
        assert a.membership_syncs["unchanged"] == unchanged + 3


async def test_unchanged_is_only_said_to_the_tag_of_the_current_state(tmp_path: Path) -> None:
    async with ladder_pair(tmp_path) as pair:
        assert pair.b.network.rr is not None
        rr = pair.b.network.rr
        addrs = tuple(pair.b.network.host.listen_addrs) if pair.b.network.host else ()
        stale = SyncQuery(network_id=pair.network_id, addrs=addrs, known=b"\x00" * 16)
        answer = SyncAnswer.from_bytes(
            await rr.request(pair.a.peer_id, SYNC_PROTOCOL, stale.to_bytes(), timeout=10)
        )
        assert answer.bundle is not None  # a wrong tag gets the whole membership
        assert answer.tag != stale.known
        again = SyncQuery(network_id=pair.network_id, addrs=addrs, known=answer.tag)
        second = SyncAnswer.from_bytes(
            await rr.request(pair.a.peer_id, SYNC_PROTOCOL, again.to_bytes(), timeout=10)
        )
        assert second.bundle is None
        assert second.tag == answer.tag
        # New addresses are news for the key manager: the full path records them.
        moved = SyncQuery(
            network_id=pair.network_id, addrs=("/ip4/127.0.0.1/tcp/1",), known=answer.tag
        )
        third = SyncAnswer.from_bytes(
            await rr.request(pair.a.peer_id, SYNC_PROTOCOL, moved.to_bytes(), timeout=10)
        )
        assert third.bundle is not None


def test_the_tag_changes_with_everything_a_member_is_sent() -> None:
    a, b = NodeIdentity.generate().peer_id, NodeIdentity.generate().peer_id
    base = {
        "peer_id": a,
        "certificates": [],
        "revocations": None,
        "key_ids": [("all", 1)],
        "addresses": {b: ("/ip4/127.0.0.1/tcp/4001",)},
        "now": 1_800_000_000,
    }
    tag = membership_tag(**base)  # type: ignore[arg-type]
    assert membership_tag(**base) == tag  # type: ignore[arg-type]
    moved = dict(base, addresses={b: ("/ip4/127.0.0.1/tcp/4002",)})
    assert membership_tag(**moved) != tag  # type: ignore[arg-type]
    later = dict(base, now=base["now"] + 3600)  # type: ignore[operator]
    assert membership_tag(**later) != tag  # type: ignore[arg-type]
