"""The two py-libp2p per-message costs a node switches off (node/_p2p_tuning.py)."""

from __future__ import annotations

from typing import Any

import libp2p.pubsub.gossipsub
import libp2p.pubsub.pubsub
import libp2p.stream_muxer.yamux.yamux
import pytest
import trio
from libp2p.peer.id import ID
from libp2p.peer.peerstore import env_to_send_in_RPC
from libp2p.pubsub.pb import rpc_pb2

from doorwatch.node import _p2p_tuning
from doorwatch.node._p2p_host import P2PHost

from .conftest import Libp2pErrors, Membership


def _rpc(record: bytes) -> Any:
    msg = rpc_pb2.RPC()
    msg.senderRecord = record
    return msg


async def test_a_peer_record_is_verified_once_and_every_other_record_in_full(
    membership: Membership, libp2p_errors: Libp2pErrors, monkeypatch: pytest.MonkeyPatch
) -> None:
    libp2p_errors.allow("Certified-Addr-Book")  # py-libp2p's own words for the tampered one
    full: list[str] = []
    original = _p2p_tuning._original

    def counted(msg: Any, host: Any, peer_id: Any) -> bool:
        full.append(peer_id.to_base58())
        return original(msg, host, peer_id)

    monkeypatch.setattr(_p2p_tuning, "_original", counted)
    a_id, b_id, c_id = (membership.new_member() for _ in range(3))
    with trio.fail_after(20):
        async with (
            P2PHost(a_id, admit=membership.admit) as a,
            P2PHost(b_id, admit=membership.admit) as b,
            P2PHost(c_id, admit=membership.admit) as c,
        ):
            # Every module that calls py-libp2p's check calls ours.
            check = _p2p_tuning.maybe_consume_signed_record
            assert libp2p.pubsub.pubsub.maybe_consume_signed_record is check
            assert libp2p.pubsub.gossipsub.maybe_consume_signed_record is check
            b_record, _ = env_to_send_in_RPC(b.libp2p)
            c_record, _ = env_to_send_in_RPC(c.libp2p)
            b_peer = ID.from_base58(b.peer_id)

            assert check(_rpc(b_record), a.libp2p, b_peer)
            assert check(_rpc(b_record), a.libp2p, b_peer)
            assert check(_rpc(b_record), a.libp2p, b_peer)
            assert full == [b.peer_id]  # verified once
            assert a.libp2p.get_peerstore().get_peer_record(b_peer) is not None
            # Another host has not accepted it yet: verified there too.
            assert check(_rpc(b_record), c.libp2p, b_peer)
            assert full == [b.peer_id] * 2

            # Other bytes always get py-libp2p's own check: a forged signature and
            # C's record sent as B's are refused, and B's record is then checked again.
            tampered = b_record[:-1] + bytes([b_record[-1] ^ 1])
            assert not check(_rpc(tampered), a.libp2p, b_peer)
            assert not check(_rpc(c_record), a.libp2p, b_peer)
            assert check(_rpc(b_record), a.libp2p, b_peer)
            assert full == [b.peer_id] * 5

            # An RPC without a record is py-libp2p's "nothing to check".
            assert check(rpc_pb2.RPC(), a.libp2p, b_peer)
            # After REFRESH_S the record is consumed in full again (its addresses renewed).
            monkeypatch.setattr(_p2p_tuning, "REFRESH_S", 0.0)
            assert check(_rpc(b_record), a.libp2p, b_peer)
            assert full == [b.peer_id] * 6


def test_yamux_releases_credit_in_batches_unless_the_operator_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PY_YAMUX_RELEASE_ON_READ", raising=False)
    _p2p_tuning.apply()
    assert libp2p.stream_muxer.yamux.yamux._yamux_release_on_read() is False
    monkeypatch.setenv("PY_YAMUX_RELEASE_ON_READ", "1")
    _p2p_tuning.apply()
    assert libp2p.stream_muxer.yamux.yamux._yamux_release_on_read() is True
