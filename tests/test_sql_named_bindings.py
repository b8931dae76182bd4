"""Every statement with named parameters is bound from a dict, never by position.

(The hottest statements use numbered parameters, ``?1``, bound from a tuple:
the number says which value goes where, so there is no trap to watch for.)

SQLite also accepts a sequence for ``:name`` parameters, matching them by the
order in which the names first appear — a silent trap once a statement is
edited. An exec tracer watches a store through every kind of call.
"""

from __future__ import annotations

import re
from typing import Any

from conftest import FakeClock

from convstore import SessionStore

NAMED = re.compile(r"[:@$][A-Za-z_]")
NUMBERED = re.compile(r"\?\d")


def test_named_statements_are_bound_from_dicts(clock: FakeClock) -> None:
    seen: list[str] = []
    positional: list[str] = []

    def tracer(cursor: Any, sql: str, bindings: Any) -> bool:
        seen.append(sql)
        if bindings and NAMED.search(sql) and not isinstance(bindings, dict):
            positional.append(sql)
        if NUMBERED.search(sql) and isinstance(bindings, dict):
            positional.append(sql)  # ?1, ?2 (the hot reads) are bound from a tuple
        return True

    with SessionStore(":memory:", clock=clock) as store, SessionStore(":memory:") as other:
        store.connection.exec_trace = tracer
        store.create_session("s1", "/p", "/g")
        store.append_event("s1", "e1", None, "i", "user", '{"content": "hello"}')
        store.append_event_at_head("s1", "e2", "i", "text", '{"content": "world"}')
        store.append_events("s1", [("e3", "e2", "i", "t", "{}"), ("e4", "e3", "i", "t", "{}")])
        store.set_head("s1", "e2")
        store.set_metadata("s1", "title", "T")
        store.get_metadata("s1", "title")
        store.update_server_session_id("s1", "srv")
        store.find_resumable_session("/p", "/g", 3600)
        store.list_sessions(directory="/p", git_root="/g", before="s1")
        store.load_events("s1")
        store.history("s1")
        store.get_event("s1", "e1")
        store.search("hello", directory="/p", event_types=["user"])
        store.search("hello", order="recent")
        lines = list(store.export_jsonl())
        other.import_jsonl(lines)
        other.connection.exec_trace = tracer
        other.import_session(store.get_session("s1"), store.load_events("s1"), merge=True)
        from convstore.blobs import append_event_with_metadata, append_events_at_head, pop_head

        append_events_at_head(store, "s1", [("b1", "i", "t", "{}")])
        pop_head(store, "s1")
        head = store.get_session("s1").head_id
        append_event_with_metadata(store, "s1", head, ("b2", "i", "t", "{}"), [("s9", "k", "v")])
        store.configure_search(["$.content"])
        store.archive_session("s1")
        store.purge(archived_before=clock.now + 1, dry_run=True)
        store.purge(archived_before=clock.now + 1)
    assert len(seen) > 30
    assert positional == []


#: Numbered on purpose, bound from tuples: the hot paths timed against the floor
#: (the append, the batch rows, get/resume/load; see sqlite/_sqlbuild.py's docstring).
NUMBERED_ON_PURPOSE = {
    "EVENT_APPEND_ONE",
    "EVENT_APPEND_AT_HEAD_ONE",
    # Bulk rows (append_events, import): executemany over generated tuples.
    "EVENT_INSERT_ROW",
    # The reads timed against the floor (SPEC §5): get_session, the resume
    # lookups and load_events, bound from a tuple on every client start.
    "SESSION_GET",
    "SESSION_RESUMABLE_BY_DIRECTORY",
    "SESSION_RESUMABLE_BY_GIT_ROOT",
    "EVENTS_LOAD",
}


def test_generated_sqlite_statements_name_their_parameters() -> None:
    from convstore import _lifecycle_sql
    from convstore.sqlite import _blobsql, _sql

    numbered = sorted(
        name
        for module in (_sql, _blobsql, _lifecycle_sql)
        for name, sql in vars(module).items()
        if name.isupper()
        and isinstance(sql, str)
        and not name.startswith("PG_")
        and re.search(r"\?\d", sql)
        and name not in NUMBERED_ON_PURPOSE
    )
    assert numbered == []
    # The exceptions name statements that exist (a renamed one must leave the list).
    assert {n for n in NUMBERED_ON_PURPOSE if not hasattr(_sql, n)} == set()
