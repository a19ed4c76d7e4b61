"""HTTP headers as a read-only, case-insensitive mapping (header names carry no case: RFC 9110).

Servers and HTTP libraries write a name in any case (`CST` or `cst`, `Retry-After` or
`retry-after`). The transport hands every REST answer's headers to the protocol code as
`Headers`, so venue code reads `headers.get("Retry-After")` and writes no lookup of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

__all__ = ["Headers"]


class Headers(Mapping[str, str]):
    """Read-only header map whose lookups ignore case; iteration gives the names as sent.

    A name sent twice keeps its first value (as aiohttp's `headers.get`). `repr` shows the
    names only: values may be session tokens (IG's CST / X-SECURITY-TOKEN).
    """

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        items: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            items.setdefault(name.lower(), (name, value))
        self._items = items

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"
