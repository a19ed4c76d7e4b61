"""The WebSocket libraries behind `ws_backend` at the edges that matter before picows is the
default (transport/sockets.py), each over a real loopback server (websockets' asyncio server):

- a server that closes with a close frame: 1000 ends the iteration normally, 1011 is an error
  that names the code;
- a server that vanishes (TCP reset, no close frame): an error saying so, promptly;
- messages far larger than 1 MB (one frame, and fragmented): received whole;
- TLS: verified by Python's default context, so `SSL_CERT_FILE` trusts a private CA; an
  unknown certificate or a wrong host name is refused;
- write backpressure: a server that does not read makes `send` wait (the write buffer stays
  near its high-water mark), the sends go on when it reads, and an abort ends a waiting send.

Each runs over both libraries. How "auto" resolves: tests/unit/runtime/test_ws_auto_resolve.py;
"auto" through a Workspace (and a proxy): test_ws_auto_proxy.py.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import shutil
import socket
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from spinstream.transport.sockets import SocketClosed, describe, errors, open_socket

pytestmark = pytest.mark.asyncio

Handler = Callable[[ServerConnection], Awaitable[None]]
DEADLINE_S = 20.0  # generous: the suite must pass beside a CPU hog on 2 cores


@pytest.fixture(params=["websockets", "picows"])
def library(request: pytest.FixtureRequest) -> str:
    if request.param == "picows":
        pytest.importorskip("picows")
    return str(request.param)


class Server:
    """A loopback WebSocket server running HANDLER per connection (set by each test)."""

    def __init__(self) -> None:
        self.handler: Handler | None = None
        self.port = 0
        self.done: asyncio.Queue[BaseException | None] = asyncio.Queue()

    async def _serve(self, conn: ServerConnection) -> None:
        assert self.handler is not None
        try:
            await self.handler(conn)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            await self.done.put(exc)
        else:
            await self.done.put(None)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    s = Server()
    async with serve(s._serve, "127.0.0.1", 0, max_size=None, compression=None) as srv:
        s.port = next(iter(srv.sockets)).getsockname()[1]
        yield s


def _failure(library: str) -> tuple[type[BaseException], ...]:
    return (SocketClosed, OSError, *errors(library))


async def _drain(sock: Any) -> list[str | bytes]:
    out: list[str | bytes] = []
    async with asyncio.timeout(DEADLINE_S):
        async for msg in sock:
            out.append(msg)
    return out


# ---------------------------------------------------------------- close frames and resets


async def test_close_1000_ends_the_iteration_normally(server, library) -> None:
    async def handler(conn: ServerConnection) -> None:
        await conn.send("last")
        await conn.close(1000, "bye")

    server.handler = handler
    async with open_socket(library, f"ws://127.0.0.1:{server.port}/") as sock:
        assert await _drain(sock) == ["last"]


async def test_close_1011_is_an_error_naming_the_code(server, library) -> None:
    async def handler(conn: ServerConnection) -> None:
        await conn.send("last")
        await conn.close(1011, "internal")

    server.handler = handler
    got: list[str | bytes] = []
    async with open_socket(library, f"ws://127.0.0.1:{server.port}/") as sock:
        with pytest.raises(_failure(library)) as info:
            async with asyncio.timeout(DEADLINE_S):
                async for msg in sock:
                    got.append(msg)
    assert got == ["last"]
    assert "1011" in describe(info.value)


async def test_a_vanished_server_tcp_reset_is_an_error_without_a_close_frame(
    server, library
) -> None:
    async def handler(conn: ServerConnection) -> None:
        await conn.send("one")
        await asyncio.sleep(0.2)
        raw = conn.transport.get_extra_info("socket")
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.transport.abort()  # linger 0: the kernel sends RST, no close frame, no FIN

    server.handler = handler
    got: list[str | bytes] = []
    async with open_socket(library, f"ws://127.0.0.1:{server.port}/") as sock:
        with pytest.raises(_failure(library)) as info:
            async with asyncio.timeout(DEADLINE_S):  # found at once, not by a timeout
                async for msg in sock:
                    got.append(msg)
    assert got == ["one"]
    text = describe(info.value)
    assert "no close frame" in text or "Reset" in text or "reset" in text, text


# ---------------------------------------------------------------- large messages


async def test_messages_larger_than_1_mb_arrive_whole(server, library) -> None:
    text = "x" * (3 << 20) + "end"
    blob = bytes(range(256)) * (5 << 12)  # 5 MB
    pieces = [f"p{i:06d}" * 10_000 for i in range(40)]  # ~2.8 MB in 40 fragments

    async def handler(conn: ServerConnection) -> None:
        await conn.send(text)
        await conn.send(blob)
        await conn.send(iter(pieces))  # one message, fragmented
        await conn.close(1000)

    server.handler = handler
    async with open_socket(library, f"ws://127.0.0.1:{server.port}/") as sock:
        got = await _drain(sock)
    assert len(got) == 3
    assert got[0] == text and got[1] == blob and got[2] == "".join(pieces)


# ---------------------------------------------------------------- TLS


def _make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 only (not "localhost"), and its key."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither cryptography nor openssl to make a certificate")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
             "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        return cert, key
    pk = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    crt = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(pk.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(pk, hashes.SHA256())
    )
    cert.write_bytes(crt.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        pk.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


async def test_tls_is_verified_and_ssl_cert_file_trusts_a_private_ca(
    library, tmp_path, monkeypatch
) -> None:
    cert, key = _make_cert(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    async def handler(conn: ServerConnection) -> None:
        await conn.send("secure")
        await conn.close(1000)

    async with serve(handler, "127.0.0.1", 0, ssl=ctx) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "none"))  # not the system's CAs either
        with pytest.raises(ssl.SSLCertVerificationError):  # unknown issuer: refused
            async with open_socket(library, f"wss://127.0.0.1:{port}/", open_timeout=DEADLINE_S):
                pass
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        async with open_socket(
            library, f"wss://127.0.0.1:{port}/", open_timeout=DEADLINE_S
        ) as sock:
            assert await _drain(sock) == ["secure"]
        with pytest.raises(ssl.SSLCertVerificationError):  # trusted, but not for this name
            async with open_socket(library, f"wss://localhost:{port}/", open_timeout=DEADLINE_S):
                pass


# ---------------------------------------------------------------- write backpressure


def _write_buffer(sock: Any) -> int:
    t = sock._t.underlying_transport if hasattr(sock, "_t") else sock._ws.transport  # noqa: SLF001
    return int(t.get_write_buffer_size())


async def _wait(cond: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while not cond():
            await asyncio.sleep(0.02)


async def test_a_server_that_does_not_read_makes_send_wait(server, library) -> None:
    n, size = 48, 1 << 20  # 48 MB: far past what the kernel's socket buffers hold
    read = asyncio.Event()
    received: list[int] = []

    async def handler(conn: ServerConnection) -> None:
        await read.wait()  # not reading: websockets' server pauses its transport when full
        async for msg in conn:
            received.append(len(msg))
            if len(received) == n:
                break
        await conn.close(1000)

    server.handler = handler
    sent = 0
    try:
        async with open_socket(library, f"ws://127.0.0.1:{server.port}/") as sock:

            async def sender() -> None:
                nonlocal sent
                payload = "y" * size
                for _ in range(n):
                    await sock.send(payload)
                    sent += 1

            task = asyncio.get_running_loop().create_task(sender())
            await _wait(lambda: _write_buffer(sock) > 0 or task.done(), "a full write buffer")
            last = -1
            while sent != last:  # until the sender stops making progress
                last = sent
                await asyncio.sleep(0.3)
            assert not task.done(), f"all {n} MB sent into a peer that does not read"
            assert _write_buffer(sock) <= 4 * size, _write_buffer(sock)  # bounded, not ~n MB
            read.set()
            async with asyncio.timeout(DEADLINE_S):
                await task
            await _wait(lambda: len(received) == n, "every message read")
    finally:
        read.set()  # the server's handler ends either way (its shutdown waits for it)
    assert received == [size] * n


async def test_an_abort_ends_a_send_waiting_for_a_slow_reader(server, library) -> None:
    stop = asyncio.Event()

    async def handler(conn: ServerConnection) -> None:
        await stop.wait()

    server.handler = handler
    try:
        async with open_socket(library, f"ws://127.0.0.1:{server.port}/") as sock:

            async def sender() -> None:
                payload = "z" * (1 << 20)
                for _ in range(48):  # bounded: a send that never waits ends and fails the test
                    await sock.send(payload)

            task = asyncio.get_running_loop().create_task(sender())
            await _wait(lambda: _write_buffer(sock) > 0, "a full write buffer")
            await asyncio.sleep(0.3)
            assert not task.done()
            sock.abort()  # what the watch task does to a stalled peer
            with pytest.raises(_failure(library)):
                async with asyncio.timeout(DEADLINE_S):
                    await task
    finally:
        stop.set()
