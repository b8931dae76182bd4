"""Every PostgreSQL statement the team-server backend runs, built with pypika ahead of time.

The twin of :mod:`convstore.sqlite._sqlbuild` for :mod:`convstore.postgres`: the
statements are built here with pypika's PostgreSQL dialect, written as plain
strings to :mod:`convstore.postgres._pgsql`, and that module is what the backend
imports (so neither ``import convstore`` nor ``import convstore.postgres``
pays for pypika). ``tests/test_pgsql_drift.py`` rebuilds them and fails if the
two differ.

Regenerate after editing this file::

    python -m convstore.postgres._pgsqlbuild

Parameters are psycopg's named placeholders (``%(owner)s``), always bound,
never formatted into the text; a name used twice is bound once. Every
statement that touches a session filters on ``owner``: another owner's rows
are invisible, exactly like rows that do not exist. The one statement pypika
cannot express (``WITH RECURSIVE``) is written out by hand in
:func:`_history_statement`.
"""

from __future__ import annotations

from pypika import AliasedQuery, Order, Parameter, Table
from pypika import functions as fn
from pypika.dialects import PostgreSQLQuery as Query
from pypika.functions import Cast
from pypika.queries import QueryBuilder
from pypika.terms import ExistsCriterion, Function, LiteralValue, Star

from convstore import _sqlbuild_shared as shared
from convstore._common import EVENT_COLUMNS, SESSION_COLUMNS
from convstore._sqlbuild_shared import events, metadata, migrations, sessions

__all__ = ["build", "render"]

pg_tables = Table("pg_tables", schema="pg_catalog")

#: The owner column sits between the storage keys and the event's own columns.
EVENT_STORAGE_COLUMNS = ("sid", "seq", "owner", *EVENT_COLUMNS)


def P(name: str) -> Parameter:
    """psycopg named placeholder ``%(name)s``."""
    return Parameter(f"%({name})s")


OWNER = P("owner")
SESSION_ID = P("session_id")
#: "Now", in Unix seconds: always the server's clock (SPEC 6.1) -- clients'
#: clocks may be hours off, so no statement takes the time as a parameter.
NOW = LiteralValue("CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint)")


def _mine(table: Table = sessions) -> object:
    """``owner = %(owner)s AND id = %(session_id)s``: the caller's own session."""
    return (table.owner == OWNER) & (table.id == SESSION_ID)


def _migration_statements() -> dict[str, str]:
    return {
        # Transaction-scoped: released by COMMIT/ROLLBACK, never leaked by a crash.
        "MIGRATIONS_LOCK": Query.select(Function("pg_advisory_xact_lock", P("lock_key"))).get_sql(),
        # A plain catalog *scan* (not to_regclass, which may answer from a
        # cache that waiting on an advisory lock does not refresh): after the
        # lock, it sees the table another process has just committed.
        "MIGRATIONS_TABLE_EXISTS": Query.from_(pg_tables)
        .select(fn.Count(Star()))
        .where(pg_tables.tablename == P("table"))
        .where(pg_tables.schemaname == Function("ANY", Function("current_schemas", False)))
        .get_sql(),
        "MIGRATIONS_CREATE_TABLE": shared.migrations_create_table(
            migrations, ("integer", "text", "text", "bigint", "double precision")
        ),
        # MIGRATIONS_SELECT_APPLIED binds nothing and reads the same in both dialects:
        # the runner uses convstore.sqlite._sql's, so it is generated once.
        "MIGRATIONS_INSERT": shared.migrations_insert(migrations, P),
    }


def _session_statements() -> dict[str, str]:
    def live_newest(column: str) -> QueryBuilder:
        # One partial index (owner, column, updated_at, sid) serves filter and order.
        return (
            Query.from_(sessions)
            .select(*shared.session_fields(sessions), sessions.sid)
            .where(sessions.owner == OWNER)
            .where(sessions.field(column) == P(column))
            .where(sessions.archived_at.isnull())
            .where(sessions.updated_at > NOW - P("max_age"))
            .orderby(sessions.updated_at, order=Order.desc)
            .orderby(sessions.sid, order=Order.desc)
            .limit(1)
        )

    # Both lookups in one round trip; newest activity wins, then newest session.
    resumable = (
        (live_newest("directory") * live_newest("git_root"))
        .orderby(sessions.updated_at, order=Order.desc)
        .orderby(sessions.sid, order=Order.desc)
        .limit(1)
    )
    return {
        "SESSION_INSERT": Query.into(sessions)
        .columns("owner", "id", "directory", "git_root", "created_at", "updated_at")
        .insert(OWNER, SESSION_ID, P("directory"), P("git_root"), NOW, NOW)
        .returning(sessions.created_at)
        .get_sql(),
        "SESSION_GET": Query.from_(sessions)
        .select(*shared.session_fields(sessions))
        .where(_mine())
        .get_sql(),
        # Why did a write change nothing? (missing vs archived; read after the fact.)
        "SESSION_STATE": Query.from_(sessions)
        .select(sessions.archived_at)
        .where(_mine())
        .get_sql(),
        "SESSION_RESUMABLE": resumable.get_sql(),
        "SESSION_SET_SERVER_ID": Query.update(sessions)
        .set(sessions.server_session_id, P("server_session_id"))
        .where(_mine())
        .get_sql(),
        # Archiving twice keeps the first archived_at; one statement, one row count.
        "SESSION_ARCHIVE": Query.update(sessions)
        .set(sessions.archived_at, fn.Coalesce(sessions.archived_at, NOW))
        .where(_mine())
        .get_sql(),
        "SESSION_SUMMARIES": Query.from_(sessions)
        .select(*shared.session_fields(sessions), sessions.event_count)
        .where(sessions.owner == OWNER)
        .where(sessions.id == Function("ANY", P("ids")))
        .get_sql(),
    }


def _append_statement(at_head: bool) -> str:
    """Insert one event and move the head, atomically, in one round trip.

    ``locked`` takes the session's row lock (``FOR UPDATE``): a concurrent
    append on the same session waits here, then reads the *new* head and
    event count, so many writers form one chain with unique ``seq`` values.
    ``ins`` inserts only when the session is the caller's, is live, and (for
    an explicit parent) owns the parent; ``moved`` moves head, activity time
    and counter. No row back means nothing was written; the caller diagnoses.
    """
    locked = AliasedQuery("locked")
    ins = AliasedQuery("ins")
    lock = (
        Query.from_(sessions)
        .select(sessions.sid, sessions.owner, sessions.event_count, sessions.head_id)
        .where(_mine())
        .where(sessions.archived_at.isnull())
        .for_update()
    )
    parent = locked.head_id if at_head else P("parent_id")
    insert = (
        Query.into(events)
        .columns(*EVENT_STORAGE_COLUMNS)
        .from_(locked)
        .select(
            locked.sid,
            locked.event_count + 1,
            locked.owner,
            P("event_id"),
            parent,
            P("invocation_id"),
            P("event_type"),
            P("event_data"),
            NOW,
        )
        .returning(events.sid, events.parent_id, events.created_at)
    )
    if not at_head:
        parent_in_session = ExistsCriterion(
            Query.from_(events)
            .select(1)
            .where(events.owner == OWNER)
            .where(events.id == P("parent_id"))
            .where(events.sid == locked.sid)
        )
        # The cast names the type: a bare "$n IS NULL" leaves PostgreSQL guessing.
        insert = insert.where(Cast(P("parent_id"), "text").isnull() | parent_in_session)
    move = (
        Query.update(sessions)
        .from_(ins)
        .set(sessions.head_id, P("event_id"))
        .set(sessions.updated_at, Function("GREATEST", sessions.updated_at, ins.created_at))
        .set(sessions.event_count, sessions.event_count + 1)
        .where(sessions.sid == ins.sid)
    )
    return (
        Query.with_(lock, "locked")
        .with_(insert, "ins")
        .with_(move, "moved")
        .from_(ins)
        .select(ins.parent_id, ins.created_at)
        .get_sql()
    )


def _event_statements() -> dict[str, str]:
    return {
        "EVENT_APPEND": _append_statement(at_head=False),
        "EVENT_APPEND_AT_HEAD": _append_statement(at_head=True),
        "EVENT_GET": Query.from_(sessions)
        .join(events)
        .on(events.sid == sessions.sid)
        .select(*shared.event_record_fields(events, sessions.id))
        .where(_mine())
        .where(events.id == P("event_id"))
        .get_sql(),
        "EVENTS_LOAD": Query.from_(sessions)
        .join(events)
        .on(events.sid == sessions.sid)
        .select(*shared.event_record_fields(events, sessions.id))
        .where(_mine())
        .orderby(events.seq)
        .get_sql(),
        # fork: move the head back to one of the session's own events.
        "SESSION_SET_HEAD": Query.update(sessions)
        .set(sessions.head_id, P("event_id"))
        .set(sessions.updated_at, Function("GREATEST", sessions.updated_at, NOW))
        .where(_mine())
        .where(sessions.archived_at.isnull())
        .where(
            ExistsCriterion(
                Query.from_(events)
                .select(1)
                .where(events.owner == OWNER)
                .where(events.id == P("event_id"))
                .where(events.sid == sessions.sid)
            )
        )
        .get_sql(),
    }


def _listing_statements() -> dict[str, str]:
    """``LIST_SESSIONS_<FILTER>[_WITH_ARCHIVED]`` (:func:`listing_statements`) and its cursor.

    ``%(cursor_updated_at)s``/``%(cursor_sid)s``: the row to start below (a
    sentinel above every row for the first page).
    """
    out = shared.listing_statements(Query, sessions, P, P, scope=sessions.owner == OWNER)
    out["SESSION_CURSOR"] = (
        Query.from_(sessions).select(sessions.updated_at, sessions.sid).where(_mine()).get_sql()
    )
    return out


def _metadata_statements() -> dict[str, str]:
    return {
        # Upsert; inserts nothing when the session is not the caller's (caller reports it).
        "METADATA_SET": Query.into(metadata)
        .columns("sid", "owner", "key", "value", "updated_at")
        .from_(sessions)
        .select(sessions.sid, sessions.owner, P("key"), P("value"), NOW)
        .where(_mine())
        .on_conflict("sid", "key")
        .do_update("value")
        .do_update("updated_at")
        .get_sql(),
        # One row when the session is the caller's; its value is NULL when unset.
        "METADATA_GET": Query.from_(sessions)
        .left_join(metadata)
        .on((metadata.sid == sessions.sid) & (metadata.key == P("key")))
        .select(metadata.value)
        .where(_mine())
        .get_sql(),
    }


def _sync_statements() -> dict[str, str]:
    """Server side of :mod:`convstore.sync`: a session and its events with their own ids."""
    return {
        # Creates the session with the pushed fields unless the owner already has it.
        "SYNC_SESSION_INSERT": Query.into(sessions)
        .columns("owner", *[c for c in SESSION_COLUMNS if c != "head_id"])
        .insert(
            OWNER,
            SESSION_ID,
            SESSION_ID,
            P("directory"),
            P("git_root"),
            P("created_at"),
            P("updated_at"),
            P("archived_at"),
        )
        .on_conflict("owner", "id")
        .do_nothing()
        .get_sql(),
        # The session row, locked for the rest of the import (appends wait).
        "SYNC_SESSION_LOCK": Query.from_(sessions)
        .select(
            sessions.sid,
            sessions.directory,
            sessions.git_root,
            sessions.created_at,
            sessions.updated_at,
            sessions.archived_at,
            sessions.head_id,
            sessions.event_count,
        )
        .where(_mine())
        .for_update()
        .get_sql(),
        # Which of these event ids the owner already has, anywhere, and as what.
        "SYNC_EVENTS_EXISTING": Query.from_(events)
        .join(sessions)
        .on(sessions.sid == events.sid)
        .select(*shared.event_record_fields(events, sessions.id))
        .where(events.owner == OWNER)
        .where(events.id == Function("ANY", P("ids")))
        .get_sql(),
        "SYNC_EVENT_INSERT": Query.into(events)
        .columns(*EVENT_STORAGE_COLUMNS)
        .insert(
            P("sid"),
            P("seq"),
            OWNER,
            P("event_id"),
            P("parent_id"),
            P("invocation_id"),
            P("event_type"),
            P("event_data"),
            P("created_at"),
        )
        .get_sql(),
        # Every metadata value of the given sessions (sync compares them).
        "SYNC_METADATA_OF": Query.from_(sessions)
        .join(metadata)
        .on(metadata.sid == sessions.sid)
        .select(sessions.id, metadata.key, metadata.value)
        .where(sessions.owner == OWNER)
        .where(sessions.id == Function("ANY", P("ids")))
        .orderby(sessions.id)
        .orderby(metadata.key)
        .get_sql(),
        "SYNC_METADATA_PUT": Query.into(metadata)
        .columns("sid", "owner", "key", "value", "updated_at")
        .insert(P("sid"), OWNER, P("key"), P("value"), P("now"))
        .on_conflict("sid", "key")
        .do_update("value")
        .do_update("updated_at")
        .get_sql(),
        "SYNC_SESSION_FINISH": Query.update(sessions)
        .set(sessions.head_id, P("head_id"))
        .set(sessions.updated_at, P("updated_at"))
        .set(sessions.archived_at, P("archived_at"))
        .set(sessions.server_session_id, fn.Coalesce(sessions.server_session_id, sessions.id))
        .set(sessions.event_count, sessions.event_count + P("added"))
        .where(sessions.sid == P("sid"))
        .where(sessions.owner == OWNER)
        .get_sql(),
    }


def _history_statement() -> dict[str, str]:
    """``EVENTS_HISTORY`` (:func:`shared.history_chain`), scoped to the owner at every step."""
    return {
        "EVENTS_HISTORY": shared.history_chain(
            "e.sid = s.sid AND e.owner = s.owner AND e.id = s.head_id "
            "WHERE s.owner = %(owner)s AND s.id = %(session_id)s",
            "e.owner = %(owner)s AND e.id = c.parent_id AND e.sid = c.sid AND e.seq < c.seq",
            "%(session_id)s::text",
        )
    }


def _deploy_statements() -> dict[str, str]:
    # Roles and the served-clients record (SPEC 6.1). pypika has no CREATE
    # ROLE and no current_user; these few are written out.
    compat = Table("convstore_compat")
    return {
        "COMPAT_OLDEST_CLIENT": Query.from_(compat).select(compat.oldest_client).get_sql(),
        "COMPAT_RAISE_OLDEST_CLIENT": Query.update(compat)
        .set(
            compat.oldest_client,
            fn.Coalesce(Function("GREATEST", compat.oldest_client, P("oldest")), P("oldest")),
        )
        .get_sql(),
        # Who this connection is, and whether it may act for other owners
        # (superusers and BYPASSRLS roles bypass row-level security anyway).
        "ROLE_WHOAMI": (
            "SELECT current_user::text, "
            "EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = 'convstore_service' "
            "AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')) "
            "OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = current_user "
            "AND (r.rolsuper OR r.rolbypassrls))"
        ),
        "ROLE_SERVICE_EXISTS": (
            "SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = 'convstore_service'"
        ),
        "ROLE_SERVICE_CREATE": "CREATE ROLE convstore_service NOLOGIN",
    }


def _sync_v2_statements() -> dict[str, str]:
    """Incremental sync: positions (seq) where histories agree, and what follows them."""
    after = (
        Query.from_(sessions)
        .join(events)
        .on(events.sid == sessions.sid)
        .select(*shared.event_record_fields(events, sessions.id))
        .where(_mine())
        .where(events.seq > P("after"))
        .orderby(events.seq)
    )
    return {
        # A chunk of imported events in one statement (one round trip, one
        # plan) instead of one INSERT per event: arrays in, rows out.
        "SYNC_EVENTS_INSERT_MANY": (
            "INSERT INTO session_events (sid, seq, owner, id, parent_id, invocation_id, "
            "event_type, event_data, created_at) "
            "SELECT %(sid)s, u.seq, %(owner)s, u.id, u.parent_id, u.invocation_id, "
            "u.event_type, u.event_data, u.created_at "
            "FROM unnest(%(seqs)s::bigint[], %(ids)s::text[], %(parents)s::text[], "
            "%(invocations)s::text[], %(types)s::text[], %(datas)s::text[], "
            "%(created)s::bigint[]) "
            "AS u(seq, id, parent_id, invocation_id, event_type, event_data, created_at)"
        ),
        # Metadata with its own times: sync merges it last-writer-wins.
        "SYNC_METADATA_TIMES": Query.from_(sessions)
        .join(metadata)
        .on(metadata.sid == sessions.sid)
        .select(sessions.id, metadata.key, metadata.value, metadata.updated_at)
        .where(sessions.owner == OWNER)
        .where(sessions.id == Function("ANY", P("ids")))
        .orderby(sessions.id)
        .orderby(metadata.key)
        .get_sql(),
        # Upsert only over an older value: ties keep the server's (pypika has
        # no ON CONFLICT ... DO UPDATE ... WHERE).
        "SYNC_METADATA_PUT_IF_NEWER": (
            "INSERT INTO session_metadata (sid, owner, key, value, updated_at) "
            "SELECT sid, owner, %(key)s, %(value)s, %(updated_at)s FROM sessions "
            "WHERE owner = %(owner)s AND id = %(session_id)s "
            "ON CONFLICT (sid, key) DO UPDATE SET value = EXCLUDED.value, "
            "updated_at = EXCLUDED.updated_at "
            "WHERE session_metadata.updated_at < EXCLUDED.updated_at"
        ),
        "SYNC_EVENTS_AFTER": after.get_sql(),
        # For each (session id, seq) pair: this owner's event there (a StoredEvent row). One
        # round trip for a page of sessions; (sid, seq) is the primary key.
        "SYNC_EVENTS_AT": (
            "SELECT e.id, s.id, e.parent_id, e.invocation_id, e.event_type, e.event_data, "
            "e.created_at FROM unnest(%(ids)s::text[], %(seqs)s::bigint[]) AS q(id, seq) "
            "JOIN sessions s ON s.owner = %(owner)s AND s.id = q.id "
            "JOIN session_events e ON e.sid = s.sid AND e.seq = q.seq"
        ),
    }


def _search_statements() -> dict[str, str]:
    """Server search (migrations 0008, 0009): the GIN-indexed tsvector, the local API's shape.

    Written out: pypika has no tsquery operators. An FTS5 query arrives
    translated into ``to_tsquery`` text, its words already folded
    (:func:`convstore.postgres._pgsearch.tsquery_text`); ``literal=True`` text
    is folded on the server like the documents (``convstore_search_literal``). Rank is
    ``-ts_rank`` so that, as with FTS5's bm25, lower is better. Each row
    carries the event's indexed text and the query's lexemes, for the
    snippet (:mod:`convstore.postgres._pgsearch`).
    """
    out: dict[str, str] = {}
    for parser, tsquery in (
        ("WEB", "to_tsquery('simple'::regconfig, %(query)s)"),
        ("LITERAL", "convstore_search_literal(%(query)s)"),
    ):
        for order, order_by in (
            ("RANK", "5, e.created_at DESC, e.seq DESC"),
            ("RECENT", "e.created_at DESC, e.sid DESC, e.seq DESC"),
        ):
            out[f"SEARCH_{parser}_{order}"] = (
                "SELECT s.id, e.id, e.event_type, convstore_search_text(e.event_data), "
                "-ts_rank(e.search, q.q), e.created_at, q.q::text "
                f"FROM (SELECT {tsquery} AS q) AS q "
                "JOIN session_events e ON e.search @@ q.q "
                "JOIN sessions s ON s.sid = e.sid "
                "WHERE s.owner = %(owner)s AND e.owner = %(owner)s "
                "AND (%(directory)s::text IS NULL OR s.directory = %(directory)s) "
                "AND (%(git_root)s::text IS NULL OR s.git_root = %(git_root)s) "
                "AND (%(types)s::text[] IS NULL OR e.event_type = ANY(%(types)s::text[])) "
                f"ORDER BY {order_by} LIMIT %(limit)s"
            )
    return out


def _purge_statements() -> dict[str, str]:
    """Retention on the server: this owner's sessions archived before a cutoff."""
    old = (sessions.owner == OWNER) & (sessions.archived_at < P("cutoff"))
    return {
        "PURGE_COUNT": Query.from_(sessions)
        .select(fn.Count(Star()), fn.Coalesce(fn.Sum(sessions.event_count), 0))
        .where(old)
        .get_sql(),
        "PURGE_COUNT_METADATA": Query.from_(sessions)
        .join(metadata)
        .on(metadata.sid == sessions.sid)
        .select(fn.Count(Star()))
        .where(old)
        .get_sql(),
        # Locked: the batch's sessions stay archived until its transaction ends.
        "PURGE_CANDIDATES": shared.purge_candidates(
            Query, old, sessions.event_count, P("after"), P("limit")
        ).get_sql()
        + " FOR UPDATE",
        # At most %(budget)s of one session's events, newest first (so the
        # events left are seq 1..n and event_count stays their number); usage
        # rows go with their events (ON DELETE CASCADE). Written out: pypika
        # has no DELETE ... USING a limited CTE.
        "PURGE_EVENTS_CHUNK": (
            "WITH doomed AS (SELECT seq FROM session_events "
            "WHERE sid = %(sid)s AND owner = %(owner)s ORDER BY seq DESC LIMIT %(budget)s), "
            "gone AS (DELETE FROM session_events e USING doomed "
            "WHERE e.sid = %(sid)s AND e.seq = doomed.seq RETURNING 1) "
            "UPDATE sessions SET event_count = event_count - (SELECT count(*) FROM gone) "
            "WHERE sid = %(sid)s AND owner = %(owner)s "
            "RETURNING (SELECT count(*) FROM gone), event_count"
        ),
        "PURGE_METADATA": Query.from_(metadata)
        .delete()
        .where(metadata.sid == P("sid"))
        .where(metadata.owner == OWNER)
        .get_sql(),
        "PURGE_SESSION": Query.from_(sessions)
        .delete()
        .where(old)
        .where(sessions.sid == P("sid"))
        .get_sql(),
    }


def _transaction_statements() -> dict[str, str]:
    # pypika has no transaction control. An export reads the session and its
    # events from one snapshot.
    return {"TX_SNAPSHOT": "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"}


_BUILDER = shared.Builder(
    "postgres._pgsql",
    _migration_statements, _session_statements, _event_statements, _listing_statements,
    _metadata_statements, _sync_statements, _history_statement, _deploy_statements,
    _sync_v2_statements, _purge_statements, _search_statements, _transaction_statements,
)
build, render = _BUILDER.build, _BUILDER.render

if __name__ == "__main__":  # pragma: no cover
    _BUILDER.main()
