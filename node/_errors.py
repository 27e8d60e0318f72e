"""Errors of the node's local half, each with a message a person can act on.

``ApiError`` subclasses carry the stable numeric code that the local socket
API returns (see ``ErrorCode``); other errors are for the daemon's operator.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """Stable JSON-RPC error codes of the local socket API (docs/api.md)."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    UNAUTHENTICATED = 1001
    FORBIDDEN = 1002
    NOT_FOUND = 1003
    CONFLICT = 1004
    ORIGINATOR_UNREACHABLE = 1005
    RATE_LIMITED = 1006
    EXPIRED = 1007
    LOCKED_OUT = 1008
    BUSY = 1009


class NodeError(Exception):
    """Base class of every error raised by ``doorwatch.node``."""


class DataDirError(NodeError):
    """The data directory cannot be used as it is."""


class DataDirLocked(DataDirError):
    def __init__(self, path: str) -> None:
        super().__init__(
            f"another Doorwatch daemon is already running on the data directory {path}"
        )


class StoreError(NodeError):
    """The database file cannot be opened or migrated."""


class ApiError(NodeError):
    """An error returned to a local API client as a JSON-RPC error object."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, *, data: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        # The id of the request at fault, when it could be read.
        self.request_id: str | int | None = None


class ParseError(ApiError):
    code = ErrorCode.PARSE_ERROR


class InvalidRequest(ApiError):
    code = ErrorCode.INVALID_REQUEST


class MethodNotFound(ApiError):
    code = ErrorCode.METHOD_NOT_FOUND


class InvalidParams(ApiError):
    code = ErrorCode.INVALID_PARAMS


class Unauthenticated(ApiError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(ApiError):
    code = ErrorCode.FORBIDDEN


class NotFound(ApiError):
    code = ErrorCode.NOT_FOUND


class Conflict(ApiError):
    code = ErrorCode.CONFLICT


class LockedOut(ApiError):
    code = ErrorCode.LOCKED_OUT


class Busy(ApiError):
    """Refused at once, so as not to queue work without bound: try again shortly."""

    code = ErrorCode.BUSY
