"""append_events inserts BULK_INSERT_ROWS rows a statement: every size, every failure.

The rows of a batch go in ten to a statement (``EVENT_INSERT_ROWS``) and the last
few one by one, all bound from one flat stream of fields. Whatever the batch's
size, each event lands under its own key (``sid * 2**32 + seq``, seq counting on
from the session's events), with its own fields; a refused row anywhere -- inside
a ten-row statement, in the last one, in the tail -- refuses the whole batch with
the error naming that item, and nothing is written.
"""

from __future__ import annotations

from typing import Any

import pytest

from convstore import DuplicateId, InvalidEvent, SessionStore, StoredEvent
from convstore._common import BULK_INSERT_ROWS

NOW = 1_700_000_000
SIZES = sorted(
    {1, 2, BULK_INSERT_ROWS - 1, BULK_INSERT_ROWS, BULK_INSERT_ROWS + 1, 2 * BULK_INSERT_ROWS}
    | {2 * BULK_INSERT_ROWS + 3, 99, 100, 101, 257}
)


def _store() -> SessionStore:
    store = SessionStore(":memory:", clock=lambda: NOW)
    store.create_session("other")
    store.append_events("other", [("o1", None, "i", "t", "{}")])
    store.create_session("s1")
    store.append_events("s1", [("h", None, "i", "t", "{}")])
    return store


def _batch(n: int, prefix: str = "e", first: str | None = "h") -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    parent = first
    for k in range(n):
        eid = f"{prefix}{k}"
        # Every field differs from row to row: a row bound to another's fields shows.
        rows.append((eid, parent, f"inv{k % 3}", f"type{k % 4}", f'{{"content": "row {k}"}}'))
        parent = eid
    return rows


def _keys(store: SessionStore) -> list[tuple[int, str]]:
    sql = (
        "SELECT seq, id FROM session_events WHERE sid = "
        "(SELECT sid FROM sessions WHERE id = 's1') ORDER BY rid"
    )
    return [(r[0], r[1]) for r in store.connection.execute(sql)]


@pytest.mark.parametrize("size", SIZES)
def test_every_size_stores_each_row_under_its_key_with_its_fields(size: int) -> None:
    store = _store()
    first = _batch(size)
    second = _batch(size + 3, prefix="f", first=first[-1][0])  # the keys count on
    got = store.append_events("s1", first) + store.append_events("s1", second)
    expected = [StoredEvent(r[0], "s1", *r[1:], NOW) for r in (*first, *second)]
    assert got == expected
    assert store.load_events("s1")[1:] == expected
    assert _keys(store) == list(enumerate(["h", *(r[0] for r in (*first, *second))], start=1))
    session = store.get_session("s1")
    assert session.head_id == second[-1][0]
    assert store.connection.execute(
        "SELECT event_count FROM sessions WHERE id = 's1'"
    ).fetchall() == [(1 + 2 * size + 3,)]
    hits = store.search("row", limit=1000)  # the index catches up on every row, once
    assert sorted(h.event_id for h in hits) == sorted(r[0] for r in (*first, *second))


def _refused(batch: list[tuple[Any, ...]], error: type, named: str) -> None:
    store = _store()
    before = store.load_events("s1"), store.get_session("s1"), _keys(store)
    with pytest.raises(error, match=named):
        store.append_events("s1", batch)
    assert (store.load_events("s1"), store.get_session("s1"), _keys(store)) == before


@pytest.mark.parametrize("at", [0, 4, BULK_INSERT_ROWS - 1, BULK_INSERT_ROWS, 21, 24])
def test_bad_json_anywhere_refuses_the_batch_naming_the_item(at: int) -> None:
    batch = _batch(25)
    batch[at] = (*batch[at][:4], '{"content": ')
    _refused(batch, InvalidEvent, f"e{at}")


@pytest.mark.parametrize("at", [3, BULK_INSERT_ROWS + 2, 22])
def test_a_stored_id_anywhere_refuses_the_batch_naming_it(at: int) -> None:
    batch = _batch(25)
    batch[at] = ("o1", *batch[at][1:])
    batch[at + 1] = (batch[at + 1][0], "o1", *batch[at + 1][2:])
    _refused(batch, DuplicateId, "o1")


def test_an_id_twice_across_two_statements_is_refused() -> None:
    batch = _batch(25)
    batch[17] = ("e2", *batch[17][1:])
    batch[18] = (batch[18][0], "e2", *batch[18][2:])
    _refused(batch, DuplicateId, "e2")


def test_a_replayed_batch_of_many_statements_writes_nothing_and_returns_the_stored() -> None:
    store = _store()
    batch = _batch(37)
    stored = store.append_events("s1", batch)
    keys = _keys(store)
    assert store.append_events("s1", batch) == stored
    assert _keys(store) == keys
    # Half replayed, half new: the new ones count on from the stored ones.
    more = _batch(30, prefix="g", first=batch[-1][0])
    got = store.append_events("s1", batch[20:] + more)
    assert got[17:] == [StoredEvent(r[0], "s1", *r[1:], NOW) for r in more]
    assert _keys(store) == [*keys, *enumerate((r[0] for r in more), start=len(keys) + 1)]
