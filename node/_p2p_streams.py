"""Request/response over libp2p streams: one stream per request.

Theory of operation. The requester opens a stream for a protocol id
(multistream-select negotiates it), writes one request frame and reads one
response frame; the responder reads the request, runs the registered handler
and answers. Frames:

    request  = u32 big-endian length || payload
    response = u8 status || u32 big-endian length || body

``status`` 0 carries the handler's bytes; any other status carries a short
UTF-8 message (``STATUS_*`` below). A frame's length is checked against the
reader's cap BEFORE anything is read or allocated, and the body is read in
bounded chunks, so a peer announcing 4 GiB is cut off after 4 bytes.

Every libp2p/trio exception is mapped here, once, to ``PeerUnreachable``,
``RequestTimeout``, ``FrameTooLarge``, ``RemoteClosed`` or ``RemoteError``.
A handler failure never reaches libp2p: the responder answers with an error
frame (its message is generic unless the handler raised ``RequestRejected``,
whose message is meant for the peer) and logs the exception type only.
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass

import structlog
import trio
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.peer.id import ID

from doorwatch.node._p2p_errors import (
    FrameTooLarge,
    P2PError,
    PeerRefused,
    PeerUnreachable,
    RemoteClosed,
    RemoteError,
    RequestTimeout,
)
from doorwatch.node._p2p_host import P2PHost

log = structlog.get_logger("doorwatch.p2p.streams")

Handler = Callable[[str, bytes], Awaitable[bytes]]

STATUS_OK = 0
STATUS_FAILED = 1
STATUS_TOO_LARGE = 2
STATUS_BUSY = 3
STATUS_REJECTED = 4

DEFAULT_MAX_REQUEST = 1 << 20
DEFAULT_MAX_RESPONSE = 4 << 20
_MAX_ERROR_MESSAGE = 200
_CHUNK = 64 * 1024
_U32 = struct.Struct(">I")
_FOREIGN = (BaseLibp2pError, OSError, trio.BrokenResourceError, trio.ClosedResourceError, EOFError)


class RequestRejected(P2PError):
    """Raised by a handler to refuse a request with a message for the peer.

    The message goes on the wire: name the rule, never personal data.
    """


class _Truncated(Exception):
    """The stream ended inside a frame (internal)."""


@dataclass(frozen=True, slots=True)
class _Registration:
    handler: Handler
    max_request: int
    timeout: float
    limiter: trio.CapacityLimiter


async def _read_exactly(stream: INetStream, n: int) -> bytes:
    parts: list[bytes] = []
    remaining = n
    while remaining:
        try:
            chunk = await stream.read(min(remaining, _CHUNK))
        except EOFError:  # libp2p's StreamEOF: the peer half-closed inside the frame
            raise _Truncated() from None
        if not chunk:
            raise _Truncated()
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


async def _read_length(stream: INetStream, cap: int, what: str) -> int:
    (length,) = _U32.unpack(await _read_exactly(stream, _U32.size))
    if length > cap:
        raise FrameTooLarge(what, length, cap)
    return int(length)


def _response_frame(status: int, body: bytes) -> bytes:
    return bytes([status]) + _U32.pack(len(body)) + body


def _error_frame(status: int, message: str) -> bytes:
    return _response_frame(status, message.encode("utf-8")[:_MAX_ERROR_MESSAGE])


class RequestResponse:
    """Registers request handlers on a host and sends requests from it."""

    def __init__(self, host: P2PHost) -> None:
        self._host = host
        self._protocols: dict[str, _Registration] = {}
        self.served = 0
        self.failed = 0

    # -- responder -----------------------------------------------------------------

    def register(
        self,
        protocol: str,
        handler: Handler,
        *,
        max_request: int = DEFAULT_MAX_REQUEST,
        timeout: float = 10.0,
        max_concurrent: int = 16,
    ) -> None:
        """Serve ``protocol`` with ``handler(peer_id, request) -> response``.

        ``timeout`` bounds reading the request plus running the handler;
        beyond ``max_concurrent`` streams at once, peers get a BUSY answer.
        """
        registration = _Registration(
            handler, max_request, timeout, trio.CapacityLimiter(max_concurrent)
        )
        self._protocols[protocol] = registration

        async def _serve(stream: INetStream) -> None:
            await self._serve(protocol, registration, stream)

        self._host.libp2p.set_stream_handler(TProtocol(protocol), _serve)

    async def _serve(self, protocol: str, reg: _Registration, stream: INetStream) -> None:
        peer_id = stream.muxed_conn.peer_id.to_base58()
        try:
            try:
                reg.limiter.acquire_nowait()
            except trio.WouldBlock:
                await stream.write(_error_frame(STATUS_BUSY, "busy, retry later"))
                return
            try:
                answer = await self._answer(protocol, reg, stream, peer_id)
            finally:
                reg.limiter.release()
            await stream.write(answer)
        except _Truncated:
            self.failed += 1
            log.warning("truncated request frame", protocol=protocol, peer_id=peer_id)
        except _FOREIGN:
            log.debug("request stream broke", protocol=protocol, peer_id=peer_id)
        finally:
            with trio.CancelScope(shield=True), suppress(*_FOREIGN):
                await stream.close()

    async def _answer(
        self, protocol: str, reg: _Registration, stream: INetStream, peer_id: str
    ) -> bytes:
        with trio.move_on_after(reg.timeout):
            try:
                length = await _read_length(stream, reg.max_request, "request")
            except FrameTooLarge as exc:
                self.failed += 1
                log.warning("oversize request refused", protocol=protocol, peer_id=peer_id)
                return _error_frame(STATUS_TOO_LARGE, str(exc))
            request = await _read_exactly(stream, length)
            try:
                response = await reg.handler(peer_id, request)
            except RequestRejected as exc:
                self.failed += 1
                # The message names the rule, never a value (it goes on the wire too).
                log.info("request refused", protocol=protocol, peer_id=peer_id, reason=str(exc))
                return _error_frame(STATUS_REJECTED, str(exc))
            except Exception as exc:
                self.failed += 1
                log.warning(
                    "request handler failed",
                    protocol=protocol,
                    peer_id=peer_id,
                    error=type(exc).__name__,
                )
                return _error_frame(STATUS_FAILED, "the handler failed")
            self.served += 1
            return _response_frame(STATUS_OK, response)
        self.failed += 1
        return _error_frame(STATUS_FAILED, "timed out")

    # -- requester -----------------------------------------------------------------

    async def request(
        self,
        peer_id: str,
        protocol: str,
        payload: bytes,
        *,
        timeout: float,
        max_response: int = DEFAULT_MAX_RESPONSE,
    ) -> bytes:
        """Send one request and return the response body.

        Connects first if needed (addresses must be in the peerstore, e.g.
        through the dialer). Raises ``PeerRefused``, ``PeerUnreachable``,
        ``RequestTimeout``, ``FrameTooLarge`` (the response exceeds
        ``max_response``, or the peer says the request was too large),
        ``RemoteClosed`` or ``RemoteError``.
        """
        reason = self._host.gate.reason_to_refuse(peer_id)
        if reason is not None:
            raise PeerRefused(peer_id, reason)
        with trio.move_on_after(timeout) as scope:
            return await self._request(peer_id, protocol, payload, max_response)
        assert scope.cancelled_caught
        raise RequestTimeout(peer_id, protocol, timeout)

    async def _request(
        self, peer_id: str, protocol: str, payload: bytes, max_response: int
    ) -> bytes:
        if not self._host.is_connected(peer_id):
            # A request is wanted now: py-libp2p's 60 s negative dial cache (set by an
            # earlier failed dial, e.g. while the peer restarted) must not refuse it.
            self._host.unblock(peer_id)
            await self._host.connect(peer_id)
        try:
            stream = await self._host.libp2p.new_stream(
                ID.from_base58(peer_id), [TProtocol(protocol)]
            )
        except _FOREIGN as exc:
            if not self._host.is_connected(peer_id):
                raise PeerUnreachable(peer_id, "the connection closed") from exc
            raise PeerUnreachable(peer_id, f"could not open a {protocol} stream") from exc
        try:
            try:
                await stream.write(_U32.pack(len(payload)) + payload)
                status = (await _read_exactly(stream, 1))[0]
                try:
                    length = await _read_length(
                        stream,
                        max_response if status == STATUS_OK else _MAX_ERROR_MESSAGE,
                        "response",
                    )
                except FrameTooLarge:
                    log.warning("oversize response refused", protocol=protocol, peer_id=peer_id)
                    raise
                body = await _read_exactly(stream, length)
            except (*_FOREIGN, _Truncated) as exc:
                raise RemoteClosed(peer_id, protocol) from exc
        except BaseException:
            with trio.CancelScope(shield=True), suppress(*_FOREIGN):
                await stream.reset()
            raise
        with trio.CancelScope(shield=True), suppress(*_FOREIGN):
            await stream.close()
        if status == STATUS_OK:
            return body
        message = body.decode("utf-8", "replace")
        if status == STATUS_TOO_LARGE:
            raise FrameTooLarge("request", len(payload), None) from RemoteError(
                peer_id, protocol, message
            )
        raise RemoteError(peer_id, protocol, message)
