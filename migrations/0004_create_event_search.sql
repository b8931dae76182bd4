-- Full-text search over event content (SQLite FTS5).
--
-- What is indexed: the text at the JSON path(s) in `search_config` ('fields'),
-- by default `$.content` of each event's `event_data`. Events without that
-- field are not indexed. `SessionStore.configure_search` changes the paths
-- (it rewrites the view and triggers below and rebuilds the index).
--
-- External content: the index stores tokens only, never a second copy of the
-- text. Its rows point at `session_events` through an integer key,
-- `sid * 4294967296 + seq` (events are WITHOUT ROWID, keyed by (sid, seq)),
-- and `snippet()` reads the text back through the view, which the expression
-- index `session_events_search_key` makes a single index lookup.
--
-- Kept in step inside the same transaction as every insert or delete of an
-- event: inserts (append, batch append, import) by explicit statements, deletes
-- and updates (purge) by the triggers below.
CREATE TABLE search_config (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO search_config (key, value) VALUES ('fields', '["$.content"]');

CREATE INDEX session_events_search_key ON session_events (sid * 4294967296 + seq);

CREATE VIEW event_search_source AS
    SELECT sid * 4294967296 + seq AS rid, body
    FROM (SELECT sid, seq, json_extract(event_data, '$.content') AS body FROM session_events)
    WHERE body IS NOT NULL;

CREATE VIRTUAL TABLE event_search USING fts5 (
    body,
    content = 'event_search_source',
    content_rowid = 'rid',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- New events are indexed by explicit statements in the appending transaction
-- (SEARCH_INDEX_EVENT / SEARCH_INDEX_RANGE in convstore._sqlbuild), not by an
-- insert trigger: a trigger makes FTS5 flush a segment for every row.
CREATE TRIGGER event_search_delete AFTER DELETE ON session_events BEGIN
    INSERT INTO event_search (event_search, rowid, body)
    SELECT 'delete', old.sid * 4294967296 + old.seq, body
    FROM (SELECT json_extract(old.event_data, '$.content') AS body) WHERE body IS NOT NULL;
END;

CREATE TRIGGER event_search_update AFTER UPDATE ON session_events BEGIN
    INSERT INTO event_search (event_search, rowid, body)
    SELECT 'delete', old.sid * 4294967296 + old.seq, body
    FROM (SELECT json_extract(old.event_data, '$.content') AS body) WHERE body IS NOT NULL;
    INSERT INTO event_search (rowid, body)
    SELECT new.sid * 4294967296 + new.seq, body
    FROM (SELECT json_extract(new.event_data, '$.content') AS body) WHERE body IS NOT NULL;
END;

-- Backfill: index every event already stored.
INSERT INTO event_search (event_search) VALUES ('rebuild');
