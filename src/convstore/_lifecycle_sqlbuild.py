"""The SQL of the conversation lifecycle (SPEC §9), built with pypika — ahead of time.

Like :mod:`convstore.sqlite._sqlbuild`, but kept apart so the lifecycle's statements
(usage ledger, retention, stats) never collide with edits to the core
statements. Regenerate after editing this file::

    python -m convstore._lifecycle_sqlbuild

``tests/test_lifecycle_sql_drift.py`` fails if the two differ. SQLite
statements use named ``:name`` parameters (bound from dicts); the ``PG_`` ones
use psycopg's ``%(name)s`` and are scoped by ``owner``. Grouped totals are written out by
hand (pypika cannot group by an expression that an index covers).
"""

from __future__ import annotations

from pypika import Parameter, Query
from pypika import functions as fn

from convstore._sqlbuild_shared import Builder, events, ledger, sessions

__all__ = ["build", "render"]


def N(name: str) -> Parameter:
    """Named parameter ``:name``, bound from a dict with that key."""
    return Parameter(f":{name}")


_SUMS = "SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), SUM(cost), COUNT(*)"
_SESSION_SID = '(SELECT "sid" FROM "sessions" WHERE "id"=:session_id)'


def _usage_statements() -> dict[str, str]:
    out: dict[str, str] = {
        # The event's (sid, seq) and timestamp, looked up by id inside the insert:
        # no row is written when the session or the event does not exist.
        "USAGE_RECORD": (
            'INSERT INTO "usage_ledger" ("sid","seq","model","input_tokens","output_tokens",'
            '"cached_tokens","cost","created_at") '
            'SELECT "e"."sid","e"."seq",:model,:input_tokens,:output_tokens,:cached_tokens,'
            ':cost,"e"."created_at" '
            'FROM "sessions" "s" JOIN "session_events" "e" ON "e"."sid"="s"."sid" '
            'WHERE "s"."id"=:session_id AND "e"."id"=:event_id'
        ),
        # Import and sync: an identical row already stored is skipped.
        "USAGE_IMPORT": (
            'INSERT INTO "usage_ledger" ("sid","seq","model","input_tokens","output_tokens",'
            '"cached_tokens","cost","created_at") '
            'SELECT "sid","seq",:model,:input_tokens,:output_tokens,:cached_tokens,:cost,'
            '"created_at" FROM "session_events" '
            'WHERE "sid"=:sid AND "id"=:event_id ON CONFLICT DO NOTHING'
        ),
        "USAGE_GET": Query.from_(ledger)
        .join(events)
        .on(events.rid == ledger.sid * 4294967296 + ledger.seq)
        .select(ledger.input_tokens, ledger.output_tokens, ledger.cached_tokens, ledger.cost)
        .where(events.id == N("event_id"))
        .where(ledger.model == N("model"))
        .get_sql(),
        "USAGE_EXPORT": Query.from_(ledger)
        .join(events)
        # Events are keyed by rid = sid * 2**32 + seq (migration 0006).
        .on(events.rid == ledger.sid * 4294967296 + ledger.seq)
        .select(
            events.id,
            ledger.model,
            ledger.input_tokens,
            ledger.output_tokens,
            ledger.cached_tokens,
            ledger.cost,
        )
        .where(ledger.sid == N("sid"))
        .orderby(ledger.seq)
        .orderby(ledger.model)
        .get_sql(),
        "EVENT_IN_SESSION_SID": Query.from_(events)
        .select(1)
        .where(events.sid == N("sid"))
        .where(events.id == N("event_id"))
        .get_sql(),
    }
    # Totals (migration 0009): the per (session, model, day) sums of
    # usage_rollup for the days after since's own day -- an ordered scan of a
    # covering index, grouped as it goes -- plus the ledger rows of that day
    # from since on (a range of usage_ledger_by_day); the two partial results
    # are added up. The cost follows the number
    # of (session, model, day) groups, not of records.
    for scope, where in (("", ""), ("_SESSION", f' AND "sid"={_SESSION_SID}')):
        for group, key, index in (
            ("MODEL", '"model"', "usage_rollup_by_model"),
            ("DAY", '"day"', "usage_rollup_by_day"),
            ("SESSION", '"sid"', None),
        ):
            ledger_key = '"created_at"/86400' if group == "DAY" else key
            indexed = f' INDEXED BY "{index}"' if index and not scope else ""
            parts = (
                f'SELECT {key} "g",SUM("input_tokens") "i",SUM("output_tokens") "o",'
                'SUM("cached_tokens") "c",SUM("cost") "k",SUM("events") "n" '
                f'FROM "usage_rollup"{indexed} WHERE "day">:since/86400{where} GROUP BY {key} '
                "UNION ALL "
                f'SELECT {ledger_key},{_SUMS} FROM "usage_ledger" '
                'INDEXED BY "usage_ledger_by_day" '
                f'WHERE "created_at"/86400=:since/86400 AND "created_at">=:since{where} '
                f"GROUP BY {ledger_key}"
            )
            totals = (
                'SELECT "g",SUM("i") "i",SUM("o") "o",SUM("c") "c",SUM("k") "k",SUM("n") "n" '
                f'FROM ({parts}) GROUP BY "g"'
            )
            if group == "SESSION":
                out[f"USAGE_BY_SESSION{scope}"] = (
                    'SELECT "s"."id","t"."i","t"."o","t"."c","t"."k","t"."n" '
                    f'FROM ({totals}) "t" JOIN "sessions" "s" ON "s"."sid"="t"."g" '
                    'ORDER BY "s"."id"'
                )
            else:
                out[f"USAGE_BY_{group}{scope}"] = totals + ' ORDER BY "g"'
    # The floor the totals are measured against: the same grouping, counting only.
    out["USAGE_COUNT_BY_MODEL"] = (
        'SELECT "model",COUNT(*) FROM "usage_ledger" INDEXED BY "usage_ledger_by_model" '
        'WHERE "created_at">=:since GROUP BY "model"'
    )
    out["USAGE_COUNT_BY_DAY"] = (
        'SELECT "created_at"/86400,COUNT(*) FROM "usage_ledger" '
        'INDEXED BY "usage_ledger_by_day" WHERE "created_at">=:since '
        'GROUP BY "created_at"/86400'
    )
    # history() of a compacted branch: the walk from the head stops at the event
    # the nearest summary covers through (kept: fold_history needs to see it), so
    # the cost follows what the model sees, not the session's length.
    cols = (
        "e.sid, e.seq, e.id, e.parent_id, e.invocation_id, e.event_type, e.event_data, e.created_at"
    )
    stop = (
        "CASE WHEN e.event_type = 'compaction' "
        "THEN json_extract(e.event_data, '$.compacted_through') END"
    )
    out["EVENTS_HISTORY_COMPACTED"] = (
        "WITH RECURSIVE chain(sid, seq, id, parent_id, invocation_id, event_type, "
        "event_data, created_at, stop) AS ("
        f"SELECT {cols}, {stop} FROM sessions s JOIN session_events e "
        "ON e.id = s.head_id AND e.sid = s.sid WHERE s.id = :session_id "
        "UNION ALL "
        f"SELECT {cols}, COALESCE(c.stop, {stop}) FROM chain c JOIN session_events e "
        "ON e.id = c.parent_id AND e.sid = c.sid AND e.seq < c.seq "
        "WHERE c.stop IS NULL OR c.id IS NOT c.stop"
        ") SELECT id, :session_id, parent_id, invocation_id, event_type, event_data, created_at "
        "FROM chain ORDER BY seq"
    )
    return out


def _sessions_before(column: str, which: object) -> str:
    """``sid, id, <column>`` of the ``which`` sessions, ``column`` before ``:cutoff``,
    oldest first."""
    time = sessions.field(column)
    return (
        Query.from_(sessions)
        .select(sessions.sid, sessions.id, time)
        .where(which)
        .where(time < N("cutoff"))
        .orderby(time)
        .orderby(sessions.sid)
        .get_sql()
    )


def _retention_statements() -> dict[str, str]:
    size = (
        'COALESCE(SUM(octet_length("id")+COALESCE(octet_length("parent_id"),0)'
        '+octet_length("invocation_id")+octet_length("event_type")'
        '+octet_length("event_data")+16),0)'
    )
    return {
        # Live sessions idle since before :cutoff: the partial resume indexes skip
        # archived rows; sessions_activity serves the order.
        "RETENTION_IDLE_LIVE": _sessions_before("updated_at", sessions.archived_at.isnull()),
        # Sessions archived before :cutoff, oldest archive first (deletion order).
        "RETENTION_ARCHIVED": _sessions_before("archived_at", sessions.archived_at.notnull()),
        # What deleting one session frees: stored bytes of its events (+16 per row
        # for the integer keys and timestamp), its metadata and its usage rows.
        "RETENTION_SESSION_BYTES": (
            f'SELECT (SELECT {size} FROM "session_events" '
            'WHERE "rid">=:sid*4294967296 AND "rid"<(:sid+1)*4294967296)'
            '+(SELECT COALESCE(SUM(octet_length("key")+octet_length("value")+16),0) '
            'FROM "session_metadata" WHERE "sid"=:sid)'
            '+(SELECT COALESCE(SUM(octet_length("model")+48),0) '
            'FROM "usage_ledger" WHERE "sid"=:sid)'
            '+(SELECT octet_length("id")+COALESCE(octet_length("head_id"),0)'
            '+COALESCE(octet_length("server_session_id"),0)'
            '+COALESCE(octet_length("directory"),0)+COALESCE(octet_length("git_root"),0)+40 '
            'FROM "sessions" WHERE "sid"=:sid),'
            '(SELECT "event_count" FROM "sessions" WHERE "sid"=:sid)'
        ),
        # Archive an idle session, re-checking inside the write that it is still idle.
        "RETENTION_ARCHIVE": Query.update(sessions)
        .set(sessions.archived_at, N("now"))
        .where(sessions.sid == N("sid"))
        .where(sessions.archived_at.isnull())
        .where(sessions.updated_at < N("cutoff"))
        .get_sql(),
        "RETENTION_IS_ARCHIVED": Query.from_(sessions)
        .select(sessions.archived_at)
        .where(sessions.sid == N("sid"))
        .where(sessions.archived_at.notnull())
        .get_sql(),
        "STATS_COUNTS": Query.from_(sessions)
        .select(
            fn.Count("*"),
            fn.Count(sessions.archived_at),
            fn.Coalesce(fn.Sum(sessions.event_count), 0),
        )
        .get_sql(),
        # Each session's events are one key range (migration 0006: rid = sid * 2**32
        # + seq): summed range by range, no sort of the events; only the sessions
        # are ordered. MATERIALIZED: the sum is computed once per session.
        "STATS_LARGEST": (
            'WITH "t" AS MATERIALIZED (SELECT "s"."id","s"."event_count",'
            f'(SELECT {size} FROM "session_events" '
            'WHERE "rid">="s"."sid"*4294967296 AND "rid"<("s"."sid"+1)*4294967296) "b",'
            '"s"."updated_at","s"."archived_at" FROM "sessions" "s") '
            'SELECT "id","event_count","b","updated_at","archived_at" FROM "t" '
            'WHERE "b">0 ORDER BY "b" DESC,"id" LIMIT :top'
        ),
        "STATS_GROWTH_EVENTS": (
            f'SELECT "created_at"/86400,COUNT(*),{size} FROM "session_events" '
            'WHERE "created_at">=:since GROUP BY 1 ORDER BY 1'
        ),
        "STATS_GROWTH_SESSIONS": (
            'SELECT "created_at"/86400,COUNT(*) FROM "sessions" '
            'WHERE "created_at">=:since GROUP BY 1 ORDER BY 1'
        ),
        "PRAGMA_FREELIST_COUNT": "PRAGMA freelist_count",
        "USAGE_COUNT_PLAIN": Query.from_(ledger).select(fn.Count("*")).get_sql(),
        # Ledger rows per session, for a page of session ids (:ids: a JSON array).
        "USAGE_COUNTS": (
            'SELECT "s"."id",COUNT(*) FROM "sessions" "s" JOIN "usage_ledger" "u" '
            'ON "u"."sid"="s"."sid" WHERE "s"."id" IN (SELECT "value" FROM json_each(:ids)) '
            'GROUP BY "s"."id"'
        ),
        "SESSION_SID": Query.from_(sessions)
        .select(sessions.sid)
        .where(sessions.id == N("session_id"))
        .get_sql(),
    }


_PG_SESSION = (
    "(CAST(%(session_id)s AS TEXT) IS NULL OR sid = (SELECT sid FROM sessions "
    "WHERE owner = %(owner)s AND id = %(session_id)s))"
)
# Totals (migration 0010): the owner's usage_rollup rows for the days after
# since's own day (an index range on (owner, day)), plus the ledger rows of
# that day from since on (a range of usage_ledger_by_day).
_PG_ROLLUP_PARTS = (
    "SELECT sid, model, day, input_tokens AS i, output_tokens AS o, cached_tokens AS c, "
    "cost AS k, events AS n FROM usage_rollup WHERE owner = %(owner)s "
    f"AND day > %(since)s / 86400 AND {_PG_SESSION} UNION ALL "
    "SELECT sid, model, created_at / 86400, input_tokens, output_tokens, cached_tokens, "
    "cost, 1 FROM usage_ledger WHERE owner = %(owner)s "
    "AND created_at / 86400 = %(since)s / 86400 AND created_at >= %(since)s "
    f"AND {_PG_SESSION}"
)
_PG_ROLLUP_SUMS = "SUM(i)::bigint, SUM(o)::bigint, SUM(c)::bigint, SUM(k), SUM(n)::bigint"
_PG_SIZE = (
    "COALESCE(SUM(octet_length(id) + COALESCE(octet_length(parent_id), 0) "
    "+ octet_length(invocation_id) + octet_length(event_type) + octet_length(event_data) "
    "+ 24), 0)::bigint"
)


def _postgres_statements() -> dict[str, str]:
    """The same work on the PostgreSQL team server, every statement scoped by owner."""
    return {
        "PG_NOW": "SELECT CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint)",
        "PG_SESSION_LOCK": (
            "SELECT archived_at FROM sessions WHERE owner = %(owner)s AND id = %(session_id)s "
            "FOR UPDATE"
        ),
        "PG_USAGE_RECORD": (
            "INSERT INTO usage_ledger (sid, seq, owner, model, input_tokens, output_tokens, "
            "cached_tokens, cost, created_at) SELECT e.sid, e.seq, e.owner, %(model)s, "
            "%(input_tokens)s, %(output_tokens)s, %(cached_tokens)s, %(cost)s, e.created_at "
            "FROM sessions s JOIN session_events e ON e.sid = s.sid "
            "WHERE s.owner = %(owner)s AND s.id = %(session_id)s AND e.owner = %(owner)s "
            "AND e.id = %(event_id)s ON CONFLICT (sid, seq, model) DO NOTHING RETURNING 1"
        ),
        "PG_USAGE_GET": (
            "SELECT u.input_tokens, u.output_tokens, u.cached_tokens, u.cost "
            "FROM usage_ledger u JOIN session_events e ON e.sid = u.sid AND e.seq = u.seq "
            "WHERE e.owner = %(owner)s AND e.id = %(event_id)s AND u.model = %(model)s"
        ),
        "PG_EVENT_IN_SESSION": (
            "SELECT 1 FROM sessions s JOIN session_events e ON e.sid = s.sid "
            "WHERE s.owner = %(owner)s AND s.id = %(session_id)s AND e.id = %(event_id)s"
        ),
        "PG_SESSION_EXISTS": (
            "SELECT 1 FROM sessions WHERE owner = %(owner)s AND id = %(session_id)s"
        ),
        "PG_USAGE_BY_MODEL": (
            f"SELECT model, {_PG_ROLLUP_SUMS} FROM ({_PG_ROLLUP_PARTS}) AS u "
            "GROUP BY model ORDER BY model"
        ),
        "PG_USAGE_BY_DAY": (
            f"SELECT day, {_PG_ROLLUP_SUMS} FROM ({_PG_ROLLUP_PARTS}) AS u "
            "GROUP BY day ORDER BY day"
        ),
        "PG_USAGE_BY_SESSION": (
            "SELECT s.id, t.i, t.o, t.c, t.k, t.n FROM (SELECT sid, "
            "SUM(i)::bigint AS i, SUM(o)::bigint AS o, SUM(c)::bigint AS c, SUM(k) AS k, "
            f"SUM(n)::bigint AS n FROM ({_PG_ROLLUP_PARTS}) AS u GROUP BY sid) t "
            "JOIN sessions s ON s.sid = t.sid ORDER BY s.id"
        ),
        "PG_USAGE_EXPORT": (
            "SELECT e.id, u.model, u.input_tokens, u.output_tokens, u.cached_tokens, u.cost "
            "FROM sessions s JOIN usage_ledger u ON u.sid = s.sid "
            "JOIN session_events e ON e.sid = u.sid AND e.seq = u.seq "
            "WHERE s.owner = %(owner)s AND s.id = %(session_id)s ORDER BY u.seq, u.model"
        ),
        "PG_USAGE_COUNTS": (
            "SELECT s.id, COUNT(*) FROM sessions s JOIN usage_ledger u ON u.sid = s.sid "
            "WHERE s.owner = %(owner)s AND s.id = ANY(%(ids)s) GROUP BY s.id"
        ),
        "PG_USAGE_IMPORT": (
            "INSERT INTO usage_ledger (sid, seq, owner, model, input_tokens, output_tokens, "
            "cached_tokens, cost, created_at) SELECT e.sid, e.seq, e.owner, %(model)s, "
            "%(input_tokens)s, %(output_tokens)s, %(cached_tokens)s, %(cost)s, e.created_at "
            "FROM sessions s JOIN session_events e ON e.sid = s.sid "
            "WHERE s.owner = %(owner)s AND s.id = %(session_id)s AND e.owner = %(owner)s "
            "AND e.id = %(event_id)s ON CONFLICT (sid, seq, model) DO NOTHING"
        ),
        "PG_RETENTION_IDLE_LIVE": (
            "SELECT sid, id FROM sessions WHERE owner = %(owner)s AND archived_at IS NULL "
            "AND updated_at < %(cutoff)s ORDER BY updated_at, sid"
        ),
        "PG_RETENTION_ARCHIVED": (
            "SELECT sid, id FROM sessions WHERE owner = %(owner)s AND archived_at IS NOT NULL "
            "AND archived_at < %(cutoff)s ORDER BY archived_at, sid"
        ),
        "PG_RETENTION_SESSION_BYTES": (
            f"SELECT (SELECT {_PG_SIZE} FROM session_events WHERE sid = %(sid)s) "
            "+ (SELECT COALESCE(SUM(octet_length(key) + octet_length(value) + 16), 0)::bigint "
            "FROM session_metadata WHERE sid = %(sid)s) "
            "+ (SELECT COUNT(*) * 64 FROM usage_ledger WHERE sid = %(sid)s), "
            "(SELECT event_count FROM sessions WHERE sid = %(sid)s)"
        ),
        "PG_OWNER_BYTES": f"SELECT {_PG_SIZE} FROM session_events WHERE owner = %(owner)s",
        # convstore stats on the server: the owner's sessions (one snapshot).
        "PG_STATS_COUNTS": (
            "SELECT COUNT(*), COUNT(archived_at), COALESCE(SUM(event_count), 0)::bigint "
            "FROM sessions WHERE owner = %(owner)s"
        ),
        "PG_STATS_LARGEST": (
            "SELECT s.id, s.event_count, t.b, s.updated_at, s.archived_at "
            f"FROM (SELECT sid, {_PG_SIZE} AS b FROM session_events WHERE owner = %(owner)s "
            "GROUP BY sid ORDER BY 2 DESC LIMIT %(top)s) AS t "
            "JOIN sessions s ON s.sid = t.sid WHERE s.owner = %(owner)s "
            "ORDER BY t.b DESC, s.id"
        ),
        "PG_STATS_GROWTH_EVENTS": (
            f"SELECT created_at / 86400, COUNT(*), {_PG_SIZE} FROM session_events "
            "WHERE owner = %(owner)s AND created_at >= %(since)s GROUP BY 1 ORDER BY 1"
        ),
        "PG_STATS_GROWTH_SESSIONS": (
            "SELECT created_at / 86400, COUNT(*) FROM sessions "
            "WHERE owner = %(owner)s AND created_at >= %(since)s GROUP BY 1 ORDER BY 1"
        ),
        "PG_DATABASE_BYTES": "SELECT pg_database_size(current_database())",
        "PG_RETENTION_ARCHIVE": (
            "UPDATE sessions SET archived_at = %(now)s WHERE owner = %(owner)s AND sid = %(sid)s "
            "AND archived_at IS NULL AND updated_at < %(cutoff)s"
        ),
        "PG_RETENTION_DELETE": (
            "DELETE FROM sessions WHERE owner = %(owner)s AND sid = %(sid)s "
            "AND archived_at IS NOT NULL"
        ),
        # A huge session goes in short statements first: at most %(budget)s of its
        # newest events each, only while it is still archived (the session row is
        # locked, so an append cannot slip in; event_count stays their number).
        "PG_RETENTION_DELETE_CHUNK": (
            "WITH s AS (SELECT sid FROM sessions WHERE owner = %(owner)s AND sid = %(sid)s "
            "AND archived_at IS NOT NULL FOR UPDATE), "
            "doomed AS (SELECT e.seq FROM session_events e JOIN s ON e.sid = s.sid "
            "ORDER BY e.seq DESC LIMIT %(budget)s), "
            "gone AS (DELETE FROM session_events e USING doomed "
            "WHERE e.sid = %(sid)s AND e.seq = doomed.seq RETURNING 1) "
            "UPDATE sessions SET event_count = event_count - (SELECT count(*) FROM gone) "
            "WHERE sid IN (SELECT sid FROM s) RETURNING (SELECT count(*) FROM gone)"
        ),
    }


_BUILDER = Builder(
    "_lifecycle_sql", _usage_statements, _retention_statements, _postgres_statements
)
build, render = _BUILDER.build, _BUILDER.render

if __name__ == "__main__":  # pragma: no cover
    _BUILDER.main()
