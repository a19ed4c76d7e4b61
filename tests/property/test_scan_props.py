"""Property tests: the compiled picker agrees with the twin (the oracle) on any frame, and on
valid JSON it returns what a JSON decoder reads at the same paths."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corekinds import load_core

EXAMPLES = int(os.environ.get("SPINSTREAM_HYPOTHESIS_EXAMPLES", "300"))
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
KEYS = ["a", "b", "data", "x", "asks"]
PATHS = ("a", "b", "data.x", "data.asks", "x.a.b")
KINDS = st.text("*siclfn", min_size=len(PATHS), max_size=len(PATHS))


@pytest.fixture(scope="module")
def pickers():
    return load_core("compiled").scan.Picker(PATHS), load_core("twin").scan.Picker(PATHS)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.from_regex(r"\d{0,20}\.?\d{0,20}", fullmatch=True),  # kinds f and n: numbers as text
    st.integers(0, 10**20).map(str),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=30,
)
documents = st.dictionaries(st.sampled_from(KEYS), values, max_size=5)


@SETTINGS
@given(documents, st.booleans())
def test_compiled_equals_twin_on_json(pickers, doc, spaced) -> None:
    text = json.dumps(doc, separators=(", ", ": ") if spaced else (",", ":"))
    compiled, twin = pickers
    assert compiled(text) == twin(text)
    assert compiled(text.encode()) == twin(text)


@SETTINGS
@given(
    documents,
    st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from('{}[]",:\\ \x01a0.-e\xe9')),
        min_size=1,
        max_size=4,
    ),
)
def test_compiled_equals_twin_on_broken_frames(pickers, doc, edits) -> None:
    chars = list(json.dumps(doc, ensure_ascii=False))
    for at, c in edits:
        if chars:
            chars[at % len(chars)] = c
    text = "".join(chars)
    compiled, twin = pickers
    assert compiled(text) == twin(text)


def _first(doc: object, path: list[str]) -> list[object]:
    """Every value at PATH (arrays transparent), as the picker defines it."""
    if not path:
        return [doc]
    if isinstance(doc, dict):
        return _first(doc[path[0]], path[1:]) if path[0] in doc else []
    if isinstance(doc, list):
        return [v for item in doc for v in _first(item, path)]
    return []


@SETTINGS
@given(documents)
def test_values_are_what_json_reads(pickers, doc) -> None:
    text = json.dumps(doc)
    got = pickers[0](text)
    found = [_first(doc, p.split(".")) for p in PATHS]
    if any(len(f) > 1 for f in found) or "\\" in text:
        return  # a repeat, or an escape that may be in an asked string: None is allowed
    assert got is not None
    for value, f in zip(got, found, strict=True):
        want = f[0] if f else None
        if isinstance(want, (list, dict)):
            assert json.loads(value) == want
        elif isinstance(want, bool) or want is None:
            assert value is want
        elif isinstance(want, int) and abs(want) < 10**18:
            assert value == want and type(value) is int
        elif isinstance(want, (int, float)):
            assert float(value) == float(want)
        else:
            assert value == want


@SETTINGS
@given(documents, KINDS)
def test_compiled_equals_twin_with_kinds(documents_doc, kinds) -> None:
    compiled = load_core("compiled").scan.Picker(PATHS, kinds)
    twin = load_core("twin").scan.Picker(PATHS, kinds)
    for text in (json.dumps(documents_doc), json.dumps(documents_doc, separators=(",", ":"))):
        assert _norm(compiled(text)) == _norm(twin(text))


def _norm(picked: list[object] | None) -> list[object] | None:
    """FrameLevels of either kind as (their JSON text, their count)."""
    if picked is None:
        return None
    return [(v.raw, len(v)) if hasattr(v, "raw") else v for v in picked]


plain = st.from_regex(r"\A(\d{1,10}(\.\d{0,9})?|\.\d{1,9}|1234567890123456789)\Z")
level_items = st.one_of(plain, st.sampled_from(["-1", "1e5", "", ".", "a\\b", "]", "x\x01"]))
compact_levels = st.lists(
    st.lists(level_items, min_size=0, max_size=4).map(
        lambda xs: "[" + ",".join(f'"{x}"' for x in xs) + "]"
    ),
    max_size=6,
).map(lambda ls: "[" + ",".join(ls) + "]")


@SETTINGS
@given(compact_levels, compact_levels, st.booleans())
def test_levels_kind_compiled_equals_twin_and_books_agree(asks, bids, spaced) -> None:
    """Kind `l`: both kinds take or refuse the same arrays, and a compiled book and a twin
    book fed the picked levels end the same (value or error) as one fed the JSON bytes."""
    frame = f'{{"data":[{{"asks":{asks},"bids":{bids}}}]}}'
    if spaced:
        frame = frame.replace(",", ", ")
    paths, kinds = ("data.asks", "data.bids"), "ll"
    c = load_core("compiled").scan.Picker(paths, kinds)(frame)
    t = load_core("twin").scan.Picker(paths, kinds)(frame)
    assert _norm(c) == _norm(t)
    if c is None:
        return
    outcomes = []
    for kind in ("compiled", "twin"):
        for picked in (c, t):
            book = load_core(kind).book.Book(3, 4)
            try:
                book.apply_snapshot(picked[1], picked[0])
                outcomes.append(("ok", book.bids(10).tolist(), book.asks(10).tolist()))
            except ValueError as exc:
                outcomes.append(("error", type(exc).__name__))
        ref = load_core(kind).book.Book(3, 4)
        try:
            ref.apply_snapshot(bids.encode(), asks.encode())
            outcomes.append(("ok", ref.bids(10).tolist(), ref.asks(10).tolist()))
        except ValueError as exc:
            outcomes.append(("error", type(exc).__name__))
    assert all(o == outcomes[0] for o in outcomes), outcomes
