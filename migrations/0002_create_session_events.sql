-- The append-only event log.
--
-- Clustered by (sid, seq): a session's events sit together on disk in append
-- order, so loading a conversation reads a few contiguous pages instead of
-- one page per event. `seq` is the session's event counter at append time.
-- The only other index is the unique event id, which every append needs
-- anyway (duplicate detection, parent lookup, history walk).
CREATE TABLE session_events (
    sid           INTEGER NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    id            TEXT    NOT NULL,
    parent_id     TEXT,
    invocation_id TEXT    NOT NULL,
    event_type    TEXT    NOT NULL,
    event_data    TEXT    NOT NULL CHECK (json_valid(event_data)),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (sid, seq)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX session_events_id ON session_events (id);
