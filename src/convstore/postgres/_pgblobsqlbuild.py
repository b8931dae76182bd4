"""The PostgreSQL statements of the framework-integration extensions, built ahead of time.

The team server's twin of :mod:`convstore.sqlite._blobsqlbuild`: blobs
(``session_blobs``, migration ``postgres/0007``), deleting a session for
good, moving a head back, the history's tail, and the atomic
create/archive/append-with-metadata writes the adapters need. Kept apart from
:mod:`convstore.postgres._pgsqlbuild` so the integrations add a module instead
of editing a shared one; written out the same way to
:mod:`convstore.postgres._pgblobsql`, and ``tests/test_pgblobsql_drift.py``
fails if the two differ. Every statement is scoped by ``%(owner)s``.

Regenerate after editing this file::

    python -m convstore.postgres._pgblobsqlbuild

pypika builds what it can say; the writable CTEs with ``unnest`` arrays and
the recursive walk are written out by hand below (pypika has neither).
"""

from __future__ import annotations

from functools import partial

from pypika import Order
from pypika.dialects import PostgreSQLQuery as Query
from pypika.queries import QueryBuilder
from pypika.terms import Function

from convstore import _sqlbuild_shared as shared
from convstore._sqlbuild_shared import BLOB_COLUMNS, blobs, events, metadata, sessions

from ._pgsqlbuild import NOW, OWNER, SESSION_ID, P, _mine

__all__ = ["build", "render"]


#: ``NOW`` as SQL text, for the hand-written statements.
_NOW_SQL = NOW.get_sql()


def _blob_fields() -> list[object]:
    return [sessions.id, *(blobs.field(c) for c in BLOB_COLUMNS)]


def _of_session() -> QueryBuilder:
    return (
        Query.from_(blobs)
        .join(sessions)
        .on(sessions.sid == blobs.sid)
        .select(*_blob_fields())
        .where(_mine())
    )


def _blob_statements() -> dict[str, str]:
    ns_range = (blobs.namespace >= P("low")) & (blobs.namespace < P("high"))
    key_range = (blobs.key >= P("key_low")) & (blobs.key < P("key_high"))
    put = (
        "WITH s AS (SELECT sid, owner FROM sessions "
        "WHERE owner = %(owner)s AND id = %(session_id)s), "
        "ins AS (INSERT INTO session_blobs (sid, owner, namespace, key, meta, data, created_at) "
        "SELECT s.sid, s.owner, %(namespace)s, u.key, u.meta, u.data, "
        f"{_NOW_SQL} FROM s, unnest(%(keys)s::text[], %(metas)s::text[], %(datas)s::bytea[]) "
        "AS u(key, meta, data) ON CONFLICT (sid, namespace, key) DO {action}) "
        "SELECT count(*) FROM s"
    )
    return {
        # One statement stores the whole batch; the count says whether the
        # session is the caller's (0: no such session, nothing written).
        "BLOB_PUT_REPLACE": put.format(
            action="UPDATE SET meta = EXCLUDED.meta, data = EXCLUDED.data"
        ),
        "BLOB_PUT_KEEP": put.format(action="NOTHING"),
        "BLOB_GET": _of_session()
        .where(blobs.namespace == P("namespace"))
        .where(blobs.key == P("key"))
        .get_sql(),
        "BLOB_LATEST": _of_session()
        .where(blobs.namespace == P("namespace"))
        .orderby(blobs.key, order=Order.desc)
        .limit(1)
        .get_sql(),
        "BLOB_LIST": _of_session()
        .where(ns_range)
        .where(key_range)
        .orderby(blobs.namespace)
        .orderby(blobs.key)
        .get_sql(),
        "BLOB_LIST_ALL": Query.from_(blobs)
        .join(sessions)
        .on(sessions.sid == blobs.sid)
        .select(*_blob_fields())
        .where(sessions.owner == OWNER)
        .where(ns_range)
        .where(key_range)
        .orderby(sessions.sid)
        .orderby(blobs.namespace)
        .orderby(blobs.key)
        .get_sql(),
        "BLOB_LIST_EXACT": _of_session()
        .where(blobs.namespace == P("namespace"))
        .where(key_range)
        .orderby(blobs.key)
        .get_sql(),
        # LIMIT NULL is no limit.
        "BLOB_LIST_EXACT_DESC": _of_session()
        .where(blobs.namespace == P("namespace"))
        .where(blobs.key < P("before_key"))
        .orderby(blobs.key, order=Order.desc)
        .limit(P("limit"))
        .get_sql(),
        # One blob (%(key)s, or the latest of the namespace when NULL), then the
        # blobs of %(child)s keyed "<its key>\t…", in key order: one snapshot.
        "BLOB_WITH_CHILDREN": (
            "WITH s AS (SELECT sid, id FROM sessions "
            "WHERE owner = %(owner)s AND id = %(session_id)s), "
            "b AS (SELECT session_blobs.* FROM session_blobs JOIN s ON session_blobs.sid = s.sid "
            "WHERE namespace = %(namespace)s AND (%(key)s::text IS NULL OR key = %(key)s) "
            "ORDER BY key DESC LIMIT 1) "
            "SELECT 0 AS part, s.id, b.namespace, b.key, b.meta, b.data, b.created_at "
            "FROM s JOIN b ON true "
            "UNION ALL SELECT 1, s.id, w.namespace, w.key, w.meta, w.data, w.created_at "
            "FROM s JOIN b ON true JOIN session_blobs w ON w.sid = s.sid "
            "AND w.namespace = %(child)s AND w.key > b.key || chr(9) AND w.key < b.key || chr(10) "
            "ORDER BY part, key"
        ),
        "BLOB_DELETE": (
            "DELETE FROM session_blobs b USING sessions s "
            "WHERE s.sid = b.sid AND s.owner = %(owner)s AND s.id = %(session_id)s "
            "AND b.namespace >= %(low)s AND b.namespace < %(high)s"
        ),
    }


def _session_statements() -> dict[str, str]:
    return {
        # Events, metadata, blobs and usage go with it (ON DELETE CASCADE).
        "SESSION_DELETE": Query.from_(sessions)
        .delete()
        .where(_mine())
        .returning(sessions.sid)
        .get_sql(),
        "SESSION_CLEAR_HEAD": Query.update(sessions)
        .set(sessions.head_id, None)
        .where(_mine())
        .where(sessions.archived_at.isnull())
        .get_sql(),
        # The session row, locked for the rest of the transaction, with its head event.
        "SESSION_LOCK_HEAD": (
            "SELECT s.sid, s.head_id, s.archived_at, e.parent_id, e.invocation_id, "
            "e.event_type, e.event_data, e.created_at FROM sessions s "
            "LEFT JOIN session_events e ON e.sid = s.sid AND e.id = s.head_id "
            "WHERE s.owner = %(owner)s AND s.id = %(session_id)s FOR UPDATE OF s"
        ),
        "SESSION_SET_HEAD_TO": Query.update(sessions)
        .set(sessions.head_id, P("head_id"))
        .set(sessions.updated_at, Function("GREATEST", sessions.updated_at, NOW))
        .where(sessions.sid == P("sid"))
        .get_sql(),
        "SESSION_ARCHIVE_SID": Query.update(sessions)
        .set(sessions.archived_at, NOW)
        .where(sessions.sid == P("sid"))
        .get_sql(),
        # A session a metadata write targets, created empty when missing.
        "SESSION_ENSURE": Query.into(sessions)
        .columns("owner", "id", "created_at", "updated_at")
        .insert(OWNER, SESSION_ID, NOW, NOW)
        .on_conflict("owner", "id")
        .do_nothing()
        .get_sql(),
        "METADATA_ALL": Query.from_(sessions)
        .join(metadata)
        .on(metadata.sid == sessions.sid)
        .select(metadata.key, metadata.value)
        .where(_mine())
        .orderby(metadata.key)
        .get_sql(),
    }


def _event_statements() -> dict[str, str]:
    tail = partial(
        shared.history_tail, Query, events.sid == sessions.sid, _mine(), events.seq, P("limit")
    )
    cols = (
        "e.sid, e.seq, e.id, e.parent_id, e.invocation_id, e.event_type, e.event_data, e.created_at"
    )
    return {
        # A chain of events at the head, in one statement under the session's
        # row lock: the first one's parent is the head read under the lock,
        # each next one's the one before; the head ends on the last.
        "EVENTS_APPEND_AT_HEAD": (
            "WITH locked AS (SELECT sid, owner, event_count, head_id FROM sessions "
            "WHERE owner = %(owner)s AND id = %(session_id)s AND archived_at IS NULL FOR UPDATE), "
            "ins AS (INSERT INTO session_events (sid, seq, owner, id, parent_id, invocation_id, "
            "event_type, event_data, created_at) "
            "SELECT l.sid, l.event_count + u.n, l.owner, u.id, "
            "CASE WHEN u.n = 1 THEN l.head_id ELSE u.prev END, u.inv, u.type, u.data, "
            f"{_NOW_SQL} FROM locked l, unnest(%(ids)s::text[], %(prevs)s::text[], "
            "%(invs)s::text[], %(types)s::text[], %(datas)s::text[]) WITH ORDINALITY "
            "AS u(id, prev, inv, type, data, n) "
            "RETURNING sid, seq, parent_id, created_at), "
            "moved AS (UPDATE sessions SET head_id = %(last_id)s, "
            "updated_at = GREATEST(sessions.updated_at, i.at), "
            "event_count = sessions.event_count + i.added "
            "FROM (SELECT sid, max(created_at) AS at, count(*) AS added FROM ins GROUP BY sid) i "
            "WHERE sessions.sid = i.sid) "
            "SELECT parent_id, created_at FROM ins ORDER BY seq"
        ),
        # The newest events by append order, with the head: when they chain
        # (the usual, unforked case) they are the history's tail.
        "HISTORY_TAIL_LINEAR": tail().get_sql(),
        # The newest %(limit)s events, newest first, summed up in one row (a
        # subquery needs a name here).
        "HISTORY_TAIL_DATA": shared.history_tail_data(
            tail(data_only=True),
            "count(*) FILTER (WHERE event_type = 'compaction')",
            "string_agg",
            "chr",
        )
        + " AS t",
        # A session, its metadata and its newest %(limit)s events (newest first,
        # one array per column) in one row: one statement, so one snapshot
        # (``get_session_with_tail``; the caller checks that the events chain).
        "SESSION_WITH_TAIL": (
            "SELECT s.id, s.head_id, s.server_session_id, s.directory, s.git_root, "
            "s.created_at, s.updated_at, s.archived_at, m.keys, m.vals, "
            "t.ids, t.parents, t.invs, t.types, t.datas, t.times "
            "FROM sessions s "
            "CROSS JOIN LATERAL (SELECT array_agg(key ORDER BY key) AS keys, "
            "array_agg(value ORDER BY key) AS vals "
            "FROM session_metadata WHERE sid = s.sid) m "
            "CROSS JOIN LATERAL (SELECT array_agg(id) AS ids, array_agg(parent_id) AS parents, "
            "array_agg(invocation_id) AS invs, array_agg(event_type) AS types, "
            "array_agg(event_data) AS datas, array_agg(created_at) AS times FROM ("
            "SELECT id, parent_id, invocation_id, event_type, event_data, created_at "
            "FROM session_events WHERE sid = s.sid ORDER BY seq DESC LIMIT %(limit)s) e) t "
            "WHERE s.owner = %(owner)s AND s.id = %(session_id)s"
        ),
        # The chain from the head back, at most %(limit)s events (NULL: all);
        # PostgreSQL has no LIMIT inside a recursive CTE, so a depth counts.
        "HISTORY_TAIL": (
            "WITH RECURSIVE chain(sid, seq, id, parent_id, invocation_id, event_type, "
            "event_data, created_at, depth) AS ("
            f"SELECT {cols}, 1 FROM sessions s JOIN session_events e "
            "ON e.sid = s.sid AND e.id = s.head_id "
            "WHERE s.owner = %(owner)s AND s.id = %(session_id)s "
            "UNION ALL "
            f"SELECT {cols}, c.depth + 1 FROM chain c JOIN session_events e "
            "ON e.owner = %(owner)s AND e.id = c.parent_id AND e.sid = c.sid AND e.seq < c.seq "
            "WHERE %(limit)s::bigint IS NULL OR c.depth < %(limit)s::bigint"
            ") SELECT id, %(session_id)s::text, parent_id, invocation_id, event_type, "
            "event_data, created_at FROM chain ORDER BY seq"
        ),
    }


_BUILDER = shared.Builder(
    "postgres._pgblobsql", _blob_statements, _session_statements, _event_statements
)
build, render = _BUILDER.build, _BUILDER.render

if __name__ == "__main__":  # pragma: no cover
    _BUILDER.main()
