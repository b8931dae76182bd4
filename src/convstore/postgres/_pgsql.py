"""Every PostgreSQL statement convstore.postgres runs, as plain strings.

GENERATED into src/convstore/postgres/_pgsql.py by ``python -m convstore.postgres._pgsqlbuild`` from
the pypika definitions in :mod:`convstore.postgres._pgsqlbuild`; do not edit by hand.
``tests/test_pgsql_drift.py`` fails if this file and its builder disagree.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

MIGRATIONS_LOCK: Final = 'SELECT pg_advisory_xact_lock(%(lock_key)s)'
MIGRATIONS_TABLE_EXISTS: Final = (
    'SELECT COUNT(*)\n'
    'FROM "pg_catalog"."pg_tables"\n'
    'WHERE "tablename"=%(table)s AND "schemaname"=ANY(current_schemas(false))'
)
MIGRATIONS_CREATE_TABLE: Final = 'CREATE TABLE IF NOT EXISTS "convstore_migrations" ("version" integer NOT NULL,"name" text NOT NULL,"checksum" text NOT NULL,"applied_at" bigint NOT NULL,"duration_ms" double precision NOT NULL,PRIMARY KEY ("version"))'
MIGRATIONS_SELECT_APPLIED: Final = (
    'SELECT "version","name","checksum","applied_at","duration_ms"\n'
    'FROM "convstore_migrations"\n'
    'ORDER BY "version"'
)
MIGRATIONS_INSERT: Final = (
    'INSERT INTO "convstore_migrations" ("version","name","checksum","applied_at","duration_ms")\n'
    'VALUES (%(version)s,%(name)s,%(checksum)s,%(applied_at)s,%(duration_ms)s)'
)
SESSION_INSERT: Final = (
    'INSERT INTO "sessions" ("owner","id","directory","git_root","created_at","updated_at")\n'
    'VALUES (%(owner)s,%(session_id)s,%(directory)s,%(git_root)s,CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint),CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint))\n'
    'RETURNING "created_at"'
)
SESSION_GET: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND "id"=%(session_id)s'
)
SESSION_STATE: Final = (
    'SELECT "archived_at"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND "id"=%(session_id)s'
)
SESSION_RESUMABLE: Final = (
    '(SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","sid" FROM "sessions" WHERE "owner"=%(owner)s AND "directory"=%(directory)s AND "archived_at" IS NULL AND "updated_at">CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint)-%(max_age)s ORDER BY "updated_at" DESC,"sid" DESC LIMIT 1)\n'
    'UNION ALL (SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","sid" FROM "sessions" WHERE "owner"=%(owner)s AND "git_root"=%(git_root)s AND "archived_at" IS NULL AND "updated_at">CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint)-%(max_age)s ORDER BY "updated_at" DESC,"sid" DESC LIMIT 1)\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT 1'
)
SESSION_SET_SERVER_ID: Final = (
    'UPDATE "sessions"\n'
    'SET "server_session_id"=%(server_session_id)s\n'
    'WHERE "owner"=%(owner)s AND "id"=%(session_id)s'
)
SESSION_ARCHIVE: Final = (
    'UPDATE "sessions"\n'
    'SET "archived_at"=COALESCE("archived_at",CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint))\n'
    'WHERE "owner"=%(owner)s AND "id"=%(session_id)s'
)
SESSION_SUMMARIES: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND "id"=ANY(%(ids)s)'
)
EVENT_APPEND: Final = (
    'WITH locked AS (SELECT "sid","owner","event_count","head_id" FROM "sessions" WHERE "owner"=%(owner)s AND "id"=%(session_id)s AND "archived_at" IS NULL FOR UPDATE) ,ins AS (INSERT INTO "session_events" ("sid","seq","owner","id","parent_id","invocation_id","event_type","event_data","created_at") SELECT "locked"."sid","locked"."event_count"+1,"locked"."owner",%(event_id)s,%(parent_id)s,%(invocation_id)s,%(event_type)s,%(event_data)s,CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint) FROM locked WHERE CAST(%(parent_id)s AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM "session_events" WHERE "session_events"."owner"=%(owner)s AND "session_events"."id"=%(parent_id)s AND "session_events"."sid"="locked"."sid") RETURNING "sid","parent_id","created_at") ,moved AS (UPDATE "sessions" SET "head_id"=%(event_id)s,"updated_at"=GREATEST("sessions"."updated_at","ins"."created_at"),"event_count"="sessions"."event_count"+1 FROM ins WHERE "sessions"."sid"="ins"."sid")\n'
    'SELECT "ins"."parent_id","ins"."created_at"\n'
    'FROM ins'
)
EVENT_APPEND_AT_HEAD: Final = (
    'WITH locked AS (SELECT "sid","owner","event_count","head_id" FROM "sessions" WHERE "owner"=%(owner)s AND "id"=%(session_id)s AND "archived_at" IS NULL FOR UPDATE) ,ins AS (INSERT INTO "session_events" ("sid","seq","owner","id","parent_id","invocation_id","event_type","event_data","created_at") SELECT "locked"."sid","locked"."event_count"+1,"locked"."owner",%(event_id)s,"locked"."head_id",%(invocation_id)s,%(event_type)s,%(event_data)s,CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint) FROM locked RETURNING "sid","parent_id","created_at") ,moved AS (UPDATE "sessions" SET "head_id"=%(event_id)s,"updated_at"=GREATEST("sessions"."updated_at","ins"."created_at"),"event_count"="sessions"."event_count"+1 FROM ins WHERE "sessions"."sid"="ins"."sid")\n'
    'SELECT "ins"."parent_id","ins"."created_at"\n'
    'FROM ins'
)
EVENT_GET: Final = (
    'SELECT "session_events"."id","sessions"."id","session_events"."parent_id","session_events"."invocation_id","session_events"."event_type","session_events"."event_data","session_events"."created_at"\n'
    'FROM "sessions"\n'
    'JOIN "session_events" ON "session_events"."sid"="sessions"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=%(session_id)s AND "session_events"."id"=%(event_id)s'
)
EVENTS_LOAD: Final = (
    'SELECT "session_events"."id","sessions"."id","session_events"."parent_id","session_events"."invocation_id","session_events"."event_type","session_events"."event_data","session_events"."created_at"\n'
    'FROM "sessions"\n'
    'JOIN "session_events" ON "session_events"."sid"="sessions"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=%(session_id)s\n'
    'ORDER BY "session_events"."seq"'
)
SESSION_SET_HEAD: Final = (
    'UPDATE "sessions"\n'
    'SET "head_id"=%(event_id)s,"updated_at"=GREATEST("updated_at",CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint))\n'
    'WHERE "owner"=%(owner)s AND "id"=%(session_id)s AND "archived_at" IS NULL AND EXISTS (SELECT 1 FROM "session_events" WHERE "session_events"."owner"=%(owner)s AND "session_events"."id"=%(event_id)s AND "session_events"."sid"="sessions"."sid")'
)
LIST_SESSIONS_ALL: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND ("updated_at","sid")<(%(cursor_updated_at)s,%(cursor_sid)s) AND "archived_at" IS NULL\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT %(limit)s'
)
LIST_SESSIONS_ALL_WITH_ARCHIVED: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND ("updated_at","sid")<(%(cursor_updated_at)s,%(cursor_sid)s)\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT %(limit)s'
)
LIST_SESSIONS_DIRECTORY: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND ("updated_at","sid")<(%(cursor_updated_at)s,%(cursor_sid)s) AND "directory"=%(directory)s AND "archived_at" IS NULL\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT %(limit)s'
)
LIST_SESSIONS_DIRECTORY_WITH_ARCHIVED: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND ("updated_at","sid")<(%(cursor_updated_at)s,%(cursor_sid)s) AND "directory"=%(directory)s\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT %(limit)s'
)
LIST_SESSIONS_GIT_ROOT: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND ("updated_at","sid")<(%(cursor_updated_at)s,%(cursor_sid)s) AND "git_root"=%(git_root)s AND "archived_at" IS NULL\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT %(limit)s'
)
LIST_SESSIONS_GIT_ROOT_WITH_ARCHIVED: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND ("updated_at","sid")<(%(cursor_updated_at)s,%(cursor_sid)s) AND "git_root"=%(git_root)s\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT %(limit)s'
)
LIST_SESSIONS_EITHER: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND ("updated_at","sid")<(%(cursor_updated_at)s,%(cursor_sid)s) AND ("directory"=%(directory)s OR "git_root"=%(git_root)s) AND "archived_at" IS NULL\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT %(limit)s'
)
LIST_SESSIONS_EITHER_WITH_ARCHIVED: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND ("updated_at","sid")<(%(cursor_updated_at)s,%(cursor_sid)s) AND ("directory"=%(directory)s OR "git_root"=%(git_root)s)\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT %(limit)s'
)
SESSION_CURSOR: Final = (
    'SELECT "updated_at","sid"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND "id"=%(session_id)s'
)
METADATA_SET: Final = (
    'INSERT INTO "session_metadata" ("sid","owner","key","value","updated_at")\n'
    'SELECT "sid","owner",%(key)s,%(value)s,CAST(floor(EXTRACT(EPOCH FROM statement_timestamp())) AS bigint)\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND "id"=%(session_id)s\n'
    'ON CONFLICT ("sid", "key")\n'
    'DO UPDATE\n'
    'SET "value"=EXCLUDED."value","updated_at"=EXCLUDED."updated_at"'
)
METADATA_GET: Final = (
    'SELECT "session_metadata"."value"\n'
    'FROM "sessions"\n'
    'LEFT\n'
    'JOIN "session_metadata" ON "session_metadata"."sid"="sessions"."sid" AND "session_metadata"."key"=%(key)s\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=%(session_id)s'
)
SYNC_SESSION_INSERT: Final = (
    'INSERT INTO "sessions" ("owner","id","server_session_id","directory","git_root","created_at","updated_at","archived_at")\n'
    'VALUES (%(owner)s,%(session_id)s,%(session_id)s,%(directory)s,%(git_root)s,%(created_at)s,%(updated_at)s,%(archived_at)s)\n'
    'ON CONFLICT ("owner", "id") DO NOTHING'
)
SYNC_SESSION_LOCK: Final = (
    'SELECT "sid","directory","git_root","created_at","updated_at","archived_at","head_id","event_count"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND "id"=%(session_id)s FOR UPDATE'
)
SYNC_EVENTS_EXISTING: Final = (
    'SELECT "session_events"."id","sessions"."id","session_events"."parent_id","session_events"."invocation_id","session_events"."event_type","session_events"."event_data","session_events"."created_at"\n'
    'FROM "session_events"\n'
    'JOIN "sessions" ON "sessions"."sid"="session_events"."sid"\n'
    'WHERE "session_events"."owner"=%(owner)s AND "session_events"."id"=ANY(%(ids)s)'
)
SYNC_EVENT_INSERT: Final = (
    'INSERT INTO "session_events" ("sid","seq","owner","id","parent_id","invocation_id","event_type","event_data","created_at")\n'
    'VALUES (%(sid)s,%(seq)s,%(owner)s,%(event_id)s,%(parent_id)s,%(invocation_id)s,%(event_type)s,%(event_data)s,%(created_at)s)'
)
SYNC_METADATA_OF: Final = (
    'SELECT "sessions"."id","session_metadata"."key","session_metadata"."value"\n'
    'FROM "sessions"\n'
    'JOIN "session_metadata" ON "session_metadata"."sid"="sessions"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=ANY(%(ids)s)\n'
    'ORDER BY "sessions"."id","session_metadata"."key"'
)
SYNC_METADATA_PUT: Final = (
    'INSERT INTO "session_metadata" ("sid","owner","key","value","updated_at")\n'
    'VALUES (%(sid)s,%(owner)s,%(key)s,%(value)s,%(now)s)\n'
    'ON CONFLICT ("sid", "key")\n'
    'DO UPDATE\n'
    'SET "value"=EXCLUDED."value","updated_at"=EXCLUDED."updated_at"'
)
SYNC_SESSION_FINISH: Final = (
    'UPDATE "sessions"\n'
    'SET "head_id"=%(head_id)s,"updated_at"=%(updated_at)s,"archived_at"=%(archived_at)s,"server_session_id"=COALESCE("server_session_id","id"),"event_count"="event_count"+%(added)s\n'
    'WHERE "sid"=%(sid)s AND "owner"=%(owner)s'
)
EVENTS_HISTORY: Final = (
    'WITH RECURSIVE chain(sid, seq, id, parent_id, invocation_id, event_type, event_data, created_at) AS (SELECT e.sid, e.seq, e.id, e.parent_id, e.invocation_id, e.event_type, e.event_data, e.created_at FROM sessions s JOIN session_events e ON e.sid = s.sid AND e.owner = s.owner AND e.id = s.head_id WHERE s.owner = %(owner)s AND s.id = %(session_id)s UNION ALL SELECT e.sid, e.seq, e.id, e.parent_id, e.invocation_id, e.event_type, e.event_data, e.created_at FROM chain c JOIN session_events e ON e.owner = %(owner)s AND e.id = c.parent_id AND e.sid = c.sid AND e.seq < c.seq)\n'
    'SELECT id, %(session_id)s::text, parent_id, invocation_id, event_type, event_data, created_at\n'
    'FROM chain\n'
    'ORDER BY seq'
)
COMPAT_OLDEST_CLIENT: Final = (
    'SELECT "oldest_client"\n'
    'FROM "convstore_compat"'
)
COMPAT_RAISE_OLDEST_CLIENT: Final = (
    'UPDATE "convstore_compat"\n'
    'SET "oldest_client"=COALESCE(GREATEST("oldest_client",%(oldest)s),%(oldest)s)'
)
ROLE_WHOAMI: Final = "SELECT current_user::text, EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = 'convstore_service' AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')) OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = current_user AND (r.rolsuper OR r.rolbypassrls))"
ROLE_SERVICE_EXISTS: Final = (
    'SELECT count(*)\n'
    'FROM pg_catalog.pg_roles\n'
    "WHERE rolname = 'convstore_service'"
)
ROLE_SERVICE_CREATE: Final = 'CREATE ROLE convstore_service NOLOGIN'
SYNC_EVENTS_INSERT_MANY: Final = (
    'INSERT INTO session_events (sid, seq, owner, id, parent_id, invocation_id, event_type, event_data, created_at)\n'
    'SELECT %(sid)s, u.seq, %(owner)s, u.id, u.parent_id, u.invocation_id, u.event_type, u.event_data, u.created_at\n'
    'FROM unnest(%(seqs)s::bigint[], %(ids)s::text[], %(parents)s::text[], %(invocations)s::text[], %(types)s::text[], %(datas)s::text[], %(created)s::bigint[]) AS u(seq, id, parent_id, invocation_id, event_type, event_data, created_at)'
)
SYNC_METADATA_TIMES: Final = (
    'SELECT "sessions"."id","session_metadata"."key","session_metadata"."value","session_metadata"."updated_at"\n'
    'FROM "sessions"\n'
    'JOIN "session_metadata" ON "session_metadata"."sid"="sessions"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=ANY(%(ids)s)\n'
    'ORDER BY "sessions"."id","session_metadata"."key"'
)
SYNC_METADATA_PUT_IF_NEWER: Final = (
    'INSERT INTO session_metadata (sid, owner, key, value, updated_at)\n'
    'SELECT sid, owner, %(key)s, %(value)s, %(updated_at)s\n'
    'FROM sessions\n'
    'WHERE owner = %(owner)s AND id = %(session_id)s\n'
    'ON CONFLICT (sid, key)\n'
    'DO UPDATE\n'
    'SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at\n'
    'WHERE session_metadata.updated_at < EXCLUDED.updated_at'
)
SYNC_EVENTS_AFTER: Final = (
    'SELECT "session_events"."id","sessions"."id","session_events"."parent_id","session_events"."invocation_id","session_events"."event_type","session_events"."event_data","session_events"."created_at"\n'
    'FROM "sessions"\n'
    'JOIN "session_events" ON "session_events"."sid"="sessions"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."id"=%(session_id)s AND "session_events"."seq">%(after)s\n'
    'ORDER BY "session_events"."seq"'
)
SYNC_EVENTS_AT: Final = (
    'SELECT e.id, s.id, e.parent_id, e.invocation_id, e.event_type, e.event_data, e.created_at\n'
    'FROM unnest(%(ids)s::text[], %(seqs)s::bigint[]) AS q(id, seq)\n'
    'JOIN sessions s ON s.owner = %(owner)s AND s.id = q.id\n'
    'JOIN session_events e ON e.sid = s.sid AND e.seq = q.seq'
)
PURGE_COUNT: Final = (
    'SELECT COUNT(*),COALESCE(SUM("event_count"),0)\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND "archived_at"<%(cutoff)s'
)
PURGE_COUNT_METADATA: Final = (
    'SELECT COUNT(*)\n'
    'FROM "sessions"\n'
    'JOIN "session_metadata" ON "session_metadata"."sid"="sessions"."sid"\n'
    'WHERE "sessions"."owner"=%(owner)s AND "sessions"."archived_at"<%(cutoff)s'
)
PURGE_CANDIDATES: Final = (
    'SELECT "sid","event_count"\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND "archived_at"<%(cutoff)s AND "sid">%(after)s\n'
    'ORDER BY "sid"\n'
    'LIMIT %(limit)s FOR UPDATE'
)
PURGE_EVENTS_CHUNK: Final = (
    'WITH doomed AS (SELECT seq FROM session_events WHERE sid = %(sid)s AND owner = %(owner)s ORDER BY seq DESC LIMIT %(budget)s), gone AS (DELETE FROM session_events e USING doomed WHERE e.sid = %(sid)s AND e.seq = doomed.seq RETURNING 1) UPDATE sessions\n'
    'SET event_count = event_count - (SELECT count(*) FROM gone)\n'
    'WHERE sid = %(sid)s AND owner = %(owner)s\n'
    'RETURNING (SELECT count(*) FROM gone), event_count'
)
PURGE_METADATA: Final = (
    'DELETE\n'
    'FROM "session_metadata"\n'
    'WHERE "sid"=%(sid)s AND "owner"=%(owner)s'
)
PURGE_SESSION: Final = (
    'DELETE\n'
    'FROM "sessions"\n'
    'WHERE "owner"=%(owner)s AND "archived_at"<%(cutoff)s AND "sid"=%(sid)s'
)
SEARCH_WEB_RANK: Final = (
    'SELECT s.id, e.id, e.event_type, convstore_search_text(e.event_data), -ts_rank(e.search, q.q), e.created_at, q.q::text\n'
    'FROM (SELECT convstore_search_query(%(query)s) AS q) AS q\n'
    'JOIN session_events e ON e.search @@ q.q\n'
    'JOIN sessions s ON s.sid = e.sid\n'
    'WHERE s.owner = %(owner)s AND e.owner = %(owner)s AND (%(directory)s::text IS NULL OR s.directory = %(directory)s) AND (%(git_root)s::text IS NULL OR s.git_root = %(git_root)s) AND (%(types)s::text[] IS NULL OR e.event_type = ANY(%(types)s::text[]))\n'
    'ORDER BY 5, e.created_at DESC, e.seq DESC\n'
    'LIMIT %(limit)s'
)
SEARCH_WEB_RECENT: Final = (
    'SELECT s.id, e.id, e.event_type, convstore_search_text(e.event_data), -ts_rank(e.search, q.q), e.created_at, q.q::text\n'
    'FROM (SELECT convstore_search_query(%(query)s) AS q) AS q\n'
    'JOIN session_events e ON e.search @@ q.q\n'
    'JOIN sessions s ON s.sid = e.sid\n'
    'WHERE s.owner = %(owner)s AND e.owner = %(owner)s AND (%(directory)s::text IS NULL OR s.directory = %(directory)s) AND (%(git_root)s::text IS NULL OR s.git_root = %(git_root)s) AND (%(types)s::text[] IS NULL OR e.event_type = ANY(%(types)s::text[]))\n'
    'ORDER BY e.created_at DESC, e.sid DESC, e.seq DESC\n'
    'LIMIT %(limit)s'
)
SEARCH_LITERAL_RANK: Final = (
    'SELECT s.id, e.id, e.event_type, convstore_search_text(e.event_data), -ts_rank(e.search, q.q), e.created_at, q.q::text\n'
    'FROM (SELECT convstore_search_literal(%(query)s) AS q) AS q\n'
    'JOIN session_events e ON e.search @@ q.q\n'
    'JOIN sessions s ON s.sid = e.sid\n'
    'WHERE s.owner = %(owner)s AND e.owner = %(owner)s AND (%(directory)s::text IS NULL OR s.directory = %(directory)s) AND (%(git_root)s::text IS NULL OR s.git_root = %(git_root)s) AND (%(types)s::text[] IS NULL OR e.event_type = ANY(%(types)s::text[]))\n'
    'ORDER BY 5, e.created_at DESC, e.seq DESC\n'
    'LIMIT %(limit)s'
)
SEARCH_LITERAL_RECENT: Final = (
    'SELECT s.id, e.id, e.event_type, convstore_search_text(e.event_data), -ts_rank(e.search, q.q), e.created_at, q.q::text\n'
    'FROM (SELECT convstore_search_literal(%(query)s) AS q) AS q\n'
    'JOIN session_events e ON e.search @@ q.q\n'
    'JOIN sessions s ON s.sid = e.sid\n'
    'WHERE s.owner = %(owner)s AND e.owner = %(owner)s AND (%(directory)s::text IS NULL OR s.directory = %(directory)s) AND (%(git_root)s::text IS NULL OR s.git_root = %(git_root)s) AND (%(types)s::text[] IS NULL OR e.event_type = ANY(%(types)s::text[]))\n'
    'ORDER BY e.created_at DESC, e.sid DESC, e.seq DESC\n'
    'LIMIT %(limit)s'
)
TX_SNAPSHOT: Final = 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY'
