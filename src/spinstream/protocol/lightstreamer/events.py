"""What a `LightstreamerSession` reports: session life and per-subscription item data.

Every event carries `ts`, the local receive (or tick) time in int ns that produced it. A venue
protocol (protocol/ig/) turns these into the shared vocabulary of `spinstream.protocol.events`.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from spinstream.protocol.events import Malformed

__all__ = [
    "ClearSnapshot",
    "EndOfSnapshot",
    "ItemUpdate",
    "LsEvent",
    "Malformed",
    "Overflow",
    "Rebinding",
    "ServerConnError",
    "ServerError",
    "SessionDead",
    "SessionEnded",
    "SessionStarted",
    "Subscribed",
    "SubscriptionConfigured",
    "SubscriptionFailed",
    "Unsubscribed",
]


class SessionStarted(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """CONOK: the session is bound and streaming (`rebound` after a LOOP's `bind_session`).

    `control_link` None means the same host; otherwise rebinds should go to that host (see
    `codec.complete_control_link`).
    """

    session_id: str
    keepalive_ms: int
    control_link: str | None
    request_limit: int
    rebound: bool = False
    ts: int


class SessionEnded(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """END: the server closed the session; nothing reconnects on its own."""

    code: int
    message: str
    ts: int


class ServerConnError(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """CONERR: session creation (or a rebind) refused, e.g. 65 "Unsupported protocol version"."""

    code: int
    message: str
    ts: int


class ServerError(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """ERROR: the server could not process a request at all; the session is over."""

    code: int
    message: str
    ts: int


class SessionDead(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The stream went silent past keepalive + margin, never opened, or the socket dropped.

    Every subscription's data is stale; `reconnect_wanted` is set and the next `connected`
    opens a new session and re-adds every subscription.
    """

    reason: str
    ts: int


class Rebinding(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """LOOP: close this socket and connect again; `connected` will send `bind_session`.

    The session and its subscriptions live on; nothing is stale beyond the reconnect gap.
    """

    session_id: str
    delay_ms: int
    ts: int


class Subscribed(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """SUBOK/SUBCMD: the server accepted the subscription."""

    sub_id: int
    n_items: int
    n_fields: int
    ts: int


class SubscriptionFailed(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """REQERR for a subscription request: it is dropped (and no longer counts to the limit)."""

    sub_id: int
    code: int
    message: str
    ts: int


class Unsubscribed(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """UNSUB: the subscription is gone on the server (asked by us, or by the server)."""

    sub_id: int
    ts: int


class SubscriptionConfigured(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """CONF: the frequency the server applies (`max_frequency` None = unlimited)."""

    sub_id: int
    max_frequency: float | None
    filtered: bool
    ts: int


class ItemUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """One update of one item: `fields` holds every field's current value (None = null).

    MERGE/RAW: the item's merged values; DISTINCT: the event's values; COMMAND: the row of one
    key, its command field normalised as 1.0.3 does (ADD for a new key, else UPDATE; on DELETE
    every field but key and command is None). `changed` names the fields whose value differs
    from the previous one (all of them on an item's, or a COMMAND key's, first update).
    `snapshot` marks snapshot data: until EOS (DISTINCT, COMMAND), the first update (MERGE).
    """

    sub_id: int
    item_name: str | None
    item_pos: int
    fields: dict[str, str | None]
    changed: frozenset[str]
    snapshot: bool
    ts: int


class EndOfSnapshot(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """EOS: no more snapshot updates for this item."""

    sub_id: int
    item_name: str | None
    item_pos: int
    ts: int


class ClearSnapshot(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """CS: forget the item's state (COMMAND: every row; DISTINCT: earlier events; MERGE: values)."""

    sub_id: int
    item_name: str | None
    item_pos: int
    ts: int


class Overflow(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """OV: the server dropped `lost` updates of this item (its state may be behind)."""

    sub_id: int
    item_name: str | None
    item_pos: int
    lost: int
    ts: int


LsEvent: TypeAlias = (
    SessionStarted | SessionEnded | ServerConnError | ServerError | SessionDead | Rebinding
    | Subscribed | SubscriptionFailed | Unsubscribed | SubscriptionConfigured | ItemUpdate
    | EndOfSnapshot | ClearSnapshot | Overflow | Malformed
)  # fmt: skip
