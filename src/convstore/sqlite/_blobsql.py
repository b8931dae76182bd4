"""The SQL of the framework-integration extensions, as plain strings.

GENERATED into src/convstore/sqlite/_blobsql.py by ``python -m convstore.sqlite._blobsqlbuild`` from
the pypika definitions in :mod:`convstore.sqlite._blobsqlbuild`; do not edit by hand.
``tests/test_blobsql_drift.py`` fails if this file and its builder disagree.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

BLOB_PUT_REPLACE: Final = 'INSERT INTO "session_blobs" ("sid","namespace","key","meta","data","created_at") VALUES (?1,?2,?3,?4,?5,?6) ON CONFLICT ("sid", "namespace", "key") DO UPDATE SET "meta"=EXCLUDED."meta","data"=EXCLUDED."data"'
BLOB_PUT_KEEP: Final = 'INSERT INTO "session_blobs" ("sid","namespace","key","meta","data","created_at") VALUES (?1,?2,?3,?4,?5,?6) ON CONFLICT ("sid", "namespace", "key") DO NOTHING'
BLOB_GET: Final = 'SELECT "sessions"."id","session_blobs"."namespace","session_blobs"."key","session_blobs"."meta","session_blobs"."data","session_blobs"."created_at" FROM "session_blobs" JOIN "sessions" ON "sessions"."sid"="session_blobs"."sid" WHERE "sessions"."id"=+?1 AND "session_blobs"."namespace"=+?2 AND "session_blobs"."key"=+?3'
BLOB_LATEST: Final = 'SELECT "sessions"."id","session_blobs"."namespace","session_blobs"."key","session_blobs"."meta","session_blobs"."data","session_blobs"."created_at" FROM "session_blobs" JOIN "sessions" ON "sessions"."sid"="session_blobs"."sid" WHERE "sessions"."id"=+?1 AND "session_blobs"."namespace"=+?2 ORDER BY "session_blobs"."key" DESC LIMIT 1'
BLOB_LIST: Final = 'SELECT "sessions"."id","session_blobs"."namespace","session_blobs"."key","session_blobs"."meta","session_blobs"."data","session_blobs"."created_at" FROM "session_blobs" JOIN "sessions" ON "sessions"."sid"="session_blobs"."sid" WHERE "sessions"."id"=+?1 AND "session_blobs"."namespace">=+?2 AND "session_blobs"."namespace"<+?3 AND "session_blobs"."key">=+?4 AND "session_blobs"."key"<+?5 ORDER BY "session_blobs"."namespace","session_blobs"."key"'
BLOB_LIST_ALL: Final = 'SELECT "sessions"."id","session_blobs"."namespace","session_blobs"."key","session_blobs"."meta","session_blobs"."data","session_blobs"."created_at" FROM "session_blobs" JOIN "sessions" ON "sessions"."sid"="session_blobs"."sid" WHERE ?1 IS NULL AND "session_blobs"."namespace">=+?2 AND "session_blobs"."namespace"<+?3 AND "session_blobs"."key">=+?4 AND "session_blobs"."key"<+?5 ORDER BY "sessions"."sid","session_blobs"."namespace","session_blobs"."key"'
BLOB_DELETE: Final = 'DELETE FROM "session_blobs" WHERE "sid"=?1 AND "namespace">=?2 AND "namespace"<?3'
DELETE_SESSION_EVENTS: Final = 'DELETE FROM "session_events" WHERE "sid"=?1'
DELETE_SESSION_METADATA: Final = 'DELETE FROM "session_metadata" WHERE "sid"=?1'
DELETE_SESSION_BLOBS: Final = 'DELETE FROM "session_blobs" WHERE "sid"=?1'
DELETE_SESSION: Final = 'DELETE FROM "sessions" WHERE "sid"=?1'
HISTORY_TAIL: Final = 'WITH RECURSIVE chain(sid, seq, id, parent_id, invocation_id, event_type, event_data, created_at) AS (SELECT e.sid, e.seq, e.id, e.parent_id, e.invocation_id, e.event_type, e.event_data, e.created_at FROM sessions s JOIN session_events e ON e.id = s.head_id AND e.sid = s.sid WHERE s.id = ?1 UNION ALL SELECT e.sid, e.seq, e.id, e.parent_id, e.invocation_id, e.event_type, e.event_data, e.created_at FROM chain c JOIN session_events e ON e.id = c.parent_id AND e.sid = c.sid AND e.seq < c.seq LIMIT ?2) SELECT id, ?1, parent_id, invocation_id, event_type, event_data, created_at FROM chain ORDER BY seq'
HISTORY_TAIL_LINEAR: Final = 'SELECT "sessions"."head_id","session_events"."id","sessions"."id","session_events"."parent_id","session_events"."invocation_id","session_events"."event_type","session_events"."event_data","session_events"."created_at" FROM "sessions" JOIN "session_events" ON "session_events"."sid"="sessions"."sid" WHERE "sessions"."id"=+?1 ORDER BY "session_events"."seq" DESC LIMIT ?2'
HISTORY_TAIL_DATA: Final = 'SELECT count(*), total(event_type = \'compaction\'), max(head_id), group_concat(id, char(31)), group_concat(coalesce(parent_id, char(30)), char(31)), \'[\' || coalesce(group_concat(event_data, \',\'), \'\') || \']\' FROM (SELECT "sessions"."head_id","session_events"."id","session_events"."parent_id","session_events"."event_type","session_events"."event_data" FROM "sessions" JOIN "session_events" ON "session_events"."sid"="sessions"."sid" WHERE "sessions"."id"=+?1 ORDER BY "session_events"."seq" DESC LIMIT ?2)'
BLOB_LIST_EXACT: Final = 'SELECT "sessions"."id","session_blobs"."namespace","session_blobs"."key","session_blobs"."meta","session_blobs"."data","session_blobs"."created_at" FROM "session_blobs" JOIN "sessions" ON "sessions"."sid"="session_blobs"."sid" WHERE "sessions"."id"=+?1 AND "session_blobs"."namespace"=+?2 AND "session_blobs"."key">=+?4 AND "session_blobs"."key"<+?5 ORDER BY "session_blobs"."key"'
BLOB_WITH_CHILDREN: Final = 'WITH s(sid) AS (SELECT sid FROM sessions WHERE id = +?1), b AS (SELECT session_blobs.* FROM session_blobs, s WHERE session_blobs.sid = s.sid AND namespace = +?2 AND (?3 IS NULL OR key = +?3) ORDER BY key DESC LIMIT 1) SELECT 0, ?1, namespace, key, meta, data, created_at FROM b UNION ALL SELECT 1, ?1, w.namespace, w.key, w.meta, w.data, w.created_at FROM s CROSS JOIN b CROSS JOIN session_blobs w WHERE w.sid = s.sid AND w.namespace = +?4 AND w.key > b.key || char(9) AND w.key < b.key || char(10)'
BLOB_LIST_EXACT_DESC: Final = 'SELECT "sessions"."id","session_blobs"."namespace","session_blobs"."key","session_blobs"."meta","session_blobs"."data","session_blobs"."created_at" FROM "session_blobs" JOIN "sessions" ON "sessions"."sid"="session_blobs"."sid" WHERE "sessions"."id"=+?1 AND "session_blobs"."namespace"=+?2 AND "session_blobs"."key"<+?3 ORDER BY "session_blobs"."key" DESC LIMIT ?4'
SESSION_HEAD_EVENT: Final = 'SELECT "session_events"."id","sessions"."id","session_events"."parent_id","session_events"."invocation_id","session_events"."event_type","session_events"."event_data","session_events"."created_at" FROM "session_events" JOIN "sessions" ON "sessions"."sid"="session_events"."sid" AND "sessions"."head_id"="session_events"."id" WHERE "sessions"."id"=?1 AND "sessions"."archived_at" IS NULL'
SESSION_CLEAR_HEAD: Final = 'UPDATE "sessions" SET "head_id"=null WHERE "id"=?1 AND "archived_at" IS NULL'
