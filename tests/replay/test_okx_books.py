"""OKX `books` replay: every recorded CRC32 checksum must match the book the core built.

Decimals come from the instruments the recorder fetched over REST (`tickSz`, `lotSz`), as a
client would set the book up. Every message of the file is applied, for every instrument, and the
checksummed messages are counted from the raw file independently of the replay.
"""

from __future__ import annotations

import json

import recorded

FILE = "OKX.jsonl"


def step_decimals(step: str) -> int:
    """Decimals of an increment string such as "0.1", "0.00000001" or "1"."""
    return len(step.partition(".")[2].rstrip("0"))


def instrument_decimals() -> dict[str, tuple[int, int]]:
    out = {}
    for resp in recorded.http(FILE):
        for inst in json.loads(resp["data"]).get("data", []):
            out[inst["instId"]] = (step_decimals(inst["tickSz"]), step_decimals(inst["lotSz"]))
    return out


def test_every_recorded_checksum_matches(core) -> None:
    decimals = instrument_decimals()
    expected = sum(
        "checksum" in d
        for _, _, text in recorded.recv(FILE)
        if '"books"' in text
        for d in json.loads(text).get("data", [])
    )
    books: dict[str, object] = {}
    matched = checked = levels = 0
    for _, _, text in recorded.recv(FILE):
        msg = json.loads(text)
        if msg.get("arg", {}).get("channel") != "books" or "data" not in msg:
            continue
        inst = msg["arg"]["instId"]
        for data in msg["data"]:
            if msg["action"] == "snapshot":
                books[inst] = core.book.Book(*decimals[inst])
                books[inst].apply_snapshot(data["bids"], data["asks"])
            else:
                books[inst].apply_deltas(data["bids"], data["asks"])
            book = books[inst]
            book._check()
            levels += len(data["bids"]) + len(data["asks"])
            checked += 1
            matched += book.checksum_okx() == data["checksum"]
    assert sorted(books) == ["BTC-USD-220527", "BTC-USDT", "UNI-USD-SWAP"]
    assert expected == 290 and levels > 8000
    assert (matched, checked) == (expected, expected)
