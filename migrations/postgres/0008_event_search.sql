-- Full-text search on the team server (the same search() API as the local
-- store's FTS5 index): a tsvector of each event's `content` text, kept by
-- PostgreSQL itself (a stored generated column, so every writer, any
-- version, indexes what it appends) and a GIN index to match it.
--
-- The 'simple' configuration (lower-cased words, no stemming, no stop
-- words) matches what the local index does with its default tokenizer for
-- code, paths and mixed languages. Events whose data is not a JSON object,
-- has no string `content`, or carries a \u0000 escape (which PostgreSQL
-- text cannot hold) get an empty document: stored as usual, never found.
CREATE FUNCTION convstore_search_text(event_data text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog
    AS $$
        SELECT CASE
            WHEN strpos(event_data, '\u0000') > 0 THEN ''
            WHEN json_typeof(event_data::json) <> 'object' THEN ''
            WHEN json_typeof(event_data::json -> 'content') <> 'string' THEN ''
            ELSE coalesce(event_data::json ->> 'content', '')
        END
    $$;

ALTER TABLE session_events
    ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, convstore_search_text(event_data))) STORED;

CREATE INDEX session_events_search ON session_events USING gin (search);

GRANT EXECUTE ON FUNCTION convstore_search_text(text) TO PUBLIC;
