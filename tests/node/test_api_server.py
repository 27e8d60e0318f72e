"""The local socket API server over a real Unix socket, with a toy method set."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pydantic
import pytest
import trio

from doorwatch.node._api_server import ApiServer, Dispatcher, Method, Session
from doorwatch.node._errors import ErrorCode
from doorwatch.node._roles import Role


class EchoParams(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    text: str
    delay: float = 0.0


class EchoResult(pydantic.BaseModel):
    text: str
    user: str | None


class LoginParams(pydantic.BaseModel):
    role: Role


class LoginResult(pydantic.BaseModel):
    role: Role


async def _echo(session: Session, params: EchoParams) -> EchoResult:
    await trio.sleep(params.delay)
    return EchoResult(text=params.text, user=session.username)


async def _login(session: Session, params: LoginParams) -> LoginResult:
    session.username, session.role = "tester", params.role
    return LoginResult(role=params.role)


def _dispatcher() -> Dispatcher:
    d = Dispatcher()
    d.add(Method("session.login", LoginParams, LoginResult, _login, role=None))
    d.add(Method("echo", EchoParams, EchoResult, _echo))
    d.add(Method("admin.echo", EchoParams, EchoResult, _echo, role=Role.SUPER_ADMINISTRATOR))
    return d


class Client:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buf = b""

    async def send(self, raw: bytes) -> None:
        await self.stream.send_all(raw)

    async def call(self, method: str, params: dict[str, object], rid: int = 1) -> dict[str, object]:
        req = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        await self.send(json.dumps(req).encode() + b"\n")
        return await self.read()

    async def read(self) -> dict[str, object]:
        while b"\n" not in self.buf:
            data = await self.stream.receive_some(65536)
            assert data, "server closed the connection"
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        msg: dict[str, object] = json.loads(line)
        return msg


_open: list[trio.SocketStream] = []


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / "doorwatch.sock"
    async with trio.open_nursery() as nursery:
        await nursery.start(ApiServer(_dispatcher(), path).serve)
        yield path
        while _open:
            await _open.pop().aclose()
        nursery.cancel_scope.cancel()


async def connect(path: Path) -> Client:
    stream = await trio.open_unix_socket(str(path))
    _open.append(stream)
    return Client(stream)


async def test_socket_is_owner_only(server: Path) -> None:
    assert stat.S_IMODE(server.stat().st_mode) == 0o600


async def test_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "doorwatch.sock"
    path.write_bytes(b"")  # left behind by a daemon killed with SIGKILL
    async with trio.open_nursery() as nursery:
        await nursery.start(ApiServer(_dispatcher(), path).serve)
        client = await connect(path)
        reply = await client.call("session.login", {"role": "door_staff"})
        assert reply["result"] == {"role": "door_staff"}
        await _open.pop().aclose()
        nursery.cancel_scope.cancel()


async def test_login_then_call(server: Path) -> None:
    client = await connect(server)
    reply = await client.call("echo", {"text": "hi"})
    assert reply["error"]["code"] == ErrorCode.UNAUTHENTICATED  # type: ignore[index]
    await client.call("session.login", {"role": "door_staff"})
    reply = await client.call("echo", {"text": "hi"}, rid=7)
    assert reply == {"jsonrpc": "2.0", "id": 7, "result": {"text": "hi", "user": "tester"}}


async def test_role_is_checked(server: Path) -> None:
    client = await connect(server)
    await client.call("session.login", {"role": "supervisor"})
    reply = await client.call("admin.echo", {"text": "hi"})
    error = reply["error"]
    assert error["code"] == ErrorCode.FORBIDDEN  # type: ignore[index]
    assert "super_administrator" in error["message"]  # type: ignore[index]


async def test_invalid_params_name_the_field(server: Path) -> None:
    client = await connect(server)
    await client.call("session.login", {"role": "door_staff"})
    reply = await client.call("echo", {"text": 5})
    error = reply["error"]
    assert error["code"] == ErrorCode.INVALID_PARAMS  # type: ignore[index]
    assert error["message"].startswith("text:")  # type: ignore[index]
    reply = await client.call("echo", {"text": "x", "colour": "red"})
    assert reply["error"]["message"].startswith("colour:")  # type: ignore[index]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json\n", ErrorCode.PARSE_ERROR),
        (b"\xff\xfe\x00garbage\n", ErrorCode.PARSE_ERROR),
        (b"[1, 2]\n", ErrorCode.INVALID_REQUEST),
        (b'"just a string"\n', ErrorCode.INVALID_REQUEST),
        (b'{"jsonrpc": "1.0", "id": 3, "method": "echo"}\n', ErrorCode.INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": 3, "method": "nope"}\n', ErrorCode.METHOD_NOT_FOUND),
        (
            b'{"jsonrpc": "2.0", "id": 3, "method": "echo", "params": 5}\n',
            ErrorCode.INVALID_REQUEST,
        ),
        (b"[" * 100000 + b"\n", ErrorCode.PARSE_ERROR),
        (
            b'{"jsonrpc": "2.0", "id": ' + b"9" * 5000 + b', "method": "echo"}\n',
            ErrorCode.PARSE_ERROR,
        ),
    ],
)
async def test_garbage_gets_an_error_and_the_connection_goes_on(
    server: Path, raw: bytes, code: ErrorCode
) -> None:
    client = await connect(server)
    await client.send(raw)
    reply = await client.read()
    assert reply["error"]["code"] == code  # type: ignore[index]
    reply = await client.call("session.login", {"role": "door_staff"})
    assert reply["result"] == {"role": "door_staff"}


async def test_oversize_line_is_refused_and_the_next_line_works(server: Path) -> None:
    client = await connect(server)
    await client.send(b'{"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"text": "')
    await client.send(b"x" * (2 * 1024 * 1024) + b'"}}\n')
    reply = await client.read()
    assert reply["error"]["code"] == ErrorCode.INVALID_REQUEST  # type: ignore[index]
    assert "over the limit" in reply["error"]["message"]  # type: ignore[index]
    reply = await client.call("session.login", {"role": "door_staff"}, rid=2)
    assert reply["id"] == 2


async def test_pipelined_requests_answer_by_id(server: Path) -> None:
    client = await connect(server)
    await client.call("session.login", {"role": "door_staff"})
    batch = b"".join(
        json.dumps(
            {"jsonrpc": "2.0", "id": i, "method": "echo", "params": {"text": str(i), "delay": d}}
        ).encode()
        + b"\n"
        for i, d in [(1, 0.2), (2, 0.0), (3, 0.1)]
    )
    await client.send(batch)
    replies = [await client.read() for _ in range(3)]
    assert [r["id"] for r in replies] == [2, 3, 1]
    assert all(r["result"]["text"] == str(r["id"]) for r in replies)  # type: ignore[index]


async def test_client_hanging_up_mid_request_does_not_disturb_others(server: Path) -> None:
    quitter = await connect(server)
    await quitter.call("session.login", {"role": "door_staff"})
    await quitter.send(b'{"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"text": "x", ')
    slow = b'{"jsonrpc": "2.0", "id": 2, "method": "echo", "params": {"text": "y", "delay": 0.2}}\n'
    await quitter.send(slow)
    await quitter.stream.aclose()
    other = await connect(server)
    await other.call("session.login", {"role": "door_staff"})
    reply = await other.call("echo", {"text": "still here"}, rid=9)
    assert reply["result"]["text"] == "still here"  # type: ignore[index]
    await trio.sleep(0.3)  # the quitter's slow call finishes into a closed socket
    reply = await other.call("echo", {"text": "again"}, rid=10)
    assert reply["id"] == 10


async def test_notifications_get_no_response(server: Path) -> None:
    client = await connect(server)
    await client.send(
        b'{"jsonrpc": "2.0", "method": "session.login", "params": {"role": "door_staff"}}\n'
    )
    reply = await client.call("echo", {"text": "after"}, rid=4)
    assert reply["id"] == 4
