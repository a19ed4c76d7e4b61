"""TLCP 2.4.0 over WebSocket, the wire format only: requests out, server lines in, field values.

Client side (what `session.py` sends and parses):

- Requests are text frames `<verb>\\r\\n<params>`; params are `&`-joined `key=value` pairs, each
  side percent-encoded like `urllib.parse.quote(x, safe="")` (what lightstreamer-client-lib
  1.0.3 does: space `%20`, `|` `%7C`, `:` `%3A`, ...), so every encoded request is ASCII.
  `create_session`, `bind_session`, `control_add`, `control_delete`, `control_destroy` keep
  1.0.3's parameter order.
- Server frames hold one or more lines separated by `\\r\\n`; `parse_line` turns one line into
  one typed message (a frozen `msgspec.Struct` named exactly like its TLCP tag: `CONOK`, `U`,
  ...) and raises `ParseError` on anything else. `<msg>` texts are percent-decoded.
- `U` values: empty = unchanged, `#` = null, `$` = empty string, `^<n>` = the next n fields
  unchanged, `^P<json patch>` (RFC 6902, applied to the previous value), `^T<TLCP-diff>`
  (applied to the previous value), anything else percent-decoded UTF-8. `decode_values`
  tokenizes, `apply_values` resolves them against the item's previous update.
- One line must not cost more than its size: a `^<n>` run past the subscription's field count
  (`parse_line(line, fields_of)`, else `MAX_FIELDS`) is refused before anything is allocated,
  and a `^P` patch too deep for the decoder (or copying more than `MAX_JSON_COPY` values) is a
  `ParseError` like any bad token, never a `RecursionError` or a memory blow-up.

Server side (for the IG simulator): `encode_value`, `encode_values` (unchanged and `^n`
markers from the previous update), `json_patch_token`, `diff_token`, `format_update`,
`format_line`, `encode_message`, `server_frame`, and `parse_request` for the client's frames.

TLCP-diff (from 1.0.3's `DiffDecoder`, the spec text was not found): a sequence of counts,
copy / add / delete, repeated; `copy n` takes n chars of the base, `add n` takes the next n
chars of the diff itself, `delete n` skips n chars of the base. Counts are base-26 varints:
`A`..`Z` are non-final digits 0..25, `a`..`z` the final digit 0..25 (so `d` = 3, `Ba` = 26).
Positions count code points, as 1.0.3's Python build does.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import msgspec

from spinstream.credentials import Secret
from spinstream.errors import ParseError

__all__ = [
    "CLIENTIP",
    "CONERR",
    "CONF",
    "CONOK",
    "CONS",
    "CS",
    "DEFAULT_CID",
    "END",
    "EOS",
    "ERROR",
    "LOOP",
    "MAX_FIELDS",
    "MAX_JSON_COPY",
    "MODES",
    "MSGDONE",
    "MSGFAIL",
    "NOOP",
    "OV",
    "PROBE",
    "PROG",
    "REQERR",
    "REQOK",
    "SERVNAME",
    "SUBCMD",
    "SUBOK",
    "SYNC",
    "TLCP_VERSION",
    "U",
    "UNCHANGED",
    "UNSUB",
    "WSOK",
    "WS_PATH",
    "WS_SUBPROTOCOL",
    "ClientRequest",
    "JsonPatch",
    "Mode",
    "ServerMessage",
    "TextDiff",
    "Unchanged",
    "Value",
    "apply_json_patch",
    "apply_tlcp_diff",
    "apply_values",
    "bind_session",
    "complete_control_link",
    "control_add",
    "control_delete",
    "control_destroy",
    "create_session",
    "decode_values",
    "diff_token",
    "encode_message",
    "encode_params",
    "encode_value",
    "encode_values",
    "format_line",
    "format_update",
    "heartbeat",
    "json_patch_token",
    "parse_line",
    "parse_request",
    "server_frame",
    "split_lines",
    "wsok",
]

TLCP_VERSION = "TLCP-2.4.0"
WS_SUBPROTOCOL = "TLCP-2.4.0.lightstreamer.com"  # IG answers TLCP-2.5.0 with CONERR,65
WS_PATH = "/lightstreamer"
# The client identifier TLCP asks custom (non-Lightstreamer-library) clients to send; it is
# also what Lightstreamer's own test-suite and the Ruby gem used by ig_markets send.
DEFAULT_CID = "mgQkwtwdysogQz2BJ4Ji kOj2Bg"

Mode = Literal["MERGE", "DISTINCT", "COMMAND", "RAW"]
MODES: tuple[Mode, ...] = ("MERGE", "DISTINCT", "COMMAND", "RAW")

EOL = "\r\n"

# Bounds on what one U line may make us allocate: the fields of a line whose subscription's
# count is not known (`parse_line` without `fields_of`), and the JSON values the copy
# operations of one `^P` patch may duplicate.
MAX_FIELDS = 4096
MAX_JSON_COPY = 100_000


# ----------------------------------------------------------------------------------------------
# client requests


def encode_params(params: Iterable[tuple[str, str]]) -> str:
    """`k=v&k=v`, both sides percent-encoded as 1.0.3 does (`quote(x, safe="")`)."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)


def wsok() -> str:
    """The first frame on every new WebSocket, before `create_session`/`bind_session`."""
    return "wsok"


def heartbeat() -> str:
    """A reverse heartbeat (1.0.3 sends it with an empty parameter line)."""
    return "heartbeat\r\n\r\n"


def _reveal(password: Secret | str) -> str:
    return password.reveal() if isinstance(password, Secret) else password


def create_session(
    *,
    password: Secret | str | None,
    cid: str = DEFAULT_CID,
    adapter_set: str | None = None,
    user: str | None = None,
    keepalive_ms: int | None = None,
    inactivity_ms: int | None = None,
    requested_max_bandwidth: float | None = None,
    old_session: str | None = None,
    send_sync: bool = False,
    cause: str | None = "api",
) -> str:
    """The `create_session` frame, parameters in 1.0.3's order (unset optionals are omitted)."""
    p: list[tuple[str, str]] = []
    if keepalive_ms:
        p.append(("LS_keepalive_millis", str(keepalive_ms)))
    if inactivity_ms:
        p.append(("LS_inactivity_millis", str(inactivity_ms)))
    if requested_max_bandwidth is not None:
        p.append(("LS_requested_max_bandwidth", _num(requested_max_bandwidth)))
    if adapter_set is not None:
        p.append(("LS_adapter_set", adapter_set))
    if user is not None:
        p.append(("LS_user", user))
    p.append(("LS_cid", cid))
    if old_session is not None:
        p.append(("LS_old_session", old_session))
    if not send_sync:
        p.append(("LS_send_sync", "false"))
    if cause is not None:
        p.append(("LS_cause", cause))
    if password is not None:
        p.append(("LS_password", _reveal(password)))
    return "create_session" + EOL + encode_params(p)


def bind_session(
    session_id: str,
    *,
    keepalive_ms: int | None = None,
    inactivity_ms: int | None = None,
    send_sync: bool = False,
    cause: str | None = "ws.loop",
) -> str:
    """The `bind_session` frame that moves session `session_id` onto a new WebSocket."""
    p: list[tuple[str, str]] = [("LS_session", session_id)]
    if keepalive_ms:
        p.append(("LS_keepalive_millis", str(keepalive_ms)))
    if inactivity_ms:
        p.append(("LS_inactivity_millis", str(inactivity_ms)))
    if not send_sync:
        p.append(("LS_send_sync", "false"))
    if cause is not None:
        p.append(("LS_cause", cause))
    return "bind_session" + EOL + encode_params(p)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def control_add(
    req_id: int,
    sub_id: int,
    mode: Mode,
    items: Sequence[str],
    fields: Sequence[str],
    *,
    adapter: str | None = None,
    selector: str | None = None,
    snapshot: bool | int | None = None,
    max_frequency: float | str | None = None,
    buffer_size: int | str | None = None,
    ack: bool = False,
) -> str:
    """One subscription request (`LS_op=add`), 1.0.3's parameter order; `snapshot` None omits it.

    `max_frequency` is updates/s or "unlimited"/"unfiltered"; `buffer_size` a count or
    "unlimited".
    """
    p: list[tuple[str, str]] = [
        ("LS_reqId", str(req_id)),
        ("LS_op", "add"),
        ("LS_subId", str(sub_id)),
        ("LS_mode", mode),
        ("LS_group", " ".join(items)),
        ("LS_schema", " ".join(fields)),
    ]
    if adapter is not None:
        p.append(("LS_data_adapter", adapter))
    if selector is not None:
        p.append(("LS_selector", selector))
    if snapshot is not None:
        p.append(("LS_snapshot", _flag(snapshot)))
    if max_frequency is not None:
        p.append(("LS_requested_max_frequency", _freq(max_frequency)))
    if buffer_size is not None:
        p.append(("LS_requested_buffer_size", str(buffer_size)))
    if not ack:
        p.append(("LS_ack", "false"))
    return "control" + EOL + encode_params(p)


def _flag(snapshot: bool | int) -> str:
    if isinstance(snapshot, bool):
        return "true" if snapshot else "false"
    return str(snapshot)


def _freq(f: float | str) -> str:
    return f if isinstance(f, str) else _num(f)


def control_delete(req_id: int, sub_id: int, *, ack: bool = False) -> str:
    """An unsubscription request (`LS_op=delete`)."""
    p = [("LS_reqId", str(req_id)), ("LS_subId", str(sub_id)), ("LS_op", "delete")]
    if not ack:
        p.append(("LS_ack", "false"))
    return "control" + EOL + encode_params(p)


def control_destroy(req_id: int, *, close_socket: bool = True, cause: str = "api") -> str:
    """The session-destroy request, as 1.0.3 sends it on `disconnect()`."""
    p = [("LS_reqId", str(req_id)), ("LS_op", "destroy")]
    if close_socket:
        p.append(("LS_close_socket", "true"))
    p.append(("LS_cause", cause))
    return "control" + EOL + encode_params(p)


def complete_control_link(control_link: str, base_url: str) -> str:
    """CONOK's control link as a URL: scheme and port taken from `base_url` when missing."""
    base = urlsplit(base_url)
    link = control_link if "//" in control_link else "//" + control_link
    cl = urlsplit(link, scheme=base.scheme)
    netloc = cl.netloc
    if cl.port is None and base.port is not None:
        netloc = f"{netloc}:{base.port}"
    return urlunsplit((cl.scheme or base.scheme, netloc, cl.path, cl.query, cl.fragment))


# ----------------------------------------------------------------------------------------------
# server lines: one Struct per TLCP tag


# msgspec passes `frozen` down to subclasses; each one also says so, for type checkers, which read
# a subclass without the keyword as a non-frozen dataclass deriving from a frozen one.
class _Msg(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    pass


class WSOK(_Msg, frozen=True):
    """The WebSocket is usable for TLCP (answers `wsok`)."""


class CONOK(_Msg, frozen=True):
    """Session created or bound; `control_link` None means "*" (the same host)."""

    session_id: str
    request_limit: int
    keepalive_ms: int
    control_link: str | None


class CONERR(_Msg, frozen=True):
    """Session creation or binding refused."""

    code: int
    message: str


class END(_Msg, frozen=True):
    """The server closed the session."""

    code: int
    message: str


class LOOP(_Msg, frozen=True):
    """Rebind the session on a new connection (`bind_session`); `delay_ms` is advisory."""

    delay_ms: int


class SYNC(_Msg, frozen=True):
    """Seconds since session start (only sent when `LS_send_sync` is not false)."""

    seconds: int


class PROBE(_Msg, frozen=True):
    """Keepalive: the stream is idle but alive."""


class NOOP(_Msg, frozen=True):
    """Filler: ignore (it still proves the stream alive)."""


class SERVNAME(_Msg, frozen=True):
    name: str


class CLIENTIP(_Msg, frozen=True):
    ip: str


class CONS(_Msg, frozen=True):
    """Bandwidth constraint: kbit/s, or "unlimited" / "unmanaged"."""

    bandwidth: float | str


class PROG(_Msg, frozen=True):
    prog: int


class REQOK(_Msg, frozen=True):
    req_id: int | None


class REQERR(_Msg, frozen=True):
    req_id: int
    code: int
    message: str


class ERROR(_Msg, frozen=True):
    """A request could not be handled at all; 1.0.3 treats it as fatal for the session."""

    code: int
    message: str


class SUBOK(_Msg, frozen=True):
    sub_id: int
    n_items: int
    n_fields: int


class SUBCMD(_Msg, frozen=True):
    """A COMMAND-mode subscription is active; `key_pos`/`cmd_pos` are 1-based field positions."""

    sub_id: int
    n_items: int
    n_fields: int
    key_pos: int
    cmd_pos: int


class UNSUB(_Msg, frozen=True):
    sub_id: int


class EOS(_Msg, frozen=True):
    sub_id: int
    item: int


class CS(_Msg, frozen=True):
    sub_id: int
    item: int


class OV(_Msg, frozen=True):
    sub_id: int
    item: int
    lost: int


class CONF(_Msg, frozen=True):
    """Subscription frequency; `max_frequency` None means unlimited."""

    sub_id: int
    max_frequency: float | None
    filtered: bool


class Unchanged(enum.Enum):
    """The field keeps its previous value."""

    UNCHANGED = "unchanged"


UNCHANGED = Unchanged.UNCHANGED


class JsonPatch(_Msg, frozen=True):
    """`^P`: an RFC 6902 patch (JSON text) for the previous value."""

    patch: str


class TextDiff(_Msg, frozen=True):
    """`^T`: a TLCP-diff for the previous value."""

    diff: str


Value: TypeAlias = str | None | Unchanged | JsonPatch | TextDiff


class U(_Msg, frozen=True):
    """An update: one token per field (item is 1-based)."""

    sub_id: int
    item: int
    values: tuple[Value, ...]


class MSGDONE(_Msg, frozen=True):
    sequence: str
    prog: int
    response: str | None = None


class MSGFAIL(_Msg, frozen=True):
    sequence: str
    prog: int
    code: int
    message: str


ServerMessage: TypeAlias = (
    WSOK | CONOK | CONERR | END | LOOP | SYNC | PROBE | NOOP | SERVNAME | CLIENTIP | CONS | PROG
    | REQOK | REQERR | ERROR | SUBOK | SUBCMD | UNSUB | EOS | CS | OV | CONF | U | MSGDONE
    | MSGFAIL
)  # fmt: skip


def split_lines(frame: str) -> list[str]:
    """The non-empty `\\r\\n`-separated lines of a server frame."""
    return [line for line in frame.split(EOL) if line]


def _int(s: str) -> int:
    if not (s.isascii() and s.lstrip("-").isdigit()):
        raise ValueError(f"not an integer: {s[:20]!r}")
    return int(s)


def _text(s: str) -> str:
    return unquote(s, errors="replace") if "%" in s else s


def _args(rest: str, n: int) -> list[str]:
    """Exactly n comma-separated arguments; the last one keeps any raw commas."""
    parts = rest.split(",", n - 1) if n > 1 else [rest]
    if len(parts) != n:
        raise ValueError(f"expected {n} arguments, got {len(parts)}")
    return parts


def _p_conok(rest: str) -> CONOK:
    sid, limit, keepalive, link = _args(rest, 4)
    return CONOK(
        session_id=sid,
        request_limit=_int(limit),
        keepalive_ms=_int(keepalive),
        control_link=None if link == "*" else _text(link),
    )


def _p_code_msg(cls: type[CONERR] | type[END] | type[ERROR]) -> Callable[[str], _Msg]:
    def parse(rest: str) -> _Msg:
        code, _, msg = rest.partition(",")
        return cls(code=_int(code), message=_text(msg))

    return parse


def _p_cons(rest: str) -> CONS:
    if rest in ("unlimited", "unmanaged"):
        return CONS(bandwidth=rest)
    return CONS(bandwidth=float(rest))


def _p_reqok(rest: str) -> REQOK:
    return REQOK(req_id=_int(rest) if rest else None)


def _p_reqerr(rest: str) -> REQERR:
    req, code, msg = _args(rest, 3)
    return REQERR(req_id=_int(req), code=_int(code), message=_text(msg))


def _p_subok(rest: str) -> SUBOK:
    sub, items, fields = _args(rest, 3)
    return SUBOK(sub_id=_int(sub), n_items=_int(items), n_fields=_int(fields))


def _p_subcmd(rest: str) -> SUBCMD:
    sub, items, fields, key, cmd = _args(rest, 5)
    return SUBCMD(
        sub_id=_int(sub),
        n_items=_int(items),
        n_fields=_int(fields),
        key_pos=_int(key),
        cmd_pos=_int(cmd),
    )


def _p_item(cls: type[EOS] | type[CS]) -> Callable[[str], _Msg]:
    def parse(rest: str) -> _Msg:
        sub, item = _args(rest, 2)
        return cls(sub_id=_int(sub), item=_int(item))

    return parse


def _p_ov(rest: str) -> OV:
    sub, item, lost = _args(rest, 3)
    return OV(sub_id=_int(sub), item=_int(item), lost=_int(lost))


def _p_conf(rest: str) -> CONF:
    parts = rest.split(",")
    if len(parts) not in (2, 3):
        raise ValueError("CONF needs 2 or 3 arguments")
    freq = None if parts[1] == "unlimited" else float(parts[1])
    filtered = len(parts) < 3 or parts[2] != "unfiltered"
    return CONF(sub_id=_int(parts[0]), max_frequency=freq, filtered=filtered)


def _p_msgdone(rest: str) -> MSGDONE:
    parts = rest.split(",", 2)
    if len(parts) < 2:
        raise ValueError("MSGDONE needs a sequence and a prog")
    resp = _text(parts[2]) if len(parts) == 3 else None
    return MSGDONE(sequence=parts[0], prog=_int(parts[1]), response=resp)


def _p_msgfail(rest: str) -> MSGFAIL:
    seq, prog, code, msg = _args(rest, 4)
    return MSGFAIL(sequence=seq, prog=_int(prog), code=_int(code), message=_text(msg))


def _p_u(rest: str, fields_of: Callable[[int], int] | None = None) -> U:
    sub, item, values = _args(rest, 3)
    sub_id = _int(sub)
    return U(sub_id=sub_id, item=_int(item), values=_decode(values, sub_id, fields_of))


def _bare(msg: _Msg) -> Callable[[str], _Msg]:
    def parse(rest: str) -> _Msg:
        return msg

    return parse


_PARSERS: dict[str, Callable[[str], Any]] = {
    "U": _p_u,
    "PROBE": _bare(PROBE()),
    "NOOP": _bare(NOOP()),
    "WSOK": _bare(WSOK()),
    "CONOK": _p_conok,
    "CONERR": _p_code_msg(CONERR),
    "END": _p_code_msg(END),
    "ERROR": _p_code_msg(ERROR),
    "LOOP": lambda r: LOOP(delay_ms=_int(r) if r else 0),
    "SYNC": lambda r: SYNC(seconds=_int(r) if r else 0),
    "SERVNAME": lambda r: SERVNAME(name=_text(r)),
    "CLIENTIP": lambda r: CLIENTIP(ip=r),
    "CONS": _p_cons,
    "PROG": lambda r: PROG(prog=_int(r)),
    "REQOK": _p_reqok,
    "REQERR": _p_reqerr,
    "SUBOK": _p_subok,
    "SUBCMD": _p_subcmd,
    "UNSUB": lambda r: UNSUB(sub_id=_int(r)),
    "EOS": _p_item(EOS),
    "CS": _p_item(CS),
    "OV": _p_ov,
    "CONF": _p_conf,
    "MSGDONE": _p_msgdone,
    "MSGFAIL": _p_msgfail,
}


def parse_line(line: str, fields_of: Callable[[int], int] | None = None) -> ServerMessage:
    """One server line as its typed message.

    `fields_of(sub_id)` is the field count of a subscription (asked only when a U line carries
    a `^<n>` run): a run past it is refused before it is expanded; without it, `MAX_FIELDS`.

    Raises:
        ParseError: unknown tag, wrong argument count, a bad number or value token, or more
            unchanged fields than the subscription has.
    """
    tag, _, rest = line.partition(",")
    parser = _PARSERS.get(tag)
    if parser is None:
        raise ParseError(f"unknown TLCP message {tag[:24]!r}")
    try:
        msg: ServerMessage = _p_u(rest, fields_of) if tag == "U" else parser(rest)
    except ParseError:
        raise
    except (ValueError, IndexError) as exc:
        raise ParseError(f"bad {tag} line: {exc}") from exc
    return msg


# ----------------------------------------------------------------------------------------------
# update values


def decode_values(text: str, max_fields: int = MAX_FIELDS) -> tuple[Value, ...]:
    """The `|`-separated value tokens of a U line, `^<n>` expanded into n `UNCHANGED`.

    Raises:
        ParseError: a bad token, or `^<n>` runs reaching past `max_fields` fields (checked
            before the run is expanded, so a short line cannot allocate millions of slots).
    """
    return _decode(text, 0, lambda _: max_fields)


def _decode(text: str, sub_id: int, fields_of: Callable[[int], int] | None) -> tuple[Value, ...]:
    out: list[Value] = []
    for tok in text.split("|"):
        if not tok:
            out.append(UNCHANGED)
        elif tok == "#":
            out.append(None)
        elif tok == "$":
            out.append("")
        elif tok[0] == "^":
            kind = tok[1:2]
            if kind == "P":
                out.append(JsonPatch(patch=_text(tok[2:])))
            elif kind == "T":
                out.append(TextDiff(diff=_text(tok[2:])))
            else:
                digits = tok[1:]
                if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
                    raise ParseError(f"bad value token {tok[:24]!r}")
                n = int(digits)
                if n < 1:
                    raise ParseError(f"bad value token {tok[:24]!r}")
                limit = fields_of(sub_id) if fields_of is not None else MAX_FIELDS
                if len(out) + n > limit:
                    raise ParseError(f"{tok[:24]!r} runs past the {limit} fields of the update")
                out.extend([UNCHANGED] * n)
        else:
            out.append(_text(tok))
    return tuple(out)


def apply_values(
    prev: Sequence[str | None] | None, values: Sequence[Value], n_fields: int
) -> list[str | None]:
    """The item's new field values: `values` (decoded tokens) resolved against `prev`.

    Raises:
        ParseError: wrong number of fields, or unchanged/patch/diff with no previous value.
    """
    if len(values) != n_fields:
        raise ParseError(f"update has {len(values)} fields, subscription has {n_fields}")
    out: list[str | None] = []
    for i, v in enumerate(values):
        if v is None or isinstance(v, str):
            out.append(v)
            continue
        base = prev[i] if prev is not None else None
        if v is UNCHANGED:
            if prev is None:
                raise ParseError(f"field {i + 1} unchanged in the item's first update")
            out.append(base)
        elif base is None:
            raise ParseError(f"field {i + 1}: patch or diff on a null or missing value")
        elif isinstance(v, JsonPatch):
            out.append(_patched(base, v.patch, i))
        elif isinstance(v, TextDiff):
            out.append(apply_tlcp_diff(base, v.diff))
    return out


def _patched(base: str, patch: str, i: int) -> str:
    try:
        doc = msgspec.json.decode(base)
        ops = msgspec.json.decode(patch)
    except msgspec.DecodeError as exc:
        raise ParseError(f"field {i + 1}: JSON patch on non-JSON text: {exc}") from exc
    except RecursionError:  # msgspec refuses JSON nested ~1000 deep this way
        raise ParseError(f"field {i + 1}: JSON patch or value nested too deep") from None
    try:
        return msgspec.json.encode(apply_json_patch(doc, ops)).decode()
    except RecursionError:  # the patched value nests too deep to encode
        raise ParseError(f"field {i + 1}: JSON patch result nested too deep") from None


# -- RFC 6902 -----------------------------------------------------------------------------------


def _pointer(path: object) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise ParseError(f"bad JSON pointer {path!r}")
    if not path:
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _index(token: str, size: int, *, adding: bool) -> int:
    if adding and token == "-":
        return size
    if not token.isascii() or not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise ParseError(f"bad array index {token!r}")
    i = int(token)
    if i > size or (i == size and not adding):
        raise ParseError(f"array index {i} out of range")
    return i


def _parent(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for t in tokens:
        if isinstance(node, dict) and t in node:
            node = node[t]
        elif isinstance(node, list):
            node = node[_index(t, len(node), adding=False)]
        else:
            raise ParseError(f"JSON pointer token {t!r} not found")
    return node


def _get(doc: Any, path: object) -> Any:
    return _parent(doc, _pointer(path))


def _add(doc: Any, path: object, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens[:-1]), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(last, len(parent), adding=True), value)
    else:
        raise ParseError(f"cannot add under a scalar at {path!r}")
    return doc


def _remove(doc: Any, path: object) -> tuple[Any, Any]:
    tokens = _pointer(path)
    if not tokens:
        return None, doc
    parent, last = _parent(doc, tokens[:-1]), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise ParseError(f"nothing to remove at {path!r}")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(last, len(parent), adding=False))
    raise ParseError(f"cannot remove under a scalar at {path!r}")


def _count(value: Any, budget: int) -> int:
    """How many JSON values `value` holds (itself included); stops counting once past `budget`."""
    n, stack = 0, [value]
    while stack and n <= budget:
        v = stack.pop()
        n += 1
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return n


def apply_json_patch(doc: Any, patch: Any) -> Any:
    """`doc` (decoded JSON, changed in place where possible) with RFC 6902 `patch` applied.

    Supports add, remove, replace, move, copy and test. The copy operations of one patch may
    duplicate at most `MAX_JSON_COPY` values (doubling a value 40 times is one short line).

    Raises:
        ParseError: a malformed patch, a missing path, a failed test, copies past the budget,
            or values nested too deep to compare or copy.
    """
    try:
        return _apply_json_patch(doc, patch)
    except RecursionError:  # deepcopy, == and repr recurse through nested values
        raise ParseError("JSON patch on values nested too deep") from None


def _apply_json_patch(doc: Any, patch: Any) -> Any:
    copy_budget = MAX_JSON_COPY
    if not isinstance(patch, list):
        raise ParseError("a JSON patch is an array of operations")
    for op in patch:
        if not isinstance(op, dict) or "path" not in op:
            raise ParseError(f"bad JSON patch operation {op!r:.60}")
        kind, path = op.get("op"), op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise ParseError(f"JSON patch {kind} without a value")
        if kind == "add":
            doc = _add(doc, path, op["value"])
        elif kind == "remove":
            doc = _remove(doc, path)[0]
        elif kind == "replace":
            _get(doc, path)  # must exist
            tokens = _pointer(path)
            if not tokens:
                doc = op["value"]
            else:
                parent = _parent(doc, tokens[:-1])
                key = tokens[-1]
                if isinstance(parent, list):
                    parent[_index(key, len(parent), adding=False)] = op["value"]
                else:
                    parent[key] = op["value"]
        elif kind == "move":
            doc, value = _remove(doc, op.get("from"))
            doc = _add(doc, path, value)
        elif kind == "copy":
            value = _get(doc, op.get("from"))
            copy_budget -= _count(value, copy_budget)
            if copy_budget < 0:
                raise ParseError(f"JSON patch copies more than {MAX_JSON_COPY} values")
            doc = _add(doc, path, copy.deepcopy(value))
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise ParseError(f"JSON patch test failed at {path!r}")
        else:
            raise ParseError(f"unknown JSON patch op {kind!r}")
    return doc


# -- TLCP-diff ----------------------------------------------------------------------------------


def _varint(diff: str, pos: int) -> tuple[int, int]:
    n = 0
    while True:
        if pos >= len(diff):
            raise ParseError("TLCP-diff ends inside a number")
        c = ord(diff[pos])
        pos += 1
        if 97 <= c <= 122:  # a-z: last digit
            return n * 26 + (c - 97), pos
        if 65 <= c <= 90:  # A-Z: more digits follow
            n = n * 26 + (c - 65)
        else:
            raise ParseError(f"TLCP-diff: {chr(c)!r} is not a base-26 digit")


def apply_tlcp_diff(base: str, diff: str) -> str:
    """`base` changed by a TLCP-diff (copy/add/delete counts, as 1.0.3 applies them).

    Raises:
        ParseError: a bad digit, or a count running past the base or the diff.
    """
    out: list[str] = []
    bpos = dpos = 0
    end = len(diff)
    while dpos != end:
        n, dpos = _varint(diff, dpos)  # copy
        if bpos + n > len(base):
            raise ParseError("TLCP-diff copies past the end of the base")
        out.append(base[bpos : bpos + n])
        bpos += n
        if dpos == end:
            break
        n, dpos = _varint(diff, dpos)  # add
        if dpos + n > end:
            raise ParseError("TLCP-diff adds past its own end")
        out.append(diff[dpos : dpos + n])
        dpos += n
        if dpos == end:
            break
        n, dpos = _varint(diff, dpos)  # delete
        bpos += n
    return "".join(out)


def _varint_encode(n: int) -> str:
    digits = [chr(97 + n % 26)]
    n //= 26
    while n:
        digits.append(chr(65 + n % 26))
        n //= 26
    return "".join(reversed(digits))


# ----------------------------------------------------------------------------------------------
# server side: what a TLCP server (the IG simulator) sends, and parsing what a client sends


_ALWAYS = str.maketrans({"%": "%25", "|": "%7C", "\r": "%0D", "\n": "%0A"})
_LEADING = {"#": "%23", "$": "%24", "^": "%5E"}


def encode_value(value: str | None) -> str:
    """One literal field value for a U line: `#` null, `$` empty, else percent-encoded.

    `%`, `|`, CR and LF are always encoded, and so is a leading `#`, `$` or `^`; other text
    (non-ASCII included) goes as UTF-8.
    """
    if value is None:
        return "#"
    if not value:
        return "$"
    out = value.translate(_ALWAYS)
    lead = _LEADING.get(out[0])
    return lead + out[1:] if lead else out


def encode_values(prev: Sequence[str | None] | None, new: Sequence[str | None]) -> str:
    """The value part of a U line sending `new`, with fields equal to `prev` as unchanged.

    One unchanged field is an empty token, a run of two or more is `^<n>`; `prev` None (the
    item's first update on this subscription) sends every value.
    """
    if prev is not None and len(prev) != len(new):
        raise ValueError("prev and new must have the same number of fields")
    tokens: list[str] = []
    run = 0
    for i, v in enumerate(new):
        if prev is not None and prev[i] == v:
            run += 1
            continue
        if run:
            tokens.append("" if run == 1 else f"^{run}")
            run = 0
        tokens.append(encode_value(v))
    if run:
        tokens.append("" if run == 1 else f"^{run}")
    return "|".join(tokens)


def json_patch_token(ops: Sequence[Mapping[str, Any]]) -> str:
    """A `^P` token carrying RFC 6902 `ops` (applied by the client to the field's last value)."""
    return "^P" + msgspec.json.encode(list(ops)).decode().translate(_ALWAYS)


def diff_token(base: str, target: str) -> str:
    """A `^T` token turning `base` into `target` (common prefix and suffix kept, middle swapped)."""
    p = 0
    limit = min(len(base), len(target))
    while p < limit and base[p] == target[p]:
        p += 1
    s = 0
    while s < limit - p and base[-1 - s] == target[-1 - s]:
        s += 1
    added = target[p : len(target) - s]
    deleted = len(base) - p - s
    diff = _varint_encode(p) + _varint_encode(len(added)) + added + _varint_encode(deleted)
    if s:
        diff += _varint_encode(s)
    return "^T" + diff.translate(_ALWAYS)


def encode_message(text: str) -> str:
    """A `<msg>` argument (CONERR, END, REQERR, ERROR, MSGFAIL): `%`, `,`, `|`, CR, LF encoded."""
    return text.translate(_MSG)


_MSG = str.maketrans({"%": "%25", ",": "%2C", "|": "%7C", "\r": "%0D", "\n": "%0A"})


def format_line(tag: str, *args: object) -> str:
    """A server line `TAG,a1,a2,...` (arguments as given: encode `<msg>` texts first)."""
    return ",".join([tag, *(str(a) for a in args)])


def format_update(
    sub_id: int, item: int, prev: Sequence[str | None] | None, new: Sequence[str | None]
) -> str:
    """A whole `U,<sub>,<item>,<values>` line (see `encode_values`)."""
    return f"U,{sub_id},{item},{encode_values(prev, new)}"


def server_frame(lines: Iterable[str]) -> str:
    """Server lines as one WebSocket frame, each line ended by CRLF."""
    return "".join(line + EOL for line in lines)


class ClientRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A client frame as a server sees it: the verb and one decoded dict per parameter line."""

    verb: str
    params: tuple[dict[str, str], ...]

    def __repr__(self) -> str:  # LS_password carries the IG tokens
        shown = tuple(
            {k: ("********" if k == "LS_password" else v) for k, v in p.items()}
            for p in self.params
        )
        return f"ClientRequest(verb={self.verb!r}, params={shown!r})"


def parse_request(frame: str) -> ClientRequest:
    """A client frame: `wsok`, or `<verb>\\r\\n<params>[\\r\\n<params>...]` (batched).

    Raises:
        ParseError: an empty frame or a parameter without `=`.
    """
    lines = frame.split(EOL)
    verb = lines[0]
    if not verb:
        raise ParseError("empty request")
    params: list[dict[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        d: dict[str, str] = {}
        for pair in line.split("&"):
            k, eq, v = pair.partition("=")
            if not eq:
                raise ParseError(f"parameter without '=' in {verb} request")
            d[unquote(k)] = unquote(v)
        params.append(d)
    return ClientRequest(verb=verb, params=tuple(params))
