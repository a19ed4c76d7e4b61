"""The replay server: Binance spot REST + combined/raw WebSocket streams over real TLS on 127.0.0.1.

One process, one asyncio server; HTTP/1.1 and WebSocket (RFC 6455, no extensions) written by
hand so that the server costs little per frame (the clients are what is measured):

- REST from the recording: /api/v3/exchangeInfo (the symbol's entry), /api/v3/depth (the
  snapshot S0, cut to `limit`), /api/v3/time, /api/v3/ticker/bookTicker (the first recorded
  bookTicker), /api/v3/ping. Anything else: 404 with a Binance-style error body (logged).
- WebSocket on /stream (combined: `{"stream":..,"data":..}`) and /ws (raw payloads), streams
  from the URL (`?streams=a/b`, `/ws/a`) or SUBSCRIBE frames (answered `{"result":null,"id":..}`);
  client pings are answered, close frames echoed.
- A run: the server is started for one stream kind and a frame count N. When a connection
  subscribes to the symbol's stream of that kind it gets the first `warmup` frames at once,
  then waits for `GET /_bench/go`, then gets the other N - warmup as fast as it reads them.
- Scale runs (`--symbols K`, Binance streams): the recorded stream is served under K symbol
  names (recording.scale_symbols), N // K frames each, every symbol its own copy of the looped
  sequence (ids as in the one-symbol run). A connection gets each subscribed symbol's warm-up
  frames when it subscribes it; after the go, the rest of every symbol it subscribed,
  interleaved round-robin (frame j of each symbol in subscription order, then frame j + 1).
  REST answers for any of the K names (exchangeInfo lists them all, same filters).
  `E` (event time) is the send time. `GET /_bench/stats` says what happened (connections,
  depth snapshots served after the go: any is a resync, as is a connection opened after it).

TLS: a self-signed certificate (EC P-256, SAN localhost + 127.0.0.1) written to the `--dir`
at start; clients trust it through SSL_CERT_FILE / REQUESTS_CA_BUNDLE / ccxt's cafile.
Usage: python -m bench.e2e.server --stream depth --frames 200000 --dir /tmp/x (prints its
port on the first stdout line as `PORT <n>`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import hashlib
import ipaddress
import json
import ssl
import struct
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bench.e2e import recording

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CHUNK = 256 * 1024


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost/127.0.0.1 (its own CA) and its key, as PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "spinstream e2e replay")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),  # fmt: skip
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _ws_header(n: int, opcode: int = 1) -> bytes:
    if n < 126:
        return bytes((0x80 | opcode, n))
    if n < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, n)
    return struct.pack("!BBQ", 0x80 | opcode, 127, n)


class Replay:
    """The state of one benchmark run (one stream kind, N frames)."""

    def __init__(self, stream: str, n: int, warmup: int, symbols: int = 1) -> None:
        symbol = recording.SYMBOL
        self.stream, self.warmup, self.symbol = stream, warmup, symbol
        self.symbols = recording.scale_symbols(symbols)
        self.by_low = {x.lower(): x for x in self.symbols}
        self.n = n // len(self.symbols)  # frames per symbol
        self.rec = recording.recorded(symbol)
        self.go = asyncio.Event()
        self.stats: dict[str, Any] = {
            "ws_connections": 0, "ws_after_go": 0, "depth_snapshots": 0, "rest": {}, "unknown": [],
            "streams_started": 0, "frames_sent": 0, "done": False,
        }  # fmt: skip
        self.venue = recording.VENUE[stream]
        # per frame: the text before the event time's placeholder and after it (None: no
        # event time in this stream); the sender puts the send time (13 digits) between
        self.parts: list[tuple[str, str | None]] = []
        ts = str(recording.TS)
        for f in recording.frames(stream, self.n, symbol):
            text = json.dumps(f, separators=(",", ":"))
            head, found, tail = text.partition(ts)
            self.parts.append((head, tail) if found else (text, None))
        self._sym_parts: dict[str, list[tuple[str, str | None]]] = {symbol: self.parts}

    def parts_of(self, symbol: str) -> list[tuple[str, str | None]]:
        """SYMBOL's frames (text before / after the event time), relabelled from SYMBOL's."""
        p = self._sym_parts.get(symbol)
        if p is None:
            p = self._sym_parts[symbol] = [
                (recording.relabel(h, symbol), None if t is None else recording.relabel(t, symbol))
                for h, t in self.parts
            ]
        return p

    def symbol_of(self, name: Any) -> str | None:
        """The symbol whose stream of this run's kind NAME is (None: another stream)."""
        if self.venue == "okx":
            return recording.OKX_INST if self.stream_name(name) else None
        if not isinstance(name, str):
            return None
        low, _, kind = name.partition("@")
        sym = self.by_low.get(low)
        if sym is None:
            return None
        if self.stream == "depth":
            return sym if kind.startswith("depth") else None
        return sym if kind == "bookTicker" else None

    def stream_name(self, name: Any) -> bool:
        """NAME is this run's stream for the symbol (any depth speed for depth); OKX: the
        subscription's arg."""
        if self.venue == "okx":
            return (
                isinstance(name, dict)
                and name.get("instId") == recording.OKX_INST
                and (name.get("channel") == self.stream[4:])
            )
        low = self.symbol.lower()
        if self.stream == "depth":
            return name.startswith(f"{low}@depth")
        return name == f"{low}@bookTicker"

    def rest(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes]:
        st = self.stats["rest"]
        st[path] = st.get(path, 0) + 1
        if path.startswith("/api/v5/"):
            return self._okx_rest(path, query)
        if path == "/api/v3/time":
            return 200, json.dumps({"serverTime": int(time.time() * 1000)}).encode()
        if path == "/api/v3/ping":
            return 200, b"{}"
        if path == "/api/v3/exchangeInfo":
            info = dict(self.rec["info"], serverTime=int(time.time() * 1000),
                        symbols=[recording.symbol_info(x) for x in self.symbols])  # fmt: skip
            return 200, json.dumps(info).encode()
        if path == "/api/v3/depth":
            sym = query.get("symbol", [""])[0]
            if sym not in self.symbols:
                return 400, b'{"code":-1121,"msg":"Invalid symbol."}'
            limit = int(query.get("limit", ["100"])[0])
            snap = self.rec["snapshot"]
            if self.stream == "depth" and self.go.is_set():
                self.stats["depth_snapshots"] += 1  # one asked for during the run: a resync
            body = {"lastUpdateId": snap["lastUpdateId"], "bids": snap["bids"][:limit],
                    "asks": snap["asks"][:limit]}  # fmt: skip
            return 200, json.dumps(body).encode()
        if path == "/api/v3/ticker/24hr":
            t, now = self.rec["tickers"][0], int(time.time() * 1000)
            name = query.get("symbol", [self.symbol])[0]
            mid = str((float(t["b"]) + float(t["a"])) / 2)
            body = {"symbol": name, "priceChange": "0", "priceChangePercent": "0",
                    "weightedAvgPrice": mid, "prevClosePrice": mid, "lastPrice": mid,
                    "lastQty": "1", "bidPrice": t["b"], "bidQty": t["B"], "askPrice": t["a"],
                    "askQty": t["A"], "openPrice": mid, "highPrice": t["a"], "lowPrice": t["b"],
                    "volume": "1000", "quoteVolume": "350", "openTime": now - 86_400_000,
                    "closeTime": now, "firstId": 1, "lastId": 2, "count": 2}  # fmt: skip
            return 200, json.dumps(body if "symbol" in query else [body]).encode()
        if path == "/api/v3/ticker/bookTicker":
            t, name = self.rec["tickers"][0], query.get("symbol", [self.symbol])[0]
            body = {"symbol": name, "bidPrice": t["b"], "bidQty": t["B"],
                    "askPrice": t["a"], "askQty": t["A"]}  # fmt: skip
            one = "symbol" in query
            return 200, json.dumps(body if one else [body]).encode()
        if path == "/_bench/go":
            self.go.set()
            return 200, b"{}"
        if path == "/_bench/stats":
            return 200, json.dumps(self.stats).encode()
        self.stats["unknown"].append(path)
        print(f"replay: unknown REST {path}?{query}", file=sys.stderr, flush=True)
        return 404, b'{"code":-1,"msg":"not in the replay"}'

    def _okx_rest(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes]:
        def ok(data: list[Any]) -> tuple[int, bytes]:
            return 200, json.dumps({"code": "0", "msg": "", "data": data}).encode()

        rec = recording.okx_recorded()
        inst = query.get("instId", [recording.OKX_INST])[0]
        if path == "/api/v5/public/time":
            return ok([{"ts": str(int(time.time() * 1000))}])
        if path == "/api/v5/public/instruments":
            key = path + "?" + "&".join(f"{k}={v[0]}" for k, v in query.items() if k != "instId")
            bodies = recording.rest_bodies("OKX")
            if key in bodies:
                body = json.loads(bodies[key])
                if inst and "instId" in query:
                    body["data"] = [x for x in body["data"] if x["instId"] == inst]
                return 200, json.dumps(body).encode()
        if inst != recording.OKX_INST:
            return 200, b'{"code":"51001","msg":"Instrument ID does not exist","data":[]}'
        if path == "/api/v5/market/books":
            snap = rec["snapshot"]
            if self.stream == "okx-books" and self.go.is_set():
                self.stats["depth_snapshots"] += 1
            sz = int(query.get("sz", ["400"])[0])
            return ok([{"asks": snap["asks"][:sz], "bids": snap["bids"][:sz], "ts": snap["ts"],
                        "seqId": 1_000_000}])  # fmt: skip
        if path == "/api/v5/market/ticker":
            return ok([dict(rec["tickers"][0], ts=str(int(time.time() * 1000)))])
        self.stats["unknown"].append(path)
        print(f"replay: unknown REST {path}?{query}", file=sys.stderr, flush=True)
        return 404, b'{"code":"50000","msg":"not in the replay","data":[]}'


class Session:
    """One WebSocket connection."""

    def __init__(
        self,
        replay: Replay,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        path: str,
        combined: bool,
        streams: list[str],
    ) -> None:
        self.replay, self.reader, self.writer = replay, reader, writer
        self.combined = combined
        self.okx = path.startswith("/ws/v5")
        self.streams: set[Any] = set()
        self.task: asyncio.Task[None] | None = None
        self.feeds: list[tuple[str, str]] = []  # (symbol, stream name) in subscription order
        for s in streams:
            self._add(s)

    def _add(self, name: Any) -> None:
        self.streams.add(json.dumps(name, sort_keys=True) if isinstance(name, dict) else name)
        sym = self.replay.symbol_of(name)
        if sym is None or any(f[0] == sym for f in self.feeds):
            return
        r = self.replay
        label = name if isinstance(name, str) else ""
        self.feeds.append((sym, label))
        w = min(r.warmup, r.n)  # the warm-up frames at once, the rest after the go
        now = str(int(time.time() * 1000)).encode()
        self.writer.write(self._frames([(sym, label)], 0, w, now))
        r.stats["frames_sent"] += w
        if self.task is None:
            r.stats["streams_started"] += 1
            self.task = asyncio.get_running_loop().create_task(self._send_stream())

    def _frames(self, feeds: list[tuple[str, str]], lo: int, hi: int, e_ms: bytes) -> bytes:
        """Frames LO..HI-1 of every feed, round-robin, as wire bytes (header + payload), the
        event time set to E_MS."""
        e = e_ms.decode()
        out = []
        per = [(self.replay.parts_of(sym)[lo:hi], name) for sym, name in feeds]
        for j in range(hi - lo):
            for parts, name in per:
                h, t = parts[j]
                x = h if t is None else h + e + t
                if self.combined:
                    x = '{"stream":"' + name + '","data":' + x + "}"
                b = x.encode()
                out.append(_ws_header(len(b)))
                out.append(b)
        return b"".join(out)

    async def _send_stream(self) -> None:
        r = self.replay
        n, w = r.n, min(r.warmup, r.n)
        await r.go.wait()
        feeds = list(self.feeds)  # every symbol subscribed before the go
        i = w
        step = max(1, 500 // len(feeds))
        while i < n:
            hi = min(n, i + step)
            self.writer.write(self._frames(feeds, i, hi, str(int(time.time() * 1000)).encode()))
            r.stats["frames_sent"] += (hi - i) * len(feeds)
            i = hi
            await self.writer.drain()
        r.stats["done"] = True

    async def run(self) -> None:
        rd = self.reader
        try:
            while True:
                b0, b1 = await rd.readexactly(2)
                opcode, n = b0 & 0x0F, b1 & 0x7F
                if n == 126:
                    (n,) = struct.unpack("!H", await rd.readexactly(2))
                elif n == 127:
                    (n,) = struct.unpack("!Q", await rd.readexactly(8))
                mask = await rd.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
                data = bytearray(await rd.readexactly(n))
                for i in range(n):
                    data[i] ^= mask[i & 3]
                if opcode == 9:  # ping
                    self.writer.write(_ws_header(n, 10) + bytes(data))
                elif opcode == 8:  # close
                    self.writer.write(_ws_header(len(data), 8) + bytes(data[:2]))
                    await self.writer.drain()
                    break
                elif opcode in (1, 2):
                    self._on_text(bytes(data))
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            if self.task is not None:
                self.task.cancel()

    def _send_text(self, body: bytes) -> None:
        self.writer.write(_ws_header(len(body)) + body)

    def _on_text(self, data: bytes) -> None:
        if self.okx:
            self._on_okx(data)
            return
        try:
            msg = json.loads(data)
        except ValueError:
            return
        method, rid = msg.get("method"), msg.get("id")
        if method == "SUBSCRIBE":  # answered first, then each new stream's warm-up frames
            body = json.dumps({"result": None, "id": rid}).encode()
            self.writer.write(_ws_header(len(body)) + body)
            for s in msg.get("params", []):
                self._add(s)
            return
        elif method == "UNSUBSCRIBE":
            for s in msg.get("params", []):
                self.streams.discard(s)
            reply: Any = None
        elif method == "LIST_SUBSCRIPTIONS":
            reply = sorted(self.streams)
        else:
            return
        body = json.dumps({"result": reply, "id": rid}).encode()
        self.writer.write(_ws_header(len(body)) + body)

    def _on_okx(self, data: bytes) -> None:
        if data == b"ping":
            self._send_text(b"pong")
            return
        try:
            msg = json.loads(data)
        except ValueError:
            return
        op = msg.get("op")
        if op not in ("subscribe", "unsubscribe"):
            return
        for arg in msg.get("args", []):
            self._send_text(json.dumps({"event": op, "arg": arg, "connId": "e2e"}).encode())
            if op == "subscribe":
                self._add(arg)


async def _handle(replay: Replay, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0") or 0)
            if n:
                await reader.readexactly(n)
            url = urlsplit(target)
            query = parse_qs(url.query)
            if headers.get("upgrade", "").lower() == "websocket":
                key = headers["sec-websocket-key"].encode()
                accept = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
                writer.write(
                    (
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                    ).encode()
                )
                replay.stats["ws_connections"] += 1
                replay.stats["ws_after_go"] += replay.go.is_set()
                path = url.path.rstrip("/")
                streams = query.get("streams", [""])[0].split("/") if "streams" in query else []
                if path.startswith("/ws/") and not path.startswith("/ws/v5"):
                    streams += path[4:].split("/")
                streams = [s for s in streams if s]
                sess = Session(replay, reader, writer, path, path.startswith("/stream"), streams)
                await sess.run()
                return
            status, body = replay.rest(url.path, query)
            reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
            writer.write(
                (
                    f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
                ).encode()
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError):
        pass
    finally:
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - closing anyway
            pass


async def serve(
    stream: str, n: int, warmup: int, directory: Path, port: int = 0, symbols: int = 1
) -> None:
    cert, key = make_cert(directory)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    replay = Replay(stream, n, warmup, symbols)
    server = await asyncio.start_server(
        lambda r, w: _handle(replay, r, w), "127.0.0.1", port, ssl=ctx, limit=1 << 20
    )
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stream", choices=recording.STREAMS, required=True)
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--dir", type=Path, required=True, help="where cert.pem/key.pem are written")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--symbols", type=int, default=1, help="scale: symbols served (Binance)")
    a = ap.parse_args(argv)
    try:
        import uvloop  # the server should cost little; the clients run on their own loops

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(a.stream, a.frames, a.warmup, a.dir, a.port, a.symbols))


if __name__ == "__main__":
    main()
