"""Every SQL statement convstore runs, as plain strings.

GENERATED into src/convstore/sqlite/_sql.py by ``python -m convstore.sqlite._sqlbuild`` from
the pypika definitions in :mod:`convstore.sqlite._sqlbuild`; do not edit by hand.
``tests/test_sql_drift.py`` fails if this file and its builder disagree.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

PRAGMA_JOURNAL_MODE: Final = 'PRAGMA journal_mode'
PRAGMA_JOURNAL_MODE_WAL: Final = 'PRAGMA journal_mode=WAL'
PRAGMA_SYNCHRONOUS_NORMAL: Final = 'PRAGMA synchronous=NORMAL'
PRAGMA_SYNCHRONOUS_FULL: Final = 'PRAGMA synchronous=FULL'
PRAGMA_FOREIGN_KEYS_ON: Final = 'PRAGMA foreign_keys=ON'
PRAGMA_USER_VERSION: Final = 'PRAGMA user_version'
PRAGMA_WAL_AUTOCHECKPOINT: Final = 'PRAGMA wal_autocheckpoint=1000'
PRAGMA_JOURNAL_SIZE_LIMIT: Final = 'PRAGMA journal_size_limit=8388608'
PRAGMA_SET_USER_VERSION: Final = 'PRAGMA user_version={version:d}'
PRAGMA_APPLICATION_ID: Final = 'PRAGMA application_id'
PRAGMA_APPLICATION_ID_SET: Final = 'PRAGMA application_id=1668707188'
BEGIN_IMMEDIATE: Final = 'BEGIN IMMEDIATE'
BEGIN_DEFERRED: Final = 'BEGIN'
COMMIT: Final = 'COMMIT'
ROLLBACK: Final = 'ROLLBACK'
MIGRATIONS_CREATE_TABLE: Final = 'CREATE TABLE IF NOT EXISTS "convstore_migrations" ("version" INTEGER NOT NULL,"name" TEXT NOT NULL,"checksum" TEXT NOT NULL,"applied_at" INTEGER NOT NULL,"duration_ms" REAL NOT NULL,PRIMARY KEY ("version"))'
MIGRATIONS_TABLE_EXISTS: Final = (
    'SELECT COUNT(*)\n'
    'FROM "sqlite_master"\n'
    'WHERE "type"=\'table\' AND "name"=\'convstore_migrations\''
)
SCHEMA_USER_OBJECT_COUNT: Final = (
    'SELECT COUNT(*)\n'
    'FROM "sqlite_master"\n'
    'WHERE "name" NOT LIKE \'sqlite_%\''
)
MIGRATIONS_SELECT_APPLIED: Final = (
    'SELECT "version","name","checksum","applied_at","duration_ms"\n'
    'FROM "convstore_migrations"\n'
    'ORDER BY "version"'
)
MIGRATIONS_INSERT: Final = (
    'INSERT INTO "convstore_migrations" ("version","name","checksum","applied_at","duration_ms")\n'
    'VALUES (:version,:name,:checksum,:applied_at,:duration_ms)'
)
MIGRATIONS_STATE: Final = (
    "SELECT (SELECT user_version FROM pragma_user_version), group_concat(checksum, ',')\n"
    'FROM (SELECT checksum FROM "convstore_migrations" ORDER BY version)'
)
MIGRATIONS_FINGERPRINT: Final = '9:97118dacccb1a37711ea0062fdeed2973029e0eac31a12df8fc3456c7d4f5d2e'
SESSION_INSERT: Final = (
    'INSERT INTO "sessions" ("id","directory","git_root","created_at","updated_at")\n'
    'VALUES (:session_id,:directory,:git_root,:now,:now)'
)
SESSION_GET: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at"\n'
    'FROM "sessions"\n'
    'WHERE "id"=:session_id'
)
SESSION_STATE: Final = (
    'SELECT "sid","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE "id"=:session_id'
)
SESSION_RESUMABLE_BY_DIRECTORY: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at"\n'
    'FROM "sessions"\n'
    'WHERE "directory"=+:directory AND "archived_at" IS NULL AND "updated_at">:cutoff\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT 1'
)
SESSION_RESUMABLE_BY_GIT_ROOT: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at"\n'
    'FROM "sessions"\n'
    'WHERE "git_root"=+:git_root AND "archived_at" IS NULL AND "updated_at">:cutoff\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT 1'
)
SESSION_SET_SERVER_ID: Final = (
    'UPDATE "sessions"\n'
    'SET "server_session_id"=:server_session_id\n'
    'WHERE "id"=:session_id'
)
SESSION_ARCHIVE: Final = (
    'UPDATE "sessions"\n'
    'SET "archived_at"=:now\n'
    'WHERE "id"=:session_id AND "archived_at" IS NULL'
)
SESSION_MOVE_HEAD_SAME_SECOND: Final = (
    'UPDATE "sessions"\n'
    'SET "head_id"=:head_id,"event_count"="event_count"+:added\n'
    'WHERE "id"=:session_id AND "updated_at"=:now'
)
SESSION_MOVE_HEAD: Final = (
    'UPDATE "sessions"\n'
    'SET "head_id"=:head_id,"updated_at"=:now,"event_count"="event_count"+:added\n'
    'WHERE "id"=:session_id'
)
EVENT_APPEND_ONE: Final = (
    'INSERT INTO "event_append" ("session_id","event_id","parent_id","invocation_id","event_type","event_data","created_at")\n'
    'VALUES (?1,?2,?3,?4,?5,?6,?7)'
)
EVENT_APPEND_AT_HEAD_ONE: Final = (
    'INSERT INTO "event_append" ("session_id","event_id","parent_id","invocation_id","event_type","event_data","created_at")\n'
    'VALUES (?1,?2,(SELECT "head_id" FROM "sessions" WHERE "id"=?1),?3,?4,?5,?6)\n'
    'RETURNING "parent_id"'
)
EVENT_APPEND: Final = (
    'INSERT INTO "session_events" ("rid","id","parent_id","invocation_id","event_type","event_data","created_at")\n'
    'SELECT "sid"*4294967296+"event_count"+1,:event_id,:parent_id,:invocation_id,:event_type,:event_data,:now\n'
    'FROM "sessions"\n'
    'WHERE "id"=:session_id AND "archived_at" IS NULL AND (:parent_id IS NULL OR EXISTS (SELECT 1 FROM "session_events" WHERE "session_events"."id"=:parent_id AND "session_events"."sid"="sessions"."sid"))'
)
EVENT_APPEND_AT_HEAD: Final = (
    'INSERT INTO "session_events" ("rid","id","parent_id","invocation_id","event_type","event_data","created_at")\n'
    'SELECT "sid"*4294967296+"event_count"+1,:event_id,"head_id",:invocation_id,:event_type,:event_data,:now\n'
    'FROM "sessions"\n'
    'WHERE "id"=:session_id AND "archived_at" IS NULL\n'
    'RETURNING "parent_id"'
)
EVENT_APPEND_BATCH_ROW: Final = (
    'INSERT INTO "session_events" ("rid","id","parent_id","invocation_id","event_type","event_data","created_at")\n'
    'SELECT :sid*4294967296+:seq,:event_id,:parent_id,:invocation_id,:event_type,:event_data,:created_at\n'
    'WHERE :parent_id IS NULL OR EXISTS (SELECT 1 FROM "session_events" WHERE "id"=:parent_id AND "sid"=:sid)'
)
EVENT_IN_SESSION: Final = (
    'SELECT 1\n'
    'FROM "session_events"\n'
    'WHERE "id"=:event_id AND "sid"=:sid'
)
EVENTS_COUNT_AFTER: Final = (
    'SELECT COUNT(*)\n'
    'FROM "session_events"\n'
    'WHERE "rid">:sid*4294967296+:after_seq AND "rid"<(:sid+1)*4294967296'
)
EVENTS_LOAD: Final = (
    'SELECT "id",:session_id,"parent_id","invocation_id","event_type","event_data","created_at"\n'
    'FROM "session_events"\n'
    'WHERE "rid">=(SELECT "sid" FROM "sessions" WHERE "id"=:session_id)*4294967296 AND "rid"<((SELECT "sid" FROM "sessions" WHERE "id"=:session_id)+1)*4294967296\n'
    'ORDER BY "rid"'
)
LIST_SESSIONS_ALL: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE ("updated_at","sid")<(:cursor_updated_at,:cursor_sid) AND "archived_at" IS NULL\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT :limit'
)
LIST_SESSIONS_ALL_WITH_ARCHIVED: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE ("updated_at","sid")<(:cursor_updated_at,:cursor_sid)\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT :limit'
)
LIST_SESSIONS_DIRECTORY: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE ("updated_at","sid")<(:cursor_updated_at,:cursor_sid) AND "directory"=+:directory AND "archived_at" IS NULL\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT :limit'
)
LIST_SESSIONS_DIRECTORY_WITH_ARCHIVED: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE ("updated_at","sid")<(:cursor_updated_at,:cursor_sid) AND "directory"=+:directory\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT :limit'
)
LIST_SESSIONS_GIT_ROOT: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE ("updated_at","sid")<(:cursor_updated_at,:cursor_sid) AND "git_root"=+:git_root AND "archived_at" IS NULL\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT :limit'
)
LIST_SESSIONS_GIT_ROOT_WITH_ARCHIVED: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE ("updated_at","sid")<(:cursor_updated_at,:cursor_sid) AND "git_root"=+:git_root\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT :limit'
)
LIST_SESSIONS_EITHER: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE ("updated_at","sid")<(:cursor_updated_at,:cursor_sid) AND ("directory"=+:directory OR "git_root"=+:git_root) AND "archived_at" IS NULL\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT :limit'
)
LIST_SESSIONS_EITHER_WITH_ARCHIVED: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count"\n'
    'FROM "sessions"\n'
    'WHERE ("updated_at","sid")<(:cursor_updated_at,:cursor_sid) AND ("directory"=+:directory OR "git_root"=+:git_root)\n'
    'ORDER BY "updated_at" DESC,"sid" DESC\n'
    'LIMIT :limit'
)
SESSION_CURSOR: Final = (
    'SELECT "updated_at","sid"\n'
    'FROM "sessions"\n'
    'WHERE "id"=:session_id'
)
METADATA_SET: Final = (
    'INSERT INTO "session_metadata" ("sid","key","value","updated_at")\n'
    'SELECT "sid",:key,:value,:now\n'
    'FROM "sessions"\n'
    'WHERE "id"=:session_id\n'
    'ON CONFLICT ("sid","key")\n'
    'DO UPDATE\n'
    'SET "value"=excluded."value","updated_at"=excluded."updated_at"'
)
METADATA_GET: Final = (
    'SELECT "session_metadata"."value"\n'
    'FROM "sessions"\n'
    'LEFT\n'
    'JOIN "session_metadata" ON "session_metadata"."sid"="sessions"."sid" AND "session_metadata"."key"=:key\n'
    'WHERE "sessions"."id"=:session_id'
)
EVENT_GET: Final = (
    'SELECT "session_events"."id","sessions"."id","session_events"."parent_id","session_events"."invocation_id","session_events"."event_type","session_events"."event_data","session_events"."created_at"\n'
    'FROM "session_events"\n'
    'JOIN "sessions" ON "sessions"."sid"="session_events"."sid"\n'
    'WHERE "session_events"."id"=:event_id AND "sessions"."id"=:session_id'
)
SESSION_SET_HEAD: Final = (
    'UPDATE "sessions"\n'
    'SET "head_id"=:head_id,"updated_at"=:now\n'
    'WHERE "id"=:session_id AND "archived_at" IS NULL AND EXISTS (SELECT 1 FROM "session_events" WHERE "session_events"."id"=:head_id AND "session_events"."sid"="sessions"."sid")'
)
SESSION_IMPORT_INSERT: Final = (
    'INSERT INTO "sessions" ("id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at")\n'
    'VALUES (:session_id,:head_id,:server_session_id,:directory,:git_root,:created_at,:updated_at,:archived_at)'
)
SESSION_SET_IMPORTED_STATE: Final = (
    'UPDATE "sessions"\n'
    'SET "head_id"=:head_id,"server_session_id"=:server_session_id,"updated_at"=:updated_at,"archived_at"=:archived_at,"event_count"=:event_count\n'
    'WHERE "sid"=:sid'
)
EVENT_GET_BY_ID: Final = (
    'SELECT "session_events"."id","sessions"."id","session_events"."parent_id","session_events"."invocation_id","session_events"."event_type","session_events"."event_data","session_events"."created_at"\n'
    'FROM "session_events"\n'
    'JOIN "sessions" ON "sessions"."sid"="session_events"."sid"\n'
    'WHERE "session_events"."id"=:event_id'
)
METADATA_IMPORT: Final = (
    'INSERT INTO "session_metadata" ("sid","key","value","updated_at")\n'
    'VALUES (:sid,:key,:value,:updated_at)\n'
    'ON CONFLICT ("sid","key")\n'
    'DO UPDATE\n'
    'SET "value"=excluded."value","updated_at"=excluded."updated_at"'
)
METADATA_ALL: Final = (
    'SELECT "session_metadata"."key","session_metadata"."value"\n'
    'FROM "session_metadata"\n'
    'JOIN "sessions" ON "sessions"."sid"="session_metadata"."sid"\n'
    'WHERE "sessions"."id"=:session_id\n'
    'ORDER BY "session_metadata"."key"'
)
EVENTS_HISTORY: Final = (
    'WITH RECURSIVE chain(sid, seq, id, parent_id, invocation_id, event_type, event_data, created_at) AS (SELECT e.sid, e.seq, e.id, e.parent_id, e.invocation_id, e.event_type, e.event_data, e.created_at FROM sessions s JOIN session_events e ON e.id = s.head_id AND e.sid = s.sid WHERE s.id = :session_id UNION ALL SELECT e.sid, e.seq, e.id, e.parent_id, e.invocation_id, e.event_type, e.event_data, e.created_at FROM chain c JOIN session_events e ON e.id = c.parent_id AND e.sid = c.sid AND e.seq < c.seq)\n'
    'SELECT id, :session_id, parent_id, invocation_id, event_type, event_data, created_at\n'
    'FROM chain\n'
    'ORDER BY seq'
)
EXPORT_SESSIONS: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count","sid"\n'
    'FROM "sessions"\n'
    'WHERE (:directory IS NULL OR "directory"=:directory) AND (:git_root IS NULL OR "git_root"=:git_root) AND (:include_archived=1 OR "archived_at" IS NULL)\n'
    'ORDER BY "sid"'
)
EXPORT_SESSION: Final = (
    'SELECT "id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count","sid"\n'
    'FROM "sessions"\n'
    'WHERE "id"=:session_id'
)
EXPORT_METADATA: Final = (
    'SELECT "key","value","updated_at"\n'
    'FROM "session_metadata"\n'
    'WHERE "sid"=:sid\n'
    'ORDER BY "key"'
)
EXPORT_EVENTS: Final = (
    'SELECT "id","parent_id","invocation_id","event_type","event_data","created_at"\n'
    'FROM "session_events"\n'
    'WHERE "rid">:sid*4294967296 AND "rid"<=:sid*4294967296+:event_count\n'
    'ORDER BY "rid"'
)
SESSION_INSERT_EXPORTED: Final = (
    'INSERT INTO "sessions" ("id","head_id","server_session_id","directory","git_root","created_at","updated_at","archived_at","event_count")\n'
    'VALUES (:session_id,:head_id,:server_session_id,:directory,:git_root,:created_at,:updated_at,:archived_at,:event_count)'
)
PURGE_CANDIDATES: Final = (
    'SELECT "sid","id"\n'
    'FROM "sessions"\n'
    'WHERE NOT "archived_at" IS NULL AND "archived_at"<:cutoff AND "sid">:after_sid\n'
    'ORDER BY "sid"\n'
    'LIMIT :limit'
)
PURGE_COUNT_SESSIONS: Final = (
    'SELECT COUNT(*)\n'
    'FROM "sessions"\n'
    'WHERE NOT "archived_at" IS NULL AND "archived_at"<:cutoff'
)
PURGE_COUNT_EVENTS: Final = (
    'SELECT COUNT(*)\n'
    'FROM "sessions"\n'
    'JOIN "session_events" ON "session_events"."rid">="sessions"."sid"*4294967296 AND "session_events"."rid"<("sessions"."sid"+1)*4294967296\n'
    'WHERE NOT "sessions"."archived_at" IS NULL AND "sessions"."archived_at"<:cutoff'
)
PURGE_COUNT_METADATA: Final = (
    'SELECT COUNT(*)\n'
    'FROM "session_metadata"\n'
    'WHERE "sid" IN (SELECT "sid" FROM "sessions" WHERE NOT "archived_at" IS NULL AND "archived_at"<:cutoff)'
)
PURGE_EVENTS_CHUNK: Final = (
    'DELETE\n'
    'FROM "session_events"\n'
    'WHERE "rid" IN (SELECT "rid" FROM "session_events" WHERE "rid">=:sid*4294967296 AND "rid"<(:sid+1)*4294967296 ORDER BY "rid" DESC LIMIT :budget)'
)
PURGE_HAS_EVENTS: Final = (
    'SELECT 1\n'
    'FROM "session_events"\n'
    'WHERE "rid">=:sid*4294967296 AND "rid"<(:sid+1)*4294967296\n'
    'LIMIT 1'
)
PURGE_METADATA: Final = (
    'DELETE\n'
    'FROM "session_metadata"\n'
    'WHERE "sid"=:sid'
)
PURGE_SESSION: Final = (
    'DELETE\n'
    'FROM "sessions"\n'
    'WHERE "sid"=:sid AND NOT "archived_at" IS NULL'
)
SEARCH_FIELDS_GET: Final = (
    'SELECT "value"\n'
    'FROM "search_config"\n'
    'WHERE "key"=\'fields\''
)
SEARCH_FIELDS_SET: Final = (
    'UPDATE "search_config"\n'
    'SET "value"=:fields\n'
    'WHERE "key"=\'fields\''
)
SEARCH_INDEXING_GET: Final = (
    'SELECT "value"\n'
    'FROM "search_config"\n'
    'WHERE "key"=\'indexing\''
)
SEARCH_INDEXING_SET: Final = (
    'INSERT INTO "search_config" ("key","value")\n'
    "VALUES ('indexing',:indexing)\n"
    'ON CONFLICT ("key")\n'
    'DO UPDATE\n'
    'SET "value"=excluded."value"'
)
SEARCH_EVENTS: Final = (
    'WITH top(key, snip, score) AS MATERIALIZED (SELECT rowid, snippet(event_search, 0, :open, :close, :ellipsis, :tokens), rank FROM event_search WHERE event_search MATCH :query ORDER BY rank LIMIT :limit)\n'
    'SELECT s.id, e.id, e.event_type, top.snip, top.score, e.created_at\n'
    'FROM top\n'
    'JOIN session_events e ON e.rid = top.key\n'
    'JOIN sessions s ON s.sid = e.sid\n'
    'ORDER BY top.score, top.key'
)
SEARCH_EVENTS_FILTERED: Final = (
    'SELECT s.id, e.id, e.event_type, snippet(event_search, 0, :open, :close, :ellipsis, :tokens), bm25(event_search), e.created_at\n'
    'FROM event_search\n'
    'JOIN session_events e ON e.rid = event_search.rowid\n'
    'JOIN sessions s ON s.sid = e.sid\n'
    'WHERE event_search MATCH :query AND (:directory IS NULL OR s.directory = :directory) AND (:git_root IS NULL OR s.git_root = :git_root) AND (:event_types IS NULL OR e.event_type IN (SELECT value FROM json_each(:event_types)))\n'
    'ORDER BY bm25(event_search), e.rid\n'
    'LIMIT :limit'
)
SEARCH_EVENTS_RECENT: Final = (
    'SELECT s.id, e.id, e.event_type, snippet(event_search, 0, :open, :close, :ellipsis, :tokens), 0.0, e.created_at\n'
    'FROM event_search\n'
    'JOIN session_events e ON e.rid = event_search.rowid\n'
    'JOIN sessions s ON s.sid = e.sid\n'
    'WHERE event_search MATCH :query AND (:directory IS NULL OR s.directory = :directory) AND (:git_root IS NULL OR s.git_root = :git_root) AND (:event_types IS NULL OR e.event_type IN (SELECT value FROM json_each(:event_types)))\n'
    'ORDER BY event_search.rowid DESC\n'
    'LIMIT :limit'
)
SEARCH_INDEX_EVENT: Final = (
    'INSERT INTO event_search (rowid, body)\n'
    'SELECT rid, body\n'
    'FROM event_search_source\n'
    'WHERE rid = (SELECT rid FROM session_events WHERE id = :event_id)'
)
SEARCH_INDEX_RANGE: Final = (
    'INSERT INTO event_search (rowid, body)\n'
    'SELECT rid, body\n'
    'FROM event_search_source\n'
    'WHERE rid > :sid * 4294967296 + :after_seq AND rid <= :sid * 4294967296 + :last_seq'
)
SEARCH_PENDING_ANY: Final = 'SELECT EXISTS (SELECT 1 FROM search_pending)'
SEARCH_CATCH_UP: Final = (
    'INSERT INTO event_search (rowid, body)\n'
    'SELECT v.rid, v.body\n'
    'FROM search_pending p\n'
    'JOIN event_search_source v ON v.rid > p.sid * 4294967296 + p.after_seq AND v.rid < (p.sid + 1) * 4294967296'
)
SEARCH_PENDING_CLEAR: Final = (
    'DELETE\n'
    'FROM search_pending'
)
SEARCH_DROP_TRIGGER_PENDING: Final = 'DROP TRIGGER IF EXISTS event_search_pending'
SEARCH_CREATE_TRIGGER_PENDING: Final = (
    'CREATE TRIGGER IF NOT EXISTS event_search_pending AFTER INSERT ON session_events BEGIN INSERT INTO search_pending (sid, after_seq)\n'
    'VALUES (new.rid >> 32, (new.rid & 4294967295) - 1)\n'
    'ON CONFLICT (sid) DO NOTHING; END'
)
SEARCH_REBUILD: Final = (
    'INSERT INTO event_search (event_search)\n'
    "VALUES ('rebuild')"
)
SEARCH_DELETE_ALL: Final = (
    'INSERT INTO event_search (event_search)\n'
    "VALUES ('delete-all')"
)
SEARCH_OPTIMIZE: Final = (
    'INSERT INTO event_search (event_search)\n'
    "VALUES ('optimize')"
)
SEARCH_INTEGRITY_CHECK: Final = (
    'INSERT INTO event_search (event_search, rank)\n'
    "VALUES ('integrity-check', 1)"
)
SEARCH_CHECK_PATH: Final = "SELECT json_extract('{}', :path), json_extract('[]', :path)"
SEARCH_DROP_VIEW: Final = 'DROP VIEW IF EXISTS event_search_source'
SEARCH_DROP_TRIGGER_INSERT: Final = 'DROP TRIGGER IF EXISTS event_search_insert'
SEARCH_DROP_TRIGGER_DELETE: Final = 'DROP TRIGGER IF EXISTS event_search_delete'
SEARCH_DROP_TRIGGER_UPDATE: Final = 'DROP TRIGGER IF EXISTS event_search_update'
SEARCH_DROP_KEY_INDEX: Final = 'DROP INDEX IF EXISTS session_events_search_key'
SEARCH_CREATE_VIEW: Final = (
    'CREATE VIEW event_search_source AS SELECT rid, body\n'
    'FROM (SELECT rid, {body} AS body FROM session_events)\n'
    'WHERE body IS NOT NULL'
)
SEARCH_CREATE_TRIGGER_DELETE: Final = (
    'CREATE TRIGGER event_search_delete AFTER DELETE ON session_events BEGIN INSERT INTO event_search (event_search, rowid, body)\n'
    "SELECT 'delete', old.rid, body\n"
    'FROM (SELECT {old_body} AS body)\n'
    'WHERE body IS NOT NULL; END'
)
SEARCH_CREATE_TRIGGER_UPDATE: Final = (
    'CREATE TRIGGER event_search_update AFTER UPDATE ON session_events BEGIN INSERT INTO event_search (event_search, rowid, body)\n'
    "SELECT 'delete', old.rid, body\n"
    'FROM (SELECT {old_body} AS body)\n'
    'WHERE body IS NOT NULL; INSERT INTO event_search (rowid, body)\n'
    'SELECT new.rid, body\n'
    'FROM (SELECT {new_body} AS body)\n'
    'WHERE body IS NOT NULL; END'
)
VACUUM: Final = 'VACUUM'
PRAGMA_INCREMENTAL_VACUUM: Final = 'PRAGMA incremental_vacuum'
PRAGMA_AUTO_VACUUM: Final = 'PRAGMA auto_vacuum'
PRAGMA_PAGE_COUNT: Final = 'PRAGMA page_count'
PRAGMA_PAGE_SIZE: Final = 'PRAGMA page_size'
SYNC_EVENT_AT: Final = (
    'SELECT "id",?1,"parent_id","invocation_id","event_type","event_data","created_at"\n'
    'FROM "session_events"\n'
    'WHERE "rid"=(SELECT "sid" FROM "sessions" WHERE "id"=?1)*4294967296+?2'
)
SYNC_METADATA_TIMES: Final = (
    'SELECT key, value, updated_at\n'
    'FROM session_metadata\n'
    'WHERE sid = (SELECT sid FROM sessions WHERE id = ?1)\n'
    'ORDER BY key'
)
SYNC_METADATA_PUT_IF_NEWER: Final = (
    'INSERT INTO session_metadata (sid, key, value, updated_at)\n'
    'SELECT sid, ?2, ?3, ?4\n'
    'FROM sessions\n'
    'WHERE id = ?1\n'
    'ON CONFLICT (sid, key)\n'
    'DO UPDATE\n'
    'SET value = excluded.value, updated_at = excluded.updated_at\n'
    'WHERE session_metadata.updated_at <= excluded.updated_at'
)
SYNC_EVENTS_AFTER: Final = (
    'SELECT "id",?1,"parent_id","invocation_id","event_type","event_data","created_at"\n'
    'FROM "session_events"\n'
    'WHERE "rid">(SELECT "sid" FROM "sessions" WHERE "id"=?1)*4294967296+?2 AND "rid"<((SELECT "sid" FROM "sessions" WHERE "id"=?1)+1)*4294967296\n'
    'ORDER BY "rid"'
)
