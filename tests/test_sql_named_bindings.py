"""Every SQLite statement names its parameters; each is bound from a dict, or by a pinned order.

SQLite also accepts a sequence for ``:name`` parameters, matching them by the
order in which the names first appear — a silent trap once a statement is
edited. So a statement is bound from a dict, except the hot paths' few
(:data:`BOUND_FROM_TUPLES`: a dict costs ~1 µs a parameter), whose order of
names is pinned here: an edit that reorders them fails this file, not a user.
An exec tracer watches a store through every kind of call.
"""

from __future__ import annotations

import re
from typing import Any

from conftest import FakeClock

from convstore import SessionStore
from convstore._common import BULK_INSERT_ROWS

NAMED = re.compile(r"[:@$][A-Za-z_]")
NUMBERED = re.compile(r"\?\d*")

#: The statements bound from tuples (the append, the bulk row, and the reads
#: timed against the floor, SPEC §5), each with its parameters in the order
#: the tuple gives them: the order in which the names first appear.
BOUND_FROM_TUPLES: dict[str, tuple[str, ...]] = {
    "EVENT_APPEND_ONE": (
        "session_id", "event_id", "parent_id", "invocation_id", "event_type", "event_data",
        "created_at",
    ),
    "EVENT_APPEND_AT_HEAD_ONE": (
        "session_id", "event_id", "invocation_id", "event_type", "event_data", "created_at",
    ),
    # Bulk rows (append_events, import): executemany over generated tuples.
    "EVENT_INSERT_ROW": (
        "key", "event_id", "parent_id", "invocation_id", "event_type", "event_data", "created_at",
    ),
    # append_events: the first key, the time, then each row's id, parent, invocation,
    # type and data (ten rows, or one): short names, see _sqlbuild.
    "EVENT_INSERT_ROWS": (
        "k", "t", *(f"{letter}{r}" for r in range(BULK_INSERT_ROWS) for letter in "ipned"),
    ),
    "EVENT_INSERT_ROWS_ONE": ("k", "t", "i0", "p0", "n0", "e0", "d0"),
    "SESSION_GET": ("session_id",),
    "SESSION_RESUMABLE_BY_DIRECTORY": ("directory", "cutoff"),
    "SESSION_RESUMABLE_BY_GIT_ROOT": ("git_root", "cutoff"),
    "EVENTS_LOAD": ("session_id",),
}  # fmt: skip


def test_named_statements_are_bound_from_dicts(clock: FakeClock) -> None:
    from convstore.sqlite import _sql

    seen: list[str] = []
    positional: list[str] = []
    by_tuple = {getattr(_sql, name): names for name, names in BOUND_FROM_TUPLES.items()}

    def tracer(cursor: Any, sql: str, bindings: Any) -> bool:
        seen.append(sql)
        if bindings and NAMED.search(sql) and not isinstance(bindings, dict):
            if sql not in by_tuple:
                positional.append(sql)
            elif len(bindings) != len(by_tuple[sql]):
                positional.append(f"{len(bindings)} values for {by_tuple[sql]}: {sql}")
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


def test_generated_sqlite_statements_name_their_parameters(clock: FakeClock) -> None:
    from convstore import _lifecycle_sql
    from convstore.sqlite import _blobsql, _sql

    numbered = sorted(
        name
        for module in (_sql, _blobsql, _lifecycle_sql)
        for name, sql in vars(module).items()
        if name.isupper()
        and isinstance(sql, str)
        and not name.startswith("PG_")
        and NUMBERED.search(sql)
    )
    assert numbered == []
    # Each tuple-bound statement exists and takes its parameters in the pinned order
    # (SQLite's numbering of the names, read from the prepared statement).
    with SessionStore(":memory:", clock=clock) as store:
        cursor = store.connection.cursor()
        for name, names in BOUND_FROM_TUPLES.items():
            cursor.execute(getattr(_sql, name), (None,) * len(names), explain=1)
            assert cursor.bindings_names == names, name
