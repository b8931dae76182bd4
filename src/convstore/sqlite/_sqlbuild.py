"""Every SQLite statement convstore runs, built with pypika — ahead of time.

``import pypika`` costs tens of milliseconds, which a shell assistant that
starts on every prompt cannot afford, so the statements are built here once,
written as plain strings to :mod:`convstore.sqlite._sql`, and that module is what the
library imports. ``tests/test_sql_drift.py`` rebuilds them and fails if the
two differ, so the strings can never drift from their pypika definitions.

Regenerate after editing this file::

    python -m convstore.sqlite._sqlbuild

Parameters are named (``:session_id``, ``:event_id`` …), never formatted
into the text; each name says what the value is, and the same name means the
same value throughout a statement. Most are bound from a dict with those
keys. The hottest statements (one append, the bulk row, the reads timed
against the floor in SPEC §5: ``SESSION_GET``, ``SESSION_RESUMABLE_BY_*``,
``EVENTS_LOAD``) are bound from a tuple instead -- binding a dict costs about
a microsecond per parameter: SQLite numbers named parameters in the order
they first appear, and APSW binds a tuple by those numbers, so the tuple
follows the names as they read left to right (``tests/test_sql_named_bindings.py``
pins each such statement's order).
Statements pypika cannot express (``PRAGMA``, ``WITH RECURSIVE``, FTS5) are
written out by hand in this file so that a reader still finds every
statement in one place.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pypika import Order, Parameter, Query, Table
from pypika import functions as fn
from pypika.queries import QueryBuilder
from pypika.terms import ExistsCriterion, LiteralValue, Star

from convstore import _sqlbuild_shared as shared
from convstore._common import BULK_INSERT_ROWS, EVENT_COLUMNS, SESSION_COLUMNS
from convstore._sqlbuild_shared import events, metadata, migrations, sessions

__all__ = ["build", "render"]


#: An event's storage key (migration 0006): ``rid`` = ``sid * 2**32 + seq``, the
#: rowid of ``session_events`` and of the full-text index. ``sid`` and ``seq`` are
#: VIRTUAL generated columns of the table: fine to read, never to search by.
EVENT_KEY_FACTOR = 4294967296
EVENT_STORAGE_COLUMNS = ("rid", *EVENT_COLUMNS)


def event_key(sid: Any, seq: Any) -> Any:
    """The ``rid`` of the event at ``seq`` in session ``sid`` (pypika terms)."""
    return sid * EVENT_KEY_FACTOR + seq


def subquery(query: QueryBuilder) -> LiteralValue:
    """A scalar subquery usable in arithmetic (pypika reads ``query * n`` as a set operation)."""
    return LiteralValue(f"({query.get_sql()})")


def in_session(sid: Any, table: Table = events) -> Any:
    """The key range of one session's events: a range seek, never a scan by ``sid``."""
    return (table.rid >= sid * EVENT_KEY_FACTOR) & (table.rid < (sid + 1) * EVENT_KEY_FACTOR)


def N(name: str) -> Parameter:
    """Named parameter ``:name``, bound from a dict with that key."""
    return Parameter(f":{name}")


def NV(name: str) -> Parameter:
    """``+:name``: a named parameter the planner must not peek at, for equality on a partial index.

    When a bound parameter is compared with a column of a *partial* index,
    SQLite (this build has STAT4) marks the statement to be re-prepared every
    time that parameter is bound — even to the same value. That made each
    resume lookup ~36 µs instead of ~7 µs. The unary plus leaves the value and
    the plan unchanged (``tests/test_query_plans.py`` still sees the index)
    and keeps the statement prepared.
    """
    return Parameter(f"+:{name}")


def upsert(insert: QueryBuilder, keys: tuple[str, ...], updates: tuple[str, ...]) -> str:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET col = excluded.col``, in SQLite's words.

    pypika's generic ``Query`` has no upsert (only its PostgreSQL dialect does,
    and a SQLite statement should not be built as PostgreSQL), so the clause is
    appended here, from the same column names.
    """
    conflict = ",".join(f'"{k}"' for k in keys)
    sets = ",".join(f'"{c}"=excluded."{c}"' for c in updates)
    return f"{insert.get_sql()} ON CONFLICT ({conflict}) DO UPDATE SET {sets}"


def _event_values(time: str) -> list[Parameter]:
    """An event's own values, named as in a ``StoredEvent``; its time is ``:{time}``."""
    return [N(c) for c in ("event_id", *EVENT_COLUMNS[1:-1], time)]


def _event_record_query() -> QueryBuilder:
    """Events with their session's text id: the columns of a ``StoredEvent``, in order."""
    return (
        Query.from_(events)
        .join(sessions)
        .on(sessions.sid == events.sid)
        .select(*shared.event_record_fields(events, sessions.id))
    )


def _migration_statements() -> dict[str, str]:
    return {
        "MIGRATIONS_CREATE_TABLE": shared.migrations_create_table(
            migrations, ("INTEGER", "TEXT", "TEXT", "INTEGER", "REAL")
        ),
        "MIGRATIONS_TABLE_EXISTS": Query.from_(Table("sqlite_master"))
        .select(fn.Count(Star()))
        .where(Table("sqlite_master").type == "table")
        .where(Table("sqlite_master").name == "convstore_migrations")
        .get_sql(),
        # Tables, indexes, views or triggers that SQLite did not make itself.
        "SCHEMA_USER_OBJECT_COUNT": Query.from_(Table("sqlite_master"))
        .select(fn.Count(Star()))
        .where(Table("sqlite_master").name.not_like("sqlite_%"))
        .get_sql(),
        "MIGRATIONS_SELECT_APPLIED": shared.migrations_select_applied(migrations),
        "MIGRATIONS_INSERT": shared.migrations_insert(migrations, N),
        # The cheap open: the recorded checksums, in order, as one string (read after
        # PRAGMA user_version). ``version`` is the table's INTEGER PRIMARY KEY, its rowid:
        # a plain scan reads the rows in version order, with no sort and no subquery
        # (~10 us less than either on a fresh connection). Were the order ever different,
        # the string would not match and the open would take the full check: never a
        # wrong acceptance.
        "MIGRATIONS_STATE": "SELECT group_concat(checksum, ',') FROM \"convstore_migrations\"",
        "MIGRATIONS_FINGERPRINT": migrations_fingerprint(),
    }


def migrations_fingerprint() -> str:
    """``"N:sha256"``: the highest shipped migration version, and the hash of all checksums.

    An up-to-date database gives the same string from its own bookkeeping
    (``PRAGMA user_version`` and the recorded checksums), so opening it needs
    neither to read nor to hash the migration files (see
    :func:`convstore.sqlite.migrations.ensure_current`). Rebuilt with the rest of
    ``_sql.py`` whenever a migration is added.
    """
    from .migrations import load_migrations, migrations_dir

    known = load_migrations(migrations_dir())
    joined = ",".join(m.checksum for m in known)
    top = known[-1].version if known else 0  # = user_version once all are applied (gaps allowed)
    return f"{top}:{hashlib.sha256(joined.encode()).hexdigest()}"


def _session_statements() -> dict[str, str]:
    def live_newest(column: str) -> str:
        # One partial index serves both the filter and the order: no sort. Bound by
        # position, ``(value, cutoff)``: a read on every client start, and binding a
        # dict costs ~1 µs per parameter (SPEC §5: the lookup is timed against the floor).
        return (
            Query.from_(sessions)
            .select(*shared.session_fields(sessions))
            .where(sessions.field(column) == NV(column))
            .where(sessions.archived_at.isnull())
            .where(sessions.updated_at > N("cutoff"))
            .orderby(sessions.updated_at, order=Order.desc)
            .orderby(sessions.sid, order=Order.desc)
            .limit(1)
            .get_sql()
        )

    return {
        "SESSION_INSERT": Query.into(sessions)
        .columns("id", "directory", "git_root", "created_at", "updated_at")
        .insert(N("session_id"), N("directory"), N("git_root"), N("now"), N("now"))
        .get_sql(),
        # Bound from a tuple, ``(session_id,)``, like the other hot reads.
        "SESSION_GET": Query.from_(sessions)
        .select(*shared.session_fields(sessions))
        .where(sessions.id == N("session_id"))
        .get_sql(),
        "SESSION_STATE": Query.from_(sessions)
        .select(sessions.sid, sessions.archived_at, sessions.event_count)
        .where(sessions.id == N("session_id"))
        .get_sql(),
        "SESSION_RESUMABLE_BY_DIRECTORY": live_newest("directory"),
        "SESSION_RESUMABLE_BY_GIT_ROOT": live_newest("git_root"),
        "SESSION_SET_SERVER_ID": Query.update(sessions)
        .set(sessions.server_session_id, N("server_session_id"))
        .where(sessions.id == N("session_id"))
        .get_sql(),
        "SESSION_ARCHIVE": Query.update(sessions)
        .set(sessions.archived_at, N("now"))
        .where(sessions.id == N("session_id"))
        .where(sessions.archived_at.isnull())
        .get_sql(),
        # Appends in the same second as the last activity (streamed chunks) leave
        # updated_at alone, so the three indexes keyed on it are not rewritten;
        # when this changes no row, SESSION_MOVE_HEAD runs instead.
        "SESSION_MOVE_HEAD_SAME_SECOND": Query.update(sessions)
        .set(sessions.head_id, N("head_id"))
        .set(sessions.event_count, sessions.event_count + N("added"))
        .where(sessions.id == N("session_id"))
        .where(sessions.updated_at == N("now"))
        .get_sql(),
        "SESSION_MOVE_HEAD": _head_to(N("head_id"))
        .set(sessions.event_count, sessions.event_count + N("added"))
        .where(sessions.id == N("session_id"))
        .get_sql(),
    }


def _head_to(head: object) -> QueryBuilder:
    """``UPDATE sessions SET head_id = head, updated_at = :now``: every move of a head."""
    return Query.update(sessions).set(sessions.head_id, head).set(sessions.updated_at, N("now"))


def _event_statements() -> dict[str, str]:
    parent_in_session = ExistsCriterion(
        Query.from_(events)
        .select(1)
        .where((events.id == N("parent_id")) & (events.sid == sessions.sid))
    )
    # Fast path of append_event: one statement checks that the session exists,
    # is not archived and owns the parent, and inserts. If it inserts nothing,
    # the store diagnoses why with SESSION_STATE / EVENT_IN_SESSION.
    append = (
        Query.into(events)
        .columns(*EVENT_STORAGE_COLUMNS)
        .from_(sessions)
        .select(event_key(sessions.sid, sessions.event_count + 1), *_event_values("now"))
        .where(sessions.id == N("session_id"))
        .where(sessions.archived_at.isnull())
        .where(N("parent_id").isnull() | parent_in_session)
    )
    # The client's append: the parent is the head as read inside the write
    # transaction, so concurrent appenders form one chain.
    append_at_head = (
        Query.into(events)
        .columns(*EVENT_STORAGE_COLUMNS)
        .from_(sessions)
        .select(
            event_key(sessions.sid, sessions.event_count + 1),
            N("event_id"),
            sessions.head_id,
            N("invocation_id"),
            N("event_type"),
            N("event_data"),
            N("now"),
        )
        .where(sessions.id == N("session_id"))
        .where(sessions.archived_at.isnull())
    )
    parent_in_batch_session = ExistsCriterion(
        Query.from_(events)
        .select(1)
        .where((events.id == N("parent_id")) & (events.sid == N("sid")))
    )
    batch_row = (
        Query.into(events)
        .columns(*EVENT_STORAGE_COLUMNS)
        .select(event_key(N("sid"), N("seq")), *_event_values("created_at"))
        .where(N("parent_id").isnull() | parent_in_batch_session)
    )
    # append_event's one statement (migration 0006): the INSTEAD OF trigger on the
    # view event_append inserts the event and moves the head, or aborts having
    # written nothing -- then the store takes EVENT_APPEND's careful path.
    # Bound from a tuple in this order: 3 µs cheaper per call than a dict of seven.
    append_columns = ("session_id", "event_id", *EVENT_COLUMNS[1:])
    append_one = (
        Query.into(Table("event_append"))
        .columns(*append_columns)
        .insert(*[N(name) for name in append_columns])
    )
    # The import's rows (import_jsonl, each with its own time): parents checked in
    # Python, the key computed by the caller, every row bound from one tuple (key,
    # id, parent, invocation, type, data, time) by executemany, in this order.
    row_names = ("key", "event_id", *EVENT_STORAGE_COLUMNS[2:])
    insert_row = (
        Query.into(events).columns(*EVENT_STORAGE_COLUMNS).insert(*[N(n) for n in row_names])
    )
    # append_events' rows, BULK_INSERT_ROWS to a statement (and the last few by
    # the one-row form): one executemany whose every tuple is (key, created_at,
    # then each row's five fields), so the batch's items bind as they come --
    # the key of row r is :k+r, the time is one :t for all rows. Names number in
    # order of first appearance: :k, :t, then row r's :i<r> (event id), :p<r>
    # (parent id), :n<r> (invocation id), :e<r> (event type), :d<r> (event data).
    # Short names on purpose: APSW hashes a statement's whole text each time it
    # runs (every ten rows here), and long names made up most of it (callgrind:
    # 43 k instructions of a 2.04 M batch of 100).
    bulk_columns = ("rid", "created_at", *EVENT_COLUMNS[:-1])

    def bulk_insert(rows: int) -> str:
        query = Query.into(events).columns(*bulk_columns)
        for r in range(rows):
            fields = [N(f"{letter}{r}") for letter in "ipned"]
            query = query.insert(N("k") + r if r else N("k"), N("t"), *fields)
        return str(query.get_sql())

    # append_event_at_head's one statement: the same view, the parent being the
    # head as read inside the statement -- which, writing, holds the write lock
    # from its first step (WAL), so concurrent appenders still form one chain.
    # RETURNING gives back the parent it read.
    head_now = subquery(
        Query.from_(sessions).select(sessions.head_id).where(sessions.id == N("session_id"))
    )
    append_at_head_one = (
        Query.into(Table("event_append"))
        .columns(*append_columns)
        .insert(N("session_id"), N("event_id"), head_now, *[N(n) for n in append_columns[3:]])
    )
    return {
        "EVENT_INSERT_ROW": insert_row.get_sql(),
        "EVENT_INSERT_ROWS": bulk_insert(BULK_INSERT_ROWS),
        "EVENT_INSERT_ROWS_ONE": bulk_insert(1),
        # Whether a row of that key is stored (which row of an executemany was refused).
        "EVENT_KEY_STORED": Query.from_(events).select(1).where(events.rid == N("key")).get_sql(),
        "EVENT_APPEND_ONE": append_one.get_sql(),
        "EVENT_APPEND_AT_HEAD_ONE": append_at_head_one.get_sql() + ' RETURNING "parent_id"',
        "EVENT_APPEND": append.get_sql(),
        "EVENT_APPEND_AT_HEAD": append_at_head.get_sql() + ' RETURNING "parent_id"',
        "EVENT_APPEND_BATCH_ROW": batch_row.get_sql(),
        "EVENT_IN_SESSION": Query.from_(events)
        .select(1)
        .where(events.id == N("event_id"))
        .where(events.sid == N("sid"))
        .get_sql(),
        # The session's integer key by a subquery, not a join: 15 % faster for a
        # 200-event load, and an unknown session costs one index probe. Bound by
        # position, ``(session_id,)`` (``:session_id`` is one parameter, used three times).
        "EVENTS_LOAD": Query.from_(events)
        .select(*shared.event_record_fields(events, N("session_id")))
        .where(
            in_session(
                subquery(
                    Query.from_(sessions).select(sessions.sid).where(sessions.id == N("session_id"))
                )
            )
        )
        .orderby(events.rid)
        .get_sql(),
    }


def _listing_statements() -> dict[str, str]:
    """``LIST_SESSIONS_<FILTER>[_WITH_ARCHIVED]`` (:func:`listing_statements`) and its cursor.

    Parameters: ``:cursor_updated_at``/``:cursor_sid`` the cursor to start
    below (the caller passes a sentinel above every row for the first page),
    ``:limit``, and the filters ``:directory``/``:git_root`` the statement uses.
    """
    out = shared.listing_statements(Query, sessions, N, NV)
    out["SESSION_CURSOR"] = (
        Query.from_(sessions)
        .select(sessions.updated_at, sessions.sid)
        .where(sessions.id == N("session_id"))
        .get_sql()
    )
    return out


def _metadata_and_branch_statements() -> dict[str, str]:
    head_in_session = ExistsCriterion(
        Query.from_(events)
        .select(1)
        .where((events.id == N("head_id")) & (events.sid == sessions.sid))
    )
    return {
        # Upsert; inserts nothing when the session does not exist (caller reports it).
        "METADATA_SET": upsert(
            Query.into(metadata)
            .columns("sid", "key", "value", "updated_at")
            .from_(sessions)
            .select(sessions.sid, N("key"), N("value"), N("now"))
            .where(sessions.id == N("session_id")),
            ("sid", "key"),
            ("value", "updated_at"),
        ),
        # One row when the session exists; its value is NULL when the key is unset.
        "METADATA_GET": Query.from_(sessions)
        .left_join(metadata)
        .on((metadata.sid == sessions.sid) & (metadata.key == N("key")))
        .select(metadata.value)
        .where(sessions.id == N("session_id"))
        .get_sql(),
        "EVENT_GET": _event_record_query()
        .where(events.id == N("event_id"))
        .where(sessions.id == N("session_id"))
        .get_sql(),
        # fork: move the head back to one of the session's own events.
        "SESSION_SET_HEAD": _head_to(N("head_id"))
        .where(sessions.id == N("session_id"))
        .where(sessions.archived_at.isnull())
        .where(head_in_session)
        .get_sql(),
    }


def _import_statements() -> dict[str, str]:
    """Writing sessions and events with their original ids and timestamps (import, sync)."""
    return {
        "SESSION_IMPORT_INSERT": Query.into(sessions)
        .columns(*SESSION_COLUMNS)
        .insert(N("session_id"), *[N(c) for c in SESSION_COLUMNS[1:]])
        .get_sql(),
        # An import's outcome, decided by convstore._importplan: written as planned.
        "SESSION_SET_IMPORTED_STATE": Query.update(sessions)
        .set(sessions.head_id, N("head_id"))
        .set(sessions.server_session_id, N("server_session_id"))
        .set(sessions.updated_at, N("updated_at"))
        .set(sessions.archived_at, N("archived_at"))
        .set(sessions.event_count, N("event_count"))
        .where(sessions.sid == N("sid"))
        .get_sql(),
        "EVENT_GET_BY_ID": _event_record_query().where(events.id == N("event_id")).get_sql(),
        "METADATA_IMPORT": upsert(
            Query.into(metadata)
            .columns("sid", "key", "value", "updated_at")
            .insert(N("sid"), N("key"), N("value"), N("updated_at")),
            ("sid", "key"),
            ("value", "updated_at"),
        ),
        "METADATA_ALL": Query.from_(metadata)
        .join(sessions)
        .on(sessions.sid == metadata.sid)
        .select(metadata.key, metadata.value)
        .where(sessions.id == N("session_id"))
        .orderby(metadata.key)
        .get_sql(),
    }


def _history_statement() -> dict[str, str]:
    """``EVENTS_HISTORY``: the chain from the head back (:func:`shared.history_chain`)."""
    return {
        "EVENTS_HISTORY": shared.history_chain(
            "e.id = s.head_id AND e.sid = s.sid WHERE s.id = :session_id",
            "e.id = c.parent_id AND e.sid = c.sid AND e.seq < c.seq",
            ":session_id",
        )
    }


def _pragmas() -> dict[str, str]:
    # pypika has no PRAGMA builder; these are the connection's settings.
    return {
        "PRAGMA_JOURNAL_MODE": "PRAGMA journal_mode",
        "PRAGMA_JOURNAL_MODE_WAL": "PRAGMA journal_mode=WAL",
        "PRAGMA_SYNCHRONOUS_NORMAL": "PRAGMA synchronous=NORMAL",
        "PRAGMA_SYNCHRONOUS_FULL": "PRAGMA synchronous=FULL",
        "PRAGMA_FOREIGN_KEYS_ON": "PRAGMA foreign_keys=ON",
        "PRAGMA_USER_VERSION": "PRAGMA user_version",
        "PRAGMA_WAL_AUTOCHECKPOINT": "PRAGMA wal_autocheckpoint=1000",
        "PRAGMA_JOURNAL_SIZE_LIMIT": "PRAGMA journal_size_limit=8388608",
        "PRAGMA_SET_USER_VERSION": "PRAGMA user_version={version:d}",
        # convstore's file mark ("cvst"): connection.APPLICATION_ID, offset 68 of the header.
        "PRAGMA_APPLICATION_ID": "PRAGMA application_id",
        "PRAGMA_APPLICATION_ID_SET": "PRAGMA application_id=1668707188",
        # Transaction control. Writes always take the lock up front (IMMEDIATE), so
        # they wait on the busy timeout instead of failing mid-transaction.
        "BEGIN_IMMEDIATE": "BEGIN IMMEDIATE",
        "BEGIN_DEFERRED": "BEGIN",
        "COMMIT": "COMMIT",
        "ROLLBACK": "ROLLBACK",
    }


# -- history tools: search, export/import, retention (issue 6) ----------------

#: FTS rows point at events through their rowid, ``sid * 2**32 + seq``
#: (:data:`EVENT_KEY_FACTOR`; migrations 0004 and 0006).
SEARCH_KEY_FACTOR = EVENT_KEY_FACTOR
search_config = Table("search_config")


def _export_import_purge_statements() -> dict[str, str]:
    """Statements of :mod:`convstore.sqlite.exporting` and :mod:`convstore.sqlite.retention`."""
    session_export_fields = [*shared.session_fields(sessions), sessions.event_count, sessions.sid]
    purgeable = sessions.archived_at.notnull() & (sessions.archived_at < N("cutoff"))
    newest_keys = (
        Query.from_(events)
        .select(events.rid)
        .where(in_session(N("sid")))
        .orderby(events.rid, order=Order.desc)
        .limit(N("budget"))
    )
    purge_sids = Query.from_(sessions).select(sessions.sid).where(purgeable)
    return {
        # Export: sessions matching optional filters (NULL = any), in creation order.
        "EXPORT_SESSIONS": Query.from_(sessions)
        .select(*session_export_fields)
        .where(N("directory").isnull() | (sessions.directory == N("directory")))
        .where(N("git_root").isnull() | (sessions.git_root == N("git_root")))
        .where((N("include_archived") == 1) | sessions.archived_at.isnull())
        .orderby(sessions.sid)
        .get_sql(),
        "EXPORT_SESSION": Query.from_(sessions)
        .select(*session_export_fields)
        .where(sessions.id == N("session_id"))
        .get_sql(),
        "EXPORT_METADATA": Query.from_(metadata)
        .select(metadata.key, metadata.value, metadata.updated_at)
        .where(metadata.sid == N("sid"))
        .orderby(metadata.key)
        .get_sql(),
        "EXPORT_EVENTS": Query.from_(events)
        .select(*[events.field(c) for c in EVENT_COLUMNS])
        # The events as of the header's event_count, even if appends arrive meanwhile.
        .where(events.rid > N("sid") * EVENT_KEY_FACTOR)
        .where(events.rid <= event_key(N("sid"), N("event_count")))
        .orderby(events.rid)
        .get_sql(),
        # Import: every stored field as given (sid comes from last_insert_rowid).
        "SESSION_INSERT_EXPORTED": Query.into(sessions)
        .columns(*SESSION_COLUMNS, "event_count")
        .insert(N("session_id"), *[N(c) for c in (*SESSION_COLUMNS[1:], "event_count")])
        .get_sql(),
        # Retention. :cutoff is the archived_at cutoff throughout.
        "PURGE_CANDIDATES": shared.purge_candidates(
            Query, purgeable, sessions.id, N("after_sid"), N("limit")
        ).get_sql(),
        "PURGE_COUNT_SESSIONS": Query.from_(sessions)
        .select(fn.Count(Star()))
        .where(purgeable)
        .get_sql(),
        "PURGE_COUNT_EVENTS": Query.from_(sessions)
        .join(events)
        .on(in_session(sessions.sid))
        .select(fn.Count(Star()))
        .where(purgeable)
        .get_sql(),
        "PURGE_COUNT_METADATA": Query.from_(metadata)
        .select(fn.Count(Star()))
        .where(metadata.sid.isin(purge_sids))
        .get_sql(),
        # Newest first, at most :budget rows: a bounded piece of one session.
        "PURGE_EVENTS_CHUNK": Query.from_(events)
        .delete()
        .where(events.rid.isin(newest_keys))
        .get_sql(),
        "PURGE_HAS_EVENTS": Query.from_(events)
        .select(1)
        .where(in_session(N("sid")))
        .limit(1)
        .get_sql(),
        "PURGE_METADATA": Query.from_(metadata).delete().where(metadata.sid == N("sid")).get_sql(),
        "PURGE_SESSION": Query.from_(sessions)
        .delete()
        .where(sessions.sid == N("sid"))
        .where(sessions.archived_at.notnull())
        .get_sql(),
        "SEARCH_FIELDS_GET": Query.from_(search_config)
        .select(search_config.value)
        .where(search_config.key == "fields")
        .get_sql(),
        "SEARCH_FIELDS_SET": Query.update(search_config)
        .set(search_config.value, N("fields"))
        .where(search_config.key == "fields")
        .get_sql(),
        # 'on' (or no row, the default) or 'off': whether appends index their text.
        "SEARCH_INDEXING_GET": Query.from_(search_config)
        .select(search_config.value)
        .where(search_config.key == "indexing")
        .get_sql(),
        "SEARCH_INDEXING_SET": upsert(
            Query.into(search_config).columns("key", "value").insert("indexing", N("indexing")),
            ("key",),
            ("value",),
        ),
    }


def _fts_statements() -> dict[str, str]:
    """HAND-WRITTEN: FTS5 (``MATCH``, ``bm25``, ``snippet``, special inserts) and DDL.

    pypika knows none of FTS5. The ``SEARCH_CREATE_*`` templates take
    ``{body}``/``{new_body}``/``{old_body}``: the text expression over
    ``event_data`` built by :func:`convstore.sqlite.search.body_expression` from
    validated, quoted JSON paths (never from raw input). With the default
    field they produce exactly the objects of ``migrations/0006``.
    """
    # The match in context, each hit between :open and :close (the caller's markers).
    snippet = "snippet(event_search, 0, :open, :close, :ellipsis, :tokens)"

    def filtered(order_by: str, score: str = "bm25(event_search)") -> str:
        # Filters (NULL = any) on the session and the event type, then the order.
        return (
            "SELECT s.id, e.id, e.event_type, "
            f"{snippet}, {score}, e.created_at "
            "FROM event_search "
            "JOIN session_events e ON e.rid = event_search.rowid "
            "JOIN sessions s ON s.sid = e.sid "
            "WHERE event_search MATCH :query "
            "AND (:directory IS NULL OR s.directory = :directory) "
            "AND (:git_root IS NULL OR s.git_root = :git_root) "
            "AND (:event_types IS NULL "
            "OR e.event_type IN (SELECT value FROM json_each(:event_types))) "
            f"ORDER BY {order_by} LIMIT :limit"
        )

    def sync(op: str, row: str) -> str:
        if op == "insert":
            head = "INSERT INTO event_search (rowid, body) SELECT"
        else:
            head = "INSERT INTO event_search (event_search, rowid, body) SELECT 'delete',"
        return (
            f"{head} {row}.rid, body FROM (SELECT {{{row}_body}} AS body) WHERE body IS NOT NULL;"
        )

    return {
        # No filter: FTS5 sorts by rank itself ("ORDER BY rank" on the bare table)
        # and computes snippet() for the returned rows only, not every match.
        "SEARCH_EVENTS": (
            "WITH top(key, snip, score) AS MATERIALIZED ("
            f"SELECT rowid, {snippet}, rank FROM event_search "
            "WHERE event_search MATCH :query ORDER BY rank LIMIT :limit) "
            "SELECT s.id, e.id, e.event_type, top.snip, top.score, e.created_at FROM top "
            "JOIN session_events e ON e.rid = top.key "
            "JOIN sessions s ON s.sid = e.sid ORDER BY top.score, top.key"
        ),
        # Filters (NULL = any): bm25 and snippet are computed only for matches
        # that pass them, which is what makes a selective filter fast.
        "SEARCH_EVENTS_FILTERED": filtered("bm25(event_search), e.rid"),
        # order="recent": newest session first, newest event first within it
        # (the key is sid * 2**32 + seq). FTS5 walks its index in key order and
        # stops after LIMIT rows, so the cost does not grow with the matches.
        # No bm25 here: it needs the term's document count, which FTS5 gets by
        # reading the term's whole doclist -- a cost that grows with the matches
        # (3.3 ms against 0.5 ms for a word in 100k events). rank is 0.0.
        "SEARCH_EVENTS_RECENT": filtered("event_search.rowid DESC", score="0.0"),
        # New events enter the index by explicit statements in the append's own
        # transaction, not by an AFTER INSERT trigger: FTS5 flushes its pending
        # terms to a new segment at every statement savepoint, and a trigger
        # opens one per inserted row (measured: 45 µs/row in a batch through a
        # trigger, 11 µs/row with these). Both read the configured text
        # through the view, so they do not change with the search fields.
        "SEARCH_INDEX_EVENT": (
            "INSERT INTO event_search (rowid, body) SELECT rid, body FROM event_search_source "
            "WHERE rid = (SELECT rid FROM session_events WHERE id = :event_id)"
        ),
        "SEARCH_INDEX_RANGE": (
            "INSERT INTO event_search (rowid, body) SELECT rid, body FROM event_search_source "
            f"WHERE rid > :sid * {SEARCH_KEY_FACTOR} + :after_seq "
            f"AND rid <= :sid * {SEARCH_KEY_FACTOR} + :last_seq"
        ),
        # Off the append path (migrations 0005, 0010): a write only records, through
        # the triggers search_pending_count / search_pending_session (once per write
        # that raises a session's event_count, not once per event), that its session
        # has events above the index's watermark; the index catches up in bulk, one
        # range statement over every pending session, inside search(), imports and
        # index_pending(). Read through the view: follows the configured fields.
        "SEARCH_PENDING_ANY": "SELECT EXISTS (SELECT 1 FROM search_pending)",
        "SEARCH_CATCH_UP": (
            "INSERT INTO event_search (rowid, body) SELECT v.rid, v.body "
            "FROM search_pending p JOIN event_search_source v "
            f"ON v.rid > p.sid * {SEARCH_KEY_FACTOR} + p.after_seq "
            f"AND v.rid < (p.sid + 1) * {SEARCH_KEY_FACTOR}"
        ),
        "SEARCH_PENDING_CLEAR": "DELETE FROM search_pending",
        # The per-event trigger of 0005/0006, replaced by the two below in 0010.
        "SEARCH_DROP_TRIGGER_PENDING": "DROP TRIGGER IF EXISTS event_search_pending",
        "SEARCH_DROP_TRIGGER_PENDING_COUNT": "DROP TRIGGER IF EXISTS search_pending_count",
        "SEARCH_DROP_TRIGGER_PENDING_SESSION": "DROP TRIGGER IF EXISTS search_pending_session",
        # migrations/0010_search_pending_per_session.sql, the same text.
        "SEARCH_CREATE_TRIGGER_PENDING_COUNT": (
            "CREATE TRIGGER IF NOT EXISTS search_pending_count "
            "AFTER UPDATE OF event_count ON sessions "
            "WHEN new.event_count > old.event_count BEGIN "
            "INSERT INTO search_pending (sid, after_seq) VALUES (new.sid, old.event_count) "
            "ON CONFLICT (sid) DO NOTHING; END"
        ),
        "SEARCH_CREATE_TRIGGER_PENDING_SESSION": (
            "CREATE TRIGGER IF NOT EXISTS search_pending_session AFTER INSERT ON sessions "
            "WHEN new.event_count > 0 BEGIN "
            "INSERT INTO search_pending (sid, after_seq) VALUES (new.sid, 0) "
            "ON CONFLICT (sid) DO NOTHING; END"
        ),
        "SEARCH_REBUILD": "INSERT INTO event_search (event_search) VALUES ('rebuild')",
        "SEARCH_DELETE_ALL": "INSERT INTO event_search (event_search) VALUES ('delete-all')",
        "SEARCH_OPTIMIZE": "INSERT INTO event_search (event_search) VALUES ('optimize')",
        "SEARCH_INTEGRITY_CHECK": (
            "INSERT INTO event_search (event_search, rank) VALUES ('integrity-check', 1)"
        ),
        "SEARCH_CHECK_PATH": "SELECT json_extract('{}', :path), json_extract('[]', :path)",
        # IF EXISTS / IF NOT EXISTS: configure_search also repairs a damaged setup.
        "SEARCH_DROP_VIEW": "DROP VIEW IF EXISTS event_search_source",
        "SEARCH_DROP_TRIGGER_INSERT": "DROP TRIGGER IF EXISTS event_search_insert",
        "SEARCH_DROP_TRIGGER_DELETE": "DROP TRIGGER IF EXISTS event_search_delete",
        "SEARCH_DROP_TRIGGER_UPDATE": "DROP TRIGGER IF EXISTS event_search_update",
        # The expression index of migration 0004, obsolete since 0006 (the key is the rowid).
        "SEARCH_DROP_KEY_INDEX": "DROP INDEX IF EXISTS session_events_search_key",
        "SEARCH_CREATE_VIEW": (
            "CREATE VIEW event_search_source AS SELECT rid, body "
            "FROM (SELECT rid, {body} AS body FROM session_events) WHERE body IS NOT NULL"
        ),
        "SEARCH_CREATE_TRIGGER_DELETE": (
            "CREATE TRIGGER event_search_delete AFTER DELETE ON session_events BEGIN "
            f"{sync('delete', 'old')} END"
        ),
        "SEARCH_CREATE_TRIGGER_UPDATE": (
            "CREATE TRIGGER event_search_update AFTER UPDATE ON session_events BEGIN "
            f"{sync('delete', 'old')} {sync('insert', 'new')} END"
        ),
        "VACUUM": "VACUUM",
        "PRAGMA_INCREMENTAL_VACUUM": "PRAGMA incremental_vacuum",
        "PRAGMA_AUTO_VACUUM": "PRAGMA auto_vacuum",
        "PRAGMA_PAGE_COUNT": "PRAGMA page_count",
        "PRAGMA_PAGE_SIZE": "PRAGMA page_size",
    }


def _sync_statements() -> dict[str, str]:
    """Incremental sync (:mod:`convstore.sync`): a session's position and what follows it."""
    this_sid = subquery(
        Query.from_(sessions).select(sessions.sid).where(sessions.id == N("session_id"))
    )
    return {
        # The event at a position (seq): where two sides' histories last agree.
        "SYNC_EVENT_AT": Query.from_(events)
        .select(*shared.event_record_fields(events, N("session_id")))
        .where(events.rid == event_key(this_sid, N("seq")))
        .get_sql(),
        # A session's metadata with its own times: sync merges it last-writer-wins.
        "SYNC_METADATA_TIMES": (
            "SELECT key, value, updated_at FROM session_metadata "
            "WHERE sid = (SELECT sid FROM sessions WHERE id = :session_id) ORDER BY key"
        ),
        # Upsert a pulled value unless the local one is strictly newer (ties: the server's).
        "SYNC_METADATA_PUT_IF_NEWER": (
            "INSERT INTO session_metadata (sid, key, value, updated_at) "
            "SELECT sid, :key, :value, :updated_at FROM sessions WHERE id = :session_id "
            "ON CONFLICT (sid, key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at "
            "WHERE session_metadata.updated_at <= excluded.updated_at"
        ),
        # The events after a position, in append order: only what the other side lacks.
        "SYNC_EVENTS_AFTER": Query.from_(events)
        .select(*shared.event_record_fields(events, N("session_id")))
        .where(events.rid > event_key(this_sid, N("seq")))
        .where(events.rid < (this_sid + 1) * EVENT_KEY_FACTOR)
        .orderby(events.rid)
        .get_sql(),
    }


_BUILDER = shared.Builder(
    "sqlite._sql",
    _pragmas, _migration_statements,  # the connection; the schema's bookkeeping
    _session_statements, _event_statements, _listing_statements,  # the core
    _metadata_and_branch_statements, _import_statements, _history_statement,
    _export_import_purge_statements, _fts_statements, _sync_statements,  # the history tools
)
build, render = _BUILDER.build, _BUILDER.render

if __name__ == "__main__":  # pragma: no cover
    _BUILDER.main()
