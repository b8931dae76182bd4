"""The PostgreSQL SQL of the framework-integration extensions, as plain strings.

GENERATED into src/convstore/postgres/_pgblobsql.py by ``python -m convstore.postgres._pgblobsqlbuild`` from
the pypika definitions in :mod:`convstore.postgres._pgblobsqlbuild`; do not edit by hand.
``tests/test_pgblobsql_drift.py`` fails if this file and its builder disagree.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

BLOB_PUT_REPLACE: Final = (
    'WITH s AS (SELECT sid, owner FROM sessions WHERE owner = %(owner)s AND id = %(session_id)s), ins AS (INSERT INTO session_blobs (sid, owner, namespace, key, meta, data, created_at) SELECT s.sid, s.owner, %(namespace)s, u.key, u.meta, u.data, CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint) FROM s, unnest(%(keys)s::text[], %(metas)s::text[], %(datas)s::bytea[]) AS u(key, meta, data) ON CONFLICT (sid, namespace, key) DO UPDATE SET meta = EXCLUDED.meta, data = EXCLUDED.data)\n'
    'SELECT count(*)\n'
    'FROM s'
)
BLOB_PUT_KEEP: Final = (
    'WITH s AS (SELECT sid, owner FROM sessions WHERE owner = %(owner)s AND id = %(session_id)s), ins AS (INSERT INTO session_blobs (sid, owner, namespace, key, meta, data, created_at) SELECT s.sid, s.owner, %(namespace)s, u.key, u.meta, u.data, CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint) FROM s, unnest(%(keys)s::text[], %(metas)s::text[], %(datas)s::bytea[]) AS u(key, meta, data) ON CONFLICT (sid, namespace, key) DO NOTHING)\n'
    'SELECT count(*)\n'
    'FROM s'
)
BLOB_GET: Final = (
    'SELECT "sessions"."id","session_blobs"."namespace","session_blobs"."key","session_blobs"."meta","session_blobs"."data","session_blobs"."created_at"\n'
    'FROM "session_blobs"\n'
    'JOIN "sessions" ON "sessions"."sid"="session_blobs"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=%(session_id)s AND "session_blobs"."namespace"=%(namespace)s AND "session_blobs"."key"=%(key)s'
)
BLOB_LATEST: Final = (
    'SELECT "sessions"."id","session_blobs"."namespace","session_blobs"."key","session_blobs"."meta","session_blobs"."data","session_blobs"."created_at"\n'
    'FROM "session_blobs"\n'
    'JOIN "sessions" ON "sessions"."sid"="session_blobs"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=%(session_id)s AND "session_blobs"."namespace"=%(namespace)s\n'
    'ORDER BY "session_blobs"."key" DESC\n'
    'LIMIT 1'
)
BLOB_LIST: Final = (
    'SELECT "sessions"."id","session_blobs"."namespace","session_blobs"."key","session_blobs"."meta","session_blobs"."data","session_blobs"."created_at"\n'
    'FROM "session_blobs"\n'
    'JOIN "sessions" ON "sessions"."sid"="session_blobs"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=%(session_id)s AND "session_blobs"."namespace">=%(low)s AND "session_blobs"."namespace"<%(high)s AND "session_blobs"."key">=%(key_low)s AND "session_blobs"."key"<%(key_high)s\n'
    'ORDER BY "session_blobs"."namespace","session_blobs"."key"'
)
BLOB_LIST_ALL: Final = (
    'SELECT "sessions"."id","session_blobs"."namespace","session_blobs"."key","session_blobs"."meta","session_blobs"."data","session_blobs"."created_at"\n'
    'FROM "session_blobs"\n'
    'JOIN "sessions" ON "sessions"."sid"="session_blobs"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "session_blobs"."namespace">=%(low)s AND "session_blobs"."namespace"<%(high)s AND "session_blobs"."key">=%(key_low)s AND "session_blobs"."key"<%(key_high)s\n'
    'ORDER BY "sessions"."sid","session_blobs"."namespace","session_blobs"."key"'
)
BLOB_LIST_EXACT: Final = (
    'SELECT "sessions"."id","session_blobs"."namespace","session_blobs"."key","session_blobs"."meta","session_blobs"."data","session_blobs"."created_at"\n'
    'FROM "session_blobs"\n'
    'JOIN "sessions" ON "sessions"."sid"="session_blobs"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=%(session_id)s AND "session_blobs"."namespace"=%(namespace)s AND "session_blobs"."key">=%(key_low)s AND "session_blobs"."key"<%(key_high)s\n'
    'ORDER BY "session_blobs"."key"'
)
BLOB_LIST_EXACT_DESC: Final = (
    'SELECT "sessions"."id","session_blobs"."namespace","session_blobs"."key","session_blobs"."meta","session_blobs"."data","session_blobs"."created_at"\n'
    'FROM "session_blobs"\n'
    'JOIN "sessions" ON "sessions"."sid"="session_blobs"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=%(session_id)s AND "session_blobs"."namespace"=%(namespace)s AND "session_blobs"."key"<%(before_key)s\n'
    'ORDER BY "session_blobs"."key" DESC\n'
    'LIMIT %(limit)s'
)
BLOB_WITH_CHILDREN: Final = (
    'WITH s AS (SELECT sid, id FROM sessions WHERE owner = %(owner)s AND id = %(session_id)s), b AS (SELECT session_blobs.* FROM session_blobs JOIN s ON session_blobs.sid = s.sid WHERE namespace = %(namespace)s AND (%(key)s::text IS NULL OR key = %(key)s) ORDER BY key DESC LIMIT 1)\n'
    'SELECT 0 AS part, s.id, b.namespace, b.key, b.meta, b.data, b.created_at\n'
    'FROM s\n'
    'JOIN b ON true\n'
    'UNION ALL\n'
    'SELECT 1, s.id, w.namespace, w.key, w.meta, w.data, w.created_at\n'
    'FROM s\n'
    'JOIN b ON true\n'
    'JOIN session_blobs w ON w.sid = s.sid AND w.namespace = %(child)s AND w.key > b.key || chr(9) AND w.key < b.key || chr(10)\n'
    'ORDER BY part, key'
)
BLOB_DELETE: Final = (
    'DELETE\n'
    'FROM session_blobs b USING sessions s\n'
    'WHERE s.sid = b.sid AND s.owner = %(owner)s AND s.id = %(session_id)s AND b.namespace >= %(low)s AND b.namespace < %(high)s'
)
SESSION_DELETE: Final = (
    'DELETE\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND "id"=%(session_id)s\n'
    'RETURNING "sid"'
)
SESSION_CLEAR_HEAD: Final = (
    'UPDATE "sessions"\n'
    'SET "head_id"=null\n'
    'WHERE "owner"=%(owner)s AND "id"=%(session_id)s AND "archived_at" IS NULL'
)
SESSION_LOCK_HEAD: Final = (
    'SELECT s.sid, s.head_id, s.archived_at, e.parent_id, e.invocation_id, e.event_type, e.event_data, e.created_at\n'
    'FROM sessions s\n'
    'LEFT\n'
    'JOIN session_events e ON e.sid = s.sid AND e.id = s.head_id\n'
    'WHERE s.owner = %(owner)s AND s.id = %(session_id)s FOR UPDATE OF s'
)
SESSION_SET_HEAD_TO: Final = (
    'UPDATE "sessions"\n'
    'SET "head_id"=%(head_id)s,"updated_at"=GREATEST("updated_at",CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint))\n'
    'WHERE "sid"=%(sid)s'
)
SESSION_ARCHIVE_SID: Final = (
    'UPDATE "sessions"\n'
    'SET "archived_at"=CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint)\n'
    'WHERE "sid"=%(sid)s'
)
SESSION_ENSURE: Final = (
    'INSERT INTO "sessions" ("owner","id","created_at","updated_at")\n'
    'VALUES (%(owner)s,%(session_id)s,CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint),CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint))\n'
    'ON CONFLICT ("owner", "id") DO NOTHING'
)
METADATA_ALL: Final = (
    'SELECT "session_metadata"."key","session_metadata"."value"\n'
    'FROM "sessions"\n'
    'JOIN "session_metadata" ON "session_metadata"."sid"="sessions"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=%(session_id)s\n'
    'ORDER BY "session_metadata"."key"'
)
EVENTS_APPEND_AT_HEAD: Final = (
    'WITH locked AS (SELECT sid, owner, event_count, head_id FROM sessions WHERE owner = %(owner)s AND id = %(session_id)s AND archived_at IS NULL FOR UPDATE), ins AS (INSERT INTO session_events (sid, seq, owner, id, parent_id, invocation_id, event_type, event_data, created_at) SELECT l.sid, l.event_count + u.n, l.owner, u.id, CASE WHEN u.n = 1 THEN l.head_id ELSE u.prev END, u.inv, u.type, u.data, CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint) FROM locked l, unnest(%(ids)s::text[], %(prevs)s::text[], %(invs)s::text[], %(types)s::text[], %(datas)s::text[]) WITH ORDINALITY AS u(id, prev, inv, type, data, n) RETURNING sid, seq, parent_id, created_at), moved AS (UPDATE sessions SET head_id = %(last_id)s, updated_at = GREATEST(sessions.updated_at, i.at), event_count = sessions.event_count + i.added FROM (SELECT sid, max(created_at) AS at, count(*) AS added FROM ins GROUP BY sid) i WHERE sessions.sid = i.sid)\n'
    'SELECT parent_id, created_at\n'
    'FROM ins\n'
    'ORDER BY seq'
)
HISTORY_TAIL_LINEAR: Final = (
    'SELECT "sessions"."head_id","session_events"."id","sessions"."id","session_events"."parent_id","session_events"."invocation_id","session_events"."event_type","session_events"."event_data","session_events"."created_at"\n'
    'FROM "sessions"\n'
    'JOIN "session_events" ON "session_events"."sid"="sessions"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=%(session_id)s\n'
    'ORDER BY "session_events"."seq" DESC\n'
    'LIMIT %(limit)s'
)
HISTORY_TAIL_DATA: Final = (
    "SELECT count(*), count(*) FILTER (WHERE event_type = 'compaction'), max(head_id), string_agg(id, chr(31)), string_agg(coalesce(parent_id, chr(30)), chr(31)), '[' || coalesce(string_agg(event_data, ','), '') || ']'\n"
    'FROM (SELECT "sessions"."head_id","session_events"."id","session_events"."parent_id","session_events"."event_type","session_events"."event_data" FROM "sessions" JOIN "session_events" ON "session_events"."sid"="sessions"."sid" WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=%(session_id)s ORDER BY "session_events"."seq" DESC LIMIT %(limit)s) AS t'
)
HISTORY_TAIL: Final = (
    'WITH RECURSIVE chain(sid, seq, id, parent_id, invocation_id, event_type, event_data, created_at, depth) AS (SELECT e.sid, e.seq, e.id, e.parent_id, e.invocation_id, e.event_type, e.event_data, e.created_at, 1 FROM sessions s JOIN session_events e ON e.sid = s.sid AND e.id = s.head_id WHERE s.owner = %(owner)s AND s.id = %(session_id)s UNION ALL SELECT e.sid, e.seq, e.id, e.parent_id, e.invocation_id, e.event_type, e.event_data, e.created_at, c.depth + 1 FROM chain c JOIN session_events e ON e.owner = %(owner)s AND e.id = c.parent_id AND e.sid = c.sid AND e.seq < c.seq WHERE %(limit)s::bigint IS NULL OR c.depth < %(limit)s::bigint)\n'
    'SELECT id, %(session_id)s::text, parent_id, invocation_id, event_type, event_data, created_at\n'
    'FROM chain\n'
    'ORDER BY seq'
)
