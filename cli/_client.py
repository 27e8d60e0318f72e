"""The command line's one client of a running node's local socket.

Every command that talks to a node goes through ``NodeClient``: it connects
to ``<data-dir>/doorwatch.sock`` (blocking; a command makes a few calls and
exits), logs in, makes JSON-RPC calls (docs/api.md) and maps every failure to
a ``ClientError`` whose message is one sentence for a person.

Logging in: with ``--user U --password-file F`` as a staff user (every call
then runs with that user's role and is audited under that name), or by
default with the cookie the daemon writes in its data directory at start-up
(``doorwatch.cookie``, mode 0600): the operating-system account that owns the
node is its ``local-admin``, with the super administrator's role.

Notifications: the node may send JSON-RPC notifications (lines without an
``id``, e.g. ``match.updated`` while another venue answers a photo request),
interleaved with the responses. Each one read on the connection is passed to
the client's ``on_notification`` callable if set (dropped otherwise), both
while ``call`` waits for its response and in ``next_notification``, which
waits for one on an idle connection.

Exit codes of every ``doorwatch`` command:

====  =====================================================================
0     success (for ``status --check``: the node runs and is not isolated)
1     an error: the node refused the request (the message names the field
      and the rule), bad input in a flag or file, a failed login
2     usage: an unknown command or flag, a missing argument (printed by the
      argument parser)
3     the node is not running (no daemon on the data directory), or there is
      no node in the data directory
4     ``status --check`` only: the node runs but has been cut off from every
      peer for longer than ``--isolated-after``
====  =====================================================================

Errors go to stderr as one line, ``doorwatch: <sentence>``; a traceback is
printed only with ``doorwatch --debug ...`` (or ``DOORWATCH_DEBUG=1``).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from doorwatch.node._datadir import COOKIE_NAME, SOCKET_NAME

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3
EXIT_ISOLATED = 4

CONFIG_NAME = "config.json"

# A notification's JSON object: {"jsonrpc": "2.0", "method": ..., "params": ...}.
NotificationHandler = Callable[[dict[str, Any]], None]


class ClientError(Exception):
    """A command cannot go on; ``str()`` is the sentence for the user."""

    exit_code = EXIT_ERROR


class NodeNotRunning(ClientError):
    exit_code = EXIT_NOT_RUNNING


class RpcError(ClientError):
    """The node answered with a JSON-RPC error."""

    def __init__(self, message: str, code: int, data: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


def not_running_message(data_dir: Path) -> str:
    if not (data_dir / CONFIG_NAME).exists():
        return (
            f"there is no Doorwatch node in {data_dir}; create one with `doorwatch init` "
            "or name its directory with --data-dir (or DOORWATCH_DATA_DIR)"
        )
    return (
        f"the node in {data_dir} is not running; start it with "
        f"`doorwatch run --data-dir {data_dir}`"
    )


def read_password_file(path: Path, flag: str = "--password-file") -> str:
    """The first line of a password file (trailing newline dropped)."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ClientError(f"{flag}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ClientError(f"{flag}: {path} is not UTF-8 text") from None
    return text.splitlines()[0] if text else ""


class NodeClient:
    """A logged-in connection to a running node.

    ``on_notification`` is called with each notification read on the
    connection (a JSON object with ``method`` and ``params``); when it is
    None, notifications are dropped. It may be set or changed at any time.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        timeout: float = 60,
        on_notification: NotificationHandler | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.on_notification = on_notification
        self.session: dict[str, Any] = {}
        self._buf = b""
        self._next_id = 1
        self._timeout = timeout
        path = data_dir / SOCKET_NAME
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            self._sock.close()
            raise NodeNotRunning(not_running_message(data_dir)) from None
        except PermissionError:
            self._sock.close()
            raise ClientError(
                f"permission denied on the node's socket {path}; run as the account that "
                "owns the node, or as a member of its socket_group"
            ) from None
        except OSError as exc:
            self._sock.close()
            raise ClientError(f"cannot connect to the node's socket {path}: {exc}") from None

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        user: str | None = None,
        password: str | None = None,
        password_file: Path | None = None,
        timeout: float = 60,
        on_notification: NotificationHandler | None = None,
    ) -> NodeClient:
        """Connect and log in: as ``user`` with a password, else with the node's cookie.

        The password is ``password`` (for programs), else the first line of
        ``password_file``, else asked for on the terminal.
        """
        if user is None and password_file is not None:
            raise ClientError("--password-file needs --user (the staff user it belongs to)")
        if user is None and password is not None:
            raise ClientError("a password needs the user name it belongs to")
        if user is not None and password is None:
            if password_file is not None:
                password = read_password_file(password_file)
            else:
                password = getpass.getpass(f"Password for {user}: ")
        client = cls(data_dir, timeout=timeout, on_notification=on_notification)
        try:
            if user is not None:
                client.session = client.call("session.login", username=user, password=password)
            else:
                client.session = client.call("session.login", cookie=client._cookie())
        except BaseException:
            client.close()
            raise
        return client

    def _cookie(self) -> str:
        path = self.data_dir / COOKIE_NAME
        try:
            if os.stat(path).st_mode & 0o077:
                raise ClientError(f"{path} is readable by other accounts; run `chmod 600` on it")
            return path.read_text("utf-8").strip()
        except FileNotFoundError:
            raise NodeNotRunning(not_running_message(self.data_dir)) from None
        except PermissionError:
            raise ClientError(
                f"cannot read the node's login cookie {path} (permission denied); run as the "
                "account that owns the node, or log in with --user and --password-file"
            ) from None
        except OSError as exc:
            raise ClientError(f"cannot read the node's login cookie {path}: {exc}") from None

    def call(self, method: str, /, **params: object) -> Any:
        """One JSON-RPC call; its result, or ``RpcError`` with the node's sentence.

        Notifications that arrive before the response go to ``on_notification``.
        """
        rid = self._next_id
        self._next_id += 1
        line = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        try:
            self._sock.sendall(line.encode() + b"\n")
            while True:
                reply = self._read_line()
                if _is_notification(reply):
                    self._notify(reply)
                    continue
                # An error with id null: the node could not read our request.
                if reply.get("id") == rid or (reply.get("id") is None and "error" in reply):
                    break
        except TimeoutError:
            raise ClientError(f"the node did not answer {method} in time") from None
        except OSError as exc:
            raise ClientError(f"the connection to the node failed: {exc.strerror or exc}") from None
        error = reply.get("error")
        if error is not None:
            if not isinstance(error, dict):
                raise ClientError(f"the node sent a malformed error for {method}")
            raise RpcError(
                str(error.get("message") or "the node refused the request"),
                int(error.get("code", 0)),
                error.get("data"),
            )
        return reply.get("result")

    def next_notification(self, timeout_s: float) -> dict[str, Any] | None:
        """Wait, between calls, for the node's next notification; None if none comes in time.

        The notification is returned, not passed to ``on_notification``.
        """
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._sock.settimeout(left)
                try:
                    message = self._read_line()
                except TimeoutError:
                    return None
                if _is_notification(message):
                    return message
                # A response no call is waiting for (its call gave up): nothing to do with it.
        except OSError as exc:
            raise ClientError(f"the connection to the node failed: {exc.strerror or exc}") from None
        finally:
            self._sock.settimeout(self._timeout)

    def _notify(self, message: dict[str, Any]) -> None:
        if self.on_notification is not None:
            self.on_notification(message)

    def _read_line(self) -> dict[str, Any]:
        while b"\n" not in self._buf:
            data = self._sock.recv(1 << 16)
            if not data:
                raise ClientError("the node closed the connection")
            self._buf += data
        raw, self._buf = self._buf.split(b"\n", 1)
        try:
            reply = json.loads(raw)
        except ValueError:
            raise ClientError("the node sent a line that is not JSON") from None
        if not isinstance(reply, dict):
            raise ClientError("the node sent a reply that is not a JSON object")
        return reply

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _is_notification(message: dict[str, Any]) -> bool:
    """A JSON-RPC notification: a method call without an id (the node's news)."""
    return "id" not in message and isinstance(message.get("method"), str)
