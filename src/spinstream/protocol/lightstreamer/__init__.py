"""Lightstreamer TLCP 2.4.0 over WebSocket, sans I/O (IG's streaming API runs on it).

`codec` is the wire format (requests, server lines, field values; plus the server-side
encoders the IG simulator uses), `subscription` the per-mode item state, `session` the
`LightstreamerSession` state machine a transport drives, `events` what it reports.
"""

from __future__ import annotations

from . import codec
from .codec import DEFAULT_CID, TLCP_VERSION, WS_PATH, WS_SUBPROTOCOL, Mode
from .events import (
    ClearSnapshot,
    EndOfSnapshot,
    ItemUpdate,
    LsEvent,
    Overflow,
    Rebinding,
    ServerConnError,
    ServerError,
    SessionDead,
    SessionEnded,
    SessionStarted,
    Subscribed,
    SubscriptionConfigured,
    SubscriptionFailed,
    Unsubscribed,
)
from .session import MOVES, LightstreamerSession, State, SubscriptionLimit
from .subscription import Subscription

__all__ = [
    "DEFAULT_CID",
    "MOVES",
    "TLCP_VERSION",
    "WS_PATH",
    "WS_SUBPROTOCOL",
    "ClearSnapshot",
    "EndOfSnapshot",
    "ItemUpdate",
    "LightstreamerSession",
    "LsEvent",
    "Mode",
    "Overflow",
    "Rebinding",
    "ServerConnError",
    "ServerError",
    "SessionDead",
    "SessionEnded",
    "SessionStarted",
    "State",
    "Subscribed",
    "Subscription",
    "SubscriptionConfigured",
    "SubscriptionFailed",
    "SubscriptionLimit",
    "Unsubscribed",
    "codec",
]
