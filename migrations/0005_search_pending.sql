-- Search indexing off the append path.
--
-- An append no longer writes the full-text index in its own transaction (that
-- doubled the pages each commit writes). Instead the trigger below records,
-- once per session, the highest `seq` the index already covers: the
-- watermark. Every event of that session above it is still to be indexed.
-- The index catches up in bulk -- a single range statement over every pending
-- session (SEARCH_CATCH_UP in convstore._sqlbuild) -- inside search() before
-- it queries, inside append_events and imports, and in
-- SessionStore.index_pending(). A search therefore sees every event whose
-- append has returned, in any process; a crash between an append and the
-- catch-up loses nothing, since the pending row is committed with the event.
--
-- ON CONFLICT DO NOTHING: the second and later appends to a pending session
-- find its row and write nothing, so streaming into one session costs one
-- B-tree lookup per append.
CREATE TABLE search_pending (
    sid       INTEGER PRIMARY KEY,
    after_seq INTEGER NOT NULL
) STRICT;

CREATE TRIGGER IF NOT EXISTS event_search_pending AFTER INSERT ON session_events BEGIN
    INSERT INTO search_pending (sid, after_seq) VALUES (new.sid, new.seq - 1)
    ON CONFLICT (sid) DO NOTHING;
END;
