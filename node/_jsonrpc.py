"""JSON-RPC 2.0 over newline-delimited UTF-8 JSON, without I/O.

Theory of operation: a ``LineReader`` turns the bytes a client sends into
complete lines, and into an ``OversizeLine`` marker when a line grows past
the limit (the rest of that line is discarded up to its newline, so one bad
line never desynchronises the ones after it). ``parse_request`` turns one
line into a ``Request`` or raises an ``ApiError`` that already knows the
request id if one could be read. ``encode_result`` and ``encode_error`` make
the response lines. The server in ``_api_server`` only moves bytes.

Batches (a JSON array of requests) are answered with one Invalid Request
error: scanner clients pipeline single requests instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from doorwatch.node._errors import ApiError, InvalidRequest, ParseError

MAX_LINE_BYTES: Final = 1024 * 1024  # a 512 KiB JPEG in base64 and the rest of the request

RequestId = str | int | None


@dataclass(frozen=True)
class Request:
    id: RequestId
    method: str
    params: dict[str, object]

    @property
    def is_notification(self) -> bool:
        return self.id is None


@dataclass(frozen=True)
class OversizeLine:
    size: int


class LineReader:
    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._max = max_line
        self._buf = bytearray()
        self._discarding = False
        self._discarded = 0

    def feed(self, data: bytes) -> list[bytes | OversizeLine]:
        out: list[bytes | OversizeLine] = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            chunk = data[start:] if nl < 0 else data[start:nl]
            if self._discarding:
                self._discarded += len(chunk)
            else:
                self._buf += chunk
                if len(self._buf) > self._max:
                    self._discarding = True
                    self._discarded = len(self._buf)
                    self._buf.clear()
            if nl < 0:
                return out
            if self._discarding:
                out.append(OversizeLine(self._discarded))
                self._discarding = False
                self._discarded = 0
            else:
                line = bytes(self._buf).rstrip(b"\r")
                self._buf.clear()
                if line.strip():
                    out.append(line)
            start = nl + 1

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line (a client that hung up mid-request)."""
        return len(self._buf) + self._discarded


def parse_request(line: bytes) -> Request:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("the request is not valid UTF-8") from None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError and also what json raises for an
        # integer of more than 4,300 digits.
        raise ParseError("the request is not valid JSON") from None
    if isinstance(obj, list):
        raise InvalidRequest("batch requests are not supported; send one request per line")
    if not isinstance(obj, dict):
        raise InvalidRequest("a request must be a JSON object")
    rid = obj.get("id")
    if rid is not None and (not isinstance(rid, str | int) or isinstance(rid, bool)):
        raise InvalidRequest("id: must be a string, an integer or null")
    if obj.get("jsonrpc") != "2.0":
        raise _with_id(InvalidRequest('jsonrpc: must be "2.0"'), rid)
    method = obj.get("method")
    if not isinstance(method, str) or not method:
        raise _with_id(InvalidRequest("method: must be a non-empty string"), rid)
    params = obj.get("params", {})
    if isinstance(params, list) and not params:
        params = {}
    if not isinstance(params, dict):
        raise _with_id(InvalidRequest("params: must be an object of named parameters"), rid)
    extra = set(obj) - {"jsonrpc", "id", "method", "params"}
    if extra:
        raise _with_id(InvalidRequest(f"unknown member {sorted(extra)[0]!r} in the request"), rid)
    return Request(id=rid, method=method, params=params)


def _with_id(error: ApiError, rid: RequestId) -> ApiError:
    error.request_id = rid
    return error


def encode_result(rid: RequestId, result: object) -> bytes:
    return _line({"jsonrpc": "2.0", "id": rid, "result": result})


def encode_error(rid: RequestId, error: ApiError) -> bytes:
    body: dict[str, object] = {"code": int(error.code), "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    return _line({"jsonrpc": "2.0", "id": rid, "error": body})


def encode_notification(method: str, params: dict[str, object]) -> bytes:
    return _line({"jsonrpc": "2.0", "method": method, "params": params})


def _line(obj: dict[str, object]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
