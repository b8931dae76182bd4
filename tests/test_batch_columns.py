"""append_events' column-wise fast path decides exactly like the item-by-item checks.

A list of plain tuples is checked column by column (``_plain_columns``); anything
it is not sure of goes item by item. Whichever path a batch takes, the outcome
-- stored rows, returned records, the error and the item it names -- must be the
one the item-by-item checks give (the same batch as a generator, which never
takes the fast path).
"""

from __future__ import annotations

from typing import Any

import pytest

from convstore import InvalidEvent, NewEvent, SessionStore, StoredEvent, StoreError
from convstore.sqlite.store import _plain_columns


class Text(str):
    """A str subclass: the item-by-item checks refuse it (an exact str is required)."""


def _store() -> SessionStore:
    s = SessionStore(":memory:", clock=lambda: 1_700_000_000)
    s.create_session("s1")
    s.append_events("s1", [("h", None, "i", "t", "{}")])
    return s


def _outcome(batch: list[Any], *, as_list: bool) -> tuple[Any, ...]:
    store = _store()
    try:
        got: Any = store.append_events("s1", batch if as_list else iter(batch))
    except StoreError as exc:
        got = (type(exc), str(exc))
    else:
        assert all(type(e) is StoredEvent for e in got)
    return got, store.load_events("s1"), store.get_session("s1")


def _chain(n: int, first: str | None = "h", **fields: Any) -> list[Any]:
    rows: list[Any] = []
    parent = first
    for k in range(n):
        row = [f"e{k}", parent, "inv", "text", '{"content": "hello"}']
        rows.append(tuple(row))
        parent = row[0]
    for index, value in fields.items():  # "k_f": replace field f of item k
        k, f = map(int, index[1:].split("_"))
        row = list(rows[k])
        row[f] = value
        rows[k] = tuple(row)
    return rows


CASES: dict[str, list[Any]] = {
    "chain from the head": _chain(5),
    "chain from no parent": _chain(5, first=None),
    "branches": [
        ("a", "h", "i", "t", "{}"),
        ("b", "h", "i", "t", "{}"),
        ("c", "a", "i", "t", "{}"),
        ("d", None, "i", "t", "{}"),
    ],
    "parent later in the batch": [("a", "b", "i", "t", "{}"), ("b", "h", "i", "t", "{}")],
    "first parent is a later item": [("a", "b", "i", "t", "{}"), ("b", "a", "i", "t", "{}")],
    "unknown first parent": _chain(3, first="nope"),
    "str subclass id": _chain(3, k1_0=Text("e1")),
    "str subclass parent": _chain(3, k2_1=Text("e1")),
    "str subclass first parent": _chain(3, first=Text("h")),
    "str subclass data": _chain(3, k0_4=Text("{}")),
    "int type": _chain(3, k1_3=5),
    "bytes data": _chain(3, k2_4=b"{}"),
    "NUL in id": _chain(3, k1_0="e\x001"),
    "NUL in first parent": _chain(3, first="h\x00"),
    "backslash in id": _chain(3, k1_0="e\\1"),
    "escape in data": _chain(3, k1_4='{"a": "\\u00e9"}'),
    "lone surrogate escape": _chain(3, k1_4='{"a": "\\ud800"}'),
    "non-ASCII data": _chain(3, k1_4='{"a": "é"}'),
    "bad JSON": _chain(3, k1_4="{"),
    "deep nesting": _chain(3, k1_4="[" * 600 + "]" * 600),
    "brackets spread over the batch": [
        (f"x{k}", None, "i", "t", "[" * 30 + "1" + "]" * 30 + " " * 1000) for k in range(30)
    ],
    "a 6-tuple": [*_chain(2), ("z", "e1", "i", "t", "{}", "extra")],
    "a list item": [*_chain(2), ["z", "e1", "i", "t", "{}"]],
    "NewEvent items": [NewEvent(*row) for row in _chain(3)],
    "duplicate in batch": [*_chain(2), ("e0", "e1", "i", "t", "{}")],
    "replayed head": [("h", None, "i", "t", "{}"), *_chain(2)],
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_fast_path_decides_like_the_item_by_item_checks(name: str) -> None:
    batch = CASES[name]
    assert _outcome(batch, as_list=True) == _outcome(batch, as_list=False)


def test_plain_batches_take_the_fast_path_and_others_do_not() -> None:
    assert _plain_columns(_chain(3)) is not None
    assert _plain_columns(_chain(3, first=None)) is not None
    assert _plain_columns(CASES["branches"]) is not None
    for name in ("str subclass id", "str subclass first parent", "backslash in id", "a 6-tuple"):
        assert _plain_columns(CASES[name]) is None, name
    assert _plain_columns([]) is None


def test_records_and_rows_match_the_batch_field_by_field() -> None:
    store = _store()
    batch = _chain(4)
    got = store.append_events("s1", batch)
    assert got == [StoredEvent(r[0], "s1", *r[1:], 1_700_000_000) for r in batch]
    assert store.load_events("s1")[1:] == got
    assert store.get_session("s1").head_id == "e3"


def test_an_empty_batch_writes_nothing() -> None:
    store = _store()
    assert store.append_events("s1", []) == []
    with pytest.raises(InvalidEvent):
        store.append_events("s1", [()])
