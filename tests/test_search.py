"""Full-text search: ranked hits with marked snippets, kept exact by every write path."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import apsw
import pytest
from conftest import FakeClock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convstore import (
    DuplicateId,
    InvalidArgument,
    InvalidEvent,
    SearchHit,
    SessionArchived,
    SessionStore,
    StoredEvent,
)
from convstore.migrations import known_migrations, load_migrations, migrate
from convstore.search import check_index


def _seed(store: SessionStore, clock: FakeClock) -> None:
    store.create_session("s1", directory="/work/app", git_root="/work/app")
    store.append_event("s1", "e1", None, "i", "user", '{"content": "How do I enable WAL mode?"}')
    clock.advance(1)
    store.append_event(
        "s1",
        "e2",
        "e1",
        "i",
        "text",
        '{"content": "Set journal_mode to WAL. WAL lets readers run."}',
    )
    store.append_event("s1", "e3", "e2", "i", "tool_call", '{"name": "sh", "input": {"cmd": "ls"}}')
    store.create_session("s2", directory="/work/other")
    store.append_event(
        "s2", "f1", None, "i", "user", '{"content": "Résumé of the journal, please"}'
    )


def _count(store: SessionStore, query: str) -> int:
    return len(store.search(query, limit=10_000))


def test_hits_carry_ids_type_marked_snippet_rank_and_time(
    store: SessionStore, clock: FakeClock
) -> None:
    _seed(store, clock)
    hits = store.search("wal")
    assert [h.event_id for h in hits] == ["e2", "e1"]  # two mentions rank above one
    best = hits[0]
    assert isinstance(best, SearchHit)
    assert (best.session_id, best.event_type, best.created_at) == ("s1", "text", 1_700_000_001)
    assert best.snippet == "Set journal_mode to [WAL]. [WAL] lets readers run."
    assert best.rank < hits[1].rank  # bm25: lower is better


def test_custom_markers_and_diacritics_fold(store: SessionStore, clock: FakeClock) -> None:
    _seed(store, clock)
    (hit,) = store.search("resume", markers=("<b>", "</b>"))
    assert hit.snippet == "<b>Résumé</b> of the journal, please"


def test_filters_directory_git_root_and_event_types(store: SessionStore, clock: FakeClock) -> None:
    _seed(store, clock)
    assert {h.event_id for h in store.search("journal")} == {"e2", "f1"}
    assert [h.event_id for h in store.search("journal", directory="/work/other")] == ["f1"]
    assert [h.event_id for h in store.search("journal", git_root="/work/app")] == ["e2"]
    assert [h.event_id for h in store.search("wal", event_types=["user"])] == ["e1"]
    assert [h.event_id for h in store.search("wal", event_types="text")] == ["e2"]
    assert store.search("wal", event_types=[]) == []
    assert store.search("wal", directory="/nowhere") == []
    assert len(store.search("wal", limit=1)) == 1


def test_query_syntax_phrase_prefix_or_not(store: SessionStore, clock: FakeClock) -> None:
    _seed(store, clock)
    assert [h.event_id for h in store.search('"readers run"')] == ["e2"]
    assert {h.event_id for h in store.search("jour*")} == {"e2", "f1"}
    assert {h.event_id for h in store.search("enable OR please")} == {"e1", "f1"}
    assert [h.event_id for h in store.search("wal NOT readers")] == ["e1"]


@pytest.mark.parametrize("bad", ["foo-bar", '"unterminated', "AND", "NEAR(", "nocol:word"])
def test_bad_syntax_is_invalid_argument_with_a_clear_message(
    store: SessionStore, clock: FakeClock, bad: str
) -> None:
    _seed(store, clock)
    with pytest.raises(InvalidArgument, match=r"invalid search query .*FTS5 syntax"):
        store.search(bad)


@pytest.mark.parametrize("bad", ["foo-bar", '"unterminated', "AND", "NEAR(", "a OR", "-foo"])
@pytest.mark.parametrize("filled", [False, True])
def test_bad_syntax_is_refused_the_same_on_an_empty_index(
    store: SessionStore, clock: FakeClock, bad: str, filled: bool
) -> None:
    """FTS5 parses a query only when it has rows to match; the verdict must not depend on it."""
    if filled:
        _seed(store, clock)
    else:  # a session, but nothing indexed (and a filter that matches no session)
        store.create_session("s0", directory="/elsewhere")
    with pytest.raises(InvalidArgument, match=r"invalid search query .*FTS5 syntax") as got:
        store.search(bad, directory="/nowhere")
    assert got.value.args[0].startswith(f"invalid search query {bad!r}: ")


def test_literal_mode_searches_text_as_typed(store: SessionStore, clock: FakeClock) -> None:
    _seed(store, clock)
    assert [h.event_id for h in store.search("journal_mode", literal=True)] == ["e2"]
    assert [h.event_id for h in store.search('to WAL. "WAL', literal=True)] == ["e2"]


@pytest.mark.parametrize(
    "kwargs",
    [{"query": ""}, {"query": "   "}, {"query": 3}, {"query": "x", "limit": -1},
     {"query": "x", "limit": True}, {"query": "x", "event_types": [1]},
     {"query": "x", "directory": 5}, {"query": "x", "markers": ("[",)}],
)  # fmt: skip
def test_bad_arguments_are_invalid_argument(store: SessionStore, kwargs: dict[str, object]) -> None:
    query = kwargs.pop("query")
    with pytest.raises(InvalidArgument):
        store.search(query, **kwargs)  # type: ignore[arg-type]


def test_events_without_indexed_text_are_not_indexed(store: SessionStore) -> None:
    store.create_session("s")
    store.append_event("s", "a", None, "i", "t", '{"content": null}')
    store.append_event("s", "b", None, "i", "t", "[1, 2]")
    store.append_event("s", "c", None, "i", "t", '{"content": 12345}')
    store.append_event(
        "s", "d", None, "i", "t", '{"content": [{"type": "text", "text": "blocks"}]}'
    )
    assert [h.event_id for h in store.search("12345")] == ["c"]
    assert [h.event_id for h in store.search("blocks")] == ["d"]  # non-strings: their JSON text
    rows = store.connection.execute("SELECT count(*) FROM event_search_source").fetchall()
    assert rows == [(2,)]
    check_index(store)


def test_every_append_path_indexes_in_the_same_transaction(
    store: SessionStore, clock: FakeClock
) -> None:
    store.create_session("s")
    store.append_event("s", "a", None, "i", "t", '{"content": "alpha"}')
    store.append_event_at_head("s", "b", "i", "t", '{"content": "bravo"}')
    store.append_events("s", [("c", "b", "i", "t", '{"content": "charlie"}')])
    src = SessionStore(":memory:", clock=clock)
    src.create_session("imp")
    src.append_event("imp", "d", None, "i", "t", '{"content": "delta"}')
    session = src.get_session("imp")
    assert session is not None
    store.import_session(session, src.load_events("imp"))
    src2 = SessionStore(":memory:", clock=clock)
    src2.create_session("jsonl")
    src2.append_event("jsonl", "e", None, "i", "t", '{"content": "echo"}')
    store.import_jsonl(src2.export_jsonl())
    for word, event in [("alpha", "a"), ("bravo", "b"), ("charlie", "c"), ("delta", "d"),
                        ("echo", "e")]:  # fmt: skip
        assert [h.event_id for h in store.search(word)] == [event]
    check_index(store)


def test_refused_appends_leave_no_trace_in_the_index(store: SessionStore) -> None:
    store.create_session("s")
    store.append_event("s", "a", None, "i", "t", '{"content": "kept"}')
    with pytest.raises(DuplicateId):
        store.append_event("s", "a", None, "i", "t", '{"content": "ghost"}')
    with pytest.raises(InvalidEvent):
        store.append_event("s", "b", "nope", "i", "t", '{"content": "ghost"}')
    with pytest.raises(DuplicateId):
        store.append_events("s", [("c", None, "i", "t", '{"content": "ghost"}'),
                                  ("a", None, "i", "t", '{"content": "ghost"}')])  # fmt: skip
    store.archive_session("s")
    with pytest.raises(SessionArchived):
        store.append_event("s", "d", None, "i", "t", '{"content": "ghost"}')
    assert _count(store, "ghost") == 0
    assert _count(store, "kept") == 1
    check_index(store)


def test_migration_backfills_an_existing_database(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    for mig in known_migrations()[:3]:
        shutil.copy(mig.path, old / mig.name)
    db = tmp_path / "v3.db"
    conn = apsw.Connection(str(db))
    migrate(conn, "v3.db", load_migrations(old))
    conn.execute(
        "INSERT INTO sessions (id, created_at, updated_at, event_count) VALUES ('s', 1, 1, 2)"
    )
    conn.execute(
        "INSERT INTO session_events (sid, seq, id, invocation_id, event_type, event_data, "
        "created_at) VALUES (1, 1, 'e1', 'i', 't', '{\"content\": \"backfilled text\"}', 1), "
        "(1, 2, 'e2', 'i', 't', '{}', 1)"
    )
    conn.close()
    with SessionStore(db) as store:
        assert [h.event_id for h in store.search("backfilled")] == ["e1"]
        store.append_event("s", "e3", "e2", "i", "t", '{"content": "after upgrade"}')
        assert [h.event_id for h in store.search("upgrade")] == ["e3"]
        check_index(store)


def test_configure_search_changes_the_indexed_fields_and_rebuilds(store: SessionStore) -> None:
    store.create_session("s")
    store.append_event("s", "a", None, "i", "tool", '{"content": "x", "input": {"cmd": "make"}}')
    assert store.search_fields() == ("$.content",)
    assert store.search("make") == []
    store.configure_search(["$.content", "$.input.cmd"])
    assert store.search_fields() == ("$.content", "$.input.cmd")
    assert [h.snippet for h in store.search("make")] == ["x\n[make]"]
    store.append_event("s", "b", None, "i", "tool", '{"input": {"cmd": "make test"}}')
    assert {h.event_id for h in store.search("make")} == {"a", "b"}
    store.purge(archived_before=0)  # nothing archived: nothing purged
    check_index(store)
    store.configure_search(["$.content"])
    assert store.search("make") == []
    check_index(store)


@pytest.mark.parametrize(
    "fields", [[], "$.content", ["content"], ["$.a", "$.a"], ["$[bad"], ["$..a"], [3]]
)
def test_configure_search_refuses_bad_fields_and_changes_nothing(
    store: SessionStore, fields: object
) -> None:
    with pytest.raises(InvalidArgument):
        store.configure_search(fields)  # type: ignore[arg-type]
    assert store.search_fields() == ("$.content",)


def test_quotes_in_a_path_cannot_escape_the_sql(store: SessionStore) -> None:
    store.create_session("s")
    store.append_event("s", "a", None, "i", "t", """{"it's": "quoted key"}""")
    store.configure_search(["""$."it's\""""])
    assert [h.event_id for h in store.search("quoted")] == ["a"]


def _normalise(sql: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", sql))).strip()


def test_default_configuration_recreates_exactly_the_migration_objects() -> None:
    names = ("event_search_source", "event_search_insert", "event_search_delete",
             "event_search_update")  # fmt: skip
    query = "SELECT name, sql FROM sqlite_master WHERE name IN (?, ?, ?, ?) ORDER BY name"
    with SessionStore(":memory:") as store:
        from_migration = {n: _normalise(s) for n, s in store.connection.execute(query, names)}
        store.configure_search(["$.content"])
        from_template = {n: _normalise(s) for n, s in store.connection.execute(query, names)}
    assert from_migration == from_template


_words = st.sampled_from(["apple", "banana", "cherry", "delta", "echo"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["append", "archive", "purge"]), st.integers(0, 3), _words),
        max_size=30,
    )
)
def test_index_matches_the_events_after_any_appends_and_purges(
    ops: list[tuple[str, int, str]],
) -> None:
    clock = FakeClock()
    with SessionStore(":memory:", clock=clock) as store:
        n = 0
        expected: dict[str, tuple[str, str]] = {}  # event id -> (session, word)
        archived: set[str] = set()
        for op, k, word in ops:
            sid = f"s{k}"
            if store.get_session(sid) is None:
                store.create_session(sid)
            clock.advance(1)
            if op == "append":
                session = store.get_session(sid)
                assert session is not None
                if session.archived_at is None:
                    n += 1
                    store.append_event(sid, f"e{n}", None, "i", "t", f'{{"content": "{word}"}}')
                    expected[f"e{n}"] = (sid, word)
            elif op == "archive":
                store.archive_session(sid)
                archived.add(sid)
            else:
                store.purge(archived_before=clock.now + 1, batch_size=2)
                expected = {e: v for e, v in expected.items() if v[0] not in archived}
                archived.clear()
        check_index(store)
        for word in ["apple", "banana", "cherry", "delta", "echo"]:
            found = {h.event_id for h in store.search(word, limit=1000)}
            assert found == {e for e, (_, w) in expected.items() if w == word}


def test_search_hit_is_a_stored_event_lookup_away(store: SessionStore, clock: FakeClock) -> None:
    _seed(store, clock)
    (hit,) = store.search("enable")
    event = store.get_event(hit.session_id, hit.event_id)
    assert isinstance(event, StoredEvent) and event.event_type == hit.event_type


def test_filtered_and_unfiltered_plans_agree(store: SessionStore, clock: FakeClock) -> None:
    _seed(store, clock)
    everything = ["user", "text", "tool_call"]
    for query in ["wal", "journal", "jour*", "enable OR please"]:
        plain = store.search(query)
        assert plain == store.search(query, event_types=everything)


def test_recent_order_returns_newest_sessions_first(store: SessionStore, clock: FakeClock) -> None:
    _seed(store, clock)
    assert [h.event_id for h in store.search("journal", order="recent")] == ["f1", "e2"]
    assert [h.event_id for h in store.search("wal", order="recent")] == ["e2", "e1"]
    hits = store.search("journal", order="recent", directory="/work/app", limit=1)
    assert [h.event_id for h in hits] == ["e2"] and hits[0].rank == 0.0  # no bm25 when recent
    assert store.search("wal", order="recent", event_types=["user"])[0].event_id == "e1"
    with pytest.raises(InvalidArgument, match="order must be"):
        store.search("wal", order="newest")
