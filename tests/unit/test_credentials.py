"""`Secret` compares in constant time and never shows its value (issue 14)."""

from __future__ import annotations

import hmac

import pytest

from spinstream import credentials
from spinstream.credentials import Secret


def test_secret_equality_goes_through_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(credentials.hmac, "compare_digest", spy)
    assert Secret("s3cr3t") == Secret("s3cr3t") and Secret("s3cr3t") != Secret("s3cr3u")
    assert calls == [(b"s3cr3t", b"s3cr3t"), (b"s3cr3t", b"s3cr3u")]


def test_secret_equality_edge_cases() -> None:
    assert Secret("pässwörd") == Secret("pässwörd") != Secret("passwörd")  # not ASCII: no TypeError
    assert Secret("") == Secret("") and Secret("a") != "a" and "a" != Secret("a")
    assert "s3cr3t" not in repr(Secret("s3cr3t")) + str(Secret("s3cr3t"))
