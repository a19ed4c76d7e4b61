"""One Lightstreamer subscription and its per-item field state, for every TLCP mode.

- MERGE: the item's current values; only the first update after subscribing is the snapshot
  (1.0.3's rule), EOS also ends it.
- DISTINCT: each update is an event; updates until EOS are snapshot events.
- COMMAND: rows keyed by the key field, per item; SUBCMD gives the key and command positions
  (without it the fields named `key` and `command` are used). ADD/UPDATE upsert a row, DELETE
  removes it, and the command is normalised as 1.0.3 does (ADD for a key seen first, else
  UPDATE).
- RAW: each update is an event; no snapshot.

Unchanged markers (`|`, `^n`), `^P` and `^T` always refer to the item's previous update on the
wire, whatever the mode (COMMAND included: the previous update of the item, not of the key), so
that baseline is kept apart from the state shown to users, which CS clears.
"""

from __future__ import annotations

from collections.abc import Sequence

from spinstream.errors import ParseError

from . import codec
from .codec import MODES, Mode
from .events import ClearSnapshot, EndOfSnapshot, ItemUpdate, LsEvent, Overflow

__all__ = ["Subscription"]

_Values = list[str | None]


class _Item:
    """What we know of one item of a subscription."""

    __slots__ = ("rows", "snapshot", "values", "wire")

    def __init__(self, snapshot: bool) -> None:
        self.wire: _Values | None = None  # last update as received: the unchanged baseline
        self.values: _Values | None = None  # current values shown (MERGE/DISTINCT/RAW)
        self.rows: dict[str, _Values] = {}  # COMMAND: key -> row
        self.snapshot = snapshot  # updates are still snapshot data


class Subscription:
    """A subscription's request parameters plus what the server has told us about it."""

    __slots__ = (
        "_items",
        "adapter",
        "buffer_size",
        "cmd_pos",
        "fields",
        "items",
        "key_pos",
        "max_frequency",
        "mode",
        "n_fields",
        "n_items",
        "req_id",
        "selector",
        "sent",
        "snapshot",
        "sub_id",
        "subscribed",
    )

    def __init__(
        self,
        sub_id: int,
        items: Sequence[str],
        fields: Sequence[str],
        mode: Mode,
        *,
        adapter: str | None = None,
        snapshot: bool | int | None = None,
        selector: str | None = None,
        max_frequency: float | str | None = None,
        buffer_size: int | str | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        items, fields = tuple(items), tuple(fields)
        for kind, names in (("item", items), ("field", fields)):
            if not names:
                raise ValueError(f"a subscription needs at least one {kind}")
            for n in names:
                if not n or any(c.isspace() for c in n):
                    raise ValueError(f"{kind} names must be non-empty without spaces: {n!r}")
        if snapshot is not None and not isinstance(snapshot, bool):
            if mode != "DISTINCT":
                raise ValueError("a snapshot length applies to DISTINCT mode only")
            if snapshot < 1:
                raise ValueError("a snapshot length must be positive")
        if mode == "RAW" and snapshot:
            raise ValueError("RAW mode has no snapshot")
        if snapshot is None and mode != "RAW":
            snapshot = True  # 1.0.3's default for MERGE, DISTINCT and COMMAND
        self.sub_id = sub_id
        self.items = items
        self.fields = fields
        self.mode: Mode = mode
        self.adapter = adapter
        self.snapshot = snapshot
        self.selector = selector
        self.max_frequency = max_frequency
        self.buffer_size = buffer_size
        self.req_id = 0  # of the last add request
        self.sent = False  # the current session knows it (add sent)
        self.subscribed = False  # SUBOK/SUBCMD received in the current session
        self.n_items = len(items)
        self.n_fields = len(fields)
        self.key_pos = 0  # COMMAND: 0-based positions once subscribed
        self.cmd_pos = 0
        self._items: dict[int, _Item] = {}

    def __repr__(self) -> str:
        return (
            f"Subscription({self.sub_id}, {self.mode}, items={len(self.items)},"
            f" fields={len(self.fields)}, subscribed={self.subscribed})"
        )

    # -- requests -----------------------------------------------------------------------------

    def add_request(self, req_id: int) -> str:
        """The `control` frame adding this subscription under request `req_id`."""
        self.req_id = req_id
        self.sent = True
        return codec.control_add(
            req_id,
            self.sub_id,
            self.mode,
            self.items,
            self.fields,
            adapter=self.adapter,
            selector=self.selector,
            snapshot=self.snapshot,
            max_frequency=self.max_frequency,
            buffer_size=self.buffer_size,
        )

    def reset(self) -> None:
        """Forget the server side (a new session will re-add it and resend snapshots)."""
        self.sent = False
        self.subscribed = False
        self._items.clear()

    # -- server lines -------------------------------------------------------------------------

    def on_subscribed(
        self, n_items: int, n_fields: int, key_pos: int = 0, cmd_pos: int = 0
    ) -> None:
        """SUBOK (key/cmd 0) or SUBCMD (1-based key and command positions).

        Raises:
            ParseError: counts or positions that do not fit this subscription.
        """
        if n_items < 1 or n_fields < 1:
            raise ParseError(f"subscription {self.sub_id}: {n_items} items, {n_fields} fields")
        if self.mode == "COMMAND":
            if not key_pos or not cmd_pos:  # SUBOK for COMMAND: find the conventional names
                lower = [f.lower() for f in self.fields]
                if "key" not in lower or "command" not in lower:
                    raise ParseError(f"COMMAND subscription {self.sub_id} without key/command")
                key_pos, cmd_pos = lower.index("key") + 1, lower.index("command") + 1
            if not (1 <= key_pos <= n_fields and 1 <= cmd_pos <= n_fields) or key_pos == cmd_pos:
                raise ParseError(f"subscription {self.sub_id}: bad key/command positions")
            self.key_pos, self.cmd_pos = key_pos - 1, cmd_pos - 1
        self.n_items, self.n_fields = n_items, n_fields
        self.subscribed = True
        self._items.clear()

    def item_name(self, pos: int) -> str | None:
        return self.items[pos - 1] if 1 <= pos <= len(self.items) else None

    def field_names(self) -> list[str]:
        return [
            self.fields[i] if i < len(self.fields) else str(i + 1) for i in range(self.n_fields)
        ]

    def _item(self, pos: int) -> _Item:
        item = self._items.get(pos)
        if item is None:
            if not 1 <= pos <= self.n_items:
                raise ParseError(f"subscription {self.sub_id} has no item {pos}")
            item = self._items[pos] = _Item(snapshot=self.mode != "RAW" and bool(self.snapshot))
        return item

    def on_update(self, msg: codec.U, ts: int) -> list[LsEvent]:
        """A U line for this subscription.

        Raises:
            ParseError: bad item, field count, unchanged marker without a baseline, bad patch.
        """
        item = self._item(msg.item)
        new = codec.apply_values(item.wire, msg.values, self.n_fields)
        item.wire = new
        snapshot = item.snapshot
        if self.mode == "MERGE":
            item.snapshot = False  # a MERGE snapshot is a single update
        if self.mode == "COMMAND":
            return [self._command(item, msg.item, new, snapshot, ts)]
        names = self.field_names()
        prev = item.values
        item.values = new
        if prev is None:
            changed = frozenset(names)
        else:
            changed = frozenset(names[i] for i, v in enumerate(new) if prev[i] != v)
        return [
            ItemUpdate(
                sub_id=self.sub_id,
                item_name=self.item_name(msg.item),
                item_pos=msg.item,
                fields=dict(zip(names, new, strict=True)),
                changed=changed,
                snapshot=snapshot,
                ts=ts,
            )
        ]

    def _command(self, item: _Item, pos: int, new: _Values, snapshot: bool, ts: int) -> ItemUpdate:
        names = self.field_names()
        kp, cp = self.key_pos, self.cmd_pos
        key = new[kp]
        if key is None:
            raise ParseError(f"COMMAND update of subscription {self.sub_id} without a key")
        old = item.rows.get(key)
        if new[cp] == "DELETE":
            row: _Values = [None] * self.n_fields
            row[kp], row[cp] = key, "DELETE"
            item.rows.pop(key, None)
            if old is None:  # deleting an unknown key: 1.0.3 reports every field changed
                changed = frozenset(names)
            else:
                changed = frozenset(n for i, n in enumerate(names) if i != kp)
        else:
            row = list(new)
            row[cp] = "ADD" if old is None else "UPDATE"
            item.rows[key] = row
            if old is None:
                changed = frozenset(names)
            else:
                changed = frozenset(names[i] for i, v in enumerate(row) if old[i] != v)
        return ItemUpdate(
            sub_id=self.sub_id,
            item_name=self.item_name(pos),
            item_pos=pos,
            fields=dict(zip(names, row, strict=True)),
            changed=changed,
            snapshot=snapshot,
            ts=ts,
        )

    def on_eos(self, pos: int, ts: int) -> list[LsEvent]:
        self._item(pos).snapshot = False
        return [
            EndOfSnapshot(sub_id=self.sub_id, item_name=self.item_name(pos), item_pos=pos, ts=ts)
        ]

    def on_cs(self, pos: int, ts: int) -> list[LsEvent]:
        item = self._item(pos)
        item.values = None
        item.rows.clear()
        return [
            ClearSnapshot(sub_id=self.sub_id, item_name=self.item_name(pos), item_pos=pos, ts=ts)
        ]

    def on_ov(self, pos: int, lost: int, ts: int) -> list[LsEvent]:
        self._item(pos)
        return [
            Overflow(
                sub_id=self.sub_id, item_name=self.item_name(pos), item_pos=pos, lost=lost, ts=ts
            )
        ]

    # -- state --------------------------------------------------------------------------------

    def values(self, pos: int) -> dict[str, str | None]:
        """The item's current values by field name ({} before its first update or after CS)."""
        item = self._items.get(pos)
        if item is None or item.values is None:
            return {}
        return dict(zip(self.field_names(), item.values, strict=True))

    def rows(self, pos: int) -> dict[str, dict[str, str | None]]:
        """COMMAND: the item's live rows by key."""
        item = self._items.get(pos)
        if item is None:
            return {}
        names = self.field_names()
        return {k: dict(zip(names, row, strict=True)) for k, row in item.rows.items()}
