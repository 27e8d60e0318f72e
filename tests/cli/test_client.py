"""NodeClient against a scripted socket: responses, notifications, errors.

A real daemon sends `match.updated` only during a ladder between two nodes
(tests/cli/test_door.py and the demo cover that end to end); here a small
server on a Unix socket plays the node's part line by line.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from doorwatch.cli._client import ClientError, NodeClient, RpcError
from doorwatch.node._datadir import SOCKET_NAME


def note(state: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "match.updated", "params": {"state": state}}


@contextmanager
def node(data_dir: Path, script: list[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
    """A fake node: for each request it reads, it sends the next list of lines of ``script``.

    Yields the requests it received. Lines after the script ends are not answered.
    """
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(data_dir / SOCKET_NAME))
    server.listen(1)
    received: list[dict[str, Any]] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn, conn.makefile("rb") as lines:
            for replies in script:
                line = lines.readline()
                if not line:
                    return
                request = json.loads(line)
                received.append(request)
                for reply in replies:
                    if reply.get("id") == "ECHO":
                        reply = {**reply, "id": request["id"]}
                    conn.sendall(json.dumps(reply).encode() + b"\n")
            lines.readline()  # hold the connection open until the client closes it

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.close()
        thread.join(timeout=10)


def result(value: object) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": "ECHO", "result": value}


def test_notifications_during_a_call_go_to_the_handler(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    script = [[note("checking"), note("identity_confirmed"), result({"photo": None})]]
    with node(tmp_path, script) as received, NodeClient(tmp_path, timeout=10) as client:
        client.on_notification = seen.append
        assert client.call("match.photo", match_id="m1") == {"photo": None}
    assert [n["params"]["state"] for n in seen] == ["checking", "identity_confirmed"]
    assert received[0]["method"] == "match.photo"
    assert received[0]["params"] == {"match_id": "m1"}


def test_notifications_without_a_handler_are_dropped(tmp_path: Path) -> None:
    script = [[note("checking"), result(1)], [result(2)]]
    with node(tmp_path, script), NodeClient(tmp_path, timeout=10) as client:
        assert client.call("a") == 1
        assert client.call("b") == 2


def test_next_notification_waits_between_calls(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    script = [[result("ok"), note("photo_shown")]]
    with node(tmp_path, script), NodeClient(tmp_path, timeout=10) as client:
        client.on_notification = seen.append
        assert client.call("scan.submit") == "ok"
        got = client.next_notification(10)
        assert got is not None
        assert got["params"] == {"state": "photo_shown"}
        assert seen == []  # returned, not handed to the handler as well
        assert client.next_notification(0.2) is None  # nothing more came


def test_an_error_reply_is_an_rpc_error_with_the_nodes_sentence(tmp_path: Path) -> None:
    error = {"code": 1002, "message": "alert_id: no alert with this id", "data": {"f": 1}}
    script = [[note("checking"), {"jsonrpc": "2.0", "id": "ECHO", "error": error}]]
    with (
        node(tmp_path, script),
        NodeClient(tmp_path, timeout=10) as client,
        pytest.raises(RpcError) as caught,
    ):
        client.call("alert.get", alert_id="x")
    assert str(caught.value) == "alert_id: no alert with this id"
    assert caught.value.code == 1002


def test_a_node_that_hangs_up_is_one_sentence(tmp_path: Path) -> None:
    with node(tmp_path, []), NodeClient(tmp_path, timeout=10) as client:
        with pytest.raises(ClientError, match="the node closed the connection"):
            client.call("node.status")
        with pytest.raises(ClientError, match="the node closed the connection"):
            client.next_notification(5)


def test_a_password_needs_a_user(tmp_path: Path) -> None:
    with pytest.raises(ClientError, match="a password needs the user name"):
        NodeClient.open(tmp_path, password="secret")
