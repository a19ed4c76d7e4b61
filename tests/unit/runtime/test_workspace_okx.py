"""OKX in the workspace: a known venue, its passphrase read from the environment like the
other secrets (never shown), and a clear error when the passphrase is not configured."""

from __future__ import annotations

import pytest

from spinstream.errors import ConfigError
from spinstream.workspace import KNOWN_VENUES, Workspace

OKX = """
[venues.okx]
env = "demo"
api_key_env = "OK_K"
api_secret_env = "OK_S"
"""


def write(tmp_path, text: str):  # type: ignore[no-untyped-def]
    p = tmp_path / "spinstream.toml"
    p.write_text(text)
    return p


def test_okx_passphrase_from_env(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert "okx" in KNOWN_VENUES
    for k, v in (("OK_K", "key-abcdef"), ("OK_S", "okx-secret-1"), ("OK_P", "okx-pass-1")):
        monkeypatch.setenv(k, v)
    ws = Workspace.from_file(write(tmp_path, OKX + 'api_passphrase_env = "OK_P"\n'))
    a = ws.accounts["okx"]
    assert a.env == "demo" and a.credentials.passphrase.reveal() == "okx-pass-1"
    for text in (repr(ws), repr(a), str(a.credentials)):
        assert "okx-pass-1" not in text and "okx-secret-1" not in text


@pytest.mark.parametrize(
    ("extra", "match"),
    [("", "api_passphrase_env"), ('api_passphrase_env = "NOPE_P"\n', "not set")],
)
def test_okx_passphrase_missing_is_a_clear_error(tmp_path, monkeypatch, extra, match) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OK_K", "key-abcdef")
    monkeypatch.setenv("OK_S", "okx-secret-1")
    with pytest.raises(ConfigError, match=match):
        Workspace.from_file(write(tmp_path, OKX + extra))
