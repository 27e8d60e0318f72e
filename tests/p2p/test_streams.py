"""Request/response streams between real loopback hosts."""

from __future__ import annotations

import struct

import pytest
import trio
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

from doorwatch.node._p2p_errors import FrameTooLarge, RemoteClosed, RemoteError, RequestTimeout
from doorwatch.node._p2p_host import P2PHost
from doorwatch.node._p2p_streams import RequestRejected, RequestResponse

from .conftest import Membership

SYNC = "/doorwatch/sync/1.0.0"


async def _reverse(peer_id: str, payload: bytes) -> bytes:
    return payload[::-1]


async def _broken(peer_id: str, payload: bytes) -> bytes:
    raise ValueError("secret detail that must not travel")


async def _rejecting(peer_id: str, payload: bytes) -> bytes:
    raise RequestRejected("rate limit: at most 3 checks per alert")


def _pair(membership: Membership) -> tuple[P2PHost, RequestResponse, P2PHost, RequestResponse]:
    server = P2PHost(membership.new_member(), admit=membership.admit)
    client = P2PHost(membership.new_member(), admit=membership.admit)
    return server, RequestResponse(server), client, RequestResponse(client)


async def test_round_trip(membership: Membership) -> None:
    server, rs, client, rc = _pair(membership)
    rs.register(SYNC, _reverse)
    with trio.fail_after(15):
        async with server, client:
            await client.connect(server.peer_id, server.listen_addrs)
            payload = bytes(range(256)) * 1000  # larger than one read chunk
            assert await rc.request(server.peer_id, SYNC, payload, timeout=5) == payload[::-1]
            assert await rc.request(server.peer_id, SYNC, b"", timeout=5) == b""
            assert rs.served == 2


async def test_oversize_request_is_refused(membership: Membership) -> None:
    server, rs, client, rc = _pair(membership)
    rs.register(SYNC, _reverse, max_request=1024)
    with trio.fail_after(15):
        async with server, client:
            await client.connect(server.peer_id, server.listen_addrs)
            with pytest.raises(FrameTooLarge):
                await rc.request(server.peer_id, SYNC, b"x" * 4096, timeout=5)
            # the host keeps serving
            assert await rc.request(server.peer_id, SYNC, b"ok", timeout=5) == b"ko"


async def test_huge_announced_request_is_cut_off_without_reading(membership: Membership) -> None:
    server, rs, client, _ = _pair(membership)
    rs.register(SYNC, _reverse, max_request=1024)
    with trio.fail_after(15):
        async with server, client:
            await client.connect(server.peer_id, server.listen_addrs)
            stream = await client.libp2p.new_stream(
                ID.from_base58(server.peer_id), [TProtocol(SYNC)]
            )
            await stream.write(struct.pack(">I", 0xFFFFFFFF))
            answer = await stream.read(1024)
            assert answer[0] == 2  # STATUS_TOO_LARGE, sent after only the 4-byte header
            assert b"exceeds the cap of 1024 bytes" in answer
            await stream.close()


async def test_huge_announced_response_is_refused(membership: Membership) -> None:
    server, _, client, rc = _pair(membership)

    async def liar(stream: INetStream) -> None:
        await stream.read(100)
        await stream.write(bytes([0]) + struct.pack(">I", 0xFFFFFFF0))
        await trio.sleep(10)

    server.libp2p.set_stream_handler(TProtocol(SYNC), liar)
    with trio.fail_after(15):
        async with server, client:
            await client.connect(server.peer_id, server.listen_addrs)
            with pytest.raises(FrameTooLarge, match="response"):
                await rc.request(server.peer_id, SYNC, b"hi", timeout=5, max_response=1 << 20)


async def test_handler_exception_gives_a_clean_error(membership: Membership) -> None:
    server, rs, client, rc = _pair(membership)
    rs.register(SYNC, _broken)
    rs.register("/doorwatch/other/1.0.0", _reverse)
    rs.register("/doorwatch/limited/1.0.0", _rejecting)
    with trio.fail_after(15):
        async with server, client:
            await client.connect(server.peer_id, server.listen_addrs)
            with pytest.raises(RemoteError, match="the handler failed") as failed:
                await rc.request(server.peer_id, SYNC, b"x", timeout=5)
            assert "secret" not in str(failed.value)
            with pytest.raises(RemoteError, match="rate limit"):
                await rc.request(server.peer_id, "/doorwatch/limited/1.0.0", b"x", timeout=5)
            assert (
                await rc.request(server.peer_id, "/doorwatch/other/1.0.0", b"ab", timeout=5)
                == b"ba"
            )
            assert rs.failed == 2


async def test_stalled_peer_times_out(membership: Membership) -> None:
    server, _, client, rc = _pair(membership)

    async def stall(stream: INetStream) -> None:
        await trio.sleep(30)

    server.libp2p.set_stream_handler(TProtocol(SYNC), stall)
    with trio.fail_after(15):
        async with server, client:
            await client.connect(server.peer_id, server.listen_addrs)
            with pytest.raises(RequestTimeout):
                await rc.request(server.peer_id, SYNC, b"hi", timeout=0.5)


async def test_peer_closing_mid_answer_is_remote_closed(membership: Membership) -> None:
    server, _, client, rc = _pair(membership)

    async def half(stream: INetStream) -> None:
        await stream.read(100)
        await stream.write(bytes([0]) + struct.pack(">I", 100) + b"short")
        await stream.close()

    server.libp2p.set_stream_handler(TProtocol(SYNC), half)
    with trio.fail_after(15):
        async with server, client:
            await client.connect(server.peer_id, server.listen_addrs)
            with pytest.raises(RemoteClosed):
                await rc.request(server.peer_id, SYNC, b"hi", timeout=5)
