"""Credentials whose secret parts never show up in a log, repr, exception or test output."""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

from spinstream.errors import ConfigError

__all__ = ["Credentials", "Secret"]


class Secret:
    """A secret string: `repr`/`str` are redacted; only auth code calls `reveal()`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a secret must be a str")
        self._value = value

    def reveal(self) -> str:
        """The secret itself: for signing only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        """Equal secrets, compared in constant time (no early exit that times a guess)."""
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("secrets are not picklable")


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key (shown shortened in repr), its secret and, for OKX, the key's passphrase
    (neither ever shown; only a venue's auth.py calls `reveal()`)."""

    api_key: str
    api_secret: Secret
    passphrase: Secret | None = None

    def __repr__(self) -> str:
        key = self.api_key[:4] + "…" if len(self.api_key) > 4 else "…"
        return f"Credentials(api_key={key!r}, api_secret=Secret('********'))"

    @classmethod
    def of(cls, api_key: str, api_secret: str, passphrase: str | None = None) -> Credentials:
        return cls(api_key, Secret(api_secret), Secret(passphrase) if passphrase else None)

    @classmethod
    def from_env(
        cls, key_var: str, secret_var: str, passphrase_var: str | None = None
    ) -> Credentials:
        """Read the key, secret and (OKX) passphrase from environment variables (ConfigError
        if one that is named is unset)."""
        names = [key_var, secret_var] + ([passphrase_var] if passphrase_var else [])
        missing = [v for v in names if not os.environ.get(v)]
        if missing:
            raise ConfigError(f"environment variable(s) not set: {', '.join(missing)}")
        passphrase = os.environ[passphrase_var] if passphrase_var else None
        return cls.of(os.environ[key_var], os.environ[secret_var], passphrase)
