"""The SQLite statements of the framework-integration extensions, built with pypika.

Blobs (``session_blobs``, migration 0008), deleting a session for good, and
moving a head back to "no event". Kept apart from :mod:`convstore.sqlite._sqlbuild`
so the integrations add a module instead of editing a shared one; written
out the same way, ahead of time, to :mod:`convstore.sqlite._blobsql`, and
``tests/test_blobsql_drift.py`` fails if the two differ.

Regenerate after editing this file::

    python -m convstore.sqlite._blobsqlbuild
"""

from __future__ import annotations

from functools import partial

from pypika import Order, Query
from pypika.queries import QueryBuilder

from convstore import _sqlbuild_shared as shared
from convstore._sqlbuild_shared import (
    BLOB_COLUMNS,
    blobs,
    event_record_fields,
    events,
    history_chain,
    metadata,
    sessions,
)

from ._sqlbuild import NV, N, in_session, upsert

__all__ = ["build", "render"]


def _blobs_of(session_id: object) -> QueryBuilder:
    """The blobs of one session (``+:session_id`` by its text id), as rows of a ``Blob``."""
    return (
        Query.from_(blobs)
        .join(sessions)
        .on(sessions.sid == blobs.sid)
        .select(sessions.id, *(blobs.field(c) for c in BLOB_COLUMNS))
        .where(session_id)
    )


def _statements() -> dict[str, str]:
    insert = (
        Query.into(blobs)
        .columns("sid", *BLOB_COLUMNS)
        .insert(*(N(column) for column in ("sid", *BLOB_COLUMNS)))
    )
    blob_key = ("sid", "namespace", "key")
    in_namespace_range = (blobs.namespace >= N("low")) & (blobs.namespace < N("high"))
    # Reads compare with +:name (see _sqlbuild.V): no re-prepare on every bind.
    v_namespace_range = (blobs.namespace >= NV("low")) & (blobs.namespace < NV("high"))
    v_key_range = (blobs.key >= NV("key_low")) & (blobs.key < NV("key_high"))
    by_id = sessions.id == NV("session_id")
    tail = partial(
        shared.history_tail, Query, in_session(sessions.sid), by_id, events.rid, N("limit")
    )
    return {
        "BLOB_PUT_REPLACE": upsert(insert, blob_key, ("meta", "data")),
        "BLOB_PUT_KEEP": insert.get_sql() + ' ON CONFLICT ("sid","namespace","key") DO NOTHING',
        "BLOB_GET": _blobs_of(by_id)
        .where(blobs.namespace == NV("namespace"))
        .where(blobs.key == NV("key"))
        .get_sql(),
        "BLOB_LATEST": _blobs_of(by_id)
        .where(blobs.namespace == NV("namespace"))
        .orderby(blobs.key, order=Order.desc)
        .limit(1)
        .get_sql(),
        "BLOB_LIST": _blobs_of(by_id)
        .where(v_namespace_range)
        .where(v_key_range)
        .orderby(blobs.namespace)
        .orderby(blobs.key)
        .get_sql(),
        "BLOB_LIST_ALL": _blobs_of(N("session_id").isnull())
        .where(v_namespace_range)
        .where(v_key_range)
        .orderby(sessions.sid)
        .orderby(blobs.namespace)
        .orderby(blobs.key)
        .get_sql(),
        "BLOB_DELETE": Query.from_(blobs)
        .where(blobs.sid == N("sid"))
        .where(in_namespace_range)
        .delete()
        .get_sql(),
        # The session's key range (migration 0006: rid = sid * 2**32 + seq).
        "DELETE_SESSION_EVENTS": Query.from_(events).where(in_session(N("sid"))).delete().get_sql(),
        "DELETE_SESSION_METADATA": Query.from_(metadata)
        .where(metadata.sid == N("sid"))
        .delete()
        .get_sql(),
        "DELETE_SESSION_BLOBS": Query.from_(blobs).where(blobs.sid == N("sid")).delete().get_sql(),
        "DELETE_SESSION": Query.from_(sessions).where(sessions.sid == N("sid")).delete().get_sql(),
        # The chain from the head back, stopped after :limit events (-1: all).
        "HISTORY_TAIL": history_chain(
            "e.id = s.head_id AND e.sid = s.sid WHERE s.id = :session_id",
            "e.id = c.parent_id AND e.sid = c.sid AND e.seq < c.seq",
            ":session_id",
            limit=" LIMIT :limit",
        ),
        # The newest events by append order, with the head: when they chain
        # (the usual, unforked case) they are the history's tail, read as one
        # range scan instead of one index probe per step.
        "HISTORY_TAIL_LINEAR": tail().get_sql(),
        # The newest :limit events (-1: all), newest first, summed up in one row.
        "HISTORY_TAIL_DATA": shared.history_tail_data(
            tail(data_only=True), "total(event_type = 'compaction')", "group_concat", "char"
        ),
        "BLOB_LIST_EXACT": _blobs_of(by_id)
        .where(blobs.namespace == NV("namespace"))
        .where(v_key_range)
        .orderby(blobs.key)
        .get_sql(),
        # Hand-written (a CTE): one blob (:key, or the latest in :namespace when
        # :key is NULL) followed by the blobs of namespace :child keyed "<its key>\t…".
        "BLOB_WITH_CHILDREN": (
            "WITH b AS (SELECT sid, key, meta, data, created_at FROM session_blobs "
            "WHERE sid = (SELECT sid FROM sessions WHERE id = +:session_id) "
            "AND namespace = +:namespace "
            "AND (:key IS NULL OR key = +:key) ORDER BY key DESC LIMIT 1) "
            "SELECT key, meta, data, created_at FROM b "
            "UNION ALL SELECT w.key, w.meta, w.data, w.created_at "
            "FROM b CROSS JOIN session_blobs w "
            "WHERE w.sid = b.sid AND w.namespace = +:child "
            "AND w.key > b.key || char(9) AND w.key < b.key || char(10)"
        ),
        "BLOB_LIST_EXACT_DESC": _blobs_of(by_id)
        .where(blobs.namespace == NV("namespace"))
        .where(blobs.key < NV("before_key"))
        .orderby(blobs.key, order=Order.desc)
        .limit(N("limit"))
        .get_sql(),
        "SESSION_HEAD_EVENT": Query.from_(events)
        .join(sessions)
        .on((sessions.sid == events.sid) & (sessions.head_id == events.id))
        .select(*event_record_fields(events, sessions.id))
        .where(sessions.id == N("session_id"))
        .where(sessions.archived_at.isnull())
        .get_sql(),
        "SESSION_CLEAR_HEAD": Query.update(sessions)
        .set(sessions.head_id, None)
        .where(sessions.id == N("session_id"))
        .where(sessions.archived_at.isnull())
        .get_sql(),
    }


_BUILDER = shared.Builder("sqlite._blobsql", _statements)
build, render = _BUILDER.build, _BUILDER.render

if __name__ == "__main__":  # pragma: no cover
    _BUILDER.main()
