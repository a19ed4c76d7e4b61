"""The default `ws_backend = "auto"` through a Workspace, over real sockets to the simulators:
picows when no proxy applies, websockets (through the proxy) when HTTPS_PROXY names one; each
connection's status says which library it uses and why, and the log says it at DEBUG.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from polling import wait_for
from spinstream.ctx import Context
from spinstream.testing.host import SimHost
from spinstream.transport.sockets import PicowsSocket, WebsocketsSocket
from spinstream.workspace import AccountConfig, Workspace

pytest.importorskip("picows")

SYMBOL = "BTCUSDT"


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 (threads, one pair per tunnel) counting tunnels."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.tunnels: list[str] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode()
        method, target, _ = line.split(" ", 2)
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host.strip("[]"), int(port)))
        self.tunnels.append(target)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            upstream.sendall(rest)

        def pipe(a: socket.socket, b: socket.socket) -> None:
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.fixture(scope="module")
def hosts() -> Iterator[SimHost]:
    with SimHost("binance", seed=17, tick_interval=0.05) as h:
        yield h


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.lower().endswith("_proxy"):
            monkeypatch.delenv(k)


def _run(hosts: SimHost) -> tuple[Workspace, Any, dict[str, Any]]:
    ex = hosts["binance"]
    w = Workspace([AccountConfig(alias="binance", venue="binance", urls=ex.urls)])
    assert w.accounts["binance"].ws_backend == "auto"
    c = Context(w).binance
    c.get_ticker(SYMBOL)
    wait_for(lambda: c.get_ticker(SYMBOL).source == "ws", what="cached ticker")
    conn = next(iter(w.runtime.account("binance").connections.values()))
    st = next(s for s in w.status()["accounts"]["binance"]["connections"] if s["messages"])
    return w, conn, st


def test_auto_is_picows_without_a_proxy(hosts, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="spinstream.transport.stream")
    w, conn, st = _run(hosts)
    try:
        assert st["ws_library"] == "picows"
        assert st["ws_library_why"] == "auto: picows imports and no proxy applies"
        assert isinstance(conn._ws, PicowsSocket)  # noqa: SLF001
        assert any("WebSocket library picows (auto:" in r.getMessage() for r in caplog.records)
    finally:
        w.close()


def test_auto_is_websockets_through_a_proxy(hosts, monkeypatch) -> None:
    proxy = ConnectProxy()
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:pw@127.0.0.1:{proxy.port}")
    try:
        w, conn, st = _run(hosts)
        try:
            assert st["ws_library"] == "websockets"
            assert st["ws_library_why"].startswith("auto: a https proxy applies")
            assert "pw" not in repr(w.status())
            assert isinstance(conn._ws, WebsocketsSocket)  # noqa: SLF001
            assert proxy.tunnels, "the stream went around the proxy"
        finally:
            w.close()
    finally:
        proxy.close()
