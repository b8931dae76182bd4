-- The event log as a rowid table keyed by (sid, seq) packed into one integer.
--
-- 0002 clustered events by (sid, seq) in a WITHOUT ROWID table: an index
-- B-tree that stores every row inline, which SQLite advises against for rows
-- larger than ~1/20 of a page -- and events carry multi-KB payloads. 0004 then
-- needed an expression index on `sid * 4294967296 + seq` so the full-text
-- index could find a row by its key: one more B-tree written by every append.
--
-- Here the key *is* the row: `rid INTEGER PRIMARY KEY` = sid * 2^32 + seq.
-- Same clustering (a session's events are one contiguous key range, in append
-- order), large rows spill to overflow pages as SQLite expects, the FTS5
-- index's rowid is the event's own rowid, and the expression index is gone.
-- `sid` and `seq` stay readable as VIRTUAL generated columns (computed on
-- read, stored nowhere); statements address a session's events by the key
-- range [sid * 2^32, (sid + 1) * 2^32), never by `sid =` (that would scan).
--
-- A foreign key on a computed column cannot cascade without an index on it,
-- so deleting a session deletes its key range through the trigger
-- `session_events_cascade` instead (same effect as 0002's ON DELETE CASCADE).
--
-- The rows are copied in key order, so their rowids equal the keys the FTS5
-- index already holds: the index stays right without a rebuild. The view and
-- the triggers are recreated for the default search field; a database whose
-- fields were reconfigured, or whose indexing is off, gets its own view and
-- triggers back in the same transaction (convstore.sqlite.search, after this
-- file: see migrations.AFTER).
DROP TRIGGER IF EXISTS event_search_pending;
DROP TRIGGER IF EXISTS event_search_delete;
DROP TRIGGER IF EXISTS event_search_update;
DROP TRIGGER IF EXISTS event_search_insert;
DROP VIEW IF EXISTS event_search_source;
DROP INDEX IF EXISTS session_events_search_key;

CREATE TABLE session_events_rowid (
    rid           INTEGER PRIMARY KEY,
    sid           INTEGER GENERATED ALWAYS AS (rid >> 32) VIRTUAL,
    seq           INTEGER GENERATED ALWAYS AS (rid & 4294967295) VIRTUAL,
    id            TEXT    NOT NULL,
    parent_id     TEXT,
    invocation_id TEXT    NOT NULL,
    event_type    TEXT    NOT NULL,
    event_data    TEXT    NOT NULL CHECK (json_valid(event_data)),
    created_at    INTEGER NOT NULL
) STRICT;

INSERT INTO session_events_rowid
    (rid, id, parent_id, invocation_id, event_type, event_data, created_at)
SELECT sid * 4294967296 + seq, id, parent_id, invocation_id, event_type, event_data, created_at
FROM session_events
ORDER BY sid, seq;

DROP TABLE session_events;
ALTER TABLE session_events_rowid RENAME TO session_events;

CREATE UNIQUE INDEX session_events_id ON session_events (id);

CREATE TRIGGER session_events_cascade AFTER DELETE ON sessions BEGIN
    DELETE FROM session_events
    WHERE rid >= old.sid * 4294967296 AND rid < (old.sid + 1) * 4294967296;
END;

CREATE VIEW event_search_source AS
    SELECT rid, body
    FROM (SELECT rid, json_extract(event_data, '$.content') AS body FROM session_events)
    WHERE body IS NOT NULL;

CREATE TRIGGER event_search_delete AFTER DELETE ON session_events BEGIN
    INSERT INTO event_search (event_search, rowid, body)
    SELECT 'delete', old.rid, body
    FROM (SELECT json_extract(old.event_data, '$.content') AS body) WHERE body IS NOT NULL;
END;

CREATE TRIGGER event_search_update AFTER UPDATE ON session_events BEGIN
    INSERT INTO event_search (event_search, rowid, body)
    SELECT 'delete', old.rid, body
    FROM (SELECT json_extract(old.event_data, '$.content') AS body) WHERE body IS NOT NULL;
    INSERT INTO event_search (rowid, body)
    SELECT new.rid, body
    FROM (SELECT json_extract(new.event_data, '$.content') AS body) WHERE body IS NOT NULL;
END;

CREATE TRIGGER event_search_pending AFTER INSERT ON session_events BEGIN
    INSERT INTO search_pending (sid, after_seq)
    VALUES (new.rid >> 32, (new.rid & 4294967295) - 1)
    ON CONFLICT (sid) DO NOTHING;
END;

-- One statement per append (SessionStore.append_event): inserting a row into
-- this view runs the trigger below, which inserts the event and moves the
-- session's head -- atomically, as a single statement, with no BEGIN/COMMIT
-- round trips. When it cannot append (unknown or archived session, parent not
-- in the session, an id already taken, invalid JSON, or the session's
-- updated_at ahead of the caller's clock) it aborts, writes nothing, and the
-- caller takes the careful path in an explicit transaction, which says why.
CREATE VIEW event_append
    (session_id, event_id, parent_id, invocation_id, event_type, event_data, created_at)
AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL;

CREATE TRIGGER event_append_one INSTEAD OF INSERT ON event_append BEGIN
    INSERT INTO session_events
        (rid, id, parent_id, invocation_id, event_type, event_data, created_at)
    SELECT sid * 4294967296 + event_count + 1, new.event_id, new.parent_id,
           new.invocation_id, new.event_type, new.event_data, new.created_at
    FROM sessions
    WHERE id = new.session_id AND archived_at IS NULL AND updated_at <= new.created_at
      AND (new.parent_id IS NULL OR EXISTS (
          SELECT 1 FROM session_events p
          WHERE p.id = new.parent_id AND p.rid >> 32 = sessions.sid));
    SELECT RAISE(ABORT, 'convstore: not appended') WHERE changes() = 0;
    -- updated_at is only written when the second changed: most appends of a
    -- streamed answer land in the same second, and skipping it spares the
    -- session's three index entries.
    UPDATE sessions SET head_id = new.event_id, event_count = event_count + 1
    WHERE id = new.session_id AND updated_at = new.created_at;
    UPDATE sessions
    SET head_id = new.event_id, event_count = event_count + 1, updated_at = new.created_at
    WHERE changes() = 0 AND id = new.session_id;
END;
