"""A database can turn full-text indexing off (cheaper appends) and back on (rebuilt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convstore import InvalidArgument, SessionStore


def _index_rows(store: SessionStore) -> int:
    rows = store.connection.execute("SELECT count(*) FROM event_search_data").get
    assert isinstance(rows, int)
    return rows


def test_off_skips_the_index_and_search_says_how_to_turn_it_on(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        store.create_session("s1")
        store.append_event("s1", "e1", None, "i", "user", '{"content": "alpha"}')
        assert store.search_indexing() is True
        store.set_search_indexing(False)
        assert store.search_indexing() is False
        empty = _index_rows(store)
        store.append_event("s1", "e2", "e1", "i", "user", '{"content": "beta"}')
        store.append_event_at_head("s1", "e3", "i", "user", '{"content": "gamma"}')
        store.append_events("s1", [("e4", "e3", "i", "user", '{"content": "delta"}')])
        assert _index_rows(store) == empty  # nothing written to the index
        with pytest.raises(InvalidArgument, match="set_search_indexing"):
            store.search("beta")
    # The setting lives in the file: a new connection sees it.
    with SessionStore(db_path) as store:
        assert store.search_indexing() is False
        with pytest.raises(InvalidArgument):
            store.search("alpha")


def test_turning_it_back_on_indexes_everything_and_keeps_it_exact(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        store.create_session("s1")
        store.set_search_indexing(False)
        store.append_event("s1", "e1", None, "i", "user", '{"content": "alpha"}')
        store.archive_session("s1")
        store.purge(archived_before=10**12)  # deletes with indexing off
        store.create_session("s2")
        store.append_event("s2", "f1", None, "i", "user", '{"content": "alpha beta"}')
        store.set_search_indexing(True)
        assert [h.event_id for h in store.search("alpha")] == ["f1"]
        store.append_event("s2", "f2", "f1", "i", "text", '{"content": "beta"}')
        assert sorted(h.event_id for h in store.search("beta")) == ["f1", "f2"]
        store.connection.execute(
            "INSERT INTO event_search (event_search, rank) VALUES ('integrity-check', 1)"
        )


def test_another_connection_turning_it_on_is_picked_up_by_search(db_path: Path) -> None:
    with SessionStore(db_path) as first, SessionStore(db_path) as second:
        first.set_search_indexing(False)
        with SessionStore(db_path) as off:
            off.create_session("s1")
            off.append_event("s1", "e1", None, "i", "user", '{"content": "alpha"}')
            second.set_search_indexing(True)
            assert [h.event_id for h in off.search("alpha")] == ["e1"]
            off.append_event("s1", "e2", "e1", "i", "user", '{"content": "alpha"}')
            assert len(off.search("alpha")) == 2


def test_bad_argument_is_refused() -> None:
    with SessionStore(":memory:") as store, pytest.raises(InvalidArgument):
        store.set_search_indexing("no")  # type: ignore[arg-type]
